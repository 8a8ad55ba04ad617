//! `onebin verify`: prove, per platform, that the release and the image carry
//! the same binary; when they do not, say why (`explain`'s report).

use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Result};
use onebin_binary::explain::{explain, Explanation};
use onebin_binary::BinaryFacts;
use onebin_image::manifest::resolve_images;
use onebin_image::{ImageSource, Platform};
use onebin_layers::find_file;
use serde::Serialize;

use crate::extract::select_platforms;
use crate::release::{
    check_checksums, is_checksums_file, read_asset, ChecksumCheck, ReleaseBinary,
};

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
    /// `match`, `mismatch`, `missing-in-image` or `missing-in-release`.
    pub status: &'static str,
    pub image: Option<ImageSide>,
    pub release: Option<ReleaseSide>,
    /// Why the two differ (on a mismatch), or why one side is missing.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub explanation: Option<serde_json::Value>,
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
    let binary_name = Path::new(path)
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("--path '{path}' does not name a file"))?;
    let (mut assets, checksums) = collect_release(release, binary_name)?;
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
                status: "missing-in-image",
                image: None,
                release: Some(release_side),
                explanation: Some(serde_json::json!(format!(
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
                status: "missing-in-image",
                image: None,
                release: Some(release_side),
                explanation: Some(serde_json::json!(why)),
            }),
            Ok((side, facts)) => {
                let same = side.sha256 == asset.sha256;
                let explanation = (!same).then(|| {
                    let Explanation {
                        verdict,
                        differences,
                    } = explain(&side.sha256, facts, &asset.sha256, &asset.facts);
                    serde_json::json!({"verdict": verdict, "differences": differences})
                });
                results.push(PlatformResult {
                    platform: image.platform.to_string(),
                    status: if same { "match" } else { "mismatch" },
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
                    "missing-in-release",
                    Some(ImageSide {
                        sha256: s.sha256.clone(),
                        size: s.size,
                        layer: s.layer.clone(),
                    }),
                    format!("no release asset for {}", image.platform),
                ),
                Err(why) => ("missing-in-image", None, why.clone()),
            };
            results.push(PlatformResult {
                platform: image.platform.to_string(),
                status,
                image: image_side,
                release: None,
                explanation: Some(serde_json::json!(why)),
            });
        }
    }
    let ok = !results.is_empty()
        && results.iter().all(|r| r.status == "match")
        && checksums.iter().all(|c| c.status == "ok");
    Ok(VerifyReport {
        ok,
        image: source.name(),
        digest: root.digest().to_string(),
        path: image_path,
        results,
        checksums,
    })
}

fn collect_release(
    release: &Release,
    binary_name: &str,
) -> Result<(Vec<ReleaseBinary>, Vec<ChecksumCheck>)> {
    let mut assets = Vec::new();
    let mut checks = Vec::new();
    let mut files = Vec::new();
    match release {
        Release::Binaries(list) => {
            for (platform, file) in list {
                let asset = read_asset(file, binary_name, Some(platform))?
                    .ok_or_else(|| anyhow!("{}: not a binary", file.display()))?;
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
    for file in files {
        if let Some(asset) = read_asset(&file, binary_name, None)? {
            assets.push(asset);
        }
    }
    if assets.is_empty() {
        bail!("no release binary found (raw binaries, or .tar.gz/.tgz/.tar.xz/.tar.zst/.zip holding '{binary_name}')");
    }
    Ok((assets, checks))
}
