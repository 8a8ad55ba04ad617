//! What a writer is handed: the new images, their index, and the base image
//! whose blobs they reuse. Writers copy a base blob only when the destination
//! lacks it, and always through `open_blob`, so a base blob is checked too.

use std::io::{self, Cursor, Read, Write};

use crate::mutate::{Blob, BlobBytes, NewImage};
use crate::{Error, ImageSource, Result};

pub struct WriteSet<'a> {
    pub images: &'a [NewImage],
    pub index: &'a Blob,
    pub base: Option<&'a dyn ImageSource>,
}

impl WriteSet<'_> {
    /// Every blob of every image once: layers, configs, manifests, then the index.
    pub fn blobs(&self) -> Vec<&Blob> {
        let mut seen = std::collections::HashSet::new();
        let all = self
            .images
            .iter()
            .flat_map(|i| i.layers.iter().chain([&i.config, &i.manifest]))
            .chain([self.index]);
        all.filter(|b| seen.insert(b.descriptor.digest().to_string()))
            .collect()
    }

    /// A blob's bytes: made in memory, or read (and checked) from the base.
    pub fn open(&self, blob: &Blob) -> Result<Box<dyn Read + Send + '_>> {
        match &blob.bytes {
            BlobBytes::Memory(bytes) => Ok(Box::new(Cursor::new(bytes.clone()))),
            BlobBytes::Base => {
                let base = self
                    .base
                    .ok_or_else(|| Error::invalid("a base blob without a base image"))?;
                base.open_blob(&blob.descriptor)
            }
        }
    }

    /// Writes a blob's bytes to `to`.
    pub fn copy(&self, blob: &Blob, to: &mut dyn Write) -> Result<()> {
        let failed = |e: io::Error| Error::Blob {
            digest: blob.descriptor.digest().to_string(),
            reason: e.to_string(),
        };
        io::copy(&mut self.open(blob)?, to)
            .map(drop)
            .map_err(failed)
    }
}
