//! Manifests and indexes in both dialects (OCI and Docker schema 2), and the
//! walk from a root descriptor down to one image manifest per platform.

use oci_spec::image::{Descriptor, ImageConfiguration, ImageIndex, ImageManifest, MediaType};
use serde::Deserialize;

use crate::digest::read_small_blob;
use crate::{Error, ImageSource, Platform, Result};

pub const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
pub const DOCKER_MANIFEST_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
pub const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
pub const DOCKER_LAYER: &str = "application/vnd.docker.image.rootfs.diff.tar";
pub const DOCKER_LAYER_GZIP: &str = "application/vnd.docker.image.rootfs.diff.tar.gzip";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+json";
const DOCKER_SCHEMA1_SIGNED: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";

/// A parsed manifest blob: one image, or an index of them.
#[derive(Clone, Debug)]
pub enum Manifest {
    Image(Box<ImageManifest>),
    Index(Box<ImageIndex>),
}

#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "schemaVersion")]
    schema_version: Option<u32>,
    #[serde(rename = "mediaType")]
    media_type: Option<String>,
    manifests: Option<serde_json::Value>,
    layers: Option<serde_json::Value>,
}

impl Manifest {
    /// Parses a manifest, deciding between image and index by its media type,
    /// and by its shape when the media type is missing (older OCI writers).
    pub fn parse(bytes: &[u8], described_as: Option<&MediaType>, what: &str) -> Result<Self> {
        let bad = |reason: String| Error::invalid(format!("{what}: {reason}"));
        let probe: Probe =
            serde_json::from_slice(bytes).map_err(|e| bad(format!("not a valid manifest: {e}")))?;
        let media_type = probe
            .media_type
            .clone()
            .or_else(|| described_as.map(|m| m.to_string()));
        match media_type.as_deref() {
            Some(DOCKER_SCHEMA1) | Some(DOCKER_SCHEMA1_SIGNED) => {
                return Err(bad("Docker schema 1 manifests are not supported; re-push the image with a current tool".into()))
            }
            _ if probe.schema_version != Some(2) => {
                return Err(bad(format!("unsupported schemaVersion {:?}", probe.schema_version)))
            }
            _ => {}
        }
        let is_index = match media_type.as_deref() {
            Some("application/vnd.oci.image.index.v1+json") | Some(DOCKER_MANIFEST_LIST) => true,
            Some("application/vnd.oci.image.manifest.v1+json") | Some(DOCKER_MANIFEST) => false,
            _ => probe.manifests.is_some() && probe.layers.is_none(),
        };
        if is_index {
            serde_json::from_slice(bytes)
                .map(Manifest::Index)
                .map_err(|e| bad(format!("invalid index: {e}")))
        } else {
            serde_json::from_slice(bytes)
                .map(Manifest::Image)
                .map_err(|e| bad(format!("invalid image manifest: {e}")))
        }
    }
}

/// Whether a descriptor points to an index (OCI index or Docker manifest list).
pub fn is_index_media_type(media_type: &MediaType) -> bool {
    matches!(media_type, MediaType::ImageIndex) || media_type.to_string() == DOCKER_MANIFEST_LIST
}

/// One runnable image of a (possibly multi-arch) reference.
#[derive(Clone, Debug)]
pub struct PlatformImage {
    pub platform: Platform,
    pub descriptor: Descriptor,
    pub manifest: ImageManifest,
    pub config: ImageConfiguration,
}

impl PlatformImage {
    /// Layers top-down, paired with their uncompressed digests (`diff_ids`).
    pub fn layers_top_down(&self) -> Result<Vec<(Descriptor, String)>> {
        let layers = self.manifest.layers();
        let diff_ids = self.config.rootfs().diff_ids();
        if layers.len() != diff_ids.len() {
            return Err(Error::invalid(format!(
                "platform {}: manifest {} has {} layers but its config lists {} diff_ids",
                self.platform,
                self.descriptor.digest(),
                layers.len(),
                diff_ids.len()
            )));
        }
        Ok(layers
            .iter()
            .cloned()
            .zip(diff_ids.iter().cloned())
            .rev()
            .collect())
    }
}

/// What [`resolve_images`] found: the runnable images, and the entries of the
/// index it skipped because they are not images one can run (attestations).
pub struct ResolvedImages {
    pub images: Vec<PlatformImage>,
    pub skipped: Vec<Descriptor>,
}

/// Reads a manifest or index blob through the source, checked against its digest.
pub fn read_manifest(source: &dyn ImageSource, descriptor: &Descriptor) -> Result<Manifest> {
    let bytes = read_small_blob(source.open_blob(descriptor)?, descriptor.digest())?;
    Manifest::parse(
        &bytes,
        Some(descriptor.media_type()),
        &format!("manifest {}", descriptor.digest()),
    )
}

/// Reads an image config blob through the source, checked against its digest.
pub fn read_config(
    source: &dyn ImageSource,
    descriptor: &Descriptor,
) -> Result<ImageConfiguration> {
    let bytes = read_small_blob(source.open_blob(descriptor)?, descriptor.digest())?;
    serde_json::from_slice(&bytes).map_err(|e| {
        Error::invalid(format!(
            "config {}: not a valid image config: {e}",
            descriptor.digest()
        ))
    })
}

/// The most descriptors one walk visits, counting an entry each time an index
/// lists it: nested indexes that list each other many times would otherwise
/// multiply into unbounded work from a few kilobytes. Real images list tens.
pub const MAX_DESCRIPTORS: usize = 16_384;

/// Walks from the source's root down through nested indexes to every runnable
/// image, reading each manifest and config once.
pub fn resolve_images(source: &dyn ImageSource) -> Result<ResolvedImages> {
    let root = source.root()?;
    let mut out = ResolvedImages {
        images: Vec::new(),
        skipped: Vec::new(),
    };
    let mut visited = 0;
    walk(source, &root, None, 0, &mut visited, &mut out)?;
    Ok(out)
}

fn walk(
    source: &dyn ImageSource,
    descriptor: &Descriptor,
    platform_hint: Option<Platform>,
    depth: usize,
    visited: &mut usize,
    out: &mut ResolvedImages,
) -> Result<()> {
    *visited += 1;
    if *visited > MAX_DESCRIPTORS {
        return Err(Error::invalid(format!(
            "the image's indexes list more than {MAX_DESCRIPTORS} descriptors (stopped at {})",
            descriptor.digest()
        )));
    }
    if depth > 8 {
        return Err(Error::invalid(format!(
            "index {} nests deeper than 8 levels",
            descriptor.digest()
        )));
    }
    if let Some(hint) = &platform_hint {
        if !hint.is_runnable() {
            out.skipped.push(descriptor.clone());
            return Ok(());
        }
    }
    match read_manifest(source, descriptor)? {
        Manifest::Index(index) => {
            for child in index.manifests() {
                let hint = child.platform().as_ref().map(|p| {
                    Platform::new(
                        &p.os().to_string(),
                        &p.architecture().to_string(),
                        p.variant().as_deref(),
                    )
                });
                if let Some(hint) = &hint {
                    check_platform(hint, child)?;
                }
                if !is_index_media_type(child.media_type()) && is_attestation(child) {
                    out.skipped.push(child.clone());
                    continue;
                }
                walk(source, child, hint, depth + 1, visited, out)?;
            }
        }
        Manifest::Image(manifest) => {
            let config = read_config(source, manifest.config())?;
            let platform = Platform::new(
                &config.os().to_string(),
                &config.architecture().to_string(),
                config.variant().as_deref(),
            );
            check_platform(&platform, descriptor)?;
            if !platform.is_runnable() {
                out.skipped.push(descriptor.clone());
                return Ok(());
            }
            // The index entry's platform is the one users select by; the config's
            // may omit the variant (older arm images).
            let platform = match platform_hint {
                Some(hint)
                    if hint.os == platform.os && hint.architecture == platform.architecture =>
                {
                    hint
                }
                _ => platform,
            };
            out.images.push(PlatformImage {
                platform,
                descriptor: descriptor.clone(),
                manifest: *manifest,
                config,
            });
        }
    }
    Ok(())
}

/// Platform strings end up in file names, checksums files and the terminal:
/// anything but letters, digits, `.`, `_` and `-` (a newline forging a line of
/// `checksums.txt`, an escape sequence, a `/`) is refused.
fn check_platform(platform: &Platform, descriptor: &Descriptor) -> Result<()> {
    let fine = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    let parts = [&platform.os, &platform.architecture];
    if parts.iter().all(|p| fine(p)) && platform.variant.as_deref().is_none_or(fine) {
        return Ok(());
    }
    Err(Error::invalid(format!(
        "manifest {}: platform {:?}/{:?}{} has characters other than letters, digits, '.', '_' and '-'",
        descriptor.digest(),
        platform.os,
        platform.architecture,
        platform
            .variant
            .as_ref()
            .map(|v| format!("/{v:?}"))
            .unwrap_or_default()
    )))
}

/// buildx attaches provenance and SBOMs as manifests with an
/// `vnd.docker.reference.type` annotation; they hold no root filesystem.
fn is_attestation(descriptor: &Descriptor) -> bool {
    descriptor.annotations().as_ref().is_some_and(|a| {
        a.get("vnd.docker.reference.type")
            .is_some_and(|t| t == "attestation-manifest")
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_index_from_image() {
        let index = br#"{"schemaVersion":2,"manifests":[]}"#;
        assert!(matches!(
            Manifest::parse(index, None, "t").unwrap(),
            Manifest::Index(_)
        ));
        let list = br#"{"schemaVersion":2,"mediaType":"application/vnd.docker.distribution.manifest.list.v2+json","manifests":[]}"#;
        assert!(matches!(
            Manifest::parse(list, None, "t").unwrap(),
            Manifest::Index(_)
        ));
        let schema1 = br#"{"schemaVersion":1,"mediaType":"application/vnd.docker.distribution.manifest.v1+prettyjws"}"#;
        assert!(Manifest::parse(schema1, None, "t")
            .unwrap_err()
            .to_string()
            .contains("schema 1"));
        assert!(Manifest::parse(b"\x00junk", None, "t").is_err());
    }
}
