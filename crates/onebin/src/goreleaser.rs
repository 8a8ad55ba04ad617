//! GoReleaser's `dist/artifacts.json` (and `metadata.json`): the binaries
//! its builds made, the archives and the checksums file it wrote, so that
//! `onebin release --from-goreleaser dist` makes the image from the very
//! files of the release, without Docker and without a second build.

use std::path::{Path, PathBuf};

use anyhow::{anyhow, Context, Result};
use onebin_image::Platform;
use serde::Deserialize;

/// One entry of `artifacts.json`, as GoReleaser documents it.
#[derive(Debug, Deserialize)]
struct Artifact {
    name: String,
    path: String,
    goos: Option<String>,
    goarch: Option<String>,
    goarm: Option<String>,
    goamd64: Option<String>,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    extra: serde_json::Map<String, serde_json::Value>,
}

#[derive(Debug, Deserialize)]
struct Metadata {
    project_name: Option<String>,
    version: Option<String>,
}

/// What a GoReleaser run left in its dist directory.
#[derive(Debug)]
pub struct Dist {
    pub project: Option<String>,
    pub version: Option<String>,
    /// Linux binaries (the image's), by binary name then platform.
    pub binaries: Vec<DistBinary>,
    /// Archives, with the binaries each holds.
    pub archives: Vec<DistArchive>,
    pub checksums: Option<PathBuf>,
}

#[derive(Debug)]
pub struct DistBinary {
    pub name: String,
    pub platform: Platform,
    pub file: PathBuf,
}

#[derive(Debug)]
pub struct DistArchive {
    pub platform: Platform,
    pub file: PathBuf,
    pub binaries: Vec<String>,
}

/// Reads `dir/artifacts.json` and, when present, `dir/metadata.json`. Paths
/// in them are relative to where GoReleaser ran: the parent of `dir`.
pub fn read(dir: &Path) -> Result<Dist> {
    let file = dir.join("artifacts.json");
    let text =
        std::fs::read_to_string(&file).with_context(|| format!("reading {}", file.display()))?;
    let artifacts: Vec<Artifact> = serde_json::from_str(&text).map_err(|e| {
        anyhow!(
            "{}:{}: not GoReleaser's artifacts.json: {e}",
            file.display(),
            e.line()
        )
    })?;
    let metadata = match std::fs::read_to_string(dir.join("metadata.json")) {
        Ok(text) => Some(serde_json::from_str::<Metadata>(&text).map_err(|e| {
            anyhow!(
                "{}:{}: not GoReleaser's metadata.json: {e}",
                dir.join("metadata.json").display(),
                e.line()
            )
        })?),
        Err(_) => None,
    };
    let root = dir.parent().unwrap_or(Path::new(""));
    let resolve = |path: &str| {
        let path = Path::new(path);
        if path.is_absolute() {
            path.to_path_buf()
        } else {
            root.join(path)
        }
    };
    let mut dist = Dist {
        project: metadata.as_ref().and_then(|m| m.project_name.clone()),
        version: metadata.and_then(|m| m.version),
        binaries: Vec::new(),
        archives: Vec::new(),
        checksums: None,
    };
    for artifact in &artifacts {
        match artifact.kind.as_str() {
            "Binary" if artifact.goos.as_deref() == Some("linux") => {
                let name = artifact
                    .extra
                    .get("Binary")
                    .and_then(|b| b.as_str())
                    .unwrap_or(&artifact.name)
                    .to_string();
                dist.binaries.push(DistBinary {
                    name,
                    platform: platform(artifact, &file)?,
                    file: resolve(&artifact.path),
                });
            }
            "Archive" if artifact.goos.as_deref() == Some("linux") => {
                let binaries = artifact
                    .extra
                    .get("Binaries")
                    .and_then(|b| b.as_array())
                    .map(|list| {
                        list.iter()
                            .filter_map(|b| b.as_str().map(str::to_string))
                            .collect()
                    })
                    .unwrap_or_default();
                dist.archives.push(DistArchive {
                    platform: platform(artifact, &file)?,
                    file: resolve(&artifact.path),
                    binaries,
                });
            }
            "Checksum" => dist.checksums = Some(resolve(&artifact.path)),
            _ => {}
        }
    }
    if dist.binaries.is_empty() {
        return Err(anyhow!(
            "{}: no linux binaries in it (type \"Binary\", goos \"linux\")",
            file.display()
        ));
    }
    Ok(dist)
}

/// GoReleaser's `goarm` and `goamd64` as OCI variants (`7` is `v7`; `v1` is
/// the baseline, no variant).
fn platform(artifact: &Artifact, file: &Path) -> Result<Platform> {
    let arch = artifact.goarch.as_deref().ok_or_else(|| {
        anyhow!(
            "{}: artifact {} has no goarch",
            file.display(),
            artifact.name
        )
    })?;
    let variant = match arch {
        "arm" => artifact.goarm.as_ref().map(|v| format!("v{v}")),
        "amd64" => artifact.goamd64.clone().filter(|v| v != "v1"),
        _ => None,
    };
    Ok(Platform::new("linux", arch, variant.as_deref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_binaries_archives_and_checksums() {
        let tmp = tempfile::tempdir().unwrap();
        let dist = tmp.path().join("dist");
        std::fs::create_dir(&dist).unwrap();
        std::fs::write(
            dist.join("artifacts.json"),
            r#"[
  {"name":"app","path":"dist/app_linux_arm_7/app","goos":"linux","goarch":"arm","goarm":"7","target":"linux_arm_7","internal_type":4,"type":"Binary","extra":{"Binary":"app","Ext":"","ID":"app"}},
  {"name":"app","path":"dist/app_linux_amd64_v1/app","goos":"linux","goarch":"amd64","goamd64":"v1","target":"linux_amd64_v1","internal_type":4,"type":"Binary","extra":{"Binary":"app","Ext":"","ID":"app"}},
  {"name":"app.exe","path":"dist/app_windows_amd64_v1/app.exe","goos":"windows","goarch":"amd64","goamd64":"v1","internal_type":4,"type":"Binary","extra":{"Binary":"app","Ext":".exe","ID":"app"}},
  {"name":"app_1.2.0_linux_amd64.tar.gz","path":"dist/app_1.2.0_linux_amd64.tar.gz","goos":"linux","goarch":"amd64","goamd64":"v1","internal_type":1,"type":"Archive","extra":{"Binaries":["app"],"Format":"tar.gz","ID":"default","WrappedIn":""}},
  {"name":"app_1.2.0_checksums.txt","path":"dist/app_1.2.0_checksums.txt","internal_type":12,"type":"Checksum","extra":{}}
]"#,
        )
        .unwrap();
        std::fs::write(
            dist.join("metadata.json"),
            r#"{"project_name":"app","tag":"v1.2.0","previous_tag":"v1.1.0","version":"1.2.0","commit":"0123abc","date":"2026-12-02T10:00:00Z","runtime":{"goos":"linux","goarch":"amd64"}}"#,
        )
        .unwrap();
        let read = read(&dist).unwrap();
        assert_eq!(read.project.as_deref(), Some("app"));
        assert_eq!(read.version.as_deref(), Some("1.2.0"));
        let platforms: Vec<String> = read
            .binaries
            .iter()
            .map(|b| b.platform.to_string())
            .collect();
        assert_eq!(platforms, ["linux/arm/v7", "linux/amd64"]);
        assert_eq!(
            read.binaries[1].file,
            tmp.path().join("dist/app_linux_amd64_v1/app")
        );
        assert_eq!(read.archives[0].binaries, ["app"]);
        assert!(read.checksums.unwrap().ends_with("app_1.2.0_checksums.txt"));

        std::fs::write(dist.join("artifacts.json"), "[\n{\"name\": 1}]").unwrap();
        let err = super::read(&dist).unwrap_err().to_string();
        assert!(err.contains("artifacts.json:2"), "{err}");
    }
}
