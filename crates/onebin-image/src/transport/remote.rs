//! Registries over the OCI distribution API (`docker://`), in the spirit of
//! go-containerregistry's `remote`: [`RemoteSource`] reads an image (every blob
//! still checked by [`ImageSource::open_blob`]), [`push`] writes a
//! [`WriteSet`].
//!
//! HTTP is `reqwest`'s blocking client (ADR-0011): TLS by rustls with the
//! system's roots (`SSL_CERT_FILE` honoured), plain HTTP for `localhost`,
//! `127.0.0.1` and the hosts given to `--insecure-registry`, proxies from
//! `HTTPS_PROXY`/`NO_PROXY`. Authentication: anonymous, Basic, or the Bearer
//! token flow a `WWW-Authenticate` challenge asks for, with credentials from
//! [`crate::auth`]. Connection errors, 5xx and 429 are retried with backoff
//! (honouring `Retry-After`); a blob cut off mid-stream is fetched again from
//! where it broke (`Range`), never handed on as if whole.

use std::collections::{HashMap, HashSet};
use std::io::{self, Cursor, Read};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use oci_spec::image::{Descriptor, MediaType};
use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::header::{
    HeaderMap, ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION, RANGE,
    RETRY_AFTER, WWW_AUTHENTICATE,
};
use reqwest::Url;
use serde::Serialize;

use crate::auth::{CredentialSources, Credentials};
use crate::digest::{ensure_supported, sha256_digest};
use crate::manifest::{is_index_media_type, DOCKER_MANIFEST, DOCKER_MANIFEST_LIST};
use crate::mutate::{Blob, BlobBytes, OCI_INDEX, OCI_MANIFEST};
use crate::reference::DOCKER_HUB;
use crate::write::WriteSet;
use crate::{DockerReference, Error, ImageSource, Result};

/// What a manifest GET accepts: OCI and Docker schema 2, images and indexes.
const MANIFEST_TYPES: [&str; 4] = [
    OCI_INDEX,
    OCI_MANIFEST,
    DOCKER_MANIFEST_LIST,
    DOCKER_MANIFEST,
];
/// Manifests larger than this are refused (distribution's own limit is 4 MiB).
const MANIFEST_LIMIT: u64 = 8 << 20;

/// Process-wide registry settings, from the global flags.
#[derive(Clone, Debug)]
pub struct RegistryOptions {
    /// Hosts (`host` or `host:port`) reached over plain HTTP, as Docker's `--insecure-registry`.
    pub insecure: Vec<String>,
    /// `--username` with `--password-stdin`: used for every registry, before any file.
    pub credentials: Option<Credentials>,
    /// Attempts after the first, for connection errors, 5xx and 429.
    pub retries: u32,
    /// Blobs up to this size go up in one PUT; larger ones in PATCH chunks of this size.
    pub chunk_size: usize,
    /// Blobs uploaded at once.
    pub parallel: usize,
    /// Limit for connecting, for sending a request and for each read of a body.
    pub timeout: Duration,
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            insecure: Vec::new(),
            credentials: None,
            retries: 5,
            chunk_size: 8 << 20,
            parallel: 4,
            timeout: Duration::from_secs(120),
        }
    }
}

static OPTIONS: OnceLock<RegistryOptions> = OnceLock::new();

/// Sets the registry settings for this process (the first call wins).
pub fn configure(options: RegistryOptions) {
    let _ = OPTIONS.set(options);
}

fn options() -> RegistryOptions {
    OPTIONS.get().cloned().unwrap_or_default()
}

/// Whether the registry is reached over plain HTTP.
pub fn is_plain_http(registry: &str, insecure: &[String]) -> bool {
    let host = match registry.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => registry,
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    // Exactly the loopback names users type; any other address (127.0.0.2
    // included) speaks TLS unless named with --insecure-registry.
    host == "localhost"
        || host == "::1"
        || host == "127.0.0.1"
        || insecure.iter().any(|i| {
            let i = i.trim_start_matches("http://").trim_end_matches('/');
            i == registry || i == host
        })
}

#[derive(Clone, Debug)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// One registry, with its credentials and the tokens it handed out.
struct Client {
    http: Http,
    registry: String,
    base: String,
    credentials: Option<Credentials>,
    looked_in: String,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, String>>,
    retries: u32,
    chunk_size: usize,
    parallel: usize,
}

fn describe_http_error(e: &reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    if e.is_timeout() {
        text.push_str(" (timed out)");
    }
    text
}

impl Client {
    fn new(registry: &str, repository: &str) -> Result<Self> {
        let opts = options();
        let host = if registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        let scheme = if is_plain_http(registry, &opts.insecure) {
            "http"
        } else {
            "https"
        };
        let http = Http::builder()
            .user_agent(concat!("onebin/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(30).min(opts.timeout))
            .timeout(opts.timeout)
            .build()
            .map_err(|e| {
                Error::invalid(format!(
                    "{registry}: cannot set up HTTP: {}",
                    describe_http_error(&e)
                ))
            })?;
        let sources = CredentialSources::from_env();
        let credentials = match &opts.credentials {
            Some(c) => Some(c.clone()),
            None => sources.lookup(registry, repository)?,
        };
        Ok(Client {
            http,
            registry: registry.to_string(),
            base: format!("{scheme}://{host}"),
            credentials,
            looked_in: sources.describe(),
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
            retries: opts.retries,
            chunk_size: opts.chunk_size.max(1 << 16),
            parallel: opts.parallel.max(1),
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    fn pause(&self, attempt: u32, retry_after: Option<Duration>) {
        let backoff = Duration::from_millis(250u64 << attempt.min(6)).min(Duration::from_secs(10));
        std::thread::sleep(retry_after.map_or(backoff, |d| d.min(Duration::from_secs(60))));
    }

    /// Sends a request, again after connection errors, 5xx and 429 (waiting as
    /// `Retry-After` says). No authentication.
    fn execute(
        &self,
        what: &str,
        build: &dyn Fn(&Http) -> RequestBuilder,
        auth: Option<&str>,
    ) -> Result<Response> {
        let mut attempt = 0;
        loop {
            let mut request = build(&self.http);
            if let Some(auth) = auth {
                request = request.header(AUTHORIZATION, auth);
            }
            match request.send() {
                Err(e) if attempt < self.retries && !e.is_builder() && !e.is_redirect() => {
                    self.pause(attempt, None);
                    attempt += 1;
                }
                Err(e) => {
                    return Err(Error::invalid(format!(
                        "{what}: {} (after {} attempts)",
                        describe_http_error(&e),
                        attempt + 1
                    )))
                }
                Ok(response) => {
                    let status = response.status().as_u16();
                    let transient = status == 429 || (500..600).contains(&status) && status != 501;
                    if transient && attempt < self.retries {
                        let after = retry_after(response.headers());
                        drop(response);
                        self.pause(attempt, after);
                        attempt += 1;
                        continue;
                    }
                    return Ok(response);
                }
            }
        }
    }

    /// Sends a request with authentication for `scopes`, answering one 401
    /// challenge (Basic, or a Bearer token for exactly these scopes).
    fn send(
        &self,
        what: &str,
        scopes: &[String],
        build: &dyn Fn(&Http) -> RequestBuilder,
    ) -> Result<Response> {
        let auth = self.authorization(scopes, what)?;
        let response = self.execute(what, build, auth.as_deref())?;
        if response.status().as_u16() != 401 {
            return Ok(response);
        }
        let Some(challenge) = response
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge)
        else {
            return Ok(response);
        };
        *self.challenge.lock().expect("not poisoned") = Some(challenge.clone());
        let auth = match challenge {
            Challenge::Basic => match &self.credentials {
                Some(c) if !c.is_identity_token() && auth.is_none() => Some(c.basic_header()),
                _ => return Ok(response),
            },
            Challenge::Bearer { realm, service } => Some(format!(
                "Bearer {}",
                self.fetch_token(&realm, service.as_deref(), scopes, what)?
            )),
        };
        drop(response);
        self.execute(what, build, auth.as_deref())
    }

    /// The `Authorization` header for these scopes, from what the registry asked for before.
    fn authorization(&self, scopes: &[String], what: &str) -> Result<Option<String>> {
        if let Some(token) = self
            .tokens
            .lock()
            .expect("not poisoned")
            .get(&scopes.join(" "))
        {
            return Ok(Some(format!("Bearer {token}")));
        }
        let challenge = self.challenge.lock().expect("not poisoned").clone();
        Ok(match challenge {
            Some(Challenge::Basic) => self
                .credentials
                .as_ref()
                .filter(|c| !c.is_identity_token())
                .map(Credentials::basic_header),
            Some(Challenge::Bearer { realm, service }) => Some(format!(
                "Bearer {}",
                self.fetch_token(&realm, service.as_deref(), scopes, what)?
            )),
            None => None,
        })
    }

    fn who(&self) -> String {
        match &self.credentials {
            Some(c) => format!("as {c}"),
            None => format!(
                "anonymously (no credentials for {} in {})",
                self.registry, self.looked_in
            ),
        }
    }

    /// The token flow of the distribution spec: GET the realm with service
    /// and scopes (Basic credentials when there are some), or POST an OAuth2
    /// refresh-token grant for an identity token.
    fn fetch_token(
        &self,
        realm: &str,
        service: Option<&str>,
        scopes: &[String],
        what: &str,
    ) -> Result<String> {
        let mut url = Url::parse(realm).map_err(|e| {
            Error::invalid(format!(
                "{what}: the registry named the token service '{realm}', which is not a URL: {e}"
            ))
        })?;
        let scope_text = scopes.join(" ");
        let response = match &self.credentials {
            Some(c) if c.is_identity_token() => {
                let mut form = Url::parse("http://form/").expect("a valid URL");
                {
                    let mut pairs = form.query_pairs_mut();
                    pairs.append_pair("grant_type", "refresh_token");
                    pairs.append_pair("refresh_token", c.secret());
                    pairs.append_pair("client_id", "onebin");
                    pairs.append_pair("scope", &scope_text);
                    if let Some(s) = service {
                        pairs.append_pair("service", s);
                    }
                }
                let body = form.query().unwrap_or_default().to_string();
                self.execute(
                    &format!("token service {realm}"),
                    &|h| {
                        h.post(url.as_str())
                            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
                            .body(body.clone())
                    },
                    None,
                )?
            }
            credentials => {
                {
                    let mut pairs = url.query_pairs_mut();
                    if let Some(s) = service {
                        pairs.append_pair("service", s);
                    }
                    for scope in scopes {
                        pairs.append_pair("scope", scope);
                    }
                }
                let basic = credentials.as_ref().map(|c| c.basic_header());
                self.execute(
                    &format!("token service {realm}"),
                    &|h| h.get(url.as_str()),
                    basic.as_deref(),
                )?
            }
        };
        let status = response.status().as_u16();
        if status != 200 {
            return Err(Error::invalid(format!(
                "{what}: the token service {realm} answered {status} {}{} for scope '{scope_text}': check the user name and password (docker login {}, --username with --password-stdin, REGISTRY_AUTH_FILE)",
                response.status().canonical_reason().unwrap_or(""),
                self.who_suffix(),
                self.registry
            )));
        }
        let body: serde_json::Value = read_json(response, 1 << 20)
            .map_err(|e| Error::invalid(format!("{what}: the token service {realm}: {e}")))?;
        let token = body["token"]
            .as_str()
            .or_else(|| body["access_token"].as_str())
            .filter(|t| !t.is_empty())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{what}: the token service {realm} answered without a token"
                ))
            })?
            .to_string();
        self.tokens
            .lock()
            .expect("not poisoned")
            .insert(scope_text, token.clone());
        Ok(token)
    }

    fn who_suffix(&self) -> String {
        format!(" {}", self.who())
    }

    /// A clear error for a response that is not what was expected.
    fn failure(
        &self,
        response: Response,
        what: &str,
        repository: &str,
        scopes: &[String],
    ) -> Error {
        let status = response.status();
        let detail = registry_errors(response);
        let scope = scopes.join(" ");
        let name = format!("{}/{repository}", self.registry);
        match status.as_u16() {
            401 => Error::invalid(format!(
                "{what}: 401 Unauthorized {} (scope '{scope}'){detail}: check the user name and password \
                 for {} (docker login, --username with --password-stdin, REGISTRY_AUTH_FILE)",
                self.who(),
                self.registry
            )),
            403 => Error::invalid(format!(
                "{what}: 403 Forbidden {}: no access to repository {name} for scope '{scope}'{detail}: \
                 check that the account may {} {name}",
                self.who(),
                if scope.contains("push") { "push to" } else { "pull from" }
            )),
            404 => Error::NotFound(format!(
                "{what}: 404 Not Found in repository {name}{detail}: check the repository name, the tag or digest, \
                 and that the image has been pushed"
            )),
            _ => Error::invalid(format!("{what}: {name}: HTTP {status}{detail}")),
        }
    }

    /// Reads a manifest by tag or digest; returns its bytes, media type and
    /// the digest the registry reported.
    fn get_manifest(
        &self,
        repository: &str,
        reference: &str,
        scopes: &[String],
    ) -> Result<(Vec<u8>, String, Option<String>)> {
        let what = format!("{}/{repository}: manifest {reference}", self.registry);
        let url = self.url(&format!("/v2/{repository}/manifests/{reference}"));
        let accept = MANIFEST_TYPES.join(", ");
        let mut attempt = 0;
        loop {
            let response = self.send(&what, scopes, &|h| h.get(&url).header(ACCEPT, &accept))?;
            if response.status().as_u16() != 200 {
                return Err(self.failure(response, &what, repository, scopes));
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
                        .or_else(|| {
                            let v: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
                            v["mediaType"].as_str().map(str::to_string).or_else(|| {
                                Some(
                                    if v.get("manifests").is_some() {
                                        OCI_INDEX
                                    } else {
                                        OCI_MANIFEST
                                    }
                                    .to_string(),
                                )
                            })
                        })
                        .unwrap_or_else(|| OCI_MANIFEST.to_string());
                    return Ok((bytes, media_type, header(&headers, "docker-content-digest")));
                }
                Err(e) if attempt < self.retries => {
                    let _ = e;
                    self.pause(attempt, None);
                    attempt += 1;
                }
                Err(e) => return Err(Error::invalid(format!("{what}: reading the body: {e}"))),
            }
        }
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(|v| v.trim().to_string())
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    header(headers, RETRY_AFTER.as_str())?
        .parse::<u64>()
        .ok()
        .map(Duration::from_secs)
}

fn read_json(response: Response, limit: u64) -> std::result::Result<serde_json::Value, String> {
    let mut bytes = Vec::new();
    response
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

/// The registry's `{"errors":[{"code","message"}]}`, shortened; never the
/// raw body, which a misbehaving server could fill with anything.
fn registry_errors(response: Response) -> String {
    let Ok(body) = read_json(response, 64 << 10) else {
        return String::new();
    };
    let errors: Vec<String> = body["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e["code"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or("")
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    if errors.is_empty() {
        String::new()
    } else {
        let text: String = errors.join("; ").chars().take(300).collect();
        format!(" ({text})")
    }
}

/// `Bearer realm="…",service="…",scope="…"` or `Basic realm="…"`.
fn parse_challenge(value: &str) -> Option<Challenge> {
    let (scheme, rest) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    let mut params = HashMap::new();
    let mut chars = rest.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
        if key.is_empty() {
            break;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            while let Some(c) = chars.next() {
                match c {
                    '\\' => value.extend(chars.next()),
                    '"' => break,
                    c => value.push(c),
                }
            }
        } else {
            while let Some(c) = chars.peek().copied() {
                if c == ',' {
                    break;
                }
                value.push(c);
                chars.next();
            }
        }
        params.insert(key.trim().to_ascii_lowercase(), value.trim().to_string());
    }
    match scheme.to_ascii_lowercase().as_str() {
        "basic" => Some(Challenge::Basic),
        "bearer" => Some(Challenge::Bearer {
            realm: params.get("realm")?.clone(),
            service: params.get("service").cloned(),
        }),
        _ => None,
    }
}

/// An image in a registry.
pub struct RemoteSource {
    client: Arc<Client>,
    reference: DockerReference,
    name: String,
    root: Descriptor,
    manifests: Mutex<HashMap<String, Vec<u8>>>,
}

impl RemoteSource {
    /// Resolves the tag or digest to its manifest or index.
    pub fn open(reference: &DockerReference, name: String) -> Result<Self> {
        let client = Arc::new(Client::new(&reference.registry, &reference.repository)?);
        let scopes = pull_scopes(&reference.repository);
        let wanted = reference
            .digest
            .clone()
            .or_else(|| reference.tag.clone())
            .unwrap_or_else(|| "latest".into());
        let (bytes, media_type, reported) =
            client.get_manifest(&reference.repository, &wanted, &scopes)?;
        let digest = sha256_digest(&bytes);
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
        if let Some(reported) = reported.filter(|r| r.starts_with("sha256:")) {
            if reported != digest.to_string() {
                return Err(Error::Blob {
                    digest: reported,
                    reason: format!("{name}: the registry reports this digest for a manifest whose content hashes to {digest}"),
                });
            }
        }
        let root = Descriptor::new(
            MediaType::from(media_type.as_str()),
            bytes.len() as u64,
            digest.clone(),
        );
        let manifests = Mutex::new(HashMap::from([(digest.to_string(), bytes)]));
        Ok(RemoteSource {
            client,
            reference: reference.clone(),
            name,
            root,
            manifests,
        })
    }
}

fn pull_scopes(repository: &str) -> Vec<String> {
    vec![format!("repository:{repository}:pull")]
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
        let repository = &self.reference.repository;
        let scopes = pull_scopes(repository);
        let media_type = descriptor.media_type().to_string();
        if MANIFEST_TYPES.contains(&media_type.as_str())
            || is_index_media_type(descriptor.media_type())
        {
            let (bytes, _, _) = self.client.get_manifest(repository, &digest, &scopes)?;
            return Ok(Box::new(Cursor::new(bytes)));
        }
        let mut reader = BlobReader {
            client: self.client.clone(),
            url: self.client.url(&format!("/v2/{repository}/blobs/{digest}")),
            what: format!("{}/{repository}: blob {digest}", self.client.registry),
            repository: repository.clone(),
            scopes,
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
struct BlobReader {
    client: Arc<Client>,
    url: String,
    what: String,
    repository: String,
    scopes: Vec<String>,
    size: u64,
    offset: u64,
    response: Option<Response>,
    cuts: u32,
}

impl BlobReader {
    fn connect(&mut self) -> Result<()> {
        let offset = self.offset;
        let url = self.url.clone();
        let mut response = self.client.send(&self.what, &self.scopes, &|h| {
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
                    .map_err(|e| Error::invalid(format!("{}: {e}", self.what)))?;
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
            _ => {
                return Err(self.client.failure(
                    response,
                    &self.what,
                    &self.repository,
                    &self.scopes,
                ))
            }
        }
        self.response = Some(response);
        Ok(())
    }
}

impl Read for BlobReader {
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
            if self.cuts > self.client.retries {
                return Err(io::Error::new(
                    problem.kind(),
                    format!(
                        "{}: cut off at {} of {} bytes, {} times: {problem}",
                        self.what, self.offset, self.size, self.cuts
                    ),
                ));
            }
            self.client.pause(self.cuts - 1, None);
        }
    }
}

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

/// Pushes a [`WriteSet`]: blobs the registry lacks (several at once; mounted
/// from the base's repository when it is in the same registry), then each
/// manifest by digest, then the index under the reference's tag. `progress`
/// hears of every blob's bytes as they go up, blob by blob.
pub fn push(
    reference: &DockerReference,
    set: &WriteSet,
    progress: &(dyn Fn(&Descriptor, u64) + Sync),
) -> Result<PushReport> {
    let client = Client::new(&reference.registry, &reference.repository)?;
    let repository = &reference.repository;
    let mount_from = set
        .base
        .and_then(|b| b.registry_repository())
        .filter(|(registry, repo)| *registry == reference.registry && repo != repository)
        .map(|(_, repo)| repo);
    let mut scopes = vec![format!("repository:{repository}:pull,push")];
    if let Some(from) = &mount_from {
        scopes.push(format!("repository:{from}:pull"));
    }
    let manifests: HashSet<String> = set
        .images
        .iter()
        .map(|i| i.manifest.descriptor.digest().to_string())
        .chain([set.index.descriptor.digest().to_string()])
        .collect();
    let blobs: Vec<&Blob> = set
        .blobs()
        .into_iter()
        .filter(|b| !manifests.contains(&b.descriptor.digest().to_string()))
        .collect();

    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let outcomes: Vec<Result<Outcome>> = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..client.parallel.min(blobs.len()).max(1))
            .map(|_| {
                scope.spawn(|| {
                    let mut done = Vec::new();
                    while !failed.load(Ordering::Relaxed) {
                        let i = next.fetch_add(1, Ordering::Relaxed);
                        let Some(blob) = blobs.get(i) else { break };
                        let outcome = push_blob(
                            &client,
                            repository,
                            &scopes,
                            blob,
                            set,
                            mount_from.as_deref(),
                            progress,
                        );
                        if outcome.is_err() {
                            failed.store(true, Ordering::Relaxed);
                        }
                        done.push(outcome);
                    }
                    done
                })
            })
            .collect();
        workers
            .into_iter()
            .flat_map(|w| {
                w.join()
                    .unwrap_or_else(|_| vec![Err(Error::invalid("an upload thread panicked"))])
            })
            .collect()
    });
    let mut report = PushReport {
        reference: reference.to_string(),
        digest: set.index.descriptor.digest().to_string(),
        registry_digest: String::new(),
        digests_match: false,
        blobs_uploaded: 0,
        blobs_existing: 0,
        blobs_mounted: 0,
        bytes_uploaded: 0,
        manifests: 0,
    };
    for outcome in outcomes {
        match outcome? {
            Outcome::Uploaded(bytes) => {
                report.blobs_uploaded += 1;
                report.bytes_uploaded += bytes;
            }
            Outcome::Existing => report.blobs_existing += 1,
            Outcome::Mounted => report.blobs_mounted += 1,
        }
    }
    for image in set.images {
        let digest = image.manifest.descriptor.digest().to_string();
        put_manifest(&client, repository, &scopes, &image.manifest, &digest)?;
        report.manifests += 1;
    }
    let target = reference
        .tag
        .clone()
        .unwrap_or_else(|| set.index.descriptor.digest().to_string());
    if let Some(digest) = &reference.digest {
        if *digest != report.digest {
            return Err(Error::invalid(format!(
                "docker://{reference}: the image's digest is {}, not the one named",
                report.digest
            )));
        }
    }
    report.registry_digest = put_manifest(&client, repository, &scopes, set.index, &target)?;
    report.manifests += 1;
    report.digests_match = report.registry_digest == report.digest;
    Ok(report)
}

fn absolute(client: &Client, location: &str) -> Result<Url> {
    Url::parse(&client.base)
        .and_then(|b| b.join(location))
        .map_err(|e| {
            Error::invalid(format!(
                "{}: bad upload location '{location}': {e}",
                client.registry
            ))
        })
}

fn push_blob(
    client: &Client,
    repository: &str,
    scopes: &[String],
    blob: &Blob,
    set: &WriteSet,
    mount_from: Option<&str>,
    progress: &(dyn Fn(&Descriptor, u64) + Sync),
) -> Result<Outcome> {
    let digest = blob.descriptor.digest().to_string();
    let size = blob.descriptor.size();
    let what = format!("{}/{repository}: pushing blob {digest}", client.registry);
    let url = client.url(&format!("/v2/{repository}/blobs/{digest}"));
    let response = client.send(&what, scopes, &|h| h.head(&url))?;
    match response.status().as_u16() {
        200 => return Ok(Outcome::Existing),
        404 => {}
        _ => return Err(client.failure(response, &what, repository, scopes)),
    }
    let mut start = client.url(&format!("/v2/{repository}/blobs/uploads/"));
    if let (BlobBytes::Base, Some(from)) = (&blob.bytes, mount_from) {
        start.push_str(&format!("?mount={digest}&from={from}"));
    }
    let response = client.send(&what, scopes, &|h| h.post(&start).header(CONTENT_LENGTH, 0))?;
    let location = match response.status().as_u16() {
        201 => return Ok(Outcome::Mounted),
        202 => header(response.headers(), LOCATION.as_str()).ok_or_else(|| {
            Error::invalid(format!(
                "{what}: the registry started an upload without a Location"
            ))
        })?,
        _ => return Err(client.failure(response, &what, repository, scopes)),
    };
    let mut location = absolute(client, &location)?;
    let result = upload(
        client,
        repository,
        scopes,
        blob,
        set,
        &what,
        &mut location,
        progress,
    );
    if result.is_err() {
        // Abandon the session; the registry drops what it had of the blob.
        let url = location.to_string();
        let _ = client.send(&what, scopes, &|h| h.delete(&url));
    }
    result.map(|()| Outcome::Uploaded(size))
}

#[allow(clippy::too_many_arguments)]
fn upload(
    client: &Client,
    repository: &str,
    scopes: &[String],
    blob: &Blob,
    set: &WriteSet,
    what: &str,
    location: &mut Url,
    progress: &(dyn Fn(&Descriptor, u64) + Sync),
) -> Result<()> {
    let digest = blob.descriptor.digest().to_string();
    let size = blob.descriptor.size();
    let read_failed = |e: io::Error| Error::Blob {
        digest: digest.clone(),
        reason: e.to_string(),
    };
    let mut reader = set.open(blob)?;
    let mut finish_body = Vec::new();
    if size <= client.chunk_size as u64 {
        (&mut reader)
            .take(size + 1)
            .read_to_end(&mut finish_body)
            .map_err(read_failed)?;
        // The read that reaches EOF is the one that checks the digest.
        reader.read(&mut [0u8; 1]).map_err(read_failed)?;
    } else {
        let mut sent = 0u64;
        loop {
            let mut chunk = Vec::with_capacity(client.chunk_size);
            (&mut reader)
                .take(client.chunk_size as u64)
                .read_to_end(&mut chunk)
                .map_err(read_failed)?;
            if chunk.is_empty() {
                break;
            }
            let end = sent + chunk.len() as u64 - 1;
            let url = location.to_string();
            let response = client.send(what, scopes, &|h| {
                h.patch(&url)
                    .header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, format!("{sent}-{end}"))
                    .body(chunk.clone())
            })?;
            if response.status().as_u16() != 202 {
                return Err(client.failure(response, what, repository, scopes));
            }
            if let Some(next) = header(response.headers(), LOCATION.as_str()) {
                *location = absolute(client, &next)?;
            }
            sent += chunk.len() as u64;
            progress(&blob.descriptor, chunk.len() as u64);
        }
    }
    let mut url = location.clone();
    url.query_pairs_mut().append_pair("digest", &digest);
    let url = url.to_string();
    let body_len = finish_body.len() as u64;
    let response = client.send(what, scopes, &|h| {
        h.put(&url)
            .header(CONTENT_TYPE, "application/octet-stream")
            .body(finish_body.clone())
    })?;
    if response.status().as_u16() != 201 {
        return Err(client.failure(response, what, repository, scopes));
    }
    progress(&blob.descriptor, body_len);
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

/// PUTs a manifest or index (by digest or tag); returns the digest the registry reports.
fn put_manifest(
    client: &Client,
    repository: &str,
    scopes: &[String],
    blob: &Blob,
    target: &str,
) -> Result<String> {
    let digest = blob.descriptor.digest().to_string();
    let what = format!(
        "{}/{repository}: pushing manifest {target}",
        client.registry
    );
    let BlobBytes::Memory(bytes) = &blob.bytes else {
        return Err(Error::invalid(format!(
            "{what}: a manifest must be in memory"
        )));
    };
    let url = client.url(&format!("/v2/{repository}/manifests/{target}"));
    let media_type = blob.descriptor.media_type().to_string();
    let response = client.send(&what, scopes, &|h| {
        h.put(&url)
            .header(CONTENT_TYPE, &media_type)
            .body(bytes.to_vec())
    })?;
    if response.status().as_u16() != 201 {
        return Err(client.failure(response, &what, repository, scopes));
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_challenges() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        match c {
            Some(Challenge::Bearer { realm, service }) => {
                assert_eq!(realm, "https://auth.example/token");
                assert_eq!(service.as_deref(), Some("registry.example"));
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            parse_challenge(r#"Basic realm="Registry Realm""#),
            Some(Challenge::Basic)
        ));
        assert!(parse_challenge("Negotiate").is_none());
    }

    #[test]
    fn plain_http_only_for_local_and_named_hosts() {
        let insecure = vec!["reg.internal:5000".to_string(), "other.lan".to_string()];
        for plain in [
            "localhost:5000",
            "127.0.0.1:41234",
            "[::1]:5000",
            "reg.internal:5000",
            "other.lan:443",
        ] {
            assert!(is_plain_http(plain, &insecure), "{plain}");
        }
        for tls in [
            "docker.io",
            "ghcr.io",
            "reg.internal:6000",
            "localhost.example.com",
            "127.0.0.2:5000",
        ] {
            assert!(!is_plain_http(tls, &insecure), "{tls}");
        }
    }
}
