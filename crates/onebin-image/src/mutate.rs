//! New images from old: append a layer to a base image (or to nothing), with
//! a new config and manifest, then one index over every platform.
//!
//! Everything written here is canonical JSON (keys sorted, no whitespace), and
//! every time stamp comes from the caller, so the same inputs give the same
//! digests on any machine.

use std::collections::BTreeMap;
use std::sync::Arc;

use oci_spec::image::{Config, Descriptor, History, MediaType};
use serde::Serialize;
use serde_json::{json, Value};

use crate::digest::sha256_digest;
use crate::manifest::{DOCKER_LAYER, DOCKER_LAYER_GZIP};
use crate::{Platform, PlatformImage};

pub const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
pub const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";
pub const OCI_CONFIG: &str = "application/vnd.oci.image.config.v1+json";
pub const OCI_LAYER_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const OCI_LAYER_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// Serialises through `serde_json::Value`, whose maps are sorted: the
/// `HashMap`s inside oci-spec's types come out in one order on every run.
pub fn canonical_json(value: &impl Serialize) -> Vec<u8> {
    let value = serde_json::to_value(value).expect("image types always serialise");
    serde_json::to_vec(&value).expect("a JSON value always serialises")
}

/// Where a blob's bytes come from when the image is written.
#[derive(Clone, Debug)]
pub enum BlobBytes {
    /// Made by onebin: configs, manifests, the new layer.
    Memory(Arc<[u8]>),
    /// A base image's blob, copied from its source (checked) only when the
    /// destination lacks it.
    Base,
}

#[derive(Clone, Debug)]
pub struct Blob {
    pub descriptor: Descriptor,
    pub bytes: BlobBytes,
}

impl Blob {
    pub fn new(media_type: &str, bytes: Vec<u8>) -> Self {
        let descriptor = Descriptor::new(
            MediaType::from(media_type),
            bytes.len() as u64,
            sha256_digest(&bytes),
        );
        Blob {
            descriptor,
            bytes: BlobBytes::Memory(Arc::from(bytes)),
        }
    }
}

/// A compressed layer with its uncompressed digest.
#[derive(Clone, Debug)]
pub struct NewLayer {
    pub blob: Blob,
    pub diff_id: String,
    /// The history line that says how the layer was made.
    pub created_by: String,
}

/// What the new image's config changes relative to its base.
#[derive(Clone, Debug, Default)]
pub struct ConfigChanges {
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    pub env: Vec<(String, String)>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    pub labels: BTreeMap<String, String>,
    /// RFC 3339; for `created` and the new history entry.
    pub created: String,
}

/// One platform's new image.
#[derive(Clone, Debug)]
pub struct NewImage {
    pub platform: Platform,
    pub manifest: Blob,
    pub config: Blob,
    /// Bottom layer first, as in the manifest.
    pub layers: Vec<Blob>,
}

/// Appends `layer` to `base` (or to an empty image) for `platform`.
pub fn append_layer(
    base: Option<&PlatformImage>,
    platform: &Platform,
    layer: NewLayer,
    changes: &ConfigChanges,
    annotations: &BTreeMap<String, String>,
) -> NewImage {
    append_layers(base, platform, vec![layer], changes, annotations)
}

/// Appends `new_layers`, bottom first, to `base` (or to an empty image) for
/// `platform`: one layer per binary, so an image with several binaries
/// shares each one's layer with any other image that holds the same file.
pub fn append_layers(
    base: Option<&PlatformImage>,
    platform: &Platform,
    new_layers: Vec<NewLayer>,
    changes: &ConfigChanges,
    annotations: &BTreeMap<String, String>,
) -> NewImage {
    let mut config = base.map(|b| b.config.clone()).unwrap_or_default();
    config.set_created(Some(changes.created.clone()));
    config.set_author(None);
    config.set_os(platform.os.as_str().into());
    config.set_architecture(platform.architecture.as_str().into());
    config.set_variant(platform.variant.clone());
    config.set_config(Some(runtime_config(
        config.config().clone().unwrap_or_default(),
        changes,
    )));
    let mut history = config.history().clone().unwrap_or_default();
    for layer in &new_layers {
        config
            .rootfs_mut()
            .diff_ids_mut()
            .push(layer.diff_id.clone());
        let mut entry = History::default();
        entry.set_created(Some(changes.created.clone()));
        entry.set_created_by(Some(layer.created_by.clone()));
        history.push(entry);
    }
    config.rootfs_mut().set_typ("layers".to_string());
    config.set_history(Some(history));
    let config = Blob::new(OCI_CONFIG, canonical_json(&config));

    let mut layers: Vec<Blob> = base
        .map(|b| {
            b.manifest
                .layers()
                .iter()
                .map(|d| {
                    let mut d = d.clone();
                    // Same bytes, OCI name: an OCI manifest should not carry Docker media types.
                    let oci = match d.media_type().to_string().as_str() {
                        DOCKER_LAYER_GZIP => Some(MediaType::ImageLayerGzip),
                        DOCKER_LAYER => Some(MediaType::ImageLayer),
                        _ => None,
                    };
                    if let Some(oci) = oci {
                        d.set_media_type(oci);
                    }
                    Blob {
                        descriptor: d,
                        bytes: BlobBytes::Base,
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    layers.extend(new_layers.into_iter().map(|l| l.blob));

    let mut manifest = json!({
        "schemaVersion": 2,
        "mediaType": OCI_MANIFEST,
        "config": descriptor_json(&config.descriptor, None),
        "layers": layers.iter().map(|l| descriptor_json(&l.descriptor, None)).collect::<Vec<_>>(),
    });
    if !annotations.is_empty() {
        manifest["annotations"] = json!(annotations);
    }
    let manifest = Blob::new(OCI_MANIFEST, canonical_json(&manifest));
    NewImage {
        platform: platform.clone(),
        manifest,
        config,
        layers,
    }
}

fn runtime_config(mut runtime: Config, changes: &ConfigChanges) -> Config {
    if let Some(entrypoint) = &changes.entrypoint {
        runtime.set_entrypoint(Some(entrypoint.clone()));
        // As in a Dockerfile: a new ENTRYPOINT drops the base image's CMD.
        runtime.set_cmd(None);
    }
    if let Some(cmd) = &changes.cmd {
        runtime.set_cmd(Some(cmd.clone()));
    }
    if !changes.env.is_empty() {
        let mut env = runtime.env().clone().unwrap_or_default();
        for (key, value) in &changes.env {
            env.retain(|e| e.split_once('=').map_or(e.as_str(), |(k, _)| k) != key);
            env.push(format!("{key}={value}"));
        }
        runtime.set_env(Some(env));
    }
    if let Some(user) = &changes.user {
        runtime.set_user(Some(user.clone()));
    }
    if let Some(workdir) = &changes.workdir {
        runtime.set_working_dir(Some(workdir.clone()));
    }
    if !changes.labels.is_empty() {
        let mut labels = runtime.labels().clone().unwrap_or_default();
        labels.extend(changes.labels.clone());
        runtime.set_labels(Some(labels));
    }
    runtime
}

fn descriptor_json(d: &Descriptor, platform: Option<&Platform>) -> Value {
    let mut v = json!({"mediaType": d.media_type().to_string(), "digest": d.digest().to_string(), "size": d.size()});
    if let Some(p) = platform {
        v["platform"] = json!({"os": p.os, "architecture": p.architecture});
        if let Some(variant) = &p.variant {
            v["platform"]["variant"] = json!(variant);
        }
    }
    v
}

/// One OCI index over the platforms' manifests, in the given order.
pub fn index(images: &[NewImage], annotations: &BTreeMap<String, String>) -> Blob {
    let mut index = json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX,
        "manifests": images.iter().map(|i| descriptor_json(&i.manifest.descriptor, Some(&i.platform))).collect::<Vec<_>>(),
    });
    if !annotations.is_empty() {
        index["annotations"] = json!(annotations);
    }
    Blob::new(OCI_INDEX, canonical_json(&index))
}
