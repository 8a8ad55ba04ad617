//! Registry credentials: where they come from, and a type that never shows
//! the secret.
//!
//! Looked up in this order, the first that has an entry for the registry wins:
//! 1. `--username` with `--password-stdin` (in [`crate::Options`]);
//! 2. `REGISTRY_AUTH_FILE` (containers' `auth.json` format);
//! 3. Docker's `$DOCKER_CONFIG/config.json` or `~/.docker/config.json`: `credHelpers`
//!    for the registry, else `credsStore`, through the `docker-credential-NAME get`
//!    protocol, else `auths`;
//! 4. containers' `${XDG_RUNTIME_DIR}/containers/auth.json`;
//! 5. GitLab CI's `CI_REGISTRY_USER` / `CI_REGISTRY_PASSWORD` when `CI_REGISTRY` is the registry.
//!
//! Nothing else is tried: no credentials means anonymous access.

use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine as _;

use crate::reference::DOCKER_HUB;
use crate::{Error, Result};

/// The key Docker files Docker Hub's credentials under.
const DOCKER_HUB_KEY: &str = "https://index.docker.io/v1/";

/// A user name and its secret (a password, a personal access token, or an
/// identity token for the OAuth2 refresh-token flow). `Debug` and `Display`
/// show the user and where the credentials came from, never the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    username: String,
    secret: String,
    identity_token: bool,
    source: String,
}

impl Credentials {
    pub fn new(
        username: impl Into<String>,
        secret: impl Into<String>,
        source: impl Into<String>,
    ) -> Self {
        Credentials {
            username: username.into(),
            secret: secret.into(),
            identity_token: false,
            source: source.into(),
        }
    }

    /// An identity token (what `docker login` stores for OAuth2 registries):
    /// exchanged at the token service with `grant_type=refresh_token`.
    pub fn identity_token(token: impl Into<String>, source: impl Into<String>) -> Self {
        Credentials {
            username: "<token>".into(),
            secret: token.into(),
            identity_token: true,
            source: source.into(),
        }
    }

    pub fn username(&self) -> &str {
        &self.username
    }

    /// The secret, for building an `Authorization` header or a token request only.
    pub fn secret(&self) -> &str {
        &self.secret
    }

    pub fn is_identity_token(&self) -> bool {
        self.identity_token
    }

    /// Where the credentials were found, for messages: `--username`, a file, a helper.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// `Basic base64(user:secret)`.
    pub fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.secret);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user '{}' from {}", self.username, self.source)
    }
}

/// The places credentials are looked up in, read from the environment.
#[derive(Clone, Debug, Default)]
pub struct CredentialSources {
    pub registry_auth_file: Option<PathBuf>,
    pub docker_config: Option<PathBuf>,
    pub containers_auth: Option<PathBuf>,
    pub ci_registry: Option<(String, String, String)>,
}

impl CredentialSources {
    pub fn from_env() -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let docker_config = var("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| var("HOME").map(|h| Path::new(&h).join(".docker")))
            .map(|d| d.join("config.json"));
        let ci_registry = match (
            var("CI_REGISTRY"),
            var("CI_REGISTRY_USER"),
            var("CI_REGISTRY_PASSWORD"),
        ) {
            (Some(r), Some(u), Some(p)) => Some((r, u, p)),
            _ => None,
        };
        CredentialSources {
            registry_auth_file: var("REGISTRY_AUTH_FILE").map(PathBuf::from),
            docker_config,
            containers_auth: var("XDG_RUNTIME_DIR")
                .map(|d| Path::new(&d).join("containers/auth.json")),
            ci_registry,
        }
    }

    /// What was looked at, for the message that says no credentials were found.
    pub fn describe(&self) -> String {
        let mut places = vec!["--username/--password-stdin".to_string()];
        for p in [
            &self.registry_auth_file,
            &self.docker_config,
            &self.containers_auth,
        ]
        .into_iter()
        .flatten()
        {
            places.push(p.display().to_string());
        }
        places.push("CI_REGISTRY".into());
        places.join(", ")
    }

    /// Credentials for `registry` (and `repository`, for files whose keys name one).
    pub fn lookup(&self, registry: &str, repository: &str) -> Result<Option<Credentials>> {
        if let Some(file) = &self.registry_auth_file {
            if let Some(c) = from_auth_file(file, registry, repository)? {
                return Ok(Some(c));
            }
        }
        if let Some(file) = &self.docker_config {
            if let Some(c) = from_auth_file(file, registry, repository)? {
                return Ok(Some(c));
            }
        }
        if let Some(file) = &self.containers_auth {
            if let Some(c) = from_auth_file(file, registry, repository)? {
                return Ok(Some(c));
            }
        }
        if let Some((ci, user, password)) = &self.ci_registry {
            if normalise_key(ci) == registry {
                return Ok(Some(Credentials::new(
                    user,
                    password,
                    "CI_REGISTRY_USER/CI_REGISTRY_PASSWORD",
                )));
            }
        }
        Ok(None)
    }
}

/// `https://index.docker.io/v1/` → `docker.io`; `http://host:5000/x` → `host:5000/x`.
fn normalise_key(key: &str) -> String {
    let key = key
        .trim_start_matches("https://")
        .trim_start_matches("http://")
        .trim_end_matches('/');
    let (host, path) = key.split_once('/').unwrap_or((key, ""));
    let host = match host {
        "index.docker.io" | "registry-1.docker.io" | "registry.hub.docker.com" => DOCKER_HUB,
        h => h,
    };
    match path {
        "" | "v1" | "v2" => host.to_string(),
        p => format!("{host}/{p}"),
    }
}

/// The server name a credential helper is asked about.
fn helper_server(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_KEY.to_string()
    } else {
        registry.to_string()
    }
}

fn from_auth_file(file: &Path, registry: &str, repository: &str) -> Result<Option<Credentials>> {
    let bytes = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(Error::io(file, e)),
    };
    let at = file.display();
    let config: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| Error::invalid(format!("{at}: not valid JSON: {e}")))?;
    let helper = config["credHelpers"]
        .as_object()
        .and_then(|h| h.iter().find(|(k, _)| normalise_key(k) == registry))
        .and_then(|(_, v)| v.as_str())
        .or_else(|| config["credsStore"].as_str())
        .filter(|h| !h.is_empty());
    if let Some(helper) = helper {
        if let Some(c) = from_helper(helper, registry)? {
            return Ok(Some(c));
        }
    }
    let Some(auths) = config["auths"].as_object() else {
        return Ok(None);
    };
    // The most specific key wins: `host/org/repo` over `host/org` over `host`.
    let full = format!("{registry}/{repository}");
    let best = auths
        .iter()
        .map(|(k, v)| (normalise_key(k), v))
        .filter(|(k, _)| *k == registry || full == *k || full.starts_with(&format!("{k}/")))
        .max_by_key(|(k, _)| k.len());
    let Some((key, entry)) = best else {
        return Ok(None);
    };
    let source = at.to_string();
    if let Some(token) = entry["identitytoken"].as_str().filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials::identity_token(token, source)));
    }
    if let Some(auth) = entry["auth"].as_str().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .ok()
            .and_then(|d| String::from_utf8(d).ok())
            .ok_or_else(|| {
                Error::invalid(format!(
                    "{at}: the 'auth' entry for {key} is not base64 of USER:PASSWORD"
                ))
            })?;
        let (user, password) = decoded.split_once(':').ok_or_else(|| {
            Error::invalid(format!(
                "{at}: the 'auth' entry for {key} is not base64 of USER:PASSWORD"
            ))
        })?;
        return Ok(Some(Credentials::new(user, password, source)));
    }
    match (entry["username"].as_str(), entry["password"].as_str()) {
        (Some(u), Some(p)) if !u.is_empty() => Ok(Some(Credentials::new(u, p, source))),
        _ => Ok(None),
    }
}

/// Runs `docker-credential-NAME get` with the server on stdin, as Docker does.
pub fn from_helper(helper: &str, registry: &str) -> Result<Option<Credentials>> {
    let program = format!("docker-credential-{helper}");
    let server = helper_server(registry);
    let failed = |why: String| {
        Error::invalid(format!(
            "credential helper {program} (for {registry}): {why}"
        ))
    };
    let mut child = match Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
    {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(failed(
                "not found on PATH (named by credHelpers/credsStore in the Docker config)".into(),
            ))
        }
        Err(e) => return Err(failed(e.to_string())),
    };
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| failed(format!("writing the server name: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| failed(e.to_string()))?;
    if !out.status.success() {
        let said = format!(
            "{} {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        // The protocol's answer for "no entry": not an error, just nothing here.
        if said.to_ascii_lowercase().contains("credentials not found") {
            return Ok(None);
        }
        let first = said
            .trim()
            .lines()
            .next()
            .unwrap_or("")
            .chars()
            .take(200)
            .collect::<String>();
        return Err(failed(format!("'get' failed ({}): {first}", out.status)));
    }
    let answer: serde_json::Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| failed("'get' did not print the JSON {\"Username\",\"Secret\"}".into()))?;
    let (Some(user), Some(secret)) = (answer["Username"].as_str(), answer["Secret"].as_str())
    else {
        return Err(failed(
            "'get' printed JSON without Username and Secret".into(),
        ));
    };
    if secret.is_empty() {
        return Ok(None);
    }
    let source = format!("credential helper {program}");
    if user == "<token>" {
        return Ok(Some(Credentials::identity_token(secret, source)));
    }
    Ok(Some(Credentials::new(user, secret, source)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_secret() {
        let c = Credentials::new("alice", "hunter2-secret", "test");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{c}").contains("hunter2"));
        assert_eq!(c.basic_header(), "Basic YWxpY2U6aHVudGVyMi1zZWNyZXQ=");
    }

    #[test]
    fn reads_docker_and_containers_files() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        let auth = base64::engine::general_purpose::STANDARD.encode("bob:pw:with:colons");
        std::fs::write(
            &file,
            serde_json::json!({"auths": {
                "https://index.docker.io/v1/": {"auth": auth},
                "quay.io": {"username": "q", "password": "host"},
                "quay.io/org": {"username": "q", "password": "org"},
            }})
            .to_string(),
        )
        .unwrap();
        let sources = CredentialSources {
            docker_config: Some(file),
            ..Default::default()
        };
        let c = sources
            .lookup("docker.io", "library/alpine")
            .unwrap()
            .unwrap();
        assert_eq!((c.username(), c.secret()), ("bob", "pw:with:colons"));
        let c = sources.lookup("quay.io", "org/app").unwrap().unwrap();
        assert_eq!(c.secret(), "org");
        let c = sources.lookup("quay.io", "other/app").unwrap().unwrap();
        assert_eq!(c.secret(), "host");
        assert!(sources.lookup("ghcr.io", "o/a").unwrap().is_none());
    }

    #[test]
    fn normalises_keys() {
        assert_eq!(normalise_key("https://index.docker.io/v1/"), "docker.io");
        assert_eq!(normalise_key("localhost:5000"), "localhost:5000");
        assert_eq!(
            normalise_key("http://reg.example:5000/v2/"),
            "reg.example:5000"
        );
        assert_eq!(normalise_key("quay.io/org"), "quay.io/org");
    }
}
