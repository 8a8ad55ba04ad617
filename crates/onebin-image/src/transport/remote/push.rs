//! Push: the blobs a registry lacks (several at once; mounted from the
//! base's repository when it is in the same registry; one PUT, or PATCH
//! chunks), then each manifest by digest, then the index under the tag, last,
//! so a failed push never moves a tag.

use std::collections::HashSet;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;

use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::Url;
use serde::Serialize;

use super::client::{header, Client, Repository};
use super::RemoteSource;
use crate::digest::read_small_blob;
use crate::mutate::{Blob, BlobBytes};
use crate::options::BlobProgress;
use crate::write::WriteSet;
use crate::ImageSource;
use crate::{DockerReference, Error, Options, Result};

/// What [`push`] did.
#[derive(Clone, Debug, Serialize)]
pub struct PushReport {
    /// `registry/repository:tag`.
    pub reference: String,
    /// The digest computed here (of the index or manifest pushed last).
    pub digest: String,
    /// The digest the registry reported for it (`Docker-Content-Digest`).
    pub registry_digest: String,
    /// `registry_digest == digest` (a push where they differ fails).
    pub digests_match: bool,
    pub blobs_uploaded: usize,
    pub blobs_existing: usize,
    pub blobs_mounted: usize,
    pub bytes_uploaded: u64,
    pub manifests: usize,
}

enum Outcome {
    Uploaded(u64),
    Existing,
    Mounted,
}

/// Pushes a [`WriteSet`]. `progress` hears of every blob's bytes as they go
/// up, blob by blob.
pub fn push(
    reference: &DockerReference,
    set: &WriteSet,
    options: &Options,
    progress: BlobProgress,
) -> Result<PushReport> {
    push_sets(
        reference,
        std::slice::from_ref(set),
        set.index,
        options,
        progress,
    )
}

/// Pushes the blobs and manifests of several sets, each with its own base
/// (whose repository its blobs are mounted from when it is in the same
/// registry), then `index` under the reference's tag, last. `onebin index
/// create` joins the images of many runners this way.
pub fn push_sets(
    reference: &DockerReference,
    sets: &[WriteSet],
    index: &Blob,
    options: &Options,
    progress: BlobProgress,
) -> Result<PushReport> {
    let client = Arc::new(Client::new(
        &reference.registry,
        &reference.repository,
        options,
    )?);
    let mount_from = |set: &WriteSet| {
        set.base
            .and_then(|b| b.registry_repository())
            .filter(|(registry, repo)| {
                *registry == reference.registry && *repo != reference.repository
            })
            .map(|(_, repo)| repo)
    };
    let mut scopes = vec![format!("repository:{}:pull,push", reference.repository)];
    for from in sets.iter().filter_map(mount_from) {
        let scope = format!("repository:{from}:pull");
        if !scopes.contains(&scope) {
            scopes.push(scope);
        }
    }
    let repository = Repository::new(client, &reference.repository, scopes);
    let mut report = PushReport {
        reference: reference.to_string(),
        digest: index.descriptor.digest().to_string(),
        registry_digest: String::new(),
        digests_match: false,
        blobs_uploaded: 0,
        blobs_existing: 0,
        blobs_mounted: 0,
        bytes_uploaded: 0,
        manifests: 0,
    };
    for set in sets {
        let from = mount_from(set);
        let pusher = BlobPusher {
            repository: &repository,
            set,
            mount_from: from.as_deref(),
            progress,
        };
        let manifests: HashSet<String> = set
            .images
            .iter()
            .map(|i| i.manifest.descriptor.digest().to_string())
            .chain([
                set.index.descriptor.digest().to_string(),
                index.descriptor.digest().to_string(),
            ])
            .collect();
        let blobs: Vec<&Blob> = set
            .blobs()
            .into_iter()
            .filter(|b| !manifests.contains(&b.descriptor.digest().to_string()))
            .collect();
        for outcome in pusher.push_all(&blobs) {
            match outcome? {
                Outcome::Uploaded(bytes) => {
                    report.blobs_uploaded += 1;
                    report.bytes_uploaded += bytes;
                }
                Outcome::Existing => report.blobs_existing += 1,
                Outcome::Mounted => report.blobs_mounted += 1,
            }
        }
    }
    for image in sets.iter().flat_map(|s| s.images) {
        let digest = image.manifest.descriptor.digest().to_string();
        repository.put_manifest(&image.manifest, &digest)?;
        report.manifests += 1;
    }
    let target = reference
        .tag
        .clone()
        .unwrap_or_else(|| index.descriptor.digest().to_string());
    if let Some(digest) = &reference.digest {
        if *digest != report.digest {
            return Err(Error::invalid(format!(
                "docker://{reference}: the image's digest is {}, not the one named",
                report.digest
            )));
        }
    }
    report.registry_digest = repository.put_manifest(index, &target)?;
    report.manifests += 1;
    report.digests_match = report.registry_digest == report.digest;
    Ok(report)
}

/// Pushes the blobs of one set to one repository.
struct BlobPusher<'a> {
    repository: &'a Repository,
    set: &'a WriteSet<'a>,
    /// The base's repository in the same registry, to mount its blobs from.
    mount_from: Option<&'a str>,
    progress: BlobProgress<'a>,
}

impl BlobPusher<'_> {
    /// Pushes every blob, `parallel` at a time; after a failure no new blob is started.
    fn push_all(&self, blobs: &[&Blob]) -> Vec<Result<Outcome>> {
        let next = AtomicUsize::new(0);
        let failed = AtomicBool::new(false);
        let workers = self.repository.client.parallel.min(blobs.len()).max(1);
        std::thread::scope(|scope| {
            let handles: Vec<_> = (0..workers)
                .map(|_| {
                    scope.spawn(|| {
                        let mut done = Vec::new();
                        while !failed.load(Ordering::Relaxed) {
                            let i = next.fetch_add(1, Ordering::Relaxed);
                            let Some(blob) = blobs.get(i) else { break };
                            let outcome = self.push_blob(blob);
                            if outcome.is_err() {
                                failed.store(true, Ordering::Relaxed);
                            }
                            done.push(outcome);
                        }
                        done
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|w| {
                    w.join()
                        .unwrap_or_else(|_| vec![Err(Error::invalid("an upload thread panicked"))])
                })
                .collect()
        })
    }

    /// One blob: skipped when the registry has it (`HEAD`), mounted when it
    /// can be, else uploaded (and the session abandoned if that fails).
    fn push_blob(&self, blob: &Blob) -> Result<Outcome> {
        let repository = self.repository;
        let digest = blob.descriptor.digest().to_string();
        let size = blob.descriptor.size();
        let what = format!("{}: pushing blob {digest}", repository.describe());
        let url = repository.url(&format!("blobs/{digest}"));
        let response = repository.send(&what, &|h| h.head(&url))?;
        match response.status().as_u16() {
            200 => return Ok(Outcome::Existing),
            404 => {}
            _ => return Err(repository.failure(response, &what)),
        }
        let mut start = repository.url("blobs/uploads/");
        if let (BlobBytes::Base, Some(from)) = (&blob.bytes, self.mount_from) {
            start.push_str(&format!("?mount={digest}&from={from}"));
        }
        let response = repository.send(&what, &|h| h.post(&start).header(CONTENT_LENGTH, 0))?;
        let location = match response.status().as_u16() {
            201 => return Ok(Outcome::Mounted),
            202 => header(response.headers(), LOCATION.as_str()).ok_or_else(|| {
                Error::invalid(format!(
                    "{what}: the registry started an upload without a Location"
                ))
            })?,
            _ => return Err(repository.failure(response, &what)),
        };
        let mut upload = Upload {
            location: repository.absolute(&location)?,
            what,
        };
        let result = self.upload(blob, &mut upload);
        if result.is_err() {
            // Abandon the session; the registry drops what it had of the blob.
            let url = upload.location.to_string();
            let _ = repository.send(&upload.what, &|h| h.delete(&url));
        }
        result.map(|()| Outcome::Uploaded(size))
    }

    /// Sends the blob's bytes: in the closing PUT when small, else in PATCH
    /// chunks, so memory stays bounded and a chunk can be sent again.
    fn upload(&self, blob: &Blob, upload: &mut Upload) -> Result<()> {
        let repository = self.repository;
        let chunk_size = repository.client.chunk_size;
        let what = upload.what.as_str();
        let digest = blob.descriptor.digest().to_string();
        let size = blob.descriptor.size();
        let read_failed = |e: io::Error| Error::Blob {
            digest: digest.clone(),
            reason: e.to_string(),
        };
        let mut reader = self.set.open(blob)?;
        let mut finish_body = Vec::new();
        if size <= chunk_size as u64 {
            (&mut reader)
                .take(size + 1)
                .read_to_end(&mut finish_body)
                .map_err(read_failed)?;
            // The read that reaches EOF is the one that checks the digest.
            reader.read(&mut [0u8; 1]).map_err(read_failed)?;
        } else {
            let mut sent = 0u64;
            loop {
                let mut chunk = Vec::with_capacity(chunk_size);
                (&mut reader)
                    .take(chunk_size as u64)
                    .read_to_end(&mut chunk)
                    .map_err(read_failed)?;
                if chunk.is_empty() {
                    break;
                }
                let end = sent + chunk.len() as u64 - 1;
                let url = upload.location.to_string();
                let response = repository.send(what, &|h| {
                    h.patch(&url)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .header(CONTENT_RANGE, format!("{sent}-{end}"))
                        .body(chunk.clone())
                })?;
                if response.status().as_u16() != 202 {
                    return Err(repository.failure(response, what));
                }
                if let Some(next) = header(response.headers(), LOCATION.as_str()) {
                    upload.location = repository.absolute(&next)?;
                }
                sent += chunk.len() as u64;
                (self.progress)(&blob.descriptor, chunk.len() as u64);
            }
        }
        let mut url = upload.location.clone();
        url.query_pairs_mut().append_pair("digest", &digest);
        let url = url.to_string();
        let body_len = finish_body.len() as u64;
        let response = repository.send(what, &|h| {
            h.put(&url)
                .header(CONTENT_TYPE, "application/octet-stream")
                .body(finish_body.clone())
        })?;
        if response.status().as_u16() != 201 {
            return Err(repository.failure(response, what));
        }
        (self.progress)(&blob.descriptor, body_len);
        if let Some(reported) = header(response.headers(), "docker-content-digest") {
            if reported != digest {
                return Err(Error::Blob {
                    digest,
                    reason: format!("{what}: the registry stored it as {reported}"),
                });
            }
        }
        Ok(())
    }
}

/// An upload session: where the next request goes, and what messages call it.
struct Upload {
    location: Url,
    what: String,
}

impl Repository {
    /// An upload `Location`, which may be relative to the registry.
    fn absolute(&self, location: &str) -> Result<Url> {
        Url::parse(self.client.base())
            .and_then(|b| b.join(location))
            .map_err(|e| {
                Error::invalid(format!(
                    "{}: bad upload location '{location}': {e}",
                    self.client.registry
                ))
            })
    }

    /// PUTs a manifest or index (by digest or tag); returns the digest the registry reports.
    fn put_manifest(&self, blob: &Blob, target: &str) -> Result<String> {
        let digest = blob.descriptor.digest().to_string();
        let what = format!("{}: pushing manifest {target}", self.describe());
        let BlobBytes::Memory(bytes) = &blob.bytes else {
            return Err(Error::invalid(format!(
                "{what}: a manifest must be in memory"
            )));
        };
        let url = self.url(&format!("manifests/{target}"));
        let media_type = blob.descriptor.media_type().to_string();
        let response = self.send(&what, &|h| {
            h.put(&url)
                .header(CONTENT_TYPE, &media_type)
                .body(bytes.to_vec())
        })?;
        if response.status().as_u16() != 201 {
            return Err(self.failure(response, &what));
        }
        let reported =
            header(response.headers(), "docker-content-digest").unwrap_or_else(|| digest.clone());
        if reported != digest {
            return Err(Error::Blob {
                digest,
                reason: format!("{what}: the registry reports digest {reported} for it"),
            });
        }
        Ok(reported)
    }
}

/// Puts the manifest or index `digest` names, already in `reference`'s
/// repository, under `reference`'s tag; returns the digest the registry
/// reports. `onebin release` pushes by digest first and tags only after
/// everything else succeeded, so a failed release leaves the tag where it was.
pub fn tag(reference: &DockerReference, digest: &str, options: &Options) -> Result<String> {
    let Some(tag) = &reference.tag else {
        return Err(Error::invalid(format!(
            "docker://{reference}: no tag to set"
        )));
    };
    let by_digest = DockerReference {
        tag: None,
        digest: Some(digest.to_string()),
        ..reference.clone()
    };
    let source = RemoteSource::open(&by_digest, format!("docker://{by_digest}"), options)?;
    let root = source.root()?;
    let bytes = read_small_blob(source.open_blob(&root)?, root.digest())?;
    let blob = Blob {
        descriptor: root,
        bytes: BlobBytes::Memory(Arc::from(bytes)),
    };
    let client = Arc::new(Client::new(
        &reference.registry,
        &reference.repository,
        options,
    )?);
    let scopes = vec![format!("repository:{}:pull,push", reference.repository)];
    Repository::new(client, &reference.repository, scopes).put_manifest(&blob, tag)
}
