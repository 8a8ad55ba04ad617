//! Authentication as the distribution spec has it: send, and when the
//! registry answers 401 with a `WWW-Authenticate` challenge, answer it once:
//! Basic, or a Bearer token fetched from the registry's token service for
//! exactly the request's scopes (and kept for the next request with those
//! scopes). Credentials come from [`super::credentials`].

use std::collections::HashMap;
use std::sync::Mutex;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::header::{CONTENT_TYPE, WWW_AUTHENTICATE};
use reqwest::Url;

use super::client::{read_json, Client};
use super::credentials::Credentials;
use crate::{Error, Result};

#[derive(Clone, Debug)]
enum Challenge {
    Basic,
    Bearer {
        realm: String,
        service: Option<String>,
    },
}

/// Who we are to one registry: the credentials, the challenge it last sent,
/// and the tokens it handed out, by scope.
pub(super) struct Auth {
    credentials: Option<Credentials>,
    /// Where credentials were looked for, for the message when none were found.
    looked_in: String,
    challenge: Mutex<Option<Challenge>>,
    tokens: Mutex<HashMap<String, String>>,
}

impl Auth {
    pub(super) fn new(credentials: Option<Credentials>, looked_in: String) -> Self {
        Auth {
            credentials,
            looked_in,
            challenge: Mutex::new(None),
            tokens: Mutex::new(HashMap::new()),
        }
    }

    /// `as user 'x' from …`, or `anonymously (…)`, for messages.
    pub(super) fn who(&self, registry: &str) -> String {
        match &self.credentials {
            Some(c) => format!("as {c}"),
            None => format!(
                "anonymously (no credentials for {registry} in {})",
                self.looked_in
            ),
        }
    }
}

impl Client {
    /// Sends a request with authentication for `scopes`, answering one 401
    /// challenge (Basic, or a Bearer token for exactly these scopes).
    pub(super) fn send(
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
        *self.auth.challenge.lock().expect("not poisoned") = Some(challenge.clone());
        let auth = match challenge {
            Challenge::Basic => match &self.auth.credentials {
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
            .auth
            .tokens
            .lock()
            .expect("not poisoned")
            .get(&scopes.join(" "))
        {
            return Ok(Some(format!("Bearer {token}")));
        }
        let challenge = self.auth.challenge.lock().expect("not poisoned").clone();
        Ok(match challenge {
            Some(Challenge::Basic) => self
                .auth
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
        let response = match &self.auth.credentials {
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
            let message = format!(
                "{what}: the token service {realm} answered {status} {} {} for scope '{scope_text}': check the user name and password (docker login {}, --username with --password-stdin, REGISTRY_AUTH_FILE)",
                response.status().canonical_reason().unwrap_or(""),
                self.auth.who(&self.registry),
                self.registry
            );
            return Err(match status {
                401 => Error::Unauthorized {
                    code: None,
                    message,
                },
                403 => Error::Denied {
                    code: None,
                    message,
                },
                _ => Error::Registry {
                    status,
                    code: None,
                    message,
                },
            });
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
        self.auth
            .tokens
            .lock()
            .expect("not poisoned")
            .insert(scope_text, token.clone());
        Ok(token)
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
}
