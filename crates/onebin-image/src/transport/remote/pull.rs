//! Pull: a tag or digest resolved to its manifest or index, manifests fetched
//! whole (bounded), and blobs streamed by a reader that, cut off, asks again
//! for the rest. Every blob is still checked by [`ImageSource::open_blob`].

use std::collections::HashMap;
use std::io::{self, Cursor, Read};
use std::sync::{Arc, Mutex};

use oci_spec::image::{Descriptor, MediaType};
use reqwest::blocking::Response;
use reqwest::header::{ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};

use super::client::{header, Client, Repository};
use crate::digest::{ensure_supported, sha256_digest};
use crate::manifest::{is_index_media_type, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST};
use crate::mutate::{OCI_INDEX, OCI_MANIFEST};
use crate::{DockerReference, Error, ImageSource, Options, Result};

/// What a manifest GET accepts: OCI and Docker schema 2, images and indexes.
const MANIFEST_TYPES: [&str; 4] = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];
/// Manifests larger than this are refused (distribution's own limit is 4 MiB).
const MANIFEST_LIMIT: u64 = 8 << 20;

/// A manifest as the registry sent it.
struct FetchedManifest {
    bytes: Vec<u8>,
    media_type: String,
    /// `Docker-Content-Digest`, when the registry sent one.
    reported_digest: Option<String>,
}

impl Repository {
    /// Reads a manifest by tag or digest.
    fn get_manifest(&self, reference: &str) -> Result<FetchedManifest> {
        let what = format!("{}: manifest {reference}", self.describe());
        let url = self.url(&format!("manifests/{reference}"));
        let accept = MANIFEST_TYPES.join(", ");
        let mut attempt = 0;
        loop {
            let response = self.send(&what, &|h| h.get(&url).header(ACCEPT, &accept))?;
            if response.status().as_u16() != 200 {
                return Err(self.failure(response, &what));
            }
            let headers = response.headers().clone();
            let mut bytes = Vec::new();
            match response.take(MANIFEST_LIMIT + 1).read_to_end(&mut bytes) {
                Ok(_) if bytes.len() as u64 > MANIFEST_LIMIT => {
                    return Err(Error::invalid(format!(
                        "{what}: larger than {} MiB",
                        MANIFEST_LIMIT >> 20
                    )))
                }
                Ok(_) => {
                    let media_type = header(&headers, CONTENT_TYPE.as_str())
                        .map(|c| c.split(';').next().unwrap_or("").trim().to_string())
                        .filter(|c| MANIFEST_TYPES.contains(&c.as_str()))
                        .unwrap_or_else(|| media_type_from_content(&bytes));
                    return Ok(FetchedManifest {
                        bytes,
                        media_type,
                        reported_digest: header(&headers, "docker-content-digest"),
                    });
                }
                Err(_) if attempt < self.client.retries => {
                    self.client.pause(attempt, None);
                    attempt += 1;
                }
                Err(e) => return Err(Error::Connection(format!("{what}: reading the body: {e}"))),
            }
        }
    }
}

/// A manifest's own `mediaType`, else an index when it lists manifests.
fn media_type_from_content(bytes: &[u8]) -> String {
    let Ok(v) = serde_json::from_slice::<serde_json::Value>(bytes) else {
        return OCI_MANIFEST.to_string();
    };
    v["mediaType"].as_str().map_or_else(
        || {
            if v.get("manifests").is_some() {
                OCI_INDEX
            } else {
                OCI_MANIFEST
            }
            .to_string()
        },
        str::to_string,
    )
}

fn pull_scopes(repository: &str) -> Vec<String> {
    vec![format!("repository:{repository}:pull")]
}

/// An image in a registry.
pub struct RemoteSource {
    repository: Repository,
    reference: DockerReference,
    name: String,
    root: Descriptor,
    manifests: Mutex<HashMap<String, Vec<u8>>>,
}

impl RemoteSource {
    /// Resolves the tag or digest to its manifest or index.
    pub fn open(reference: &DockerReference, name: String, options: &Options) -> Result<Self> {
        let client = Arc::new(Client::new(
            &reference.registry,
            &reference.repository,
            options,
        )?);
        let repository = Repository::new(
            client,
            &reference.repository,
            pull_scopes(&reference.repository),
        );
        let wanted = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let fetched = repository.get_manifest(&wanted)?;
        let digest = sha256_digest(&fetched.bytes);
        if let Some(expected) = &reference.digest {
            if *expected != digest.to_string() {
                return Err(Error::Blob {
                    digest: expected.clone(),
                    reason: format!(
                        "{name}: the registry sent a manifest whose digest is {digest}"
                    ),
                });
            }
        }
        if let Some(reported) = fetched.reported_digest.filter(|r| r.starts_with("sha256:")) {
            if reported != digest.to_string() {
                return Err(Error::Blob {
                    digest: reported,
                    reason: format!("{name}: the registry reports this digest for a manifest whose content hashes to {digest}"),
                });
            }
        }
        let root = Descriptor::new(
            MediaType::from(fetched.media_type.as_str()),
            fetched.bytes.len() as u64,
            digest.clone(),
        );
        let manifests = Mutex::new(HashMap::from([(digest.to_string(), fetched.bytes)]));
        Ok(RemoteSource {
            repository,
            reference: reference.clone(),
            name,
            root,
            manifests,
        })
    }
}

impl ImageSource for RemoteSource {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn root(&self) -> Result<Descriptor> {
        Ok(self.root.clone())
    }

    fn open_raw(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = descriptor.digest().to_string();
        ensure_supported(descriptor.digest())?;
        if let Some(bytes) = self.manifests.lock().expect("not poisoned").get(&digest) {
            return Ok(Box::new(Cursor::new(bytes.clone())));
        }
        let media_type = descriptor.media_type().to_string();
        if MANIFEST_TYPES.contains(&media_type.as_str())
            || is_index_media_type(descriptor.media_type())
        {
            let fetched = self.repository.get_manifest(&digest)?;
            return Ok(Box::new(Cursor::new(fetched.bytes)));
        }
        let mut reader = BlobReader {
            repository: &self.repository,
            url: self.repository.url(&format!("blobs/{digest}")),
            what: format!("{}: blob {digest}", self.repository.describe()),
            size: descriptor.size(),
            offset: 0,
            response: None,
            cuts: 0,
        };
        reader.connect()?;
        Ok(Box::new(reader))
    }

    fn registry_repository(&self) -> Option<(String, String)> {
        Some((
            self.reference.registry.clone(),
            self.reference.repository.clone(),
        ))
    }
}

/// A blob's body that, cut off, asks again for the rest (`Range`), or
/// for all of it and skips what it had, a bounded number of times.
struct BlobReader<'a> {
    repository: &'a Repository,
    url: String,
    what: String,
    size: u64,
    offset: u64,
    response: Option<Response>,
    cuts: u32,
}

impl BlobReader<'_> {
    fn connect(&mut self) -> Result<()> {
        let offset = self.offset;
        let url = self.url.clone();
        let mut response = self.repository.send(&self.what, &|h| {
            let request = h.get(&url);
            if offset > 0 {
                request.header(RANGE, format!("bytes={offset}-"))
            } else {
                request
            }
        })?;
        match response.status().as_u16() {
            200 if offset > 0 => {
                let skipped = io::copy(&mut (&mut response).take(offset), &mut io::sink())
                    .map_err(|e| Error::Connection(format!("{}: {e}", self.what)))?;
                if skipped != offset {
                    return Err(Error::invalid(format!(
                        "{}: shorter on a second read ({skipped} bytes)",
                        self.what
                    )));
                }
            }
            200 => {}
            206 => {
                let range = header(response.headers(), CONTENT_RANGE.as_str()).unwrap_or_default();
                if !range.starts_with(&format!("bytes {offset}-")) {
                    return Err(Error::invalid(format!(
                        "{}: asked for bytes {offset}-, the registry sent '{range}'",
                        self.what
                    )));
                }
            }
            _ => return Err(self.repository.failure(response, &self.what)),
        }
        self.response = Some(response);
        Ok(())
    }
}

impl Read for BlobReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.response.is_none() {
                self.connect()
                    .map_err(|e| io::Error::other(e.to_string()))?;
            }
            let response = self.response.as_mut().expect("connected");
            let problem = match response.read(buf) {
                Ok(0) if self.offset < self.size && !buf.is_empty() => {
                    io::Error::new(io::ErrorKind::UnexpectedEof, "the body ended early")
                }
                Ok(n) => {
                    self.offset += n as u64;
                    return Ok(n);
                }
                Err(e) => e,
            };
            self.response = None;
            self.cuts += 1;
            if self.cuts > self.repository.client.retries {
                return Err(io::Error::new(
                    problem.kind(),
                    format!(
                        "{}: cut off at {} of {} bytes, {} times: {problem}",
                        self.what, self.offset, self.size, self.cuts
                    ),
                ));
            }
            self.repository.client.pause(self.cuts - 1, None);
        }
    }
}
