//! `onebin extract`: take one file out of an image, for every platform, into
//! release assets and a checksums file. Option A: the image owns the build.

use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use onebin_image::manifest::resolve_images;
use onebin_image::{ImageSource, Platform, PlatformImage};
use onebin_layers::find_file;
use serde::Serialize;

use crate::output::{render_name, write_checksums, OutputDir};
use crate::progress::Progress;
use crate::side_by_side;

pub const DEFAULT_TEMPLATE: &str = "{name}_{os}_{arch}{_variant}";

pub struct ExtractRequest<'a> {
    pub path: &'a str,
    /// Empty: every runnable platform of the image.
    pub platforms: &'a [Platform],
    pub out_dir: &'a Path,
    pub name_template: &'a str,
    /// Relative paths are inside `out_dir`.
    pub checksums: &'a Path,
}

#[derive(Debug, Serialize)]
pub struct ExtractReport {
    pub image: String,
    pub digest: String,
    pub checksums: String,
    pub files: Vec<ExtractedFile>,
}

#[derive(Debug, Serialize)]
pub struct ExtractedFile {
    pub platform: String,
    pub path: String,
    pub resolved_path: String,
    pub output: String,
    pub sha256: String,
    pub size: u64,
    pub mode: String,
    pub layer: String,
    pub layers_read: usize,
    pub layers_total: usize,
}

/// Picks the requested platforms from the image; every runnable one when none
/// is requested. A requested platform the image lacks is an error naming what
/// the image has.
pub fn select_platforms(
    images: Vec<PlatformImage>,
    wanted: &[Platform],
    image_name: &str,
) -> Result<Vec<PlatformImage>> {
    if images.is_empty() {
        bail!("{image_name}: holds no runnable image (only attestations or unknown platforms)");
    }
    if wanted.is_empty() {
        return Ok(images);
    }
    let available = || {
        images
            .iter()
            .map(|i| i.platform.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut selected = Vec::new();
    for platform in wanted {
        let image = images
            .iter()
            .find(|i| i.platform.matches(platform))
            .ok_or_else(|| {
                anyhow!(
                    "platform {platform}: not in {image_name} (it has: {})",
                    available()
                )
            })?;
        if !selected
            .iter()
            .any(|s: &PlatformImage| s.descriptor.digest() == image.descriptor.digest())
        {
            selected.push(image.clone());
        }
    }
    Ok(selected)
}

pub fn extract(
    source: &dyn ImageSource,
    request: &ExtractRequest,
    progress: &Progress,
) -> Result<ExtractReport> {
    let root = source.root()?;
    let images = select_platforms(
        resolve_images(source)?.images,
        request.platforms,
        &source.name(),
    )?;
    let base_name = Path::new(request.path.trim_end_matches('/'))
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow!("--path '{}' does not name a file", request.path))?
        .to_string();
    let mut names = Vec::new();
    for image in &images {
        let name = render_name(request.name_template, &base_name, &image.platform)?;
        if names.contains(&name) {
            bail!(
                "--name '{}' gives '{name}' for two platforms; add {{os}} and {{arch}}",
                request.name_template
            );
        }
        names.push(name);
    }

    let out = OutputDir::create(request.out_dir)?;
    let path = format!("/{}", request.path.trim_start_matches('/'));
    let found = side_by_side(&images, |image| {
        let bar = progress.bytes(&image.platform.to_string());
        let result = find_file(source, image, &path, &out.path, &|n| bar.inc(n))
            .map_err(|e| anyhow!("platform {}: {e}", image.platform));
        bar.finish_and_clear();
        result
    })?;

    // Everything was read and checked: only now do files take their names.
    let mut files = Vec::new();
    let mut checksums = Vec::new();
    for ((image, name), file) in images.iter().zip(&names).zip(found) {
        let output = out.path.join(name);
        let content = file.content;
        content
            .file
            .as_file()
            .set_permissions(Permissions::from_mode(file.mode))
            .with_context(|| format!("setting the mode of {}", output.display()))?;
        content
            .file
            .persist(&output)
            .with_context(|| format!("writing {}", output.display()))?;
        checksums.push((name.clone(), content.sha256.clone()));
        files.push(ExtractedFile {
            platform: image.platform.to_string(),
            path: path.clone(),
            resolved_path: file.resolved_path,
            output: output.display().to_string(),
            sha256: content.sha256,
            size: content.size,
            mode: format!("{:04o}", file.mode),
            layer: file.layer,
            layers_read: file.layers_read,
            layers_total: file.layers_total,
        });
    }
    let checksums_path: PathBuf = out.path.join(request.checksums);
    write_checksums(&checksums_path, &checksums)?;
    out.commit();
    Ok(ExtractReport {
        image: source.name(),
        digest: root.digest().to_string(),
        checksums: checksums_path.display().to_string(),
        files,
    })
}
