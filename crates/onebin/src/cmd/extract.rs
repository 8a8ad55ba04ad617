//! `onebin extract`: take one file out of an image, for every platform, into
//! release assets and a checksums file. Option A: the image owns the build.

use std::fmt::Write as _;
use std::fs::Permissions;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use onebin_image::manifest::resolve_images;
use onebin_image::{transport, ImageSource, Options, Platform};
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
    pub mode: String,
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
    // Per image, per path: the output's name.
    let mut names: Vec<Vec<String>> = Vec::new();
    let mut all: Vec<String> = Vec::new();
    for image in &images {
        let mut per_path = Vec::new();
        for path in request.paths {
            let base_name = Path::new(path.trim_end_matches('/'))
                .file_name()
                .and_then(|n| n.to_str())
                .ok_or_else(|| anyhow!("--path '{path}' does not name a file"))?;
            let name = render_name(request.name_template, base_name, &image.platform)?;
            if all.contains(&name) {
                bail!(
                    "--name '{}' gives '{name}' twice; add {{name}}, {{os}} and {{arch}}",
                    request.name_template
                );
            }
            all.push(name.clone());
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
