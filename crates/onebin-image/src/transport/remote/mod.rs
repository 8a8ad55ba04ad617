//! Registries over the OCI distribution API (`docker://`), in the spirit of
//! go-containerregistry's `remote`, one module per job:
//!
//! - `client`: `reqwest`'s blocking client (ADR-0011): TLS by rustls with
//!   the system's roots (`SSL_CERT_FILE` honoured), plain HTTP for
//!   `localhost`, `127.0.0.1` and the hosts given to `--insecure-registry`,
//!   proxies from `HTTPS_PROXY`/`NO_PROXY`; connection errors, 5xx and 429
//!   retried with backoff (honouring `Retry-After`); the per-repository value
//!   every request goes through; failed answers as typed errors.
//! - `auth`: anonymous, Basic, or the Bearer token flow a `WWW-Authenticate`
//!   challenge asks for, with credentials from [`credentials`].
//! - `pull`: [`RemoteSource`]; a blob cut off mid-stream is fetched again
//!   from where it broke (`Range`), never handed on as if whole.
//! - `push`: [`push()`] writes a [`WriteSet`].
//!
//! Every setting comes from the [`Options`] of the call.

mod auth;
mod client;
pub mod credentials;
mod pull;
mod push;

pub use client::is_plain_http;
pub use pull::RemoteSource;
pub use push::{push, push_sets, tag, PushReport};

use crate::options::WriteOptions;
use crate::transport::{unexpected_reference, WriteReport};
use crate::write::WriteSet;
use crate::{DockerReference, Error, ImageReference, ImageSource, Options, Result};

pub(super) fn open(reference: &ImageReference, options: &Options) -> Result<Box<dyn ImageSource>> {
    let ImageReference::Registry(r) = reference else {
        return Err(unexpected_reference(reference, "docker://"));
    };
    Ok(Box::new(RemoteSource::open(
        r,
        reference.to_string(),
        options,
    )?))
}

/// Pushes the set, checks the digest the registry reports for the index, and
/// names the image by that digest for reading back, so a tag moved meanwhile
/// cannot answer.
pub(super) fn write(
    reference: &ImageReference,
    set: &WriteSet,
    options: &WriteOptions,
) -> Result<WriteReport> {
    let ImageReference::Registry(r) = reference else {
        return Err(unexpected_reference(reference, "docker://"));
    };
    let report = push(r, set, options.options, options.progress)?;
    if !report.digests_match {
        return Err(Error::invalid(format!(
            "docker://{r}: the registry reports digest {} for the index, onebin computed {}",
            report.registry_digest, report.digest
        )));
    }
    let by_digest = ImageReference::Registry(DockerReference {
        tag: None,
        digest: Some(report.digest.clone()),
        ..r.clone()
    });
    Ok(WriteReport {
        readback: WriteReport::every_platform(set, &by_digest),
        push: Some(report),
    })
}
