//! What the audit knows about a project: each build of the binary, where it
//! runs, with which toolchain and flags, and where its output goes.

use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Go,
    Rust,
    C,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlaceKind {
    /// A job of GitLab CI or GitHub Actions (on the runner or its image).
    CiJob,
    /// A stage of a Dockerfile.
    DockerStage,
    /// GoReleaser's `builds`, run by a CI job.
    Goreleaser,
    /// GoReleaser's `kos`: ko builds the image from source.
    Ko,
}

/// Where a build runs; `file:line` is the command that builds.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Place {
    pub kind: PlaceKind,
    /// The job's or stage's name.
    pub name: String,
    pub file: String,
    pub line: usize,
}

pub use onebin_binary::Libc;

/// The compiler and C library a build gets from its image or runner.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Toolchain {
    /// Where it comes from: `golang:1.22-alpine`, `actions/setup-go 1.22`, `runner`.
    pub source: String,
    /// The compiler's version (Go or Rust), as far as it is known.
    pub version: Option<String>,
    pub libc: Option<Libc>,
    /// An exact version (`1.22.5`) or a digest; a floating tag is not.
    pub pinned: bool,
    /// A C compiler is there, so Go's cgo is on unless `CGO_ENABLED=0`.
    pub c_compiler: bool,
    /// Where the toolchain is named (`image:`, `FROM`, `setup-go`).
    pub file: String,
    pub line: usize,
}

/// The settings that change the binary.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Flags {
    pub cgo_enabled: Option<String>,
    pub trimpath: bool,
    pub ldflags: Option<String>,
    pub tags: Option<String>,
    pub goflags: Option<String>,
    /// Rust's `--target`.
    pub target: Option<String>,
    pub release: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Artifact {
    /// Release assets (or CI artifacts that become them).
    Release,
    /// The container image.
    Image,
    /// Built once in CI, then packaged into the image: Option B's shape.
    ReleaseAndImage,
    /// A test or tooling build that ships nowhere.
    None,
}

/// One build of a program.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Build {
    pub language: Language,
    /// The binary's name, when the command says it.
    pub program: Option<String>,
    pub place: Place,
    pub toolchain: Toolchain,
    pub flags: Flags,
    /// `os/arch` pairs it builds for.
    pub platforms: Vec<String>,
    pub artifact: Artifact,
    pub command: String,
    /// Why the build was judged release, image or neither: what runs it and
    /// what it publishes.
    pub why: String,
}

/// A build tool, action or file the audit does not read: its builds are
/// not in the report, and the `unread-build` finding says where it is.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Unread {
    pub tool: String,
    pub place: Place,
}

impl Build {
    /// The C library the binary links, if any: Go without cgo links none.
    pub fn linked_libc(&self) -> Option<Libc> {
        match self.language {
            Language::Go => {
                let cgo = match self.flags.cgo_enabled.as_deref() {
                    Some("0") => false,
                    Some(_) => true,
                    None => self.toolchain.c_compiler,
                };
                if cgo {
                    self.toolchain.libc
                } else {
                    None
                }
            }
            Language::Rust => match self.flags.target.as_deref() {
                Some(t) if t.contains("musl") => Some(Libc::Musl),
                Some(t) if t.contains("gnu") => Some(Libc::Glibc),
                _ => self.toolchain.libc,
            },
            Language::C => self.toolchain.libc,
        }
    }

    pub fn location(&self) -> String {
        format!("{}:{}", self.place.file, self.place.line)
    }

    pub fn describe(&self) -> String {
        let kind = match self.place.kind {
            PlaceKind::CiJob => "CI job",
            PlaceKind::DockerStage => "Dockerfile stage",
            PlaceKind::Goreleaser => "GoReleaser build",
            PlaceKind::Ko => "ko build",
        };
        format!("{kind} `{}` ({})", self.place.name, self.location())
    }
}

/// A `docker build`, `buildx`, kaniko or `build-push-action` of a Dockerfile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ImageBuild {
    pub dockerfile: String,
    pub context: String,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    /// `--target`: the stage that becomes the image.
    pub target: Option<String>,
    pub place: Place,
    /// The image is published (a release or push job), not a test's.
    pub ships: bool,
    /// Why it was judged shipped or not.
    pub why: String,
}

/// What the final stage of a Dockerfile does with the binary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DockerfileFacts {
    pub file: String,
    pub target: Option<String>,
    /// The final stage's base image.
    pub base: String,
    pub line: usize,
    /// Where the binary lands in the image, when a COPY or ENTRYPOINT says.
    pub binary_path: Option<String>,
    /// The final stage copies a prebuilt file from the build context.
    pub packages_prebuilt: bool,
    /// A shipped stage compiles the binary.
    pub builds: bool,
    pub platforms: Vec<String>,
}

/// A step that already runs onebin (`package`, `extract`, `verify`, `explain`).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct OnebinStep {
    pub verb: String,
    pub place: Place,
}

/// Something that could not be read: the audit goes on with the rest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Warning {
    pub file: String,
    pub line: usize,
    pub message: String,
    /// Where the path leads when that is out of the repository: the audit
    /// then refuses the whole project (exit 2) rather than going on.
    #[serde(skip)]
    pub outside: Option<std::path::PathBuf>,
}

impl Warning {
    /// A warning about a file inside the repository.
    pub fn new(file: String, line: usize, message: String) -> Self {
        Warning {
            file,
            line,
            message,
            outside: None,
        }
    }
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}:{}: {}", self.file, self.line, self.message)
    }
}

/// `1.22.5`, `v1.22.5`, `1.79.0` and digests are exact; `1.22`, `latest`, `stable` are not.
pub fn is_exact_version(v: &str) -> bool {
    let v = v.trim_start_matches(['v', 'V']);
    let core = v.split(['-', '+']).next().unwrap_or("");
    let parts: Vec<&str> = core.split('.').collect();
    parts.len() >= 3
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Facts a base image's name gives: Go or Rust version, libc, whether a C
/// compiler comes with it, whether it is pinned.
pub fn toolchain_from_image(image: &str, file: &str, line: usize) -> Toolchain {
    let (name_tag, digest) = match image.split_once('@') {
        Some((n, d)) => (n, Some(d)),
        None => (image, None),
    };
    // A registry port has a ':' before the last '/'; the tag comes after it.
    let last = name_tag.rsplit('/').next().unwrap_or(name_tag);
    let (repo, tag) = match last.split_once(':') {
        Some((r, t)) => (r, t),
        None => (last, "latest"),
    };
    let tag_l = tag.to_ascii_lowercase();
    let musl = tag_l.contains("alpine") || repo == "alpine" || repo.contains("musl");
    let distroless = repo == "scratch" || name_tag.contains("distroless");
    let libc = if repo == "scratch" {
        None
    } else if musl {
        Some(Libc::Musl)
    } else {
        Some(Libc::Glibc)
    };
    let version_part = tag.split('-').next().unwrap_or("");
    let version = match repo {
        "golang" | "rust" | "gcc" => {
            Some(version_part.to_string()).filter(|v| v.starts_with(|c: char| c.is_ascii_digit()))
        }
        _ => None,
    };
    let pinned = digest.is_some() || is_exact_version(version_part);
    let c_compiler = match repo {
        "golang" | "rust" => !musl,
        "gcc" | "buildpack-deps" => true,
        _ => false,
    } && !distroless;
    Toolchain {
        source: image.to_string(),
        version,
        libc,
        pinned,
        c_compiler,
        file: file.to_string(),
        line,
    }
}

/// A CI runner without a container image: Ubuntu, glibc, a C compiler, and
/// whatever Go or Rust it happens to have.
pub fn runner_toolchain(source: &str, file: &str, line: usize) -> Toolchain {
    Toolchain {
        source: source.to_string(),
        version: None,
        libc: Some(Libc::Glibc),
        pinned: false,
        c_compiler: true,
        file: file.to_string(),
        line,
    }
}

/// `x86_64-unknown-linux-musl` is `linux/amd64`.
pub fn rust_target_platform(target: &str) -> Option<String> {
    let arch = match target.split('-').next()? {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "armv7" => "arm/v7",
        "i686" | "i586" => "386",
        "riscv64gc" => "riscv64",
        "s390x" => "s390x",
        "powerpc64le" => "ppc64le",
        _ => return None,
    };
    let os = if target.contains("linux") {
        "linux"
    } else if target.contains("windows") {
        "windows"
    } else if target.contains("darwin") {
        "darwin"
    } else {
        return None;
    };
    Some(format!("{os}/{arch}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_say_their_toolchain() {
        let t = toolchain_from_image("golang:1.22-alpine", "Dockerfile", 1);
        assert_eq!(t.version.as_deref(), Some("1.22"));
        assert_eq!(t.libc, Some(Libc::Musl));
        assert!(!t.pinned && !t.c_compiler);
        let t = toolchain_from_image("golang:1.22.5", "Dockerfile", 1);
        assert_eq!(t.libc, Some(Libc::Glibc));
        assert!(t.pinned && t.c_compiler);
        let t = toolchain_from_image("registry:5000/golang:1.22@sha256:abc", "x", 1);
        assert!(t.pinned);
        assert!(!toolchain_from_image("golang", "x", 1).pinned);
    }

    #[test]
    fn rust_targets() {
        assert_eq!(
            rust_target_platform("aarch64-unknown-linux-musl").as_deref(),
            Some("linux/arm64")
        );
    }
}
