//! `onebin index create DEST SRC...`: one multi-arch index from the
//! single-platform images (or indexes) that separate runners pushed. The
//! manifests are kept byte for byte (so their digests, and signatures over
//! them, stay valid); blobs are mounted from each source's repository when
//! it is in the destination's registry, never uploaded again; then the index,
//! under the tag, last.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use anyhow::{anyhow, bail, Context, Result};
use onebin_image::digest::read_small_blob;
use onebin_image::manifest::{read_manifest, resolve_images, Manifest};
use onebin_image::mutate::{canonical_json, Blob, BlobBytes, NewImage, OCI_INDEX};
use onebin_image::transport::{self, remote::PushReport};
use onebin_image::write::WriteSet;
use onebin_image::{Descriptor, ImageReference, ImageSource, Options, Platform};
use serde::Serialize;
use serde_json::{json, Value};

use super::Report;
use crate::progress::{BlobBars, Progress};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    pub command: IndexCommand,
}

#[derive(clap::Subcommand)]
pub enum IndexCommand {
    /// Join images that separate runners pushed into one multi-arch index under DEST.
    Create(CreateArgs),
}

#[derive(clap::Args)]
pub struct CreateArgs {
    /// The index to write: docker://NAME:TAG.
    pub dest: String,
    /// The images to join (any transport; usually docker://NAME:TAG), one or more platforms each.
    #[arg(required = true, value_name = "SRC")]
    pub sources: Vec<String>,
    /// Leave out the sources' attestation entries (buildx's provenance and SBOMs).
    #[arg(long)]
    pub drop_attestations: bool,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Serialize)]
pub struct IndexReport {
    pub image: String,
    pub digest: String,
    pub manifests: Vec<IndexEntry>,
    /// Attestation entries kept, or dropped with `--drop-attestations`.
    pub attestations_kept: usize,
    pub attestations_dropped: usize,
    pub push: PushReport,
}

#[derive(Debug, Serialize)]
pub struct IndexEntry {
    pub platform: String,
    pub digest: String,
    pub source: String,
}

/// One source's part of the index: its images, and the index entries for them.
struct Part {
    source: Box<dyn ImageSource>,
    images: Vec<NewImage>,
}

pub fn create(args: &CreateArgs, options: &Options, progress: &Progress) -> Result<IndexReport> {
    let dest = match ImageReference::parse(&args.dest)? {
        ImageReference::Registry(r) if r.digest.is_none() => r,
        other => {
            bail!("index create: the destination {other} must be docker://NAME:TAG (a registry)")
        }
    };
    let mut parts: Vec<Part> = Vec::new();
    let mut entries: Vec<Value> = Vec::new();
    let mut report_entries: Vec<IndexEntry> = Vec::new();
    let mut platforms: Vec<(Platform, String)> = Vec::new();
    let (mut kept, mut dropped) = (0, 0);
    for name in &args.sources {
        let source = transport::open(&ImageReference::parse(name)?, options)
            .with_context(|| format!("source {name}"))?;
        let resolved = resolve_images(source.as_ref()).with_context(|| format!("source {name}"))?;
        if resolved.images.is_empty() {
            bail!("source {name}: holds no runnable image");
        }
        let mut images = Vec::new();
        let mut digests = Vec::new();
        for image in &resolved.images {
            if let Some((_, other)) = platforms.iter().find(|(p, _)| p.matches(&image.platform)) {
                bail!(
                    "platform {}: in both {other} and {name}; an index holds one image per platform",
                    image.platform
                );
            }
            // The manifest, config and layer list were read and checked
            // against their digests by resolve_images; the layers must match
            // the config's diff_ids.
            image
                .layers_top_down()
                .with_context(|| format!("source {name}"))?;
            platforms.push((image.platform.clone(), name.clone()));
            images.push(new_image(
                source.as_ref(),
                &image.descriptor,
                image.platform.clone(),
                &image.manifest,
            )?);
            entries.push(entry(&image.descriptor, Some(&image.platform)));
            digests.push(image.descriptor.digest().to_string());
            report_entries.push(IndexEntry {
                platform: image.platform.to_string(),
                digest: image.descriptor.digest().to_string(),
                source: name.clone(),
            });
        }
        for skipped in &resolved.skipped {
            let refers_to = skipped
                .annotations()
                .as_ref()
                .and_then(|a| a.get("vnd.docker.reference.digest").cloned());
            // Only an attestation of an image that is in the index has a place in it.
            let Some(subject) = refers_to.filter(|d| digests.contains(d)) else {
                continue;
            };
            if args.drop_attestations {
                dropped += 1;
                continue;
            }
            let Manifest::Image(manifest) = read_manifest(source.as_ref(), skipped)
                .with_context(|| format!("source {name}: attestation of {subject}"))?
            else {
                bail!(
                    "source {name}: the attestation {} is an index",
                    skipped.digest()
                );
            };
            images.push(new_image(
                source.as_ref(),
                skipped,
                Platform::new("unknown", "unknown", None),
                &manifest,
            )?);
            entries.push(entry(skipped, None));
            kept += 1;
        }
        parts.push(Part { source, images });
    }

    let index = Blob::new(
        OCI_INDEX,
        canonical_json(&json!({
            "schemaVersion": 2,
            "mediaType": OCI_INDEX,
            "manifests": entries,
        })),
    );
    let sets: Vec<WriteSet> = parts
        .iter()
        .map(|p| WriteSet {
            images: &p.images,
            index: &index,
            base: Some(p.source.as_ref()),
        })
        .collect();
    let bars = BlobBars::new(progress);
    let push =
        transport::remote::push_sets(&dest, &sets, &index, options, &|blob, n| bars.add(blob, n))?;
    if !push.digests_match {
        bail!(
            "docker://{dest}: the registry reports digest {} for the index, onebin computed {}",
            push.registry_digest,
            push.digest
        );
    }
    Ok(IndexReport {
        image: format!("docker://{dest}"),
        digest: index.descriptor.digest().to_string(),
        manifests: report_entries,
        attestations_kept: kept,
        attestations_dropped: dropped,
        push,
    })
}

/// An image as it is: its manifest's bytes (checked), its config and layers
/// read from (or mounted from) the source only when the destination lacks them.
fn new_image(
    source: &dyn ImageSource,
    descriptor: &Descriptor,
    platform: Platform,
    manifest: &onebin_image::ImageManifest,
) -> Result<NewImage> {
    let bytes = read_small_blob(source.open_blob(descriptor)?, descriptor.digest())
        .map_err(|e| anyhow!("{}: manifest {}: {e}", source.name(), descriptor.digest()))?;
    let base = |d: &Descriptor| Blob {
        descriptor: d.clone(),
        bytes: BlobBytes::Base,
    };
    Ok(NewImage {
        platform,
        manifest: Blob {
            descriptor: descriptor.clone(),
            bytes: BlobBytes::Memory(bytes.into()),
        },
        config: base(manifest.config()),
        layers: manifest.layers().iter().map(base).collect(),
    })
}

/// The index entry: media type, digest and size as the source has them, the
/// platform the image was resolved to (or the source's own, for an
/// attestation), and the source entry's annotations.
fn entry(descriptor: &Descriptor, platform: Option<&Platform>) -> Value {
    let mut v = json!({
        "mediaType": descriptor.media_type().to_string(),
        "digest": descriptor.digest().to_string(),
        "size": descriptor.size(),
    });
    match platform {
        Some(p) => {
            v["platform"] = json!({"os": p.os, "architecture": p.architecture});
            if let Some(variant) = &p.variant {
                v["platform"]["variant"] = json!(variant);
            }
        }
        None => {
            if let Some(p) = descriptor.platform() {
                v["platform"] = serde_json::to_value(p).unwrap_or(Value::Null);
            }
        }
    }
    if let Some(annotations) = descriptor.annotations() {
        let sorted: BTreeMap<&String, &String> = annotations.iter().collect();
        v["annotations"] = json!(sorted);
    }
    v
}

impl Report for IndexReport {
    fn render(&self) -> String {
        let mut s = format!("{}\n  index: {}\n", self.image, self.digest);
        for m in &self.manifests {
            let _ = writeln!(s, "  {:<16} {}  from {}", m.platform, m.digest, m.source);
        }
        let _ = writeln!(
            s,
            "  blobs: {} mounted, {} already there, {} uploaded; attestations: {} kept, {} dropped",
            self.push.blobs_mounted,
            self.push.blobs_existing,
            self.push.blobs_uploaded,
            self.attestations_kept,
            self.attestations_dropped
        );
        s
    }
}
