//! `onebin verify`: prove, per platform, that the release and the image carry
//! the same binary; when they do not, say why (`explain`'s report).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use onebin_binary::explain::{self, explain, Verdict};
use onebin_binary::BinaryFacts;
use onebin_image::manifest::resolve_images;
use onebin_image::{transport, ImageSource, Options, Platform};
use onebin_layers::find_file;
use serde::{Serialize, Serializer};

use super::{open_image, Report};
use crate::exit::Outcome;
use crate::flags::parse_binary;
use crate::platforms::select_platforms;
use crate::release::{
    check_checksums, is_archive, is_checksums_file, read_asset, ChecksumCheck, ChecksumStatus,
    ReleaseBinary,
};

#[derive(clap::Args)]
#[command(group(clap::ArgGroup::new("assets").required(true).args(["checksums", "release", "binaries"])))]
pub struct Args {
    #[arg(help = transport::read_syntaxes())]
    pub image: String,
    /// The binary's path inside the image; repeat for several binaries of one
    /// image (raw assets go to the binary whose name starts theirs, archives
    /// are searched for each binary by name).
    #[arg(long = "path", value_name = "PATH", required = true)]
    pub paths: Vec<String>,
    /// A checksums file (sha256sum/GoReleaser format); the files it names are the release.
    #[arg(long)]
    pub checksums: Option<PathBuf>,
    /// A directory of release assets: raw binaries and archives.
    #[arg(long)]
    pub release: Option<PathBuf>,
    /// PLATFORM=FILE; repeat per platform.
    #[arg(long = "binary", value_name = "PLATFORM=FILE", value_parser = parse_binary)]
    pub binaries: Vec<(Platform, PathBuf)>,
    /// Only these platforms; repeat for several.
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<Platform>,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, options: &Options) -> Result<VerifyReport> {
    let release = match (&args.checksums, &args.release) {
        (Some(file), _) => Release::Checksums(file.clone()),
        (None, Some(dir)) => Release::Dir(dir.clone()),
        (None, None) => Release::Binaries(args.binaries.clone()),
    };
    verify_paths(
        open_image(&args.image, options)?.as_ref(),
        &args.paths,
        &release,
        &args.platforms,
    )
}

/// [`verify`] for each of several binaries of one image; every result names
/// its path.
pub fn verify_paths(
    source: &dyn ImageSource,
    paths: &[String],
    release: &Release,
    platforms: &[Platform],
) -> Result<VerifyReport> {
    if let [path] = paths {
        return verify(source, path, release, platforms);
    }
    let names = paths
        .iter()
        .map(|p| binary_name(p))
        .collect::<Result<Vec<&str>>>()?;
    let mut merged: Option<VerifyReport> = None;
    for path in paths {
        let mut report = verify_one(source, path, &names, release, platforms)?;
        for r in &mut report.results {
            r.path = Some(report.path.clone());
        }
        match &mut merged {
            None => merged = Some(report),
            Some(m) => {
                m.ok &= report.ok;
                m.path = format!("{}, {}", m.path, report.path);
                m.results.extend(report.results);
            }
        }
    }
    merged.ok_or_else(|| anyhow!("no --path given"))
}

fn binary_name(path: &str) -> Result<&str> {
    Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("--path '{path}' does not name a file"))
}

/// Where the release assets are.
pub enum Release {
    Checksums(PathBuf),
    Dir(PathBuf),
    Binaries(Vec<(Platform, PathBuf)>),
}

#[derive(Debug, Serialize)]
pub struct VerifyReport {
    pub ok: bool,
    pub image: String,
    pub digest: String,
    pub path: String,
    pub results: Vec<PlatformResult>,
    /// The release's own checksums file, checked against the files it names.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub checksums: Vec<ChecksumCheck>,
}

#[derive(Debug, Serialize)]
pub struct PlatformResult {
    pub platform: String,
    /// With several `--path`s: the binary this result is about.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub status: Status,
    pub image: Option<ImageSide>,
    pub release: Option<ReleaseSide>,
    /// Why the two differ (on a mismatch), or why one side is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<Explanation>,
}

/// How one platform's image binary compares with its release binary.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Match,
    Mismatch,
    MissingInImage,
    MissingInRelease,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Match => "match",
            Status::Mismatch => "mismatch",
            Status::MissingInImage => "missing-in-image",
            Status::MissingInRelease => "missing-in-release",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a platform did not match.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum Explanation {
    /// The binaries differ: `explain`'s verdict and differences.
    Differs(#[serde(serialize_with = "keys_in_alphabetical_order")] explain::Explanation),
    /// One side is missing, and why.
    Note(String),
}

/// `verify --json` has always printed the explanation's keys (and each
/// difference's) in alphabetical order; this keeps that order.
fn keys_in_alphabetical_order<S: Serializer>(
    explanation: &explain::Explanation,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    #[derive(Serialize)]
    struct Sorted<'a> {
        differences: Vec<SortedDifference<'a>>,
        verdict: &'a Verdict,
    }
    #[derive(Serialize)]
    struct SortedDifference<'a> {
        a: &'a str,
        b: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        caused_by: Option<&'a str>,
        class: Verdict,
        field: &'a str,
        why: &'a str,
    }
    Sorted {
        differences: explanation
            .differences
            .iter()
            .map(|d| SortedDifference {
                a: &d.a,
                b: &d.b,
                caused_by: d.caused_by.as_deref(),
                class: d.class,
                field: &d.field,
                why: &d.why,
            })
            .collect(),
        verdict: &explanation.verdict,
    }
    .serialize(serializer)
}

#[derive(Debug, Serialize)]
pub struct ImageSide {
    pub sha256: String,
    pub size: u64,
    pub layer: String,
}

#[derive(Debug, Serialize)]
pub struct ReleaseSide {
    pub file: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub member: Option<String>,
    pub sha256: String,
    pub size: u64,
}

struct ImageBinary {
    platform: Platform,
    found: Result<(ImageSide, BinaryFacts), String>,
}

pub fn verify(
    source: &dyn ImageSource,
    path: &str,
    release: &Release,
    platforms: &[Platform],
) -> Result<VerifyReport> {
    verify_one(source, path, &[], release, platforms)
}

/// Verifies `path`; `names` are the binaries verified together (empty: one
/// binary, whose assets are every binary of the release).
fn verify_one(
    source: &dyn ImageSource,
    path: &str,
    names: &[&str],
    release: &Release,
    platforms: &[Platform],
) -> Result<VerifyReport> {
    let binary_name = binary_name(path)?;
    let (mut assets, checksums) = collect_release(release, binary_name, names)?;
    if !platforms.is_empty() {
        assets.retain(|a| platforms.iter().any(|p| p.matches(&a.platform)));
    }
    let root = source.root()?;
    let all = resolve_images(source)?.images;
    let images = if platforms.is_empty() {
        select_platforms(all, &[], &source.name())?
    } else {
        select_platforms(all, platforms, &source.name())?
    };
    let scratch = tempfile::tempdir()?;
    let image_path = format!("/{}", path.trim_start_matches('/'));
    let image_binaries: Vec<ImageBinary> = images
        .iter()
        .map(|image| {
            let found = find_file(source, image, &image_path, scratch.path(), &|_| {})
                .map_err(|e| e.to_string())
                .and_then(|file| {
                    let facts = BinaryFacts::read(file.content.file.path())
                        .map_err(|e| format!("{image_path}: {e}"))?;
                    let side = ImageSide {
                        sha256: file.content.sha256.clone(),
                        size: file.content.size,
                        layer: file.layer,
                    };
                    Ok((side, facts))
                });
            ImageBinary {
                platform: image.platform.clone(),
                found,
            }
        })
        .collect();

    let mut results = Vec::new();
    let mut matched_images = vec![false; image_binaries.len()];
    for asset in &assets {
        let index = image_binaries
            .iter()
            .position(|i| i.platform.matches(&asset.platform))
            .or_else(|| {
                // The ELF header gives no variant: one image of that OS and architecture is the one.
                let same: Vec<usize> = image_binaries
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| {
                        i.platform.os == asset.platform.os
                            && i.platform.architecture == asset.platform.architecture
                    })
                    .map(|(n, _)| n)
                    .collect();
                (same.len() == 1).then(|| same[0])
            });
        let release_side = ReleaseSide {
            file: asset.file.clone(),
            member: asset.member.clone(),
            sha256: asset.sha256.clone(),
            size: asset.size,
        };
        let Some(index) = index else {
            results.push(PlatformResult {
                platform: asset.platform.to_string(),
                path: None,
                status: Status::MissingInImage,
                image: None,
                release: Some(release_side),
                explanation: Some(Explanation::Note(format!(
                    "{} has no {} image",
                    source.name(),
                    asset.platform
                ))),
            });
            continue;
        };
        matched_images[index] = true;
        let image = &image_binaries[index];
        match &image.found {
            Err(why) => results.push(PlatformResult {
                platform: image.platform.to_string(),
                path: None,
                status: Status::MissingInImage,
                image: None,
                release: Some(release_side),
                explanation: Some(Explanation::Note(why.clone())),
            }),
            Ok((side, facts)) => {
                let same = side.sha256 == asset.sha256;
                let explanation = (!same).then(|| {
                    Explanation::Differs(explain(&side.sha256, facts, &asset.sha256, &asset.facts))
                });
                results.push(PlatformResult {
                    platform: image.platform.to_string(),
                    path: None,
                    status: if same {
                        Status::Match
                    } else {
                        Status::Mismatch
                    },
                    image: Some(ImageSide {
                        sha256: side.sha256.clone(),
                        size: side.size,
                        layer: side.layer.clone(),
                    }),
                    release: Some(release_side),
                    explanation,
                });
            }
        }
    }
    for (image, matched) in image_binaries.iter().zip(matched_images) {
        if !matched {
            // The image lacking the file is the first thing to say, asset or not.
            let (status, image_side, why) = match &image.found {
                Ok((s, _)) => (
                    Status::MissingInRelease,
                    Some(ImageSide {
                        sha256: s.sha256.clone(),
                        size: s.size,
                        layer: s.layer.clone(),
                    }),
                    format!("no release asset for {}", image.platform),
                ),
                Err(why) => (Status::MissingInImage, None, why.clone()),
            };
            results.push(PlatformResult {
                platform: image.platform.to_string(),
                path: None,
                status,
                image: image_side,
                release: None,
                explanation: Some(Explanation::Note(why)),
            });
        }
    }
    let ok = !results.is_empty()
        && results.iter().all(|r| r.status == Status::Match)
        && checksums.iter().all(|c| c.status == ChecksumStatus::Ok);
    Ok(VerifyReport {
        ok,
        image: source.name(),
        digest: root.digest().to_string(),
        path: image_path,
        results,
        checksums,
    })
}

impl Report for VerifyReport {
    fn render(&self) -> String {
        let mut s = format!("{} {}  {}\n", self.image, self.path, self.digest);
        for r in &self.results {
            let image = r
                .image
                .as_ref()
                .map_or("-".to_string(), |i| format!("sha256:{}", i.sha256));
            let release = r.release.as_ref().map_or("-".to_string(), |f| {
                format!(
                    "{}{}",
                    f.file,
                    f.member
                        .as_ref()
                        .map(|m| format!(" ({m})"))
                        .unwrap_or_default()
                )
            });
            let path = r.path.as_ref().map(|p| format!("{p} ")).unwrap_or_default();
            let _ = writeln!(
                s,
                "  {:<16} {path}{:<18} image {image}  release {release}",
                r.platform, r.status
            );
            match &r.explanation {
                Some(Explanation::Differs(e)) => {
                    let _ = writeln!(s, "      explain: {}", e.verdict.as_str());
                    render_top_differences(&mut s, e);
                }
                Some(Explanation::Note(note)) => {
                    let _ = writeln!(s, "      {note}");
                }
                None => {}
            }
        }
        for c in self
            .checksums
            .iter()
            .filter(|c| c.status != ChecksumStatus::Ok)
        {
            let _ = writeln!(
                s,
                "  checksums: {} is {} (expected sha256:{})",
                c.file, c.status, c.expected
            );
        }
        s.push_str(if self.ok {
            "OK: the release and the image carry the same binaries\n"
        } else {
            "FAILED\n"
        });
        s
    }

    fn outcome(&self) -> Outcome {
        if self.ok {
            Outcome::Ok
        } else {
            Outcome::FoundProblem
        }
    }
}

/// How many of explain's differences the text shows; `--json` has them all.
const TOP_DIFFERENCES: usize = 5;

/// The root causes first (the least benign first), then their consequences:
/// field, image vs release value, and why it matters.
fn render_top_differences(s: &mut String, e: &explain::Explanation) {
    let mut order: Vec<&explain::Difference> = e.differences.iter().collect();
    order.sort_by_key(|d| (!d.is_root(), std::cmp::Reverse(d.class)));
    let short = |v: &str| -> String {
        if v.chars().count() > 72 {
            format!("{}…", v.chars().take(71).collect::<String>())
        } else if v.is_empty() {
            "(none)".to_string()
        } else {
            v.to_string()
        }
    };
    for d in order.iter().take(TOP_DIFFERENCES) {
        let tag = match &d.caused_by {
            Some(cause) => format!("caused by {cause}"),
            None => d.class.as_str().to_string(),
        };
        let _ = writeln!(
            s,
            "        {} [{tag}]: image {} / release {}\n          {}",
            d.field,
            short(&d.a),
            short(&d.b),
            d.why
        );
    }
    if order.len() > TOP_DIFFERENCES {
        let _ = writeln!(
            s,
            "        … and {} more (--json lists them all)",
            order.len() - TOP_DIFFERENCES
        );
    }
}

/// The release's binaries for `binary_name`. With several `names`, a raw
/// asset belongs to the longest name its file name starts with, and an
/// archive must hold a member of that name.
fn collect_release(
    release: &Release,
    binary_name: &str,
    names: &[&str],
) -> Result<(Vec<ReleaseBinary>, Vec<ChecksumCheck>)> {
    let several = names.len() > 1;
    let belongs = |file: &Path| {
        let name = file
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        !several
            || is_archive(name)
            || names
                .iter()
                .filter(|n| name.starts_with(**n))
                .max_by_key(|n| n.len())
                == Some(&binary_name)
    };
    let mut assets = Vec::new();
    let mut checks = Vec::new();
    let mut files = Vec::new();
    match release {
        Release::Binaries(list) => {
            for (platform, file) in list.iter().filter(|(_, f)| belongs(f)) {
                let Some(asset) = read_asset(file, binary_name, Some(platform), several)? else {
                    if several {
                        continue;
                    }
                    bail!("{}: not a binary", file.display());
                };
                if !asset.facts.runs_on(platform) {
                    bail!(
                        "--binary {platform}={}: this is a {}/{} binary, not one for {platform}",
                        file.display(),
                        asset.facts.os,
                        asset.facts.architecture
                    );
                }
                assets.push(asset);
            }
        }
        Release::Checksums(path) => {
            let (c, f) = check_checksums(path)?;
            checks = c;
            files = f;
        }
        Release::Dir(dir) => {
            let entries = std::fs::read_dir(dir).map_err(|e| anyhow!("{}: {e}", dir.display()))?;
            let mut names: Vec<PathBuf> = entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| p.is_file())
                .collect();
            names.sort();
            for path in names {
                let name = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .unwrap_or_default();
                if is_checksums_file(name) {
                    checks.extend(check_checksums(&path)?.0);
                } else {
                    files.push(path);
                }
            }
        }
    }
    for file in files.into_iter().filter(|f| belongs(f)) {
        if let Some(asset) = read_asset(&file, binary_name, None, several)? {
            assets.push(asset);
        }
    }
    if assets.is_empty() {
        bail!("no release binary found (raw binaries, or .tar.gz/.tgz/.tar.xz/.tar.zst/.zip holding '{binary_name}')");
    }
    Ok((assets, checks))
}

#[cfg(test)]
mod tests {
    use onebin_binary::explain::Difference;

    use super::*;

    /// The JSON is what it was when the explanation was a `serde_json::Value`
    /// (whose keys are sorted).
    #[test]
    fn explanation_and_status_serialise_as_before() {
        let explanation = explain::Explanation {
            verdict: Verdict::SameSource,
            differences: vec![Difference {
                field: "libc".to_string(),
                a: "glibc".to_string(),
                b: "musl".to_string(),
                class: Verdict::SameSource,
                why: "the libc differs".to_string(),
                caused_by: None,
            }],
        };
        let as_value = serde_json::json!({
            "verdict": explanation.verdict,
            "differences": explanation.differences,
        });
        assert_eq!(
            serde_json::to_string_pretty(&Explanation::Differs(explanation)).unwrap(),
            serde_json::to_string_pretty(&as_value).unwrap()
        );
        assert_eq!(
            serde_json::to_string(&Explanation::Note("no release asset".to_string())).unwrap(),
            "\"no release asset\""
        );
        for status in [
            Status::Match,
            Status::Mismatch,
            Status::MissingInImage,
            Status::MissingInRelease,
        ] {
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{}\"", status.as_str())
            );
        }
    }
}
