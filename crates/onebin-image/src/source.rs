//! The one abstraction over images that every transport implements.

use std::io::Read;

use oci_spec::image::Descriptor;

use crate::{Result, VerifyingReader};

/// A readable image: a root descriptor and content-addressed blobs.
///
/// Transports implement [`ImageSource::open_raw`]; callers use
/// [`ImageSource::open_blob`], which wraps every stream in a digest check, so no
/// transport can hand out unverified bytes.
pub trait ImageSource: Send + Sync {
    /// The reference as the user wrote it, for messages.
    fn name(&self) -> String;

    /// The descriptor the reference resolves to: a manifest or an index.
    fn root(&self) -> Result<Descriptor>;

    /// The blob's bytes as stored, before any check.
    fn open_raw(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>>;

    /// For an image in a registry: its registry and repository, so that a push
    /// to another repository of the same registry can mount its blobs.
    fn registry_repository(&self) -> Option<(String, String)> {
        None
    }

    /// The blob's bytes; reading to the end fails unless size and digest match.
    fn open_blob(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let raw = self.open_raw(descriptor)?;
        Ok(Box::new(VerifyingReader::new(
            raw,
            descriptor.digest().clone(),
            Some(descriptor.size()),
        )?))
    }
}
