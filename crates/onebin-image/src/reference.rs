//! Image references in skopeo's transport syntax, and Docker image names parsed
//! the way Docker parses them.

use std::fmt;
use std::path::PathBuf;

use crate::{Error, Result};

/// Where an image lives, as written on the command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ImageReference {
    /// `oci:DIR[:TAG]`: an OCI image layout directory.
    OciLayout { dir: PathBuf, tag: Option<String> },
    /// `oci-archive:FILE[:TAG]`: an OCI image layout packed in a tar file.
    OciArchive { file: PathBuf, tag: Option<String> },
    /// `docker-archive:FILE[:REF]`: what `docker save` writes.
    DockerArchive {
        file: PathBuf,
        reference: Option<String>,
    },
    /// `docker-daemon:NAME[:TAG]`: an image in the local Docker Engine.
    DockerDaemon { name: String },
    /// `docker://NAME[:TAG|@DIGEST]`, or a bare `NAME`: a registry.
    Registry(DockerReference),
}

impl ImageReference {
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: &str| Error::Reference {
            reference: input.to_string(),
            reason: reason.to_string(),
        };
        if let Some(rest) = input.strip_prefix("docker://") {
            return Ok(ImageReference::Registry(DockerReference::parse(rest)?));
        }
        let Some((transport, rest)) = input.split_once(':') else {
            return Ok(ImageReference::Registry(DockerReference::parse(input)?));
        };
        let (path, suffix) = match rest.split_once(':') {
            Some((path, suffix)) => (path, Some(suffix.to_string()).filter(|s| !s.is_empty())),
            None => (rest, None),
        };
        match transport {
            "oci" | "oci-archive" | "docker-archive" if path.is_empty() => {
                Err(bad("the path is empty"))
            }
            "oci" => Ok(ImageReference::OciLayout {
                dir: path.into(),
                tag: suffix,
            }),
            "oci-archive" => Ok(ImageReference::OciArchive {
                file: path.into(),
                tag: suffix,
            }),
            "docker-archive" => Ok(ImageReference::DockerArchive {
                file: path.into(),
                reference: suffix,
            }),
            "docker-daemon" => {
                if rest.is_empty() {
                    return Err(bad("the image name is empty"));
                }
                if rest.starts_with("sha256:") {
                    return Ok(ImageReference::DockerDaemon {
                        name: rest.to_string(),
                    });
                }
                let parsed = DockerReference::parse(rest)?;
                Ok(ImageReference::DockerDaemon {
                    name: parsed.to_string(),
                })
            }
            // `host:5000/repo` and `repo:tag` have no transport: they are registry names.
            _ if transport.contains('/')
                || transport.contains('.')
                || !rest.contains('/')
                || transport == "localhost" =>
            {
                Ok(ImageReference::Registry(DockerReference::parse(input)?))
            }
            other => Err(bad(&format!(
                "unknown transport '{other}' (expected {})",
                crate::transport::prefixes()
            ))),
        }
    }

    /// The prefix of the reference's transport, as [`crate::transport::TRANSPORTS`] lists it.
    pub fn transport_prefix(&self) -> &'static str {
        match self {
            ImageReference::OciLayout { .. } => "oci:",
            ImageReference::OciArchive { .. } => "oci-archive:",
            ImageReference::DockerArchive { .. } => "docker-archive:",
            ImageReference::DockerDaemon { .. } => "docker-daemon:",
            ImageReference::Registry(_) => "docker://",
        }
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let suffix = |s: &Option<String>| s.as_ref().map(|t| format!(":{t}")).unwrap_or_default();
        match self {
            ImageReference::OciLayout { dir, tag } => {
                write!(f, "oci:{}{}", dir.display(), suffix(tag))
            }
            ImageReference::OciArchive { file, tag } => {
                write!(f, "oci-archive:{}{}", file.display(), suffix(tag))
            }
            ImageReference::DockerArchive { file, reference } => {
                write!(f, "docker-archive:{}{}", file.display(), suffix(reference))
            }
            ImageReference::DockerDaemon { name } => write!(f, "docker-daemon:{name}"),
            ImageReference::Registry(r) => write!(f, "docker://{r}"),
        }
    }
}

/// A Docker image name: `alpine` is `docker.io/library/alpine:latest`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DockerReference {
    pub registry: String,
    pub repository: String,
    pub tag: Option<String>,
    pub digest: Option<String>,
}

pub const DOCKER_HUB: &str = "docker.io";

impl DockerReference {
    pub fn parse(input: &str) -> Result<Self> {
        let bad = |reason: String| Error::Reference {
            reference: input.to_string(),
            reason,
        };
        let (name, digest) = match input.split_once('@') {
            Some((name, digest)) => {
                let valid = digest.split_once(':').is_some_and(|(alg, hex)| {
                    !alg.is_empty() && hex.len() >= 32 && hex.bytes().all(|b| b.is_ascii_hexdigit())
                });
                if !valid {
                    return Err(bad(format!("invalid digest '{digest}'")));
                }
                (name, Some(digest.to_string()))
            }
            None => (input, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match name[last_slash..].rfind(':') {
            Some(i) => {
                let tag = &name[last_slash + i + 1..];
                (&name[..last_slash + i], Some(tag.to_string()))
            }
            None => (name, None),
        };
        if let Some(tag) = &tag {
            let ok = !tag.is_empty()
                && tag.len() <= 128
                && !tag.starts_with(['.', '-'])
                && tag
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b));
            if !ok {
                return Err(bad(format!("invalid tag '{tag}'")));
            }
        }
        let (registry, path) = match name.split_once('/') {
            Some((first, rest))
                if first.contains(['.', ':'])
                    || first == "localhost"
                    || first.bytes().any(|b| b.is_ascii_uppercase()) =>
            {
                (first.to_string(), rest.to_string())
            }
            _ => (DOCKER_HUB.to_string(), name.to_string()),
        };
        let registry = if registry == "index.docker.io" {
            DOCKER_HUB.to_string()
        } else {
            registry
        };
        let repository = if registry == DOCKER_HUB && !path.contains('/') {
            format!("library/{path}")
        } else {
            path
        };
        if repository.is_empty() {
            return Err(bad("the repository name is empty".into()));
        }
        for component in repository.split('/') {
            let ok = !component.is_empty()
                && component
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
                && component.starts_with(|c: char| c.is_ascii_alphanumeric())
                && component.ends_with(|c: char| c.is_ascii_alphanumeric());
            if !ok {
                return Err(bad(format!(
                    "invalid repository component '{component}' (lowercase letters, digits and . _ - only)"
                )));
            }
        }
        let tag = if tag.is_none() && digest.is_none() {
            Some("latest".to_string())
        } else {
            tag
        };
        Ok(DockerReference {
            registry,
            repository,
            tag,
            digest,
        })
    }

    /// The name as `docker images` shows it: `alpine:latest`, `ghcr.io/o/app:v1`.
    pub fn familiar(&self) -> String {
        let name = self.name();
        let short = name
            .strip_prefix("docker.io/library/")
            .or_else(|| name.strip_prefix("docker.io/"))
            .unwrap_or(&name);
        match (&self.tag, &self.digest) {
            (Some(tag), _) => format!("{short}:{tag}"),
            (None, Some(digest)) => format!("{short}@{digest}"),
            (None, None) => short.to_string(),
        }
    }

    /// The name without tag or digest: `docker.io/library/alpine`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

impl fmt::Display for DockerReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.name())?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn docker(s: &str) -> DockerReference {
        DockerReference::parse(s).unwrap()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(
            docker("alpine").to_string(),
            "docker.io/library/alpine:latest"
        );
        assert_eq!(docker("user/app:1.2").to_string(), "docker.io/user/app:1.2");
        assert_eq!(docker("alpine").familiar(), "alpine:latest");
        assert_eq!(docker("ghcr.io/o/app:v1").familiar(), "ghcr.io/o/app:v1");
        assert_eq!(
            docker("index.docker.io/library/alpine").to_string(),
            "docker.io/library/alpine:latest"
        );
        let r = docker("localhost:5000/team/app:v1");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "team/app", Some("v1"))
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = docker(&format!("ghcr.io/o/app@{d}"));
        assert_eq!((r.tag, r.digest), (None, Some(d.clone())));
        let r = docker(&format!("127.0.0.1:5000/app:t@{d}"));
        assert_eq!(
            (r.registry.as_str(), r.tag.as_deref()),
            ("127.0.0.1:5000", Some("t"))
        );
    }

    #[test]
    fn rejects_bad_names() {
        for bad in [
            "alpine/X",
            "app:",
            "app:-x",
            "app@sha256:zz",
            "a//b",
            "docker.io/",
        ] {
            assert!(DockerReference::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn parses_transports() {
        assert_eq!(
            ImageReference::parse("oci:/tmp/img:v1").unwrap(),
            ImageReference::OciLayout {
                dir: "/tmp/img".into(),
                tag: Some("v1".into())
            }
        );
        assert_eq!(
            ImageReference::parse("oci-archive:img.tar").unwrap(),
            ImageReference::OciArchive {
                file: "img.tar".into(),
                tag: None
            }
        );
        assert_eq!(
            ImageReference::parse("docker-archive:img.tar:app:v1").unwrap(),
            ImageReference::DockerArchive {
                file: "img.tar".into(),
                reference: Some("app:v1".into())
            }
        );
        assert_eq!(
            ImageReference::parse("docker-daemon:app").unwrap(),
            ImageReference::DockerDaemon {
                name: "docker.io/library/app:latest".into()
            }
        );
        for registry in [
            "docker://alpine",
            "alpine",
            "alpine:3",
            "localhost:5000/app",
            "ghcr.io/o/a:1",
        ] {
            assert!(
                matches!(
                    ImageReference::parse(registry).unwrap(),
                    ImageReference::Registry(_)
                ),
                "{registry}"
            );
        }
        assert!(ImageReference::parse("oci:").is_err());
        assert!(ImageReference::parse("ftp:x/y").is_err());
    }
}
