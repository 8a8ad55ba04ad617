//! Image references, transports and the one abstraction over images.
//!
//! Every transport (`oci:`, `oci-archive:`, `docker-archive:`, `docker-daemon:`,
//! `docker://`) implements [`ImageSource`]: resolve a reference to a root
//! descriptor and open blobs as streams that are checked against their digest.
//! Everything above this crate (layers, extract, inspect) is written once
//! against that trait, in the spirit of go-containerregistry's `remote` /
//! `layout` / `tarball` split. Each transport writes too, behind one
//! [`transport::write`]; both take their settings as [`Options`].

pub mod digest;
pub mod error;
pub mod manifest;
pub mod mutate;
pub mod options;
pub mod platform;
pub mod reference;
pub mod source;
pub mod transport;
pub mod write;

pub use digest::{sha256_digest, DigestWriter, VerifyingReader};
pub use error::{Error, Result};
pub use manifest::{Manifest, PlatformImage};
pub use oci_spec::image::{
    Descriptor, Digest, ImageConfiguration, ImageIndex, ImageManifest, MediaType,
};
pub use options::{Options, WriteOptions};
pub use platform::Platform;
pub use reference::{DockerReference, ImageReference};
pub use source::ImageSource;
pub use transport::remote::credentials::Credentials;
pub use transport::WriteReport;
