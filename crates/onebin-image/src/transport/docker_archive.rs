//! `docker save` output: `manifest.json` naming a config and layer files per
//! image. Read from a tar file (`docker-archive:`) or straight from the Docker
//! Engine's export stream (`docker-daemon:`).
//!
//! Such archives carry no manifest blob, so one is synthesised (Docker schema 2,
//! as skopeo does); its digest is therefore onebin's, not a registry's.

use std::collections::HashMap;
use std::io::{Cursor, Read};
use std::path::Path;

use oci_spec::image::{Descriptor, ImageConfiguration, MediaType};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use super::files::{FileSet, TarFile};
use super::layout::{write_tar_atomic, Member};
use super::{unexpected_reference, WriteReport};
use crate::digest::sha256_digest;
use crate::manifest::{DOCKER_CONFIG, DOCKER_LAYER, DOCKER_LAYER_GZIP, DOCKER_MANIFEST};
use crate::mutate::{canonical_json, Blob};
use crate::options::WriteOptions;
use crate::write::WriteSet;
use crate::{DockerReference, Error, ImageReference, ImageSource, Options, Platform, Result};

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ArchiveEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    layers: Vec<String>,
}

pub struct DockerArchiveSource<F> {
    files: F,
    name: String,
    manifest: Vec<u8>,
    /// Blob digest to the archive member holding it.
    members: HashMap<String, String>,
}

impl<F: FileSet> DockerArchiveSource<F> {
    /// `reference` picks the image: a name from `RepoTags`, or `@N` for the
    /// N-th image; without one the archive must hold a single image.
    pub fn open(files: F, reference: Option<&str>, name: String) -> Result<Self> {
        let at = files.location();
        if !files.exists("manifest.json") {
            return Err(Error::invalid(format!(
                "{at}: not a docker archive (no manifest.json)"
            )));
        }
        let entries: Vec<ArchiveEntry> =
            serde_json::from_slice(&files.read_small("manifest.json")?)
                .map_err(|e| Error::invalid(format!("{at}/manifest.json: {e}")))?;
        let entry = select(&entries, reference, &at)?;

        let config_bytes = files.read_small(&entry.config)?;
        let config: ImageConfiguration = serde_json::from_slice(&config_bytes).map_err(|e| {
            Error::invalid(format!(
                "{at}/{}: not a valid image config: {e}",
                entry.config
            ))
        })?;
        let diff_ids = config.rootfs().diff_ids();
        if diff_ids.len() != entry.layers.len() {
            return Err(Error::invalid(format!(
                "{at}/manifest.json: {} layers, but config {} lists {} diff_ids",
                entry.layers.len(),
                entry.config,
                diff_ids.len()
            )));
        }
        let config_digest = sha256_digest(&config_bytes);
        let mut members = HashMap::from([(config_digest.to_string(), entry.config.clone())]);
        let mut layers = Vec::new();
        for (layer, diff_id) in entry.layers.iter().zip(diff_ids) {
            let (digest, media_type) = describe_layer(&files, layer, diff_id)?;
            layers.push(serde_json::json!({
                "mediaType": media_type,
                "size": files.size(layer)?,
                "digest": digest,
            }));
            members.insert(digest, layer.clone());
        }
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": DOCKER_MANIFEST,
            "config": {"mediaType": DOCKER_CONFIG, "size": config_bytes.len(), "digest": config_digest.to_string()},
            "layers": layers,
        }))
        .expect("a JSON value always serialises");
        Ok(DockerArchiveSource {
            files,
            name,
            manifest,
            members,
        })
    }
}

fn select<'a>(
    entries: &'a [ArchiveEntry],
    reference: Option<&str>,
    at: &str,
) -> Result<&'a ArchiveEntry> {
    let tags = || {
        entries
            .iter()
            .flat_map(|e| e.repo_tags.iter().flatten().cloned())
            .collect::<Vec<_>>()
            .join(", ")
    };
    match reference {
        Some(r) if r.starts_with('@') => {
            let n: usize = r[1..].parse().map_err(|_| Error::invalid(format!("{at}: '{r}' is not @N")))?;
            entries.get(n).ok_or_else(|| Error::NotFound(format!("{at}: no image @{n} ({} images)", entries.len())))
        }
        // An engine export by image ID has no tag to match.
        Some(r) if r.starts_with("sha256:") && entries.len() == 1 => Ok(&entries[0]),
        Some(r) => {
            let wanted = DockerReference::parse(r)?;
            let found = entries.iter().find(|e| {
                e.repo_tags.iter().flatten().any(|t| DockerReference::parse(t).is_ok_and(|t| t == wanted))
            });
            found.ok_or_else(|| Error::NotFound(format!("{at}: no image named '{r}' (tags: {})", tags())))
        }
        None => match entries {
            [only] => Ok(only),
            [] => Err(Error::invalid(format!("{at}/manifest.json lists no images"))),
            _ => Err(Error::invalid(format!(
                "{at}: holds {} images (tags: {}); name one as docker-archive:FILE:NAME or docker-archive:FILE:@N",
                entries.len(),
                tags()
            ))),
        },
    }
}

/// A layer's blob digest and media type. Docker stores layers uncompressed, so
/// the blob digest is the diff_id; a compressed layer (other writers) is hashed.
fn describe_layer(files: &impl FileSet, layer: &str, diff_id: &str) -> Result<(String, String)> {
    let named = layer
        .strip_prefix("blobs/sha256/")
        .filter(|hex| hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
        .map(|hex| format!("sha256:{hex}"));
    if !files.random_access() {
        return Ok((
            named.unwrap_or_else(|| diff_id.to_string()),
            DOCKER_LAYER.to_string(),
        ));
    }
    let mut magic = [0u8; 4];
    let mut reader = files.open(layer)?;
    let n = read_up_to(&mut reader, &mut magic)
        .map_err(|e| Error::io(format!("{}/{layer}", files.location()), e))?;
    let media_type = match &magic[..n] {
        [0x1f, 0x8b, ..] => DOCKER_LAYER_GZIP.to_string(),
        [0x28, 0xb5, 0x2f, 0xfd] => MediaType::ImageLayerZstd.to_string(),
        _ => {
            return Ok((
                named.unwrap_or_else(|| diff_id.to_string()),
                DOCKER_LAYER.to_string(),
            ))
        }
    };
    if let Some(named) = named {
        return Ok((named, media_type));
    }
    let mut hasher = Sha256::new_with_prefix(&magic[..n]);
    std::io::copy(&mut reader, &mut hasher)
        .map_err(|e| Error::io(format!("{}/{layer}", files.location()), e))?;
    Ok((
        format!("sha256:{}", hex::encode(hasher.finalize())),
        media_type,
    ))
}

fn read_up_to(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..])? {
            0 => break,
            n => filled += n,
        }
    }
    Ok(filled)
}

impl<F: FileSet> ImageSource for DockerArchiveSource<F> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn root(&self) -> Result<Descriptor> {
        Ok(Descriptor::new(
            MediaType::Other(DOCKER_MANIFEST.to_string()),
            self.manifest.len() as u64,
            sha256_digest(&self.manifest),
        ))
    }

    fn open_raw(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = descriptor.digest().to_string();
        if digest == sha256_digest(&self.manifest).to_string() {
            return Ok(Box::new(Cursor::new(self.manifest.clone())));
        }
        match self.members.get(&digest) {
            Some(member) => self.files.open(member),
            None => Err(Error::NotFound(format!(
                "{}: no blob {digest} in the archive",
                self.files.location()
            ))),
        }
    }
}

/// `docker-archive:FILE[:REF|@N]`.
pub(super) fn open(reference: &ImageReference, _: &Options) -> Result<Box<dyn ImageSource>> {
    let ImageReference::DockerArchive {
        file,
        reference: image,
    } = reference
    else {
        return Err(unexpected_reference(reference, "docker-archive:"));
    };
    Ok(Box::new(DockerArchiveSource::open(
        TarFile::open(file)?,
        image.as_deref(),
        reference.to_string(),
    )?))
}

/// The platform also tagged `NAME:TAG`: the one asked for, which must be
/// written, else this machine's.
pub(super) fn daemon_platform(
    _: &ImageReference,
    platforms: &[Platform],
    asked: Option<&Platform>,
) -> Result<Option<Platform>> {
    match asked {
        Some(p) if !platforms.iter().any(|written| written.matches(p)) => Err(Error::invalid(
            format!("--daemon-platform {p}: no --binary was given for it"),
        )),
        Some(p) => Ok(Some(p.clone())),
        None => Ok(Some(Platform::host())),
    }
}

/// Writes the archive; each platform is read back from its own entry (`@N`).
pub(super) fn write(
    reference: &ImageReference,
    set: &WriteSet,
    options: &WriteOptions,
) -> Result<WriteReport> {
    let ImageReference::DockerArchive {
        file,
        reference: name,
    } = reference
    else {
        return Err(unexpected_reference(reference, "docker-archive:"));
    };
    let name = name.as_deref().map(DockerReference::parse).transpose()?;
    let tag_platform = options
        .daemon_platform
        .cloned()
        .unwrap_or_else(Platform::host);
    write_archive(file, name.as_ref(), &tag_platform, set)?;
    let readback = set
        .images
        .iter()
        .enumerate()
        .map(|(i, image)| {
            let entry = ImageReference::DockerArchive {
                file: file.clone(),
                reference: Some(format!("@{i}")),
            };
            (image.platform.clone(), entry)
        })
        .collect();
    Ok(WriteReport {
        readback,
        push: None,
    })
}

/// Writes the images as a `docker save` archive that `docker load` reads:
/// `manifest.json` (one entry per platform), `repositories`, and the blobs.
///
/// With several platforms, each entry is tagged `NAME:TAG-OS-ARCH[-VARIANT]`,
/// and the entry for `tag_platform` (the engine's, usually) also `NAME:TAG`, so
/// that `docker load` then `docker run NAME:TAG` runs the right one.
pub(super) fn write_archive(
    file: &Path,
    reference: Option<&DockerReference>,
    tag_platform: &Platform,
    set: &WriteSet,
) -> Result<()> {
    let members = archive_members(reference, tag_platform, set)?;
    write_tar_atomic(file, &["blobs", "blobs/sha256"], &members, set)
}

fn archive_members<'a>(
    reference: Option<&DockerReference>,
    tag_platform: &Platform,
    set: &'a WriteSet,
) -> Result<Vec<(String, Member<'a>)>> {
    let blob_name = |b: &Blob| format!("blobs/sha256/{}", b.descriptor.digest().digest());
    let several = set.images.len() > 1;
    let mut entries = Vec::new();
    let mut repositories = serde_json::Map::new();
    for image in set.images {
        let mut tags = Vec::new();
        if let Some(r) = reference {
            if !several || image.platform.matches(tag_platform) {
                tags.push(r.familiar());
            }
            if several {
                let suffix = image.platform.to_string().replace('/', "-");
                let tagged = DockerReference {
                    tag: Some(format!("{}-{suffix}", r.tag.as_deref().unwrap_or("latest"))),
                    digest: None,
                    ..r.clone()
                };
                tags.push(tagged.familiar());
            }
            for tag in &tags {
                if let Some((repo, t)) = tag.rsplit_once(':') {
                    let repo = repositories
                        .entry(repo.to_string())
                        .or_insert_with(|| serde_json::json!({}));
                    repo[t] = serde_json::json!(image.config.descriptor.digest().digest());
                }
            }
        }
        entries.push(serde_json::json!({
            "Config": blob_name(&image.config),
            "RepoTags": if reference.is_some() { serde_json::json!(tags) } else { serde_json::Value::Null },
            "Layers": image.layers.iter().map(blob_name).collect::<Vec<_>>(),
        }));
    }
    let mut members = vec![
        (
            "manifest.json".to_string(),
            Member::Bytes(canonical_json(&entries)),
        ),
        (
            "repositories".to_string(),
            Member::Bytes(canonical_json(&repositories)),
        ),
    ];
    let mut seen = std::collections::HashSet::new();
    for image in set.images {
        for blob in image.layers.iter().chain([&image.config]) {
            if seen.insert(blob_name(blob)) {
                members.push((blob_name(blob), Member::Blob(blob)));
            }
        }
    }
    Ok(members)
}
