//! The Bearer token service a registry sends clients to.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Value};

use crate::http::{read_request, respond};
use crate::support::{self, run, s};
use crate::{PASSWORD, USER};

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// A token service as the distribution spec describes it: checks Basic
/// credentials, grants the scopes asked for (none to anonymous callers) in a
/// JWT signed with RS256 by a key whose self-signed certificate is the
/// registry's `rootcertbundle` (the JWT header carries it in `x5c`).
pub struct TokenService {
    pub port: u16,
    pub cert: PathBuf,
    scopes: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl TokenService {
    pub const SERVICE: &'static str = "onebin-test-registry";
    pub const ISSUER: &'static str = "onebin-test-issuer";

    pub fn start() -> Option<TokenService> {
        if !support::require("openssl") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("key.pem");
        let cert = dir.path().join("cert.pem");
        run(Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            s(&key),
            "-out",
            s(&cert),
            "-days",
            "2",
            "-subj",
            "/CN=onebin-test-token-issuer",
        ]));
        let der =
            run(Command::new("openssl").args(["x509", "-in", s(&cert), "-outform", "DER"])).stdout;
        let x5c = base64::engine::general_purpose::STANDARD.encode(der);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let scopes = Arc::new(Mutex::new(Vec::new()));
        let seen = scopes.clone();
        let key_file = key.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let (x5c, key_file, seen) = (x5c.clone(), key_file.clone(), seen.clone());
                std::thread::spawn(move || {
                    let _ = Self::answer(stream, &x5c, &key_file, &seen);
                });
            }
        });
        Some(TokenService {
            port,
            cert,
            scopes,
            _dir: dir,
        })
    }

    fn answer(
        mut stream: TcpStream,
        x5c: &str,
        key: &Path,
        seen: &Mutex<Vec<String>>,
    ) -> std::io::Result<()> {
        let request = read_request(&mut stream)?;
        let expected = format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"))
        );
        let authorization = request.header("authorization");
        if authorization.is_some() && authorization.as_deref() != Some(&expected) {
            return respond(
                &mut stream,
                "401 Unauthorized",
                &[],
                br#"{"details":"incorrect username or password"}"#,
            );
        }
        let query = request.path.split_once('?').map_or("", |(_, q)| q);
        let mut access = Vec::new();
        for (k, v) in query.split('&').filter_map(|p| p.split_once('=')) {
            if k != "scope" {
                continue;
            }
            let scope = percent_decode(v);
            seen.lock().unwrap().push(scope.clone());
            if authorization.is_none() {
                continue;
            }
            for one in scope.split(' ') {
                let (kind, rest) = one.split_once(':').unwrap();
                let (name, actions) = rest.rsplit_once(':').unwrap();
                access.push(json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}));
            }
        }
        let header = json!({"alg": "RS256", "typ": "JWT", "x5c": [x5c]});
        let t = now();
        let claims = json!({
            "iss": Self::ISSUER, "sub": if authorization.is_some() { USER } else { "" },
            "aud": Self::SERVICE, "exp": t + 300, "nbf": t - 10, "iat": t - 10,
            "jti": format!("{t}-{}", rand_id()), "access": access,
        });
        let b64 =
            |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
        let signing_input = format!("{}.{}", b64(&header), b64(&claims));
        let mut openssl = Command::new("openssl")
            .args(["dgst", "-sha256", "-sign", s(key)])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()?;
        openssl
            .stdin
            .take()
            .unwrap()
            .write_all(signing_input.as_bytes())?;
        let signature = openssl.wait_with_output()?.stdout;
        let token = format!(
            "{signing_input}.{}",
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(signature)
        );
        let body = json!({"token": token, "access_token": token, "expires_in": 300}).to_string();
        respond(
            &mut stream,
            "200 OK",
            &[("Content-Type", "application/json")],
            body.as_bytes(),
        )
    }

    pub fn scopes_asked(&self) -> Vec<String> {
        self.scopes.lock().unwrap().clone()
    }
}

fn rand_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(now());
    h.finish()
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 3 <= bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap();
                out.push(u8::from_str_radix(hex, 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}
