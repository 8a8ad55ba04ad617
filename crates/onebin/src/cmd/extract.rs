//! `onebin extract`: take one file out of an image, for every platform, into
//! release assets and a checksums file. Option A: the image owns the build.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use onebin_image::manifest::resolve_images;
use onebin_image::{transport, ImageSource, Options, Platform, PlatformImage};
use onebin_layers::find_file;
use serde::Serialize;

use super::{open_image, Report};
use crate::output::{render_name, write_checksums, OutputDir};
use crate::parallel::side_by_side;
use crate::platforms::select_platforms;
use crate::progress::Progress;

pub const DEFAULT_TEMPLATE: &str = "{name}_{os}_{arch}{_variant}";

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = transport::read_syntaxes())]
    pub image: String,
    /// The file's path inside the image, e.g. /usr/local/bin/app; repeat for
    /// several binaries of one image ({name} tells their outputs apart).
    #[arg(long = "path", value_name = "PATH", required = true)]
    pub paths: Vec<String>,
    /// OS/ARCH[/VARIANT]; repeat for several. Default: every platform of the image.
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<Platform>,
    /// Where to write the files.
    #[arg(long, default_value = "dist")]
    pub out: PathBuf,
    /// Output file name: {name} {os} {arch} {variant} {_variant} {ext}.
    #[arg(long, default_value = DEFAULT_TEMPLATE)]
    pub name: String,
    /// Checksums file (sha256sum/GoReleaser format); relative paths are inside --out.
    #[arg(long, default_value = "checksums.txt")]
    pub checksums: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, options: &Options, progress: &Progress) -> Result<ExtractReport> {
    let source = open_image(&args.image, options)?;
    let request = ExtractRequest {
        paths: &args.paths,
        platforms: &args.platforms,
        out_dir: &args.out,
        name_template: &args.name,
        checksums: &args.checksums,
    };
    extract(source.as_ref(), &request, progress)
}

pub struct ExtractRequest<'a> {
    /// One or more files of the image.
    pub paths: &'a [String],
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
    /// The mode written: 0755 or 0644, less the umask.
    pub mode: String,
    /// The mode the image gave the file (setuid, setgid, sticky and write
    /// bits included), which is not copied.
    pub image_mode: String,
    pub layer: String,
    pub layers_read: usize,
    pub layers_total: usize,
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
    // Every check on the names holds for each path.
    if let Some((i, path)) = request.paths.iter().enumerate().find(|(i, p)| {
        request.paths[..*i]
            .iter()
            .any(|q| q.trim_start_matches('/') == p.trim_start_matches('/'))
    }) {
        bail!(
            "--path '{path}' is given twice (path {} and an earlier one)",
            i + 1
        );
    }
    let base_names = request
        .paths
        .iter()
        .map(|path| {
            Path::new(path.trim_end_matches('/'))
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| anyhow!("--path '{path}' does not name a file"))
        })
        .collect::<Result<Vec<&str>>>()?;
    if request.checksums.is_relative()
        && request
            .checksums
            .components()
            .any(|c| matches!(c, std::path::Component::ParentDir))
    {
        bail!(
            "--checksums '{}' leaves --out: a relative path must stay inside it",
            request.checksums.display()
        );
    }
    // Per image, per path: the output's name.
    let mut names: Vec<Vec<String>> = Vec::new();
    let mut taken: HashMap<String, (&PlatformImage, &str)> = HashMap::new();
    for image in &images {
        let mut per_path = Vec::new();
        for (path, base_name) in request.paths.iter().zip(&base_names) {
            let name = render_name(request.name_template, base_name, &image.platform)?;
            if let Some((other, other_path)) = taken.insert(name.clone(), (image, path)) {
                let same_path = other_path == path.as_str();
                if other.platform == image.platform && same_path {
                    bail!(
                        "{} lists platform {} twice (manifests {} and {}); pick one with --platform {}",
                        source.name(),
                        image.platform,
                        other.descriptor.digest(),
                        image.descriptor.digest(),
                        image.platform
                    );
                }
                if other.platform == image.platform {
                    bail!(
                        "--name '{}' gives '{name}' for --path {other_path} and --path {path} on {}; add {{name}}",
                        request.name_template,
                        image.platform
                    );
                }
                if same_path {
                    bail!(
                        "--name '{}' gives '{name}' for platforms {} and {}; add {{os}}, {{arch}} and {{_variant}}",
                        request.name_template,
                        other.platform,
                        image.platform
                    );
                }
                bail!(
                    "--name '{}' gives '{name}' for --path {other_path} on {} and --path {path} on {}; add {{name}}, {{os}}, {{arch}} and {{_variant}}",
                    request.name_template,
                    other.platform,
                    image.platform
                );
            }
            if request.checksums.is_relative() && Path::new(&name) == request.checksums {
                bail!(
                    "--name '{}' gives '{name}' for {}, the checksums file's name; choose another --name or --checksums",
                    request.name_template,
                    image.platform
                );
            }
            per_path.push(name);
        }
        names.push(per_path);
    }

    let out = OutputDir::create(request.out_dir)?;
    let paths: Vec<String> = request
        .paths
        .iter()
        .map(|p| format!("/{}", p.trim_start_matches('/')))
        .collect();
    let found = side_by_side(&images, |image| {
        let bar = progress.bytes(&image.platform.to_string());
        let result = paths
            .iter()
            .map(|path| {
                find_file(source, image, path, &out.path, &|n| bar.inc(n))
                    .map_err(|e| anyhow!("platform {}: {e}", image.platform))
            })
            .collect::<Result<Vec<_>>>();
        bar.finish_and_clear();
        result
    })?;

    // Everything was read and checked: only now do files take their names.
    let umask = current_umask();
    let mut files = Vec::new();
    let mut checksums = Vec::new();
    let each = images
        .iter()
        .zip(&names)
        .zip(found)
        .flat_map(|((image, names), found)| {
            names
                .iter()
                .zip(&paths)
                .zip(found)
                .map(move |((name, path), file)| ((image, name, path), file))
        });
    for ((image, name, path), file) in each {
        let output = out.path.join(name);
        let content = file.content;
        let mode = asset_mode(file.mode, umask);
        content
            .file
            .as_file()
            .set_permissions(Permissions::from_mode(mode))
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
            mode: format!("{mode:04o}"),
            image_mode: format!("{:04o}", file.mode),
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

/// A release asset gets `0755` when the image let anyone run it and `0644`
/// otherwise, less the umask: setuid, setgid and sticky bits, and write
/// permission for group and others, are the image's to want and not the host's
/// to get (extract often runs as root in CI).
pub fn asset_mode(image_mode: u32, umask: u32) -> u32 {
    let base = if image_mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    base & !umask
}

/// The process's umask, read by setting it and putting it back (there is no
/// call that only reads it); no other thread creates files at that moment.
fn current_umask() -> libc::mode_t {
    // SAFETY: umask has no memory effects; it is restored at once.
    let old = unsafe { libc::umask(0o022) };
    unsafe { libc::umask(old) };
    old
}

impl Report for ExtractReport {
    fn render(&self) -> String {
        let mut s = String::new();
        for f in &self.files {
            let _ = writeln!(
                s,
                "{:<16} {}  sha256:{}  {} bytes",
                f.platform, f.output, f.sha256, f.size
            );
        }
        let _ = writeln!(s, "{}", self.checksums);
        s
    }
}
