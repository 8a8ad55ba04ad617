//! `onebin inspect`: what an image is made of, per platform.

use std::fmt::Write as _;

use anyhow::Result;
use onebin_image::manifest::resolve_images;
use onebin_image::{transport, Descriptor, ImageSource, Options};
use serde::Serialize;

use super::{open_image, Report};

#[derive(clap::Args)]
pub struct Args {
    #[arg(help = transport::read_syntaxes())]
    pub image: String,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args, options: &Options) -> Result<InspectReport> {
    inspect(open_image(&args.image, options)?.as_ref())
}

#[derive(Debug, Serialize)]
pub struct InspectReport {
    pub image: String,
    pub digest: String,
    pub media_type: String,
    pub platforms: Vec<PlatformReport>,
    /// Index entries that are not runnable images (attestations).
    pub skipped: Vec<BlobReport>,
}

#[derive(Debug, Serialize)]
pub struct PlatformReport {
    pub platform: String,
    pub digest: String,
    pub media_type: String,
    pub config: String,
    pub layers: Vec<BlobReport>,
    /// Compressed size of all layers.
    pub size: u64,
}

#[derive(Debug, Serialize)]
pub struct BlobReport {
    pub digest: String,
    pub media_type: String,
    pub size: u64,
}

impl From<&Descriptor> for BlobReport {
    fn from(d: &Descriptor) -> Self {
        BlobReport {
            digest: d.digest().to_string(),
            media_type: d.media_type().to_string(),
            size: d.size(),
        }
    }
}

pub fn inspect(source: &dyn ImageSource) -> Result<InspectReport> {
    let root = source.root()?;
    let resolved = resolve_images(source)?;
    let platforms = resolved
        .images
        .iter()
        .map(|image| {
            let layers: Vec<BlobReport> = image
                .manifest
                .layers()
                .iter()
                .map(BlobReport::from)
                .collect();
            PlatformReport {
                platform: image.platform.to_string(),
                digest: image.descriptor.digest().to_string(),
                media_type: image.descriptor.media_type().to_string(),
                config: image.manifest.config().digest().to_string(),
                size: layers.iter().map(|l| l.size).sum(),
                layers,
            }
        })
        .collect();
    Ok(InspectReport {
        image: source.name(),
        digest: root.digest().to_string(),
        media_type: root.media_type().to_string(),
        platforms,
        skipped: resolved.skipped.iter().map(BlobReport::from).collect(),
    })
}

impl Report for InspectReport {
    fn render(&self) -> String {
        let mut s = format!(
            "{}\n  digest:     {}\n  media type: {}\n",
            self.image, self.digest, self.media_type
        );
        for p in &self.platforms {
            let _ = writeln!(
                s,
                "  {}  {}  {} layers, {} bytes",
                p.platform,
                p.digest,
                p.layers.len(),
                p.size
            );
            for (i, l) in p.layers.iter().enumerate() {
                let _ = writeln!(
                    s,
                    "    {:>2}. {}  {:>12}  {}",
                    i + 1,
                    l.digest,
                    l.size,
                    l.media_type
                );
            }
        }
        for skipped in &self.skipped {
            let _ = writeln!(
                s,
                "  skipped (not a runnable image): {}  {}",
                skipped.digest, skipped.media_type
            );
        }
        s
    }
}
