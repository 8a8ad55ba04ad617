//! `onebin package`: put prebuilt binaries into a reproducible multi-arch
//! image, with no daemon and no Dockerfile. Option B: CI owns the build.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use onebin_binary::BinaryFacts;
use onebin_image::manifest::resolve_images;
use onebin_image::mutate::{append_layers, index, Blob, ConfigChanges, NewImage, NewLayer};
use onebin_image::transport::{self, remote::PushReport};
use onebin_image::write::WriteSet;
use onebin_image::{ImageReference, ImageSource, Options, Platform, PlatformImage, WriteOptions};
use onebin_layers::find_file;
use onebin_layers::pack::{available_threads, pack_file, Compression};
use serde::Serialize;

use super::Report;
use crate::flags::{parse_binary, parse_key_value, parse_mode};

/// `PLATFORM=FILE`, or `PLATFORM=FILE=PATH` for a further binary of the image.
fn parse_binary_at(s: &str) -> std::result::Result<(Platform, PathBuf, Option<String>), String> {
    match s.rsplit_once("=/") {
        Some((binary, path)) if binary.contains('=') => {
            let (platform, file) = parse_binary(binary)?;
            Ok((platform, file, Some(format!("/{path}"))))
        }
        _ => parse_binary(s).map(|(platform, file)| (platform, file, None)),
    }
}
use crate::parallel::side_by_side;
use crate::platforms::select_platforms;
use crate::progress::{BlobBars, Progress};
use crate::{provenance, source_date_epoch};

#[derive(clap::Args)]
pub struct Args {
    /// PLATFORM=FILE, e.g. linux/arm64=dist/app_linux_arm64; repeat per platform.
    /// PLATFORM=FILE=PATH puts a further binary of the image at PATH.
    #[arg(long = "binary", value_name = "PLATFORM=FILE[=PATH]", value_parser = parse_binary_at, required = true)]
    pub binaries: Vec<(Platform, PathBuf, Option<String>)>,
    /// Where the binary goes in the image, e.g. /usr/local/bin/app.
    #[arg(long)]
    pub path: String,
    #[arg(long, help = transport::write_syntaxes())]
    pub dest: String,
    /// The image to build on (any transport), or scratch.
    #[arg(long, default_value = "scratch")]
    pub base: String,
    /// One argument of the entrypoint; repeat for more. Default: [PATH].
    #[arg(long = "entrypoint", value_name = "ARG", allow_hyphen_values = true)]
    pub entrypoint: Vec<String>,
    /// One argument of the command; repeat for more.
    #[arg(long = "cmd", value_name = "ARG", allow_hyphen_values = true)]
    pub cmd: Vec<String>,
    #[arg(long = "env", value_name = "K=V", value_parser = parse_key_value)]
    pub env: Vec<(String, String)>,
    #[arg(long)]
    pub user: Option<String>,
    #[arg(long)]
    pub workdir: Option<String>,
    /// The binary's file mode in the image, in octal.
    #[arg(long, default_value = "0755", value_parser = parse_mode)]
    pub mode: u32,
    #[arg(long = "label", value_name = "K=V", value_parser = parse_key_value)]
    pub labels: Vec<(String, String)>,
    /// Annotations of the manifests and the index.
    #[arg(long = "annotation", value_name = "K=V", value_parser = parse_key_value)]
    pub annotations: Vec<(String, String)>,
    /// docker-daemon: the platform to load (default: the engine's); docker-archive with
    /// several platforms: the one also tagged NAME:TAG (default: this machine's).
    #[arg(long)]
    pub daemon_platform: Option<Platform>,
    /// Layer compression: gzip (every runtime) or zstd (smaller, faster; Docker 23+,
    /// containerd 1.5+, podman; not Docker 20.10).
    #[arg(long, default_value = "gzip", value_name = "gzip|zstd")]
    pub compression: Compression,
    #[arg(long)]
    pub json: bool,
}

/// Packages with the flags, the environment (`SOURCE_DATE_EPOCH`, CI
/// variables) and the current directory's git checkout.
pub fn run(args: &Args, options: &Options, progress: &Progress) -> Result<PackageReport> {
    let dest = ImageReference::parse(&args.dest)?;
    let base = if args.base == "scratch" {
        None
    } else {
        Some(ImageReference::parse(&args.base)?)
    };
    let given = |list: &[String]| (!list.is_empty()).then(|| list.to_vec());
    let changes = ConfigChanges {
        entrypoint: given(&args.entrypoint),
        cmd: given(&args.cmd),
        env: args.env.clone(),
        user: args.user.clone(),
        workdir: args.workdir.clone(),
        labels: args.labels.iter().cloned().collect(),
        created: String::new(),
    };
    let checkout = std::env::current_dir()?;
    let mut files = vec![ImageFile {
        path: args.path.clone(),
        mode: args.mode,
        binaries: Vec::new(),
    }];
    for (platform, file, at) in &args.binaries {
        let path = at.as_ref().unwrap_or(&args.path);
        let index = match files.iter().position(|f| &f.path == path) {
            Some(i) => i,
            None => {
                files.push(ImageFile {
                    path: path.clone(),
                    mode: args.mode,
                    binaries: Vec::new(),
                });
                files.len() - 1
            }
        };
        files[index].binaries.push((platform.clone(), file.clone()));
    }
    files.retain(|f| !f.binaries.is_empty());
    let request = PackageRequest {
        files: &files,
        dest: &dest,
        base: base.as_ref(),
        changes,
        annotations: args.annotations.iter().cloned().collect(),
        epoch: source_date_epoch::from_env()?.unwrap_or(0),
        daemon_platform: args.daemon_platform.clone(),
        compression: args.compression,
        checkout: &checkout,
        env: &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
        options,
        progress,
    };
    package(&request)
}

/// One file of the image (`app`, `app-healthcheck`), with its binary per platform.
#[derive(Clone, Debug)]
pub struct ImageFile {
    /// Where the binary goes in the image (absolute).
    pub path: String,
    pub mode: u32,
    pub binaries: Vec<(Platform, PathBuf)>,
}

pub struct PackageRequest<'a> {
    /// The image's binaries, one layer each, in this order; every file has a
    /// binary for every platform. The entrypoint defaults to the first.
    pub files: &'a [ImageFile],
    pub dest: &'a ImageReference,
    /// `None`: `scratch`, no base layers.
    pub base: Option<&'a ImageReference>,
    pub changes: ConfigChanges,
    pub annotations: BTreeMap<String, String>,
    /// Seconds since the epoch for every time stamp (`SOURCE_DATE_EPOCH`).
    pub epoch: u64,
    /// `docker-daemon:`: the platform to load (default: the engine's); `docker-archive:`: the
    /// platform also tagged `NAME:TAG` (default: this machine's).
    pub daemon_platform: Option<Platform>,
    pub compression: Compression,
    /// The directory whose git checkout gives the provenance labels.
    pub checkout: &'a Path,
    pub env: &'a dyn Fn(&str) -> Option<String>,
    /// How the base is read and the destination written (registry settings).
    pub options: &'a Options,
    /// Bars for what goes over the network (`docker://` destinations).
    pub progress: &'a Progress,
}

#[derive(Debug, Serialize)]
pub struct PackageReport {
    pub image: String,
    /// The index over every platform (for `docker-archive:` and
    /// `docker-daemon:` the digest the same image has in a layout or registry).
    pub digest: String,
    pub platforms: Vec<PackagedBinary>,
    /// Every binary was read back out of the written image and matched.
    pub verified: bool,
    /// `docker://` destinations: what was uploaded, and the digest the registry
    /// reported for the index (equal to `digest`, or the push fails).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PushReport>,
    /// Per platform, where the written image is read back from.
    #[serde(skip)]
    pub readback: Vec<(Platform, ImageReference)>,
}

#[derive(Clone, Debug, Serialize)]
pub struct PackagedBinary {
    pub platform: String,
    pub digest: String,
    /// Where the binary is in the image.
    pub path: String,
    pub binary: String,
    pub sha256: String,
    pub size: u64,
    pub layer: String,
}

/// One platform's image: its binaries, and its base.
struct Input {
    platform: Platform,
    binaries: Vec<InputBinary>,
    base: Option<PlatformImage>,
}

struct InputBinary {
    /// Where it goes in the image, clean.
    path: String,
    mode: u32,
    file: PathBuf,
    content: Vec<u8>,
    facts: BinaryFacts,
}

/// What every check before writing found: the inputs, read and accepted.
struct Prepared {
    /// The first binary's path: the default entrypoint.
    path: String,
    base_source: Option<Box<dyn ImageSource>>,
    inputs: Vec<Input>,
    daemon_platform: Option<Platform>,
}

/// Runs every check `package` makes before it writes anything (paths,
/// binaries, base, destination): `onebin release` checks every destination
/// before it writes the first.
pub fn check(request: &PackageRequest) -> Result<()> {
    prepare(request).map(drop)
}

fn prepare(request: &PackageRequest) -> Result<Prepared> {
    let paths = request
        .files
        .iter()
        .map(|f| clean_image_path(&f.path))
        .collect::<Result<Vec<String>>>()?;
    if let Some((i, path)) = paths
        .iter()
        .enumerate()
        .find(|(i, p)| paths[..*i].contains(p))
    {
        bail!(
            "--path {path}: given for two binaries (binary {} and an earlier one)",
            i + 1
        );
    }
    let Some(path) = paths.first().cloned() else {
        bail!("no binary to package");
    };
    let base_source = request
        .base
        .map(|base| transport::open(base, request.options))
        .transpose()
        .context("reading the base image")?;
    let base_images = match &base_source {
        Some(source) => Some(resolve_images(source.as_ref())?.images),
        None => None,
    };
    let inputs = read_inputs(request, &paths, base_source.as_deref(), base_images)?;
    let packaged: Vec<Platform> = inputs.iter().map(|i| i.platform.clone()).collect();
    let daemon_platform = transport::settle_daemon_platform(
        request.dest,
        &packaged,
        request.daemon_platform.as_ref(),
    )?;
    let scratch_check = onebin_image::scratch::temp_dir().context("a temporary directory")?;
    for input in &inputs {
        for binary in &input.binaries {
            check_runs_on_base(
                input,
                binary,
                base_source.as_deref(),
                request.base,
                scratch_check.path(),
            )?;
        }
    }
    Ok(Prepared {
        path,
        base_source,
        inputs,
        daemon_platform,
    })
}

pub fn package(request: &PackageRequest) -> Result<PackageReport> {
    let Prepared {
        path,
        base_source,
        inputs,
        daemon_platform,
    } = prepare(request)?;

    let created =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(request.epoch))
            .to_string();
    let mut changes = request.changes.clone();
    changes.created = created.clone();
    if changes.entrypoint.is_none() {
        changes.entrypoint = Some(vec![path.clone()]);
    }
    let provenance = provenance::fill(&changes.labels, &created, request.checkout, request.env);
    changes.labels.extend(provenance.clone());
    let mut annotations = provenance;
    annotations.extend(request.annotations.clone());

    // Compressing is the work: every platform side by side, each binary on every core.
    let (epoch, compression) = (request.epoch, request.compression);
    let layers = side_by_side(&inputs, |input| {
        let threads = available_threads();
        input
            .binaries
            .iter()
            .map(|binary| {
                let packed = pack_file(
                    &binary.path,
                    &binary.content,
                    binary.mode,
                    epoch,
                    compression,
                    threads,
                )
                .with_context(|| {
                    format!(
                        "platform {}: packing {}",
                        input.platform,
                        binary.file.display()
                    )
                })?;
                Ok(NewLayer {
                    blob: Blob::new(packed.media_type, packed.blob),
                    diff_id: packed.diff_id,
                    created_by: format!("onebin package --path {}", binary.path),
                })
            })
            .collect::<Result<Vec<NewLayer>>>()
    })?;
    let images: Vec<NewImage> = inputs
        .iter()
        .zip(layers)
        .map(|(input, layers)| {
            append_layers(
                input.base.as_ref(),
                &input.platform,
                layers,
                &changes,
                &annotations,
            )
        })
        .collect();
    let index = index(&images, &annotations);
    let set = WriteSet {
        images: &images,
        index: &index,
        base: base_source.as_deref(),
    };
    let bars = BlobBars::new(request.progress);
    let written = transport::write(
        request.dest,
        &set,
        &WriteOptions {
            options: request.options,
            daemon_platform: daemon_platform.as_ref(),
            progress: &|blob, n| bars.add(blob, n),
        },
    )?;

    // Reading back is the other half of the work: platforms side by side too.
    let pairs: Vec<(&Input, &NewImage)> = inputs.iter().zip(&images).collect();
    let per_platform = side_by_side(&pairs, |(input, image)| {
        let readback = written
            .readback
            .iter()
            .find(|(p, _)| p == &input.platform)
            .map(|(_, r)| r);
        // The binaries' layers are the image's last ones, in order.
        let first_layer = image.layers.len() - input.binaries.len();
        let mut binaries = Vec::new();
        for (binary, layer) in input.binaries.iter().zip(&image.layers[first_layer..]) {
            let sha256 = onebin_image::sha256_digest(&binary.content)
                .digest()
                .to_string();
            if let Some(reference) = readback {
                verify_readback(
                    reference,
                    request.options,
                    &input.platform,
                    &binary.path,
                    &sha256,
                )?;
            }
            binaries.push(PackagedBinary {
                platform: input.platform.to_string(),
                digest: image.manifest.descriptor.digest().to_string(),
                path: binary.path.clone(),
                binary: binary.file.display().to_string(),
                sha256,
                size: binary.content.len() as u64,
                layer: layer.descriptor.digest().to_string(),
            });
        }
        Ok(binaries)
    })?;
    let platforms = per_platform.into_iter().flatten().collect();
    Ok(PackageReport {
        image: request.dest.to_string(),
        digest: index.descriptor.digest().to_string(),
        platforms,
        verified: true,
        push: written.push,
        readback: written.readback,
    })
}

impl Report for PackageReport {
    fn render(&self) -> String {
        let mut s = format!("{}\n  index: {}\n", self.image, self.digest);
        for p in &self.platforms {
            let _ = writeln!(
                s,
                "  {:<16} {}  {} sha256:{}",
                p.platform, p.digest, p.binary, p.sha256
            );
        }
        s.push_str("  read back and verified: every binary matches its input\n");
        s
    }
}

fn clean_image_path(path: &str) -> Result<String> {
    if path.len() > 1 && path.ends_with('/') {
        bail!(
            "--path '{path}' ends with '/': name the file, e.g. {}app (a directory of the base must not become a file)",
            path
        );
    }
    let trimmed = path.trim_end_matches('/');
    if !trimmed.starts_with('/')
        || trimmed
            .split('/')
            .skip(1)
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        bail!("--path '{path}' must be a clean absolute path, e.g. /usr/local/bin/app");
    }
    Ok(trimmed.to_string())
}

/// Reads every binary, checks it runs on its platform, and groups them by
/// platform; every file must have a binary for each platform of the first.
fn read_inputs(
    request: &PackageRequest,
    paths: &[String],
    base_source: Option<&dyn ImageSource>,
    base_images: Option<Vec<PlatformImage>>,
) -> Result<Vec<Input>> {
    let first = &request.files[0];
    if first.binaries.is_empty() {
        bail!("no --binary PLATFORM=FILE given");
    }
    for (file, path) in request.files.iter().zip(paths).skip(1) {
        let same = file.binaries.len() == first.binaries.len()
            && first
                .binaries
                .iter()
                .all(|(p, _)| file.binaries.iter().any(|(q, _)| q.matches(p)));
        if !same {
            let list = |b: &[(Platform, PathBuf)]| {
                b.iter()
                    .map(|(p, _)| p.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            };
            bail!(
                "{path}: has binaries for {}, but {} has them for {}: every binary of the image needs every platform",
                list(&file.binaries),
                paths[0],
                list(&first.binaries)
            );
        }
    }
    let mut inputs: Vec<Input> = Vec::new();
    for (platform, _) in &first.binaries {
        if inputs.iter().any(|i| i.platform.matches(platform)) {
            bail!("--binary {platform}=…: given twice");
        }
        let mut binaries = Vec::new();
        for (image_file, path) in request.files.iter().zip(paths) {
            let (platform, file) = image_file
                .binaries
                .iter()
                .find(|(p, _)| p.matches(platform))
                .expect("every file has every platform, checked above");
            binaries.push(read_binary(platform, file, path, image_file.mode)?);
        }
        let base = match (&base_images, base_source) {
            (Some(images), Some(source)) => {
                let picked = select_platforms(
                    images.clone(),
                    std::slice::from_ref(platform),
                    &source.name(),
                )
                .with_context(|| "the base image lacks a platform to package for")?;
                picked.into_iter().next()
            }
            _ => None,
        };
        inputs.push(Input {
            platform: platform.clone(),
            binaries,
            base,
        });
    }
    Ok(inputs)
}

fn read_binary(platform: &Platform, file: &Path, path: &str, mode: u32) -> Result<InputBinary> {
    let content =
        std::fs::read(file).with_context(|| format!("--binary {platform}={}", file.display()))?;
    let facts = BinaryFacts::parse(&content).map_err(|e| {
        anyhow!(
            "--binary {platform}={}: not an executable onebin can read (ELF, PE or Mach-O): {e}",
            file.display()
        )
    })?;
    if !facts.runs_on(platform) {
        bail!(
            "--binary {platform}={}: this is a {}/{} binary; it will not run on {platform}",
            file.display(),
            facts.os,
            facts.architecture
        );
    }
    Ok(InputBinary {
        path: path.to_string(),
        mode,
        file: file.to_path_buf(),
        content,
        facts,
    })
}

/// A dynamically linked binary needs its ELF interpreter in the image; a
/// glibc binary on a musl base (or on scratch) would fail with "not found".
fn check_runs_on_base(
    input: &Input,
    binary: &InputBinary,
    base_source: Option<&dyn ImageSource>,
    base_ref: Option<&ImageReference>,
    scratch: &Path,
) -> Result<()> {
    let Some(interpreter) = &binary.facts.interpreter else {
        return Ok(());
    };
    let libc = &binary.facts.libc;
    let what = format!("--binary {}={}", input.platform, binary.file.display());
    let (Some(source), Some(base)) = (base_source, &input.base) else {
        bail!(
            "{what}: dynamically linked against {libc} (needs {interpreter}); it will not start on scratch. \
             Link it statically (Go: CGO_ENABLED=0; C: -static) or give a --base that has {libc}"
        );
    };
    let base_name = base_ref.map(|r| r.to_string()).unwrap_or_default();
    // Only layers that were read and say so make a file absent: a base that
    // cannot be read (registry, digest) is an error, not a base without it.
    let has = |path: &str| -> Result<bool> {
        match find_file(source, base, path, scratch, &|_| {}) {
            Ok(_) => Ok(true),
            Err(absent) if absent.is_absent() => Ok(false),
            Err(e) => Err(anyhow!(
                "{what}: looking for {path} in base {base_name} ({}): {e}",
                input.platform
            )),
        }
    };
    if has(interpreter)? {
        return Ok(());
    }
    let musl = format!(
        "/lib/ld-musl-{}.so.1",
        musl_arch(&input.platform.architecture)
    );
    let base_libc = if has(&musl)? { " musl" } else { "" };
    bail!(
        "{what}: dynamically linked against {libc} (needs {interpreter}), which base {base_name} ({}) does not have: \
         this {libc} binary will not start on this{base_libc} base",
        input.platform
    )
}

fn musl_arch(goarch: &str) -> &str {
    match goarch {
        "amd64" => "x86_64",
        "arm64" => "aarch64",
        "386" => "i386",
        "arm" => "armhf",
        other => other,
    }
}

/// Reads the binary back through the code `extract` uses, and compares.
fn verify_readback(
    reference: &ImageReference,
    options: &Options,
    platform: &Platform,
    path: &str,
    sha256: &str,
) -> Result<()> {
    let source =
        transport::open(reference, options).with_context(|| format!("reading back {reference}"))?;
    let images = select_platforms(
        resolve_images(source.as_ref())?.images,
        std::slice::from_ref(platform),
        &source.name(),
    )?;
    let scratch = onebin_image::scratch::temp_dir().context("a temporary directory")?;
    let found = find_file(source.as_ref(), &images[0], path, scratch.path(), &|_| {})
        .map_err(|e| anyhow!("reading back {reference}: platform {platform}: {e}"))?;
    if found.content.sha256 != sha256 {
        bail!("reading back {reference}: platform {platform}: {path} is sha256:{}, not the input's sha256:{sha256}", found.content.sha256);
    }
    Ok(())
}
