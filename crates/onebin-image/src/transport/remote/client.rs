//! The HTTP side of a registry: one `reqwest` blocking client per registry,
//! its base URL (plain HTTP only for loopback and `--insecure-registry`
//! hosts), the retry loop, and the typed error a failed answer becomes.

use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::header::{HeaderMap, AUTHORIZATION, RETRY_AFTER};

use super::auth::Auth;
use super::credentials::CredentialSources;
use crate::reference::DOCKER_HUB;
use crate::{Error, Options, Result};

/// One registry: its HTTP client, where it is, who we are to it, and the limits.
pub(super) struct Client {
    http: Http,
    pub(super) registry: String,
    base: String,
    pub(super) auth: Auth,
    pub(super) retries: u32,
    pub(super) chunk_size: usize,
    pub(super) parallel: usize,
}

impl Client {
    /// A client for `registry`, with the credentials found for `repository`.
    pub(super) fn new(registry: &str, repository: &str, options: &Options) -> Result<Self> {
        let host = if registry == DOCKER_HUB {
            "registry-1.docker.io"
        } else {
            registry
        };
        let scheme = if is_plain_http(registry, &options.insecure_registries) {
            "http"
        } else {
            "https"
        };
        let http = Http::builder()
            .user_agent(concat!("onebin/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(options.connect_timeout.min(options.timeout))
            .timeout(options.timeout)
            .build()
            .map_err(|e| {
                Error::Connection(format!(
                    "{registry}: cannot set up HTTP: {}",
                    describe_http_error(&e)
                ))
            })?;
        let sources = CredentialSources::from_env();
        let credentials = match &options.credentials {
            Some(c) => Some(c.clone()),
            None => sources.lookup(registry, repository)?,
        };
        Ok(Client {
            http,
            registry: registry.to_string(),
            base: format!("{scheme}://{host}"),
            auth: Auth::new(credentials, sources.describe()),
            retries: options.retries,
            chunk_size: options.chunk_size.max(1 << 16),
            parallel: options.parallel.max(1),
        })
    }

    pub(super) fn base(&self) -> &str {
        &self.base
    }

    /// Waits before another attempt: exponential backoff, or what `Retry-After` said.
    pub(super) fn pause(&self, attempt: u32, retry_after: Option<Duration>) {
        let backoff = Duration::from_millis(250u64 << attempt.min(6)).min(Duration::from_secs(10));
        std::thread::sleep(retry_after.map_or(backoff, |d| d.min(Duration::from_secs(60))));
    }

    /// Sends a request, again after connection errors, 5xx and 429 (waiting as
    /// `Retry-After` says). No authentication beyond the header given.
    pub(super) fn execute(
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
                    return Err(Error::Connection(format!(
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
}

/// One repository of a registry, and the scopes every request to it asks for:
/// `repository:R:pull`, or `pull,push` (plus the base's repository when a push
/// mounts from it).
pub(super) struct Repository {
    pub(super) client: Arc<Client>,
    pub(super) name: String,
    pub(super) scopes: Vec<String>,
}

impl Repository {
    pub(super) fn new(client: Arc<Client>, name: &str, scopes: Vec<String>) -> Self {
        Repository {
            client,
            name: name.to_string(),
            scopes,
        }
    }

    /// `https://host/v2/REPOSITORY/{path}`.
    pub(super) fn url(&self, path: &str) -> String {
        format!("{}/v2/{}/{path}", self.client.base(), self.name)
    }

    /// `registry/repository`, as messages name it.
    pub(super) fn describe(&self) -> String {
        format!("{}/{}", self.client.registry, self.name)
    }

    /// Sends a request with authentication for this repository's scopes.
    pub(super) fn send(
        &self,
        what: &str,
        build: &dyn Fn(&Http) -> RequestBuilder,
    ) -> Result<Response> {
        self.client.send(what, &self.scopes, build)
    }

    /// The error for an answer that is not what was expected: its status, the
    /// registry's error code, and what to check.
    pub(super) fn failure(&self, response: Response, what: &str) -> Error {
        let status = response.status();
        let errors = RegistryErrors::read(response);
        let detail = errors.detail();
        let code = errors.code;
        let scope = self.scopes.join(" ");
        let name = self.describe();
        let who = self.client.auth.who(&self.client.registry);
        match status.as_u16() {
            401 => Error::Unauthorized {
                code,
                message: format!(
                    "{what}: 401 Unauthorized {who} (scope '{scope}'){detail}: check the user name and password \
                     for {} (docker login, --username with --password-stdin, REGISTRY_AUTH_FILE)",
                    self.client.registry
                ),
            },
            403 => Error::Denied {
                code,
                message: format!(
                    "{what}: 403 Forbidden {who}: no access to repository {name} for scope '{scope}'{detail}: \
                     check that the account may {} {name}",
                    if scope.contains("push") { "push to" } else { "pull from" }
                ),
            },
            404 => Error::NotFound(format!(
                "{what}: 404 Not Found in repository {name}{detail}: check the repository name, the tag or digest, \
                 and that the image has been pushed"
            )),
            other => Error::Registry {
                status: other,
                code,
                message: format!("{what}: {name}: HTTP {status}{detail}"),
            },
        }
    }
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

pub(super) fn header(headers: &HeaderMap, name: &str) -> Option<String> {
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

pub(super) fn read_json(
    response: Response,
    limit: u64,
) -> std::result::Result<serde_json::Value, String> {
    let mut bytes = Vec::new();
    response
        .take(limit)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not JSON: {e}"))
}

/// The registry's `{"errors":[{"code","message"}]}`; never the raw body,
/// which a misbehaving server could fill with anything.
struct RegistryErrors {
    /// The first error's code, e.g. `MANIFEST_UNKNOWN`.
    code: Option<String>,
    /// Every `code: message`.
    all: Vec<String>,
}

impl RegistryErrors {
    fn read(response: Response) -> Self {
        let body = read_json(response, 64 << 10).unwrap_or_default();
        let errors = body["errors"].as_array().cloned().unwrap_or_default();
        RegistryErrors {
            code: errors
                .first()
                .and_then(|e| e["code"].as_str())
                .map(str::to_string),
            all: errors
                .iter()
                .map(|e| {
                    format!(
                        "{}: {}",
                        e["code"].as_str().unwrap_or("?"),
                        e["message"].as_str().unwrap_or("")
                    )
                })
                .collect(),
        }
    }

    /// ` (code: message; …)`, shortened, or nothing.
    fn detail(&self) -> String {
        if self.all.is_empty() {
            String::new()
        } else {
            let text: String = self.all.join("; ").chars().take(300).collect();
            format!(" ({text})")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
