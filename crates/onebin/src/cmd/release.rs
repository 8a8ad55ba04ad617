//! `onebin release`: the whole release from one config (`onebin.toml`) or
//! from GoReleaser's dist directory. Every input is checked first (the
//! checks `package` makes, for every destination); then each destination is
//! written (a registry by digest only), the release assets and checksums are
//! staged, and every image is read back and compared with the assets (the
//! code of `verify`). Only then do assets take their names and registry tags
//! move, so a failed release leaves the previous tag where it was.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::time::{Duration, UNIX_EPOCH};

use anyhow::{anyhow, bail, Context, Result};
use onebin_image::mutate::ConfigChanges;
use onebin_image::transport::{self, remote::PushReport};
use onebin_image::{DockerReference, ImageReference, Options, Platform};
use onebin_layers::pack::Compression;
use serde::Serialize;

use super::package::{self, ImageFile, PackageRequest, PackagedBinary};
use super::verify::{self, Release, Status};
use super::Report;
use crate::config::{fill_release, AssetFormat, Loaded, ARCHIVE_NAME, BINARY_NAME, CHECKSUMS_NAME};
use crate::exit::Outcome;
use crate::output::{render_name, write_checksums, OutputDir};
use crate::progress::Progress;
use crate::release::{check_checksums, ChecksumStatus};
use crate::{goreleaser, provenance, source_date_epoch};

#[derive(clap::Args)]
pub struct Args {
    /// The release's config (TOML, see schemas/onebin.schema.json); optional
    /// with --from-goreleaser.
    #[arg(long, default_value = "onebin.toml")]
    pub config: PathBuf,
    /// Take the binaries from GoReleaser's DIR/artifacts.json, and prove the
    /// image against GoReleaser's archives; onebin writes no assets then.
    #[arg(long, value_name = "DIR")]
    pub from_goreleaser: Option<PathBuf>,
    /// {version} in names and destinations; overrides the config's.
    #[arg(long)]
    pub version: Option<String>,
    /// Where the image goes; repeat for several. Replaces the config's destinations.
    #[arg(long = "dest", value_name = "IMAGE")]
    pub dest: Vec<String>,
    /// Check every input and say what would be done; write nothing.
    #[arg(long)]
    pub dry_run: bool,
    #[arg(long)]
    pub json: bool,
}

/// A release, decided: every name rendered, every reference parsed.
struct Plan {
    project: String,
    version: Option<String>,
    epoch: u64,
    compression: Compression,
    files: Vec<ImageFile>,
    /// The binaries' names, in the order of `files`.
    names: Vec<String>,
    base: Option<ImageReference>,
    changes: ConfigChanges,
    annotations: BTreeMap<String, String>,
    destinations: Vec<ImageReference>,
    assets: Assets,
    checkout: PathBuf,
}

enum Assets {
    /// onebin writes them into `dir`.
    Write {
        dir: PathBuf,
        format: AssetFormat,
        list: Vec<PlannedAsset>,
        checksums: String,
    },
    /// GoReleaser wrote them: per binary (index in `files`) and platform, the
    /// asset that holds it; and its checksums file.
    Existing {
        holders: Vec<(usize, Platform, PathBuf)>,
        checksums: Option<PathBuf>,
    },
    /// The image only.
    None,
}

struct PlannedAsset {
    name: String,
    platform: Platform,
    /// Indexes into `files`: the binaries it holds.
    binaries: Vec<usize>,
    /// Extra files (archives only).
    extra: Vec<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct ReleaseReport {
    /// Every image matched every asset, and everything was written and tagged.
    pub ok: bool,
    pub dry_run: bool,
    pub project: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    pub source_date_epoch: u64,
    pub images: Vec<ImageResult>,
    pub assets: Vec<AssetResult>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub checksums: Option<String>,
    /// Per image read back, binary and platform: the image's binary against the asset's.
    pub proof: Vec<ProofResult>,
    /// `--dry-run`: what a real run would do, step by step.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub plan: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct ImageResult {
    pub destination: String,
    pub digest: String,
    pub platforms: Vec<PackagedBinary>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub push: Option<PushReport>,
    /// `docker://`: the tag was moved to `digest`, after everything else succeeded.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tagged: Option<String>,
}

#[derive(Debug, Serialize)]
pub struct AssetResult {
    pub file: String,
    pub platform: String,
    pub binaries: Vec<String>,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct ProofResult {
    pub image: String,
    pub platform: String,
    pub path: String,
    pub status: Status,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub asset_sha256: Option<String>,
}

pub fn run(args: &Args, options: &Options, progress: &Progress) -> Result<ReleaseReport> {
    let checkout = std::env::current_dir()?;
    let plan = plan(args, &checkout)?;
    release(&plan, options, progress, args.dry_run)
}

/// Reads the config (and GoReleaser's artifacts) into a plan; every error
/// names the config's line.
fn plan(args: &Args, checkout: &Path) -> Result<Plan> {
    let loaded = match (&args.from_goreleaser, args.config.exists()) {
        (Some(_), false) => None,
        _ => Some(Loaded::read(&args.config)?),
    };
    let dist = args
        .from_goreleaser
        .as_deref()
        .map(goreleaser::read)
        .transpose()?;
    let config_binaries = loaded.as_ref().map(|l| l.binaries()).transpose()?;
    let mut files = Vec::new();
    let mut names = Vec::new();
    match &dist {
        Some(dist) => {
            // GoReleaser's binaries; the config may say where each goes.
            for b in &dist.binaries {
                let index = match names.iter().position(|n| n == &b.name) {
                    Some(i) => i,
                    None => {
                        let configured =
                            config_binaries.iter().flatten().find(|c| c.name == b.name);
                        files.push(ImageFile {
                            path: configured
                                .map(|c| c.path.clone())
                                .unwrap_or_else(|| format!("/usr/local/bin/{}", b.name)),
                            mode: configured.map_or(0o755, |c| c.mode),
                            binaries: Vec::new(),
                        });
                        names.push(b.name.clone());
                        names.len() - 1
                    }
                };
                files[index]
                    .binaries
                    .push((b.platform.clone(), b.file.clone()));
            }
        }
        None => {
            let loaded = loaded
                .as_ref()
                .expect("read above without --from-goreleaser");
            let binaries = config_binaries.unwrap_or_default();
            if binaries.is_empty() {
                bail!(
                    "{}: no [[binaries]]: say which binary goes where in the image",
                    loaded.file.display()
                );
            }
            for b in binaries {
                if b.files.is_empty() {
                    return Err(loaded.error(
                        b.span.clone(),
                        format!(
                            "binary {}: no platforms (platforms = {{ \"linux/amd64\" = \"FILE\" }})",
                            b.path
                        ),
                    ));
                }
                names.push(b.name.clone());
                files.push(ImageFile {
                    path: b.path.clone(),
                    mode: b.mode,
                    binaries: b.files.into_iter().map(|(p, f, _)| (p, f)).collect(),
                });
            }
        }
    }

    let config = loaded.as_ref().map(|l| &l.config);
    let version = args
        .version
        .clone()
        .or_else(|| config.and_then(|c| c.version.as_ref().map(|v| v.get_ref().clone())))
        .or_else(|| dist.as_ref().and_then(|d| d.version.clone()));
    let project = config
        .and_then(|c| c.project.as_ref().map(|p| p.get_ref().clone()))
        .or_else(|| dist.as_ref().and_then(|d| d.project.clone()))
        .unwrap_or_else(|| names[0].clone());
    let fill = |template: &str| fill_release(template, &project, version.as_deref());

    let image = config.map(|c| &c.image);
    let base = match image.and_then(|i| i.base.as_ref()) {
        Some(b) if b.get_ref() != "scratch" => {
            Some(ImageReference::parse(&fill(b.get_ref())?).map_err(|e| {
                let l = loaded.as_ref().expect("a base comes from the config");
                l.error(b.span(), format!("image.base: {e}"))
            })?)
        }
        _ => None,
    };
    let mut labels = image.map(|i| i.labels.clone()).unwrap_or_default();
    if let Some(v) = &version {
        labels
            .entry(provenance::VERSION.to_string())
            .or_insert_with(|| v.clone());
    }
    let changes = ConfigChanges {
        entrypoint: image.and_then(|i| i.entrypoint.clone()),
        cmd: image.and_then(|i| i.cmd.clone()),
        env: image
            .map(|i| i.env.clone().into_iter().collect())
            .unwrap_or_default(),
        user: image.and_then(|i| i.user.clone()),
        workdir: image.and_then(|i| i.workdir.clone()),
        labels,
        created: String::new(),
    };
    let annotations = image.map(|i| i.annotations.clone()).unwrap_or_default();

    let mut destinations = Vec::new();
    if args.dest.is_empty() {
        for d in config.map(|c| c.destinations.as_slice()).unwrap_or(&[]) {
            let l = loaded.as_ref().expect("destinations come from the config");
            let text = fill(d.get_ref()).map_err(|e| l.error(d.span(), e))?;
            destinations.push(
                ImageReference::parse(&text)
                    .map_err(|e| l.error(d.span(), format!("destination: {e}")))?,
            );
        }
    } else {
        for d in &args.dest {
            destinations
                .push(ImageReference::parse(&fill(d)?).with_context(|| format!("--dest {d}"))?);
        }
    }
    if destinations.is_empty() {
        bail!("no destination: give destinations = [\"docker://…\"] in the config, or --dest");
    }

    let assets = match &dist {
        Some(dist) => existing_assets(dist, &names, &files)?,
        None => {
            let loaded = loaded
                .as_ref()
                .expect("read above without --from-goreleaser");
            planned_assets(loaded, &files, &names, &fill)?
        }
    };
    let epoch = match source_date_epoch::from_env()? {
        Some(epoch) => epoch,
        None => commit_time(checkout).unwrap_or(0),
    };
    let compression = match &loaded {
        Some(l) => l.compression()?,
        None => Compression::Gzip,
    };
    Ok(Plan {
        project,
        version,
        epoch,
        compression,
        files,
        names,
        base,
        changes,
        annotations,
        destinations,
        assets,
        checkout: checkout.to_path_buf(),
    })
}

/// The commit time of HEAD, when `dir` is in a git checkout: reproducible,
/// and it says when the released source was made.
fn commit_time(dir: &Path) -> Option<u64> {
    let out = std::process::Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["log", "-1", "--format=%ct", "HEAD"])
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    String::from_utf8(out.stdout).ok()?.trim().parse().ok()
}

fn planned_assets(
    loaded: &Loaded,
    files: &[ImageFile],
    names: &[String],
    fill: &dyn Fn(&str) -> Result<String>,
) -> Result<Assets> {
    let config = &loaded.config.assets;
    let format = loaded.format()?;
    if format == AssetFormat::None {
        return Ok(Assets::None);
    }
    let template = match &config.name {
        Some(t) => fill(t.get_ref()).map_err(|e| loaded.error(t.span(), e))?,
        None => fill(match format {
            AssetFormat::Binary => BINARY_NAME,
            _ => ARCHIVE_NAME,
        })
        .map_err(|e| loaded.error(config.format.span(), e))?,
    };
    let checksums = match &config.checksums {
        Some(c) => fill(c.get_ref()).map_err(|e| loaded.error(c.span(), e))?,
        None => fill(CHECKSUMS_NAME).map_err(|e| loaded.error(config.format.span(), e))?,
    };
    let mut extra = Vec::new();
    for f in &config.files {
        let path = PathBuf::from(f.get_ref());
        if !path.is_file() {
            return Err(loaded.error(
                f.span(),
                format!("assets.files: {} is not a file", path.display()),
            ));
        }
        extra.push(path);
    }
    let render = |name: &str, platform: &Platform| -> Result<String> {
        let rendered = render_name(&template, name, platform).map_err(|e| {
            let span = config.name.as_ref().map_or(0..0, |n| n.span());
            loaded.error(span, format!("assets.name: {e}"))
        })?;
        Ok(format!("{rendered}{}", format.extension()))
    };
    let mut list: Vec<PlannedAsset> = Vec::new();
    for (platform, _) in &files[0].binaries {
        if format == AssetFormat::Binary {
            for (i, name) in names.iter().enumerate() {
                list.push(PlannedAsset {
                    name: render(name, platform)?,
                    platform: platform.clone(),
                    binaries: vec![i],
                    extra: Vec::new(),
                });
            }
        } else {
            list.push(PlannedAsset {
                name: render(&names[0], platform)?,
                platform: platform.clone(),
                binaries: (0..files.len()).collect(),
                extra: extra.clone(),
            });
        }
    }
    for (i, asset) in list.iter().enumerate() {
        if list[..i].iter().any(|a| a.name == asset.name) || asset.name == checksums {
            let span = config.name.as_ref().map_or(0..0, |n| n.span());
            return Err(loaded.error(
                span,
                format!(
                    "assets.name gives '{}' twice; add {{name}}, {{os}} and {{arch}}",
                    asset.name
                ),
            ));
        }
    }
    Ok(Assets::Write {
        dir: PathBuf::from(&config.dir),
        format,
        list,
        checksums,
    })
}

/// GoReleaser's archive for each binary and platform, else the binary itself.
fn existing_assets(
    dist: &goreleaser::Dist,
    names: &[String],
    files: &[ImageFile],
) -> Result<Assets> {
    let mut holders = Vec::new();
    for (i, (name, file)) in names.iter().zip(files).enumerate() {
        for (platform, binary) in &file.binaries {
            let archive = dist
                .archives
                .iter()
                .find(|a| a.platform == *platform && a.binaries.iter().any(|b| b == name));
            holders.push((
                i,
                platform.clone(),
                archive.map_or_else(|| binary.clone(), |a| a.file.clone()),
            ));
        }
    }
    Ok(Assets::Existing {
        holders,
        checksums: dist.checksums.clone(),
    })
}

impl Plan {
    fn request<'a>(
        &'a self,
        dest: &'a ImageReference,
        options: &'a Options,
        progress: &'a Progress,
        env: &'a dyn Fn(&str) -> Option<String>,
    ) -> PackageRequest<'a> {
        PackageRequest {
            files: &self.files,
            dest,
            base: self.base.as_ref(),
            changes: self.changes.clone(),
            annotations: self.annotations.clone(),
            epoch: self.epoch,
            compression: self.compression,
            daemon_platform: None,
            checkout: &self.checkout,
            env,
            options,
            progress,
        }
    }
}

/// A registry destination is pushed by digest first; its tag moves last.
fn untagged(dest: &ImageReference) -> (ImageReference, Option<&DockerReference>) {
    match dest {
        ImageReference::Registry(r) if r.tag.is_some() => (
            ImageReference::Registry(DockerReference {
                tag: None,
                ..r.clone()
            }),
            Some(r),
        ),
        other => (other.clone(), None),
    }
}

fn release(
    plan: &Plan,
    options: &Options,
    progress: &Progress,
    dry_run: bool,
) -> Result<ReleaseReport> {
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    // Every check before the first byte is written anywhere.
    for dest in &plan.destinations {
        package::check(&plan.request(dest, options, progress, &env))
            .with_context(|| format!("destination {dest}"))?;
    }
    if let Assets::Existing { holders, .. } = &plan.assets {
        for (_, platform, file) in holders {
            if !file.is_file() {
                bail!(
                    "GoReleaser's asset for {platform}: {} is missing",
                    file.display()
                );
            }
        }
    }
    let mut report = ReleaseReport {
        ok: false,
        dry_run,
        project: plan.project.clone(),
        version: plan.version.clone(),
        source_date_epoch: plan.epoch,
        images: Vec::new(),
        assets: Vec::new(),
        checksums: None,
        proof: Vec::new(),
        plan: Vec::new(),
    };
    if dry_run {
        report.plan = describe(plan);
        report.ok = true;
        return Ok(report);
    }

    // Write each destination; registries by digest only.
    let mut packaged = Vec::new();
    for dest in &plan.destinations {
        let (target, tag_later) = untagged(dest);
        let written = package::package(&plan.request(&target, options, progress, &env))
            .with_context(|| format!("destination {dest}"))?;
        packaged.push((dest, tag_later, written));
    }

    // Stage the assets where they will be, under a temporary directory.
    let staged = match &plan.assets {
        Assets::Write {
            dir,
            format,
            list,
            checksums,
        } => {
            let out = OutputDir::create(dir)?;
            // `.onebin-PID-…`: what a killed release leaves, a later run removes.
            let staging = onebin_image::scratch::dir_in(dir)
                .with_context(|| format!("staging assets in {}", dir.display()))?;
            let mut written = Vec::new();
            for asset in list {
                let file = staging.path().join(&asset.name);
                write_asset(plan, asset, *format, &file)?;
                let bytes =
                    fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
                report.assets.push(AssetResult {
                    file: dir.join(&asset.name).display().to_string(),
                    platform: asset.platform.to_string(),
                    binaries: asset
                        .binaries
                        .iter()
                        .map(|&i| plan.names[i].clone())
                        .collect(),
                    sha256: onebin_image::sha256_digest(&bytes).digest().to_string(),
                    size: bytes.len() as u64,
                });
                written.push((asset, file));
            }
            Some((out, staging, written, dir.join(checksums)))
        }
        _ => None,
    };
    let holders: Vec<(usize, Platform, PathBuf)> = match (&plan.assets, &staged) {
        (Assets::Existing { holders, .. }, _) => holders.clone(),
        (_, Some((_, _, written, _))) => written
            .iter()
            .flat_map(|(asset, file)| {
                asset
                    .binaries
                    .iter()
                    .map(|&i| (i, asset.platform.clone(), file.clone()))
            })
            .collect(),
        _ => Vec::new(),
    };

    // The proof: every image read back, every binary against its asset.
    let mut all_match = true;
    for (dest, _, written) in &packaged {
        let mut readbacks: Vec<(&ImageReference, Vec<Platform>)> = Vec::new();
        for (platform, reference) in &written.readback {
            match readbacks.iter_mut().find(|(r, _)| *r == reference) {
                Some((_, platforms)) => platforms.push(platform.clone()),
                None => readbacks.push((reference, vec![platform.clone()])),
            }
        }
        for (reference, platforms) in readbacks {
            let source = transport::open(reference, options)
                .with_context(|| format!("reading back {reference}"))?;
            for (i, file) in plan.files.iter().enumerate() {
                let assets: Vec<(Platform, PathBuf)> = holders
                    .iter()
                    .filter(|(b, p, _)| *b == i && platforms.iter().any(|q| q.matches(p)))
                    .map(|(_, p, f)| (p.clone(), f.clone()))
                    .collect();
                if assets.is_empty() {
                    continue;
                }
                let checked = verify::verify(
                    source.as_ref(),
                    &file.path,
                    &Release::Binaries(assets),
                    &platforms,
                )
                .with_context(|| format!("proving {dest} against the assets"))?;
                all_match &= checked.ok;
                for r in checked.results {
                    report.proof.push(ProofResult {
                        image: dest.to_string(),
                        platform: r.platform,
                        path: checked.path.clone(),
                        status: r.status,
                        image_sha256: r.image.map(|i| i.sha256),
                        asset: r.release.as_ref().map(|a| shown_asset(&a.file, &staged)),
                        asset_sha256: r.release.map(|a| a.sha256),
                    });
                }
            }
        }
    }
    if let Assets::Existing {
        checksums: Some(file),
        ..
    } = &plan.assets
    {
        let (checks, _) = check_checksums(file)?;
        all_match &= checks.iter().all(|c| c.status == ChecksumStatus::Ok);
        report.checksums = Some(file.display().to_string());
    }
    for (dest, _, written) in &packaged {
        report.images.push(ImageResult {
            destination: dest.to_string(),
            digest: written.digest.clone(),
            platforms: written.platforms.clone(),
            push: written.push.clone(),
            tagged: None,
        });
    }
    if !all_match {
        // Nothing is named or tagged: the staged assets go with the staging directory.
        return Ok(report);
    }

    if let Some((out, staging, written, checksums)) = staged {
        let dir = out.path.clone();
        let mut lines = Vec::new();
        for ((asset, file), result) in written.iter().zip(&report.assets) {
            let to = dir.join(&asset.name);
            fs::rename(file, &to).with_context(|| format!("writing {}", to.display()))?;
            lines.push((asset.name.clone(), result.sha256.clone()));
        }
        write_checksums(&checksums, &lines)?;
        drop(staging);
        out.commit();
        report.checksums = Some(checksums.display().to_string());
    }
    for ((_, tag_later, written), image) in packaged.iter().zip(&mut report.images) {
        if let Some(reference) = tag_later {
            let reported = transport::remote::tag(reference, &written.digest, options)?;
            if reported != written.digest {
                bail!(
                    "docker://{reference}: the registry reports {reported} for the tag, onebin pushed {}",
                    written.digest
                );
            }
            image.tagged = Some(reference.to_string());
        }
    }
    report.ok = true;
    Ok(report)
}

/// The asset's final name rather than its staging path.
fn shown_asset(file: &str, staged: &Option<StagedAssets>) -> String {
    match staged {
        Some((out, staging, _, _)) => Path::new(file)
            .strip_prefix(staging.path())
            .map(|rest| out.path.join(rest).display().to_string())
            .unwrap_or_else(|_| file.to_string()),
        None => file.to_string(),
    }
}

type StagedAssets<'a> = (
    OutputDir,
    tempfile::TempDir,
    Vec<(&'a PlannedAsset, PathBuf)>,
    PathBuf,
);

/// Writes one asset: the raw binary, or a `.tar.gz` or `.zip` of the
/// binaries and the extra files, every byte decided by the inputs.
fn write_asset(plan: &Plan, asset: &PlannedAsset, format: AssetFormat, to: &Path) -> Result<()> {
    let mut members: Vec<(String, PathBuf, u32)> = Vec::new();
    for &i in &asset.binaries {
        let (_, file) = plan.files[i]
            .binaries
            .iter()
            .find(|(p, _)| *p == asset.platform)
            .ok_or_else(|| anyhow!("{}: no {} binary", plan.names[i], asset.platform))?;
        let ext = if asset.platform.os == "windows" {
            ".exe"
        } else {
            ""
        };
        members.push((
            format!("{}{ext}", plan.names[i]),
            file.clone(),
            plan.files[i].mode,
        ));
    }
    for extra in &asset.extra {
        let name = extra
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| anyhow!("{}: not a file name", extra.display()))?;
        members.push((name.to_string(), extra.clone(), 0o644));
    }
    let shown = to.display().to_string();
    let read = |path: &Path| fs::read(path).with_context(|| format!("reading {}", path.display()));
    match format {
        AssetFormat::Binary => {
            fs::copy(&members[0].1, to).with_context(|| format!("writing {shown}"))?;
        }
        AssetFormat::TarGz => {
            let file = fs::File::create(to).with_context(|| format!("writing {shown}"))?;
            let gzip = flate2::GzBuilder::new()
                .operating_system(255)
                .mtime(0)
                .write(file, flate2::Compression::new(6));
            let mut tar = tar::Builder::new(gzip);
            for (name, path, mode) in &members {
                let bytes = read(path)?;
                let mut header = tar::Header::new_gnu();
                header.set_size(bytes.len() as u64);
                header.set_mode(*mode);
                header.set_mtime(plan.epoch);
                header.set_uid(0);
                header.set_gid(0);
                header.set_entry_type(tar::EntryType::Regular);
                tar.append_data(&mut header, name, bytes.as_slice())
                    .with_context(|| format!("writing {shown}"))?;
            }
            tar.into_inner()
                .and_then(|gzip| gzip.finish())
                .and_then(|file| file.sync_all())
                .with_context(|| format!("writing {shown}"))?;
        }
        AssetFormat::Zip => {
            let file = fs::File::create(to).with_context(|| format!("writing {shown}"))?;
            let mut zip = zip::ZipWriter::new(file);
            let time = zip_time(plan.epoch);
            for (name, path, mode) in &members {
                let options = zip::write::SimpleFileOptions::default()
                    .compression_method(zip::CompressionMethod::Deflated)
                    .unix_permissions(*mode)
                    .last_modified_time(time);
                zip.start_file(name.as_str(), options)
                    .with_context(|| format!("writing {shown}"))?;
                zip.write_all(&read(path)?)
                    .with_context(|| format!("writing {shown}"))?;
            }
            zip.finish().with_context(|| format!("writing {shown}"))?;
        }
        AssetFormat::None => {}
    }
    Ok(())
}

/// `SOURCE_DATE_EPOCH` as a zip time stamp (which starts in 1980).
fn zip_time(epoch: u64) -> zip::DateTime {
    let text =
        humantime::format_rfc3339_seconds(UNIX_EPOCH + Duration::from_secs(epoch)).to_string();
    let n = |range: std::ops::Range<usize>| text[range].parse::<u16>().unwrap_or(0);
    zip::DateTime::from_date_and_time(
        n(0..4),
        n(5..7) as u8,
        n(8..10) as u8,
        n(11..13) as u8,
        n(14..16) as u8,
        n(17..19) as u8,
    )
    .unwrap_or_default()
}

fn describe(plan: &Plan) -> Vec<String> {
    let platforms: Vec<String> = plan.files[0]
        .binaries
        .iter()
        .map(|(p, _)| p.to_string())
        .collect();
    let mut steps = vec![format!(
        "package {} for {} on {} (SOURCE_DATE_EPOCH={})",
        plan.files
            .iter()
            .map(|f| f.path.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        platforms.join(", "),
        plan.base
            .as_ref()
            .map_or("scratch".to_string(), |b| b.to_string()),
        plan.epoch
    )];
    for dest in &plan.destinations {
        steps.push(match untagged(dest) {
            (target, Some(_)) => format!("push {target} by digest"),
            (target, None) => format!("write {target}"),
        });
    }
    match &plan.assets {
        Assets::Write {
            dir,
            list,
            checksums,
            ..
        } => {
            for asset in list {
                let mut holds: Vec<String> = asset
                    .binaries
                    .iter()
                    .map(|&i| plan.names[i].clone())
                    .collect();
                holds.extend(asset.extra.iter().map(|e| e.display().to_string()));
                steps.push(format!(
                    "write {} ({})",
                    dir.join(&asset.name).display(),
                    holds.join(", ")
                ));
            }
            steps.push(format!("write {}", dir.join(checksums).display()));
        }
        Assets::Existing { holders, checksums } => {
            for (i, platform, file) in holders {
                steps.push(format!(
                    "prove against GoReleaser's {} ({} for {platform})",
                    file.display(),
                    plan.names[*i]
                ));
            }
            if let Some(c) = checksums {
                steps.push(format!("check GoReleaser's {}", c.display()));
            }
        }
        Assets::None => {}
    }
    steps.push("read every image back and compare each binary with its asset".to_string());
    for dest in &plan.destinations {
        if let (_, Some(r)) = untagged(dest) {
            steps.push(format!("tag docker://{r}, last"));
        }
    }
    steps
}

impl Report for ReleaseReport {
    fn render(&self) -> String {
        let mut s = format!(
            "{} {}{}\n",
            self.project,
            self.version.as_deref().unwrap_or("(no version)"),
            if self.dry_run { "  (dry run)" } else { "" }
        );
        for step in &self.plan {
            let _ = writeln!(s, "  would {step}");
        }
        for image in &self.images {
            let _ = writeln!(s, "  image {}  {}", image.destination, image.digest);
        }
        for asset in &self.assets {
            let _ = writeln!(s, "  asset {}  sha256:{}", asset.file, asset.sha256);
        }
        if let Some(c) = &self.checksums {
            let _ = writeln!(s, "  checksums {c}");
        }
        for p in &self.proof {
            let _ = writeln!(
                s,
                "  proof {:<16} {} {}  {}  {}",
                p.platform,
                p.path,
                p.status,
                p.image,
                p.asset.as_deref().unwrap_or("-")
            );
        }
        if !self.dry_run {
            s.push_str(if self.ok {
                "OK: every image carries the release's binaries; tags moved last\n"
            } else {
                "FAILED: an image and the assets differ; no asset written, no tag moved\n"
            });
        }
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
