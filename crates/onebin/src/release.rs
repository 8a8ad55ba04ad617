//! Release assets as users publish them: raw binaries, archives that hold
//! the binary (`.tar.gz`, `.tgz`, `.tar.xz`, `.tar.zst`, `.zip`), and a
//! checksums file in the format of `sha256sum` and GoReleaser, which is itself
//! checked against the files it names.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use onebin_binary::BinaryFacts;
use onebin_image::Platform;
use serde::Serialize;

/// One binary found among the release assets.
#[derive(Debug)]
pub struct ReleaseBinary {
    pub platform: Platform,
    pub file: String,
    /// The archive member that holds it, for archived assets.
    pub member: Option<String>,
    pub sha256: String,
    pub size: u64,
    pub facts: BinaryFacts,
}

/// A line of a checksums file, checked against the file it names.
#[derive(Debug, Serialize)]
pub struct ChecksumCheck {
    pub file: String,
    pub status: ChecksumStatus,
    pub expected: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actual: Option<String>,
}

/// Whether the file a checksums line names has that checksum.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ChecksumStatus {
    Ok,
    Mismatch,
    Missing,
}

impl std::fmt::Display for ChecksumStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(match self {
            ChecksumStatus::Ok => "ok",
            ChecksumStatus::Mismatch => "mismatch",
            ChecksumStatus::Missing => "missing",
        })
    }
}

const ARCHIVES: &[&str] = &[
    ".tar.gz", ".tgz", ".tar.xz", ".txz", ".tar.zst", ".tzst", ".tar", ".zip",
];

/// Parses `<sha256>  <name>` lines (`*` marks binary mode, as sha256sum writes).
pub fn parse_checksums(path: &Path) -> Result<Vec<(String, String)>> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    let mut entries = Vec::new();
    for (number, line) in text.lines().enumerate() {
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        let (hash, name) = line
            .split_once(' ')
            .map(|(h, n)| (h, n.trim_start_matches(' ').trim_start_matches('*')))
            .filter(|(h, n)| {
                h.len() == 64 && h.bytes().all(|b| b.is_ascii_hexdigit()) && !n.is_empty()
            })
            .ok_or_else(|| {
                anyhow!(
                    "{}:{}: not a '<sha256>  <file>' line: {line}",
                    path.display(),
                    number + 1
                )
            })?;
        entries.push((hash.to_ascii_lowercase(), name.to_string()));
    }
    if entries.is_empty() {
        bail!("{}: no checksums in it", path.display());
    }
    Ok(entries)
}

/// Checks every line of a checksums file; returns the checks and the files it named.
pub fn check_checksums(path: &Path) -> Result<(Vec<ChecksumCheck>, Vec<PathBuf>)> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut checks = Vec::new();
    let mut files = Vec::new();
    for (expected, name) in parse_checksums(path)? {
        if name.contains("..") || name.starts_with('/') {
            bail!("{}: names '{name}', outside its directory", path.display());
        }
        let file = dir.join(&name);
        match std::fs::read(&file) {
            Ok(bytes) => {
                let actual = onebin_image::sha256_digest(&bytes).digest().to_string();
                let status = if actual == expected {
                    ChecksumStatus::Ok
                } else {
                    ChecksumStatus::Mismatch
                };
                checks.push(ChecksumCheck {
                    file: name,
                    status,
                    expected,
                    actual: Some(actual),
                });
                if !files.contains(&file) {
                    files.push(file);
                }
            }
            Err(_) => checks.push(ChecksumCheck {
                file: name,
                status: ChecksumStatus::Missing,
                expected,
                actual: None,
            }),
        }
    }
    Ok((checks, files))
}

/// Whether a file in a release directory is a checksums file.
pub fn is_checksums_file(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    lower.contains("checksums") || lower.ends_with(".sha256") || lower.ends_with("sha256sums")
}

/// Whether a release asset is an archive, by its name.
pub fn is_archive(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    ARCHIVES.iter().any(|ext| lower.ends_with(ext))
}

/// Reads one release asset: a raw binary, or an archive holding `binary_name`.
/// `Ok(None)` for files that are neither (a README, a signature), and, with
/// `only_named` (several binaries are verified), for an archive without a
/// member of that name.
pub fn read_asset(
    file: &Path,
    binary_name: &str,
    given: Option<&Platform>,
    only_named: bool,
) -> Result<Option<ReleaseBinary>> {
    let name = file
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or_default()
        .to_string();
    let shown = file.display().to_string();
    let lower = name.to_ascii_lowercase();
    let (member, bytes) = if is_archive(&lower) {
        let Some((member, bytes)) = find_in_archive(file, &lower, binary_name, only_named)? else {
            return Ok(None);
        };
        (Some(member), bytes)
    } else {
        let bytes = std::fs::read(file).with_context(|| format!("reading {shown}"))?;
        (None, bytes)
    };
    let facts = match BinaryFacts::parse(&bytes) {
        Ok(facts) => facts,
        Err(_) if member.is_none() && given.is_none() => return Ok(None),
        Err(e) => bail!(
            "{shown}{}: not an executable onebin can read: {e}",
            member
                .as_ref()
                .map(|m| format!(" ({m})"))
                .unwrap_or_default()
        ),
    };
    let platform = match given {
        Some(p) => p.clone(),
        None => refine_variant(facts.platform(), &name),
    };
    Ok(Some(ReleaseBinary {
        platform,
        file: shown,
        member,
        sha256: onebin_image::sha256_digest(&bytes).digest().to_string(),
        size: bytes.len() as u64,
        facts,
    }))
}

/// The ELF header does not say which ARM revision or amd64 level a binary
/// needs; GoReleaser's names do (`_armv6`, `_arm_v7`, `_amd64_v3`).
fn refine_variant(platform: Platform, name: &str) -> Platform {
    let lower = name.to_ascii_lowercase();
    let tokens: Vec<&str> = lower.split(|c: char| !c.is_ascii_alphanumeric()).collect();
    let variant = match platform.architecture.as_str() {
        "arm" => tokens.iter().enumerate().find_map(|(i, t)| match *t {
            "armv5" | "armv6" | "armv7" => Some(t[3..].to_string()),
            "arm" => tokens
                .get(i + 1)
                .filter(|v| ["v5", "v6", "v7", "5", "6", "7"].contains(v))
                .map(|v| v.to_string()),
            _ => None,
        }),
        "amd64" => tokens
            .iter()
            .find(|t| ["v2", "v3", "v4"].contains(t))
            .map(|t| t.to_string()),
        _ => None,
    };
    match variant {
        Some(v) => Platform::new(&platform.os, &platform.architecture, Some(&v)),
        None => platform,
    }
}

/// The member named like the binary (`app`, `app.exe`, in any directory), or
/// (unless `only_named`) the only executable member. A member that escapes
/// with `..` is an error.
fn find_in_archive(
    file: &Path,
    lower_name: &str,
    binary_name: &str,
    only_named: bool,
) -> Result<Option<(String, Vec<u8>)>> {
    let shown = file.display().to_string();
    let mut candidates: Vec<(String, Vec<u8>)> = Vec::new();
    let mut wanted: Option<(String, Vec<u8>)> = None;
    let mut visit = |name: String, bytes: Vec<u8>| -> Result<()> {
        if name.split('/').any(|p| p == "..") || name.starts_with('/') {
            bail!("{shown}: member '{name}' escapes the archive (absolute or '..')");
        }
        let base = name.rsplit('/').next().unwrap_or(&name);
        if base == binary_name || base == format!("{binary_name}.exe") {
            wanted = Some((name, bytes));
        } else if BinaryFacts::parse(&bytes).is_ok() {
            candidates.push((name, bytes));
        }
        Ok(())
    };
    let open = || std::fs::File::open(file).with_context(|| format!("reading {shown}"));
    if lower_name.ends_with(".zip") {
        let mut zip = zip::ZipArchive::new(open()?)
            .with_context(|| format!("{shown}: not a readable zip"))?;
        for i in 0..zip.len() {
            let mut entry = zip
                .by_index(i)
                .with_context(|| format!("{shown}: broken zip"))?;
            if !entry.is_file() {
                continue;
            }
            let name = entry
                .name()
                .with_context(|| format!("{shown}: bad member name"))?
                .into_owned();
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .with_context(|| format!("{shown}: member {name}"))?;
            visit(name, bytes)?;
        }
    } else {
        let raw = std::io::BufReader::new(open()?);
        let reader: Box<dyn Read> = if lower_name.ends_with(".gz") || lower_name.ends_with(".tgz") {
            Box::new(flate2::read::MultiGzDecoder::new(raw))
        } else if lower_name.ends_with(".xz") || lower_name.ends_with(".txz") {
            Box::new(lzma_rust2::XzReader::new(raw, true))
        } else if lower_name.ends_with(".zst") || lower_name.ends_with(".tzst") {
            Box::new(zstd::Decoder::new(raw).with_context(|| format!("{shown}: not zstd"))?)
        } else {
            Box::new(raw)
        };
        let mut archive = tar::Archive::new(reader);
        for entry in archive
            .entries()
            .with_context(|| format!("{shown}: not a readable tar"))?
        {
            let mut entry = entry.with_context(|| format!("{shown}: broken archive"))?;
            if !entry.header().entry_type().is_file() {
                continue;
            }
            let name = entry
                .path()
                .with_context(|| format!("{shown}: bad member name"))?
                .to_string_lossy()
                .into_owned();
            let mut bytes = Vec::new();
            entry
                .read_to_end(&mut bytes)
                .with_context(|| format!("{shown}: member {name}"))?;
            visit(name.trim_start_matches("./").to_string(), bytes)?;
        }
    }
    if let Some(found) = wanted {
        return Ok(Some(found));
    }
    if only_named {
        return Ok(None);
    }
    match candidates.len() {
        1 => Ok(Some(candidates.remove(0))),
        0 => bail!("{shown}: holds no '{binary_name}' and no other executable"),
        _ => bail!(
            "{shown}: holds no '{binary_name}' but several executables ({})",
            candidates
                .iter()
                .map(|(n, _)| n.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_refine_arm_and_amd64_variants() {
        let arm = Platform::new("linux", "arm", None);
        assert_eq!(
            refine_variant(arm.clone(), "app_linux_armv6.tar.gz").to_string(),
            "linux/arm/v6"
        );
        assert_eq!(
            refine_variant(arm.clone(), "app_linux_arm_v5").to_string(),
            "linux/arm/v5"
        );
        assert_eq!(
            refine_variant(arm, "app_linux_arm").to_string(),
            "linux/arm/v7"
        );
        let amd = Platform::new("linux", "amd64", None);
        assert_eq!(
            refine_variant(amd, "app_linux_amd64_v3").to_string(),
            "linux/amd64/v3"
        );
    }

    #[test]
    fn checksums_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("checksums.txt");
        std::fs::write(
            &path,
            format!("{}  a\n{} *b\n", "a".repeat(64), "B".repeat(64)),
        )
        .unwrap();
        let parsed = parse_checksums(&path).unwrap();
        assert_eq!(parsed[1], ("b".repeat(64), "b".to_string()));
        std::fs::write(&path, "nonsense\n").unwrap();
        assert!(parse_checksums(&path)
            .unwrap_err()
            .to_string()
            .contains("checksums.txt:1"));
    }
}
