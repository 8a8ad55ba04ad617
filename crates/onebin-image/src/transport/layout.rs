//! OCI image layouts (`oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`): `oci-layout`,
//! `index.json` and `blobs/<alg>/<hex>`.

use std::io::{Cursor, Read};

use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use super::files::FileSet;
use crate::digest::{ensure_supported, sha256_digest};
use crate::{Error, ImageSource, Result};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub struct LayoutSource<F> {
    files: F,
    name: String,
    root: Descriptor,
    /// `index.json` is not a blob, but when it is the root (several platforms
    /// listed directly in it) it is served like one, under its own digest.
    index_json: Vec<u8>,
}

impl<F: FileSet> LayoutSource<F> {
    pub fn open(files: F, tag: Option<String>, name: String) -> Result<Self> {
        let at = files.location();
        if !files.exists("oci-layout") {
            return Err(Error::invalid(format!(
                "{at}: not an OCI image layout (no oci-layout file)"
            )));
        }
        if !files.exists("index.json") {
            return Err(Error::invalid(format!(
                "{at}: OCI image layout without index.json"
            )));
        }
        let index_json = files.read_small("index.json")?;
        let index: ImageIndex = serde_json::from_slice(&index_json).map_err(|e| {
            Error::invalid(format!("{at}/index.json: not a valid image index: {e}"))
        })?;
        let root = select_root(&index, &index_json, tag.as_deref(), &at)?;
        Ok(LayoutSource {
            files,
            name,
            root,
            index_json,
        })
    }
}

fn select_root(
    index: &ImageIndex,
    index_json: &[u8],
    tag: Option<&str>,
    at: &str,
) -> Result<Descriptor> {
    let ref_name = |d: &Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME).cloned())
    };
    let entries = index.manifests();
    if let Some(tag) = tag {
        return entries
            .iter()
            .find(|d| ref_name(d).as_deref() == Some(tag))
            .cloned()
            .ok_or_else(|| {
                let tags: Vec<String> = entries.iter().filter_map(ref_name).collect();
                Error::NotFound(format!(
                    "{at}: no image tagged '{tag}' (tags: {})",
                    list_or_none(&tags)
                ))
            });
    }
    match entries.as_slice() {
        [] => Err(Error::invalid(format!("{at}/index.json lists no images"))),
        [only] => Ok(only.clone()),
        _ => {
            let tags: Vec<String> = entries.iter().filter_map(ref_name).collect();
            let mut unique = tags.clone();
            unique.sort();
            unique.dedup();
            if unique.len() > 1 {
                return Err(Error::invalid(format!(
                    "{at}: holds several images (tags: {}); name one as oci:DIR:TAG",
                    tags.join(", ")
                )));
            }
            // One image for several platforms, listed directly in index.json.
            let root = Descriptor::new(
                MediaType::ImageIndex,
                index_json.len() as u64,
                sha256_digest(index_json),
            );
            Ok(root)
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

impl<F: FileSet> ImageSource for LayoutSource<F> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn root(&self) -> Result<Descriptor> {
        Ok(self.root.clone())
    }

    fn open_raw(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = descriptor.digest();
        ensure_supported(digest)?;
        if *digest == sha256_digest(&self.index_json) {
            return Ok(Box::new(Cursor::new(self.index_json.clone())));
        }
        let path = format!("blobs/{}/{}", digest.algorithm(), digest.digest());
        if !self.files.exists(&path) {
            return Err(Error::NotFound(format!(
                "{}: blob {digest} ({}) is missing ({path})",
                self.files.location(),
                descriptor.media_type()
            )));
        }
        self.files.open(&path)
    }
}
