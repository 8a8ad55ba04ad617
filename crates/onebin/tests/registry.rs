//! `docker://` against the real CNCF distribution registry (`docker-registry`),
//! started by each test on a free port of 127.0.0.1: anonymous, htpasswd
//! Basic auth, and the Bearer token flow with a token service written here
//! (JWTs signed by a key and certificate that `openssl` makes). Interop both
//! ways with skopeo and the Docker Engine; faults through a small proxy.

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use serde_json::{json, Value};
use support::{run, s, stderr, stdout};

const HELLO: &str = "/usr/local/bin/hello";
const USER: &str = "onebin-tester";
const PASSWORD: &str = "s3cret-Pa55word-never-printed";

fn example() -> String {
    format!(
        "oci:{}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello/image")
    )
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

// ---------------------------------------------------------------- onebin, isolated

/// Runs onebin with no credentials from this machine: an empty Docker config,
/// no auth files, no CI variables; `env` adds what a test wants.
fn onebin(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Output {
    let empty = std::env::temp_dir().join(format!("onebin-registry-empty-{}", std::process::id()));
    std::fs::create_dir_all(&empty).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onebin"));
    cmd.args(args)
        .env("DOCKER_CONFIG", &empty)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("CI_REGISTRY")
        .env_remove("CI_REGISTRY_USER")
        .env_remove("CI_REGISTRY_PASSWORD")
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = cmd.spawn().expect("onebin runs");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .unwrap()
            .write_all(input.as_bytes())
            .unwrap();
    }
    drop(child.stdin.take());
    let out = child.wait_with_output().unwrap();
    let all = format!("{}{}", stdout(&out), stderr(&out));
    assert!(
        !all.contains(PASSWORD),
        "the password appeared in onebin's output:\n{all}"
    );
    out
}

fn ok(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> String {
    let out = onebin(args, env, stdin);
    assert!(
        out.status.success(),
        "onebin {args:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

fn json_ok(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    serde_json::from_str(&ok(&all, env, stdin)).unwrap()
}

fn fails(args: &[&str], env: &[(&str, &str)], stdin: Option<&str>) -> String {
    let out = onebin(args, env, stdin);
    assert_eq!(
        out.status.code(),
        Some(2),
        "onebin {args:?} should fail:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

/// The example's binaries, as CI would have built them.
fn binaries(tmp: &Path) -> (PathBuf, PathBuf) {
    let bin = tmp.join("bin");
    ok(
        &[
            "extract",
            &example(),
            "--path",
            HELLO,
            "--out",
            s(&bin),
            "--quiet",
        ],
        &[],
        None,
    );
    (bin.join("hello_linux_amd64"), bin.join("hello_linux_arm64"))
}

fn package_args(amd64: &Path, arm64: &Path, dest: &str) -> Vec<String> {
    vec![
        "package".into(),
        "--binary".into(),
        format!("linux/amd64={}", amd64.display()),
        "--binary".into(),
        format!("linux/arm64={}", arm64.display()),
        "--path".into(),
        HELLO.into(),
        "--dest".into(),
        dest.into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// Extracts HELLO from `image` into `out` and returns the amd64 and arm64 bytes.
fn extract_both(image: &str, out: &Path, env: &[(&str, &str)]) -> (Vec<u8>, Vec<u8>) {
    ok(
        &[
            "extract",
            image,
            "--path",
            HELLO,
            "--out",
            s(out),
            "--quiet",
        ],
        env,
        None,
    );
    (
        std::fs::read(out.join("hello_linux_amd64")).unwrap(),
        std::fs::read(out.join("hello_linux_arm64")).unwrap(),
    )
}

fn sha256_of(bytes: &[u8]) -> String {
    format!("sha256:{}", support::sha256_hex(bytes))
}

// ---------------------------------------------------------------- the registry

enum Auth<'a> {
    Anonymous,
    Htpasswd,
    Token(&'a TokenService),
}

/// `docker-registry` with a config of its own in a temporary directory,
/// killed when dropped.
struct Registry {
    child: Child,
    ip: &'static str,
    port: u16,
    _dir: tempfile::TempDir,
}

/// A certificate authority and a server certificate for 127.0.0.2 it signed,
/// made with the real openssl.
struct Tls {
    ca: PathBuf,
    cert: PathBuf,
    key: PathBuf,
}

impl Tls {
    fn make(dir: &Path) -> Option<Tls> {
        if !support::require("openssl") {
            return None;
        }
        let p = |name: &str| dir.join(name);
        run(Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=onebin test CA",
            ])
            .args([
                "-addext",
                "basicConstraints=critical,CA:TRUE",
                "-addext",
                "keyUsage=critical,keyCertSign",
            ])
            .arg("-keyout")
            .arg(p("ca.key"))
            .arg("-out")
            .arg(p("ca.pem")));
        run(Command::new("openssl")
            .args([
                "req",
                "-newkey",
                "rsa:2048",
                "-nodes",
                "-subj",
                "/CN=127.0.0.2",
            ])
            .arg("-keyout")
            .arg(p("server.key"))
            .arg("-out")
            .arg(p("server.csr")));
        std::fs::write(
            p("ext.cnf"),
            "subjectAltName=IP:127.0.0.2\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        run(Command::new("openssl")
            .args(["x509", "-req", "-days", "2", "-CAcreateserial"])
            .arg("-in")
            .arg(p("server.csr"))
            .arg("-CA")
            .arg(p("ca.pem"))
            .arg("-CAkey")
            .arg(p("ca.key"))
            .arg("-extfile")
            .arg(p("ext.cnf"))
            .arg("-out")
            .arg(p("server.pem")));
        Some(Tls {
            ca: p("ca.pem"),
            cert: p("server.pem"),
            key: p("server.key"),
        })
    }
}

impl Registry {
    fn start(auth: Auth) -> Option<Registry> {
        Self::start_with(auth, None)
    }

    /// With `tls`, the registry listens on 127.0.0.2 (which onebin reaches
    /// over TLS, as any host but localhost and 127.0.0.1) with that certificate.
    fn start_with(auth: Auth, tls: Option<&Tls>) -> Option<Registry> {
        if !support::require("docker-registry") {
            return None;
        }
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let ip = if tls.is_some() {
            "127.0.0.2"
        } else {
            "127.0.0.1"
        };
        let tls_config = tls
            .map(|t| {
                format!(
                    "  tls:\n    certificate: {}\n    key: {}\n",
                    t.cert.display(),
                    t.key.display()
                )
            })
            .unwrap_or_default();
        let auth = match auth {
            Auth::Anonymous => String::new(),
            Auth::Htpasswd => {
                let hash = bcrypt::hash(PASSWORD, 5).unwrap();
                let file = dir.path().join("htpasswd");
                std::fs::write(&file, format!("{USER}:{hash}\n")).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: onebin-test\n    path: {}\n",
                    file.display()
                )
            }
            Auth::Token(t) => format!(
                "auth:\n  token:\n    realm: http://127.0.0.1:{}/token\n    service: {}\n    issuer: {}\n    rootcertbundle: {}\n",
                t.port,
                TokenService::SERVICE,
                TokenService::ISSUER,
                t.cert.display()
            ),
        };
        let child = support::registry::serve(dir.path(), ip, port, &format!("{tls_config}{auth}"));
        let registry = Registry {
            child,
            ip,
            port,
            _dir: dir,
        };
        Some(registry)
    }

    fn host(&self) -> String {
        format!("{}:{}", self.ip, self.port)
    }

    fn image(&self, name: &str) -> String {
        format!("docker://{}/{name}", self.host())
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

// ---------------------------------------------------------------- the token service

/// A token service as the distribution spec describes it: checks Basic
/// credentials, grants the scopes asked for (none to anonymous callers) in a
/// JWT signed with RS256 by a key whose self-signed certificate is the
/// registry's `rootcertbundle` (the JWT header carries it in `x5c`).
struct TokenService {
    port: u16,
    cert: PathBuf,
    scopes: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl TokenService {
    const SERVICE: &'static str = "onebin-test-registry";
    const ISSUER: &'static str = "onebin-test-issuer";

    fn start() -> Option<TokenService> {
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

    fn scopes_asked(&self) -> Vec<String> {
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

// ---------------------------------------------------------------- a little HTTP

struct Request {
    method: String,
    path: String,
    head: Vec<u8>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Request {
    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.clone())
    }
}

fn read_request(stream: &mut TcpStream) -> std::io::Result<Request> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        if reader.read_until(b'\n', &mut line)? == 0 {
            return Err(std::io::ErrorKind::UnexpectedEof.into());
        }
        head.extend_from_slice(&line);
        if line == b"\r\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head).into_owned();
    let mut lines = text.lines();
    let first: Vec<&str> = lines.next().unwrap_or("").split(' ').collect();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    let mut body = vec![0; length];
    reader.read_exact(&mut body)?;
    Ok(Request {
        method: first.first().unwrap_or(&"").to_string(),
        path: first.get(1).unwrap_or(&"").to_string(),
        head,
        headers,
        body,
    })
}

fn respond(
    stream: &mut TcpStream,
    status: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> std::io::Result<()> {
    let mut out = format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n",
        body.len()
    );
    for (k, v) in headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str("\r\n");
    stream.write_all(out.as_bytes())?;
    stream.write_all(body)?;
    stream.flush()
}

// ---------------------------------------------------------------- the fault proxy

/// What the proxy does to the next requests.
#[derive(Default)]
struct Faults {
    /// Answer this many requests with 500 without forwarding them.
    errors_500: u32,
    /// Answer this many requests with 429 and `Retry-After: 1`.
    throttle_429: u32,
    /// Cut the next blob GET off after half its body.
    cut_next_blob: bool,
    /// Drop the connection of the next upload (PUT or PATCH) after reading it.
    drop_next_upload: bool,
    /// Flip a byte in GETs of the blob with this digest.
    corrupt: Option<String>,
    /// Every request line, and what was done to it.
    log: Vec<String>,
}

/// A one-request-per-connection HTTP proxy in front of a registry.
struct FaultProxy {
    port: u16,
    faults: Arc<Mutex<Faults>>,
}

impl FaultProxy {
    fn start(upstream: u16) -> FaultProxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let faults = Arc::new(Mutex::new(Faults::default()));
        let shared = faults.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { continue };
                let faults = shared.clone();
                std::thread::spawn(move || {
                    let _ = Self::handle(stream, upstream, &faults);
                });
            }
        });
        FaultProxy { port, faults }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn image(&self, name: &str) -> String {
        format!("docker://{}/{name}", self.host())
    }

    fn set(&self, f: impl FnOnce(&mut Faults)) {
        f(&mut self.faults.lock().unwrap());
    }

    fn log(&self) -> Vec<String> {
        self.faults.lock().unwrap().log.clone()
    }

    fn handle(mut client: TcpStream, upstream: u16, faults: &Mutex<Faults>) -> std::io::Result<()> {
        let request = read_request(&mut client)?;
        let line = format!("{} {}", request.method, request.path);
        let is_blob_get = request.method == "GET" && request.path.contains("/blobs/sha256:");
        let is_upload = (request.method == "PUT" || request.method == "PATCH")
            && request.path.contains("/blobs/uploads/");
        {
            let mut f = faults.lock().unwrap();
            if f.errors_500 > 0 {
                f.errors_500 -= 1;
                f.log.push(format!("500 {line}"));
                drop(f);
                return respond(&mut client, "500 Internal Server Error", &[], b"");
            }
            if f.throttle_429 > 0 {
                f.throttle_429 -= 1;
                f.log.push(format!("429 {line}"));
                drop(f);
                return respond(
                    &mut client,
                    "429 Too Many Requests",
                    &[("Retry-After", "1")],
                    b"",
                );
            }
            if is_upload && f.drop_next_upload {
                f.drop_next_upload = false;
                f.log.push(format!("dropped {line}"));
                return client.shutdown(Shutdown::Both);
            }
            let range = request
                .header("range")
                .map(|r| format!(" [{r}]"))
                .unwrap_or_default();
            f.log.push(format!("{line}{range}"));
        }
        // Forward with `Connection: close`, and read the whole answer.
        let mut head = String::from_utf8_lossy(&request.head).into_owned();
        head = head
            .lines()
            .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
            .map(|l| format!("{l}\r\n"))
            .collect::<String>();
        head.truncate(head.len() - 2);
        head.push_str("Connection: close\r\n\r\n");
        let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
        server.write_all(head.as_bytes())?;
        server.write_all(&request.body)?;
        let mut response = Vec::new();
        server.read_to_end(&mut response)?;
        let split = response
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(response.len(), |p| p + 4);
        let (resp_head, body) = response.split_at(split);
        let mut body = body.to_vec();
        let ok = resp_head.starts_with(b"HTTP/1.1 200") || resp_head.starts_with(b"HTTP/1.1 206");
        if is_blob_get && ok {
            let mut f = faults.lock().unwrap();
            if f.cut_next_blob && body.len() > 16 {
                f.cut_next_blob = false;
                f.log.push(format!("cut {line}"));
                drop(f);
                client.write_all(resp_head)?;
                client.write_all(&body[..body.len() / 2])?;
                client.flush()?;
                return client.shutdown(Shutdown::Both);
            }
            if f.corrupt
                .as_ref()
                .is_some_and(|d| request.path.contains(d.as_str()))
                && !body.is_empty()
            {
                f.log.push(format!("corrupted {line}"));
                let last = body.len() - 1;
                body[last] ^= 0xff;
            }
        }
        client.write_all(resp_head)?;
        client.write_all(&body)?;
        client.flush()
    }
}

// ---------------------------------------------------------------- tests

#[test]
fn anonymous_push_pull_and_skopeo_both_ways() {
    let Some(registry) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());

    // The same inputs give the same index in a layout and in the registry.
    let layout = format!("oci:{}:v1", tmp.path().join("layout").display());
    let local = json_ok(&strs(&package_args(&amd64, &arm64, &layout)), &[], None);
    let dest = registry.image("team/hello:v1");
    let pushed = json_ok(&strs(&package_args(&amd64, &arm64, &dest)), &[], None);
    let digest = pushed["digest"].as_str().unwrap().to_string();
    assert_eq!(digest, local["digest"].as_str().unwrap());
    assert_eq!(
        pushed["push"]["registry_digest"],
        digest.as_str(),
        "{pushed:#}"
    );
    assert_eq!(pushed["push"]["digests_match"], true);
    assert!(
        pushed["push"]["blobs_uploaded"].as_u64().unwrap() >= 4,
        "{pushed:#}"
    );
    assert_eq!(pushed["verified"], true);

    // Again: every blob is there already.
    let again = json_ok(&strs(&package_args(&amd64, &arm64, &dest)), &[], None);
    assert_eq!(again["push"]["blobs_uploaded"], 0, "{again:#}");
    assert_eq!(again["digest"], digest.as_str());

    // inspect, extract and verify read it back; a bare NAME works as docker:// does.
    let report = json_ok(&["inspect", &dest], &[], None);
    assert_eq!(report["digest"], digest.as_str());
    assert_eq!(report["platforms"].as_array().unwrap().len(), 2);
    let bare = format!("{}/team/hello:v1", registry.host());
    assert_eq!(
        json_ok(&["inspect", &bare], &[], None)["digest"],
        digest.as_str()
    );
    let by_digest = registry.image(&format!("team/hello@{digest}"));
    assert_eq!(
        json_ok(&["inspect", &by_digest], &[], None)["digest"],
        digest.as_str()
    );
    let dist = tmp.path().join("dist");
    let (a, b) = extract_both(&dest, &dist, &[]);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(b, std::fs::read(&arm64).unwrap());
    let checksums = dist.join("checksums.txt");
    ok(
        &[
            "verify",
            &dest,
            "--path",
            HELLO,
            "--checksums",
            s(&checksums),
        ],
        &[],
        None,
    );

    // A clear 404 that names the repository.
    let err = fails(&["inspect", &registry.image("team/nothing:v1")], &[], None);
    assert!(err.contains("404") && err.contains("team/nothing"), "{err}");

    if !support::require("skopeo") {
        return;
    }
    // skopeo reads what onebin pushed: same digest, same bytes.
    let raw =
        run(Command::new("skopeo").args(["inspect", "--tls-verify=false", "--raw", &dest])).stdout;
    assert_eq!(sha256_of(&raw), digest);
    let policy = tmp.path().join("policy.json");
    std::fs::write(
        &policy,
        r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
    )
    .unwrap();
    let copied = tmp.path().join("skopeo-copy");
    run(Command::new("skopeo").arg("--policy").arg(&policy).args([
        "copy",
        "--quiet",
        "--all",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{}:v1", copied.display()),
    ]));
    let (a2, b2) = extract_both(
        &format!("oci:{}:v1", copied.display()),
        &tmp.path().join("dist2"),
        &[],
    );
    assert_eq!((a2, b2), (a, b));

    // skopeo pushes, onebin pulls: same digest, same bytes as from the layout.
    let base = registry.image("base:v1");
    run(Command::new("skopeo").arg("--policy").arg(&policy).args([
        "copy",
        "--quiet",
        "--all",
        "--dest-tls-verify=false",
        &example(),
        &base,
    ]));
    let raw =
        run(Command::new("skopeo").args(["inspect", "--tls-verify=false", "--raw", &base])).stdout;
    assert_eq!(
        json_ok(&["inspect", &base], &[], None)["digest"],
        sha256_of(&raw).as_str()
    );
    let from_registry = extract_both(&base, &tmp.path().join("dist3"), &[]);
    let from_layout = extract_both(&example(), &tmp.path().join("dist4"), &[]);
    assert_eq!(from_registry, from_layout);

    // A base in the same registry: its layers are mounted, not uploaded.
    let mut args = package_args(&amd64, &arm64, &registry.image("app:v1"));
    args.extend(["--base".into(), base.clone()]);
    let pushed = json_ok(&strs(&args), &[], None);
    assert!(
        pushed["push"]["blobs_mounted"].as_u64().unwrap() >= 1,
        "{pushed:#}"
    );
    assert_eq!(pushed["push"]["digests_match"], true);
}

#[test]
fn basic_auth_from_every_credential_source() {
    let Some(registry) = Registry::start(Auth::Htpasswd) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());
    let dest = registry.image("private/hello:v1");
    let host = registry.host();

    // Anonymous: a clear 401 naming the scope and what to check.
    let err = fails(&strs(&package_args(&amd64, &arm64, &dest)), &[], None);
    assert!(err.contains("401"), "{err}");
    assert!(err.contains("repository:private/hello:pull,push"), "{err}");
    assert!(
        err.contains("anonymously") && err.contains("--username"),
        "{err}"
    );

    // --username with --password-stdin.
    let mut args = package_args(&amd64, &arm64, &dest);
    args.extend(["--username".into(), USER.into(), "--password-stdin".into()]);
    let pushed = json_ok(&strs(&args), &[], Some(&format!("{PASSWORD}\n")));
    assert_eq!(pushed["push"]["digests_match"], true);
    let digest = pushed["digest"].as_str().unwrap().to_string();

    // A wrong password: 401, and the password is never shown (checked in `onebin`).
    let err = fails(
        &["inspect", &dest, "--username", USER, "--password-stdin"],
        &[],
        Some("wrong-password"),
    );
    assert!(err.contains("401") && err.contains(USER), "{err}");

    let inspect_with = |env: &[(&str, &str)]| {
        assert_eq!(
            json_ok(&["inspect", &dest], env, None)["digest"],
            digest.as_str()
        );
    };
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));

    // Docker's config.json `auths`.
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    std::fs::write(
        docker.join("config.json"),
        json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    inspect_with(&[("DOCKER_CONFIG", s(&docker))]);

    // `credHelpers` through the real docker-credential-* protocol.
    let helpers = tmp.path().join("helpers");
    std::fs::create_dir_all(&helpers).unwrap();
    let asked = tmp.path().join("helper-asked");
    let script = helpers.join("docker-credential-test");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\n[ \"$1\" = get ] || exit 2\nread server\necho \"$server\" >> {asked}\nif [ \"$server\" = \"{host}\" ]; then\n  printf '{{\"ServerURL\":\"%s\",\"Username\":\"{USER}\",\"Secret\":\"{PASSWORD}\"}}' \"$server\"\nelse\n  echo 'credentials not found in native keychain'; exit 1\nfi\n",
            asked = asked.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!(
        "{}:{}",
        helpers.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let helper_config = tmp.path().join("docker-helper");
    std::fs::create_dir_all(&helper_config).unwrap();
    std::fs::write(
        helper_config.join("config.json"),
        json!({"credHelpers": {host.clone(): "test"}}).to_string(),
    )
    .unwrap();
    inspect_with(&[("DOCKER_CONFIG", s(&helper_config)), ("PATH", &path)]);
    assert_eq!(std::fs::read_to_string(&asked).unwrap().trim(), host);
    // `credsStore` too.
    std::fs::write(
        helper_config.join("config.json"),
        json!({"credsStore": "test"}).to_string(),
    )
    .unwrap();
    inspect_with(&[("DOCKER_CONFIG", s(&helper_config)), ("PATH", &path)]);

    // REGISTRY_AUTH_FILE, and containers' auth.json under XDG_RUNTIME_DIR.
    let auth_file = tmp.path().join("auth.json");
    std::fs::write(
        &auth_file,
        json!({"auths": {host.clone(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    inspect_with(&[("REGISTRY_AUTH_FILE", s(&auth_file))]);
    let runtime = tmp.path().join("run");
    std::fs::create_dir_all(runtime.join("containers")).unwrap();
    std::fs::copy(&auth_file, runtime.join("containers/auth.json")).unwrap();
    inspect_with(&[("XDG_RUNTIME_DIR", s(&runtime))]);

    // GitLab CI's variables.
    inspect_with(&[
        ("CI_REGISTRY", &host),
        ("CI_REGISTRY_USER", USER),
        ("CI_REGISTRY_PASSWORD", PASSWORD),
    ]);

    // Extract and verify with credentials, and skopeo reads it with the same ones.
    let dist = tmp.path().join("dist");
    let (a, _) = extract_both(&dest, &dist, &[("DOCKER_CONFIG", s(&docker))]);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    if support::require("skopeo") {
        let raw = run(Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            "--creds",
            &format!("{USER}:{PASSWORD}"),
            &dest,
        ]))
        .stdout;
        assert_eq!(sha256_of(&raw), digest);
    }
}

#[test]
fn bearer_token_flow_with_the_registrys_token_auth() {
    let Some(tokens) = TokenService::start() else {
        return;
    };
    let Some(registry) = Registry::start(Auth::Token(&tokens)) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());
    let dest = registry.image("team/app:v1");
    let docker = tmp.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    std::fs::write(
        docker.join("config.json"),
        json!({"auths": {registry.host(): {"auth": auth}}}).to_string(),
    )
    .unwrap();
    let creds = [("DOCKER_CONFIG", s(&docker))];

    // Anonymous: the token grants nothing, and the error says which scope it asked for.
    let err = fails(&strs(&package_args(&amd64, &arm64, &dest)), &[], None);
    assert!(
        err.contains("401") && err.contains("repository:team/app:pull,push"),
        "{err}"
    );

    let pushed = json_ok(&strs(&package_args(&amd64, &arm64, &dest)), &creds, None);
    assert_eq!(pushed["push"]["digests_match"], true);
    let digest = pushed["digest"].as_str().unwrap().to_string();
    assert!(
        tokens
            .scopes_asked()
            .iter()
            .any(|s| s == "repository:team/app:pull,push"),
        "{:?}",
        tokens.scopes_asked()
    );
    assert_eq!(
        json_ok(&["inspect", &dest], &creds, None)["digest"],
        digest.as_str()
    );
    let (a, b) = extract_both(&dest, &tmp.path().join("dist"), &creds);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(b, std::fs::read(&arm64).unwrap());

    // A wrong password: the token service refuses, and the error says what to check.
    let err = fails(
        &["inspect", &dest, "--username", USER, "--password-stdin"],
        &[],
        Some("not-the-password"),
    );
    assert!(
        err.contains("token service") && err.contains("401") && err.contains("check"),
        "{err}"
    );

    if support::require("skopeo") {
        let raw = run(Command::new("skopeo").args([
            "inspect",
            "--tls-verify=false",
            "--raw",
            "--creds",
            &format!("{USER}:{PASSWORD}"),
            &dest,
        ]))
        .stdout;
        assert_eq!(sha256_of(&raw), digest);
    }
}

#[test]
fn docker_engine_pulls_runs_and_pushes() {
    if !support::require_docker() {
        return;
    }
    let Some(registry) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());
    let repo = format!("onebin-registry-test-{}", std::process::id());
    let name = format!("{}/{repo}:v1", registry.host());
    let pushed = json_ok(
        &strs(&package_args(&amd64, &arm64, &format!("docker://{name}"))),
        &[],
        None,
    );
    let digest = pushed["digest"].as_str().unwrap().to_string();

    let docker = |args: &[&str]| run(Command::new("docker").args(args));
    let cleanup = Cleanup(vec![
        name.clone(),
        format!("{}/{repo}:from-docker", registry.host()),
    ]);
    docker(&["pull", "--quiet", &name]);
    let inspected: Value =
        serde_json::from_slice(&docker(&["image", "inspect", &name]).stdout).unwrap();
    let repo_digests = inspected[0]["RepoDigests"].to_string();
    assert!(
        repo_digests.contains(&digest),
        "{repo_digests} lacks {digest}"
    );
    if std::env::consts::ARCH == "x86_64" {
        let out = docker(&["run", "--rm", &name]);
        assert_eq!(stdout(&out), "hello from one binary, one hash\n");
    }

    // docker push, onebin pull: the digest docker reports is the one onebin reads.
    let from_docker = format!("{}/{repo}:from-docker", registry.host());
    docker(&["tag", &name, &from_docker]);
    let out = docker(&["push", &from_docker]);
    let said = stdout(&out);
    let pushed_digest = said
        .split_whitespace()
        .skip_while(|w| *w != "digest:")
        .nth(1)
        .unwrap_or_else(|| panic!("no digest in: {said}"))
        .to_string();
    let report = json_ok(&["inspect", &format!("docker://{from_docker}")], &[], None);
    assert_eq!(report["digest"], pushed_digest.as_str());
    let out = tmp.path().join("dist");
    ok(
        &[
            "extract",
            &format!("docker://{from_docker}"),
            "--path",
            HELLO,
            "--out",
            s(&out),
            "--quiet",
        ],
        &[],
        None,
    );
    drop(cleanup);
}

struct Cleanup(Vec<String>);

impl Drop for Cleanup {
    fn drop(&mut self) {
        let _ = Command::new("docker")
            .args(["image", "rm", "--force"])
            .args(&self.0)
            .output();
    }
}

#[test]
fn faults_are_retried_or_fail_cleanly() {
    let Some(registry) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let proxy = FaultProxy::start(registry.port);
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());

    // 500s, a 429 with Retry-After and a dropped upload on the way: the push succeeds.
    proxy.set(|f| {
        f.errors_500 = 2;
        f.throttle_429 = 1;
        f.drop_next_upload = true;
    });
    let dest = proxy.image("faults/app:v1");
    let started = Instant::now();
    let pushed = json_ok(&strs(&package_args(&amd64, &arm64, &dest)), &[], None);
    assert_eq!(pushed["push"]["digests_match"], true);
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After: 1 was not waited for"
    );
    let log = proxy.log();
    for what in ["500 ", "429 ", "dropped "] {
        assert!(
            log.iter().any(|l| l.starts_with(what)),
            "no {what}in {log:#?}"
        );
    }

    // A blob cut off mid-stream is fetched again from where it broke.
    proxy.set(|f| f.cut_next_blob = true);
    let (a, b) = extract_both(&dest, &tmp.path().join("dist"), &[]);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(b, std::fs::read(&arm64).unwrap());
    let log = proxy.log();
    assert!(log.iter().any(|l| l.starts_with("cut ")), "{log:#?}");
    assert!(
        log.iter().any(|l| l.contains("[bytes=")),
        "no Range request after the cut: {log:#?}"
    );

    // A body that does not match its digest: an error naming it, nothing in --out.
    let report = json_ok(&["inspect", &dest], &[], None);
    let layer = report["platforms"][0]["layers"][0]["digest"]
        .as_str()
        .unwrap()
        .to_string();
    proxy.set(|f| f.corrupt = Some(layer.clone()));
    let out = tmp.path().join("corrupt");
    let err = fails(
        &[
            "extract",
            &dest,
            "--path",
            HELLO,
            "--out",
            s(&out),
            "--quiet",
        ],
        &[],
        None,
    );
    // (gzip's own trailer check may speak first; either way the layer is named.)
    assert!(
        err.contains(&layer)
            && (err.contains("corrupt") || err.contains("does not match its digest")),
        "{err}"
    );
    assert!(
        support::list_files(&out).is_empty(),
        "{:?}",
        support::list_files(&out)
    );
    let config = report["platforms"][0]["config"]
        .as_str()
        .unwrap()
        .to_string();
    proxy.set(|f| f.corrupt = Some(config.clone()));
    let err = fails(
        &[
            "extract",
            &dest,
            "--path",
            HELLO,
            "--out",
            s(&out),
            "--quiet",
        ],
        &[],
        None,
    );
    assert!(
        err.contains(&config) && err.contains("does not match its digest"),
        "{err}"
    );
    assert!(
        support::list_files(&out).is_empty(),
        "{:?}",
        support::list_files(&out)
    );
    proxy.set(|f| f.corrupt = Some(layer.clone()));

    // A corrupt base blob while pushing elsewhere: the push fails, the tag never appears.
    let mut args = package_args(&amd64, &arm64, &registry.image("faults/bad:v1"));
    args.extend(["--base".into(), dest.clone()]);
    let err = fails(&strs(&args), &[], None);
    assert!(err.contains("does not match its digest"), "{err}");
    let err = fails(&["inspect", &registry.image("faults/bad:v1")], &[], None);
    assert!(err.contains("404"), "{err}");

    // A registry that keeps failing: a clear error after the retries, nothing pushed.
    proxy.set(|f| {
        f.corrupt = None;
        f.errors_500 = 1000;
    });
    let err = fails(
        &strs(&package_args(
            &amd64,
            &arm64,
            &proxy.image("faults/never:v1"),
        )),
        &[],
        None,
    );
    assert!(err.contains("500"), "{err}");
    proxy.set(|f| f.errors_500 = 0);
    let err = fails(&["inspect", &registry.image("faults/never:v1")], &[], None);
    assert!(err.contains("404"), "{err}");
}

#[test]
fn large_blobs_go_up_in_chunks_and_come_down_whole() {
    let Some(registry) = Registry::start(Auth::Anonymous) else {
        return;
    };
    let proxy = FaultProxy::start(registry.port);
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());
    // The binary with 9 MiB of noise after it: still the same ELF, a layer past one chunk.
    let mut big = std::fs::read(&amd64).unwrap();
    big.extend(support::noise(9, 9 << 20));
    let big_file = tmp.path().join("hello-big");
    std::fs::write(&big_file, &big).unwrap();
    proxy.set(|f| f.drop_next_upload = true);
    let dest = proxy.image("big/app:v1");
    let pushed = json_ok(&strs(&package_args(&big_file, &arm64, &dest)), &[], None);
    assert_eq!(pushed["push"]["digests_match"], true);
    let log = proxy.log();
    let patches = log.iter().filter(|l| l.starts_with("PATCH ")).count();
    assert!(patches >= 2, "expected a chunked upload: {log:#?}");
    assert!(log.iter().any(|l| l.starts_with("dropped ")), "{log:#?}");

    proxy.set(|f| f.cut_next_blob = true);
    let (a, _) = extract_both(&dest, &tmp.path().join("dist"), &[]);
    assert!(a == big, "the big binary came back different");
    if support::require("skopeo") {
        let raw =
            run(Command::new("skopeo").args(["inspect", "--tls-verify=false", "--raw", &dest]))
                .stdout;
        assert_eq!(sha256_of(&raw), pushed["digest"].as_str().unwrap());
    }
}

#[test]
fn tls_with_a_private_certificate_authority() {
    let certs = tempfile::tempdir().unwrap();
    let Some(tls) = Tls::make(certs.path()) else {
        return;
    };
    let Some(registry) = Registry::start_with(Auth::Anonymous, Some(&tls)) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());
    let dest = registry.image("tls/hello:v1");

    // Without the CA the certificate is not trusted: a clear error, nothing pushed.
    let refused = fails(&strs(&package_args(&amd64, &arm64, &dest)), &[], None);
    assert!(refused.contains(&registry.host()), "{refused}");
    assert!(refused.to_lowercase().contains("certificate"), "{refused}");

    // SSL_CERT_FILE names the CA that signed it, as for curl and Go.
    let trusted = [("SSL_CERT_FILE", tls.ca.to_str().unwrap())];
    let pushed = json_ok(&strs(&package_args(&amd64, &arm64, &dest)), &trusted, None);
    assert_eq!(pushed["push"]["digests_match"], true, "{pushed:#}");
    let (a, b) = extract_both(&dest, &tmp.path().join("out"), &trusted);
    assert_eq!(
        (a, b),
        (
            std::fs::read(&amd64).unwrap(),
            std::fs::read(&arm64).unwrap()
        )
    );
}

/// A forward proxy that only tunnels (`CONNECT host:port`), as corporate
/// HTTPS proxies do; it records the targets it was asked for.
struct ConnectProxy {
    port: u16,
    targets: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl ConnectProxy {
    fn start() -> ConnectProxy {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let targets = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let seen = targets.clone();
        std::thread::spawn(move || {
            for client in listener.incoming().flatten() {
                let seen = seen.clone();
                std::thread::spawn(move || tunnel(client, &seen));
            }
        });
        ConnectProxy { port, targets }
    }
}

fn tunnel(mut client: TcpStream, seen: &std::sync::Mutex<Vec<String>>) {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match client.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return,
        }
    }
    let head = String::from_utf8_lossy(&head).into_owned();
    let Some(target) = head
        .strip_prefix("CONNECT ")
        .and_then(|r| r.split(' ').next())
    else {
        let _ = client.write_all(b"HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\n\r\n");
        return;
    };
    seen.lock().unwrap().push(target.to_string());
    let Ok(server) = TcpStream::connect(target) else {
        return;
    };
    let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
    let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut c2, &mut s2);
        let _ = s2.shutdown(std::net::Shutdown::Write);
    });
    let (mut s1, mut c1) = (server, client);
    let _ = std::io::copy(&mut s1, &mut c1);
    let _ = c1.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

#[test]
fn https_proxy_and_no_proxy_are_honoured() {
    let certs = tempfile::tempdir().unwrap();
    let Some(tls) = Tls::make(certs.path()) else {
        return;
    };
    let Some(registry) = Registry::start_with(Auth::Anonymous, Some(&tls)) else {
        return;
    };
    let proxy = ConnectProxy::start();
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = binaries(tmp.path());
    let dest = registry.image("proxied/hello:v1");
    let proxy_url = format!("http://127.0.0.1:{}", proxy.port);
    let ca = tls.ca.to_str().unwrap();

    let through = [
        ("SSL_CERT_FILE", ca),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", ""),
    ];
    let pushed = json_ok(&strs(&package_args(&amd64, &arm64, &dest)), &through, None);
    assert_eq!(pushed["push"]["digests_match"], true, "{pushed:#}");
    let tunnels = proxy.targets.lock().unwrap().clone();
    assert!(
        tunnels.iter().any(|t| *t == registry.host()),
        "the proxy saw {tunnels:?}"
    );

    // NO_PROXY names the registry: straight there, the proxy sees nothing new.
    let before = proxy.targets.lock().unwrap().len();
    let bypass = [
        ("SSL_CERT_FILE", ca),
        ("HTTPS_PROXY", proxy_url.as_str()),
        ("NO_PROXY", "127.0.0.2"),
    ];
    let (a, _) = extract_both(&dest, &tmp.path().join("out"), &bypass);
    assert_eq!(a, std::fs::read(&amd64).unwrap());
    assert_eq!(
        proxy.targets.lock().unwrap().len(),
        before,
        "NO_PROXY was not honoured"
    );
}
