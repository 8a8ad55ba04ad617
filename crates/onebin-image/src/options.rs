//! How images are reached, handed to every `open` and `write` (as
//! go-containerregistry hands `remote.Option`s to each call), never kept in a
//! process-wide setting: two calls in one process may use two registries with
//! different credentials or limits.

use std::time::Duration;

use oci_spec::image::Descriptor;

use crate::transport::remote::credentials::Credentials;
use crate::Platform;

/// Settings for registries; the other transports need none.
#[derive(Clone, Debug)]
pub struct Options {
    /// Hosts (`host` or `host:port`) reached over plain HTTP, as Docker's `--insecure-registry`.
    pub insecure_registries: Vec<String>,
    /// `--username` with `--password-stdin`: used for every registry, before any file.
    pub credentials: Option<Credentials>,
    /// Attempts after the first, for connection errors, 5xx and 429, and for a blob cut off.
    pub retries: u32,
    /// Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size.
    pub chunk_size: usize,
    /// Blobs uploaded at once.
    pub parallel: usize,
    /// Limit for sending a request and for each read of a body.
    pub timeout: Duration,
    /// Limit for connecting; never more than `timeout`.
    pub connect_timeout: Duration,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            insecure_registries: Vec::new(),
            credentials: None,
            retries: 5,
            chunk_size: 8 << 20,
            parallel: 4,
            timeout: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(30),
        }
    }
}

/// Hears of a blob's bytes as they are written (`docker://` pushes).
pub type BlobProgress<'a> = &'a (dyn Fn(&Descriptor, u64) + Sync);

/// What a write needs besides the destination and the images.
#[derive(Clone, Copy)]
pub struct WriteOptions<'a> {
    pub options: &'a Options,
    /// `docker-daemon:`: the platform loaded; `docker-archive:`: the platform
    /// also tagged `NAME:TAG`. `None`: the engine's, or this machine's. Settle
    /// it before any work with [`crate::transport::settle_daemon_platform`].
    pub daemon_platform: Option<&'a Platform>,
    pub progress: BlobProgress<'a>,
}
