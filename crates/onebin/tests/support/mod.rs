//! Shared by the integration tests: running onebin, requiring real tools
//! (a failure under `CI=true`, a visible skip elsewhere), and building layers
//! and OCI layouts byte by byte for the cases real tools never write.
#![allow(dead_code, unused_imports)] // each test binary uses a different part of this module

pub mod registry;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use onebin_testkit::{
    compress, layer_media_type, sha256_hex, Compression, LayerBuilder, Layout,
};

// Go and skopeo as the tests run them; onebin run outside any checkout.
pub mod go;
pub mod isolated;
pub mod skopeo;

pub fn onebin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onebin"))
        .args(args)
        .output()
        .expect("onebin runs")
}

pub fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

pub fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
}

/// A prerequisite that is not there: a failure under `CI=true` (`required`
/// says what is required), else a skip that says `skipped`.
pub fn missing(required: &str, skipped: &str) {
    assert!(!in_ci(), "{required}");
    eprintln!("SKIPPED: {skipped}");
}

/// True when `tool` is on PATH; nothing is said either way.
pub fn on_path(tool: &str) -> bool {
    Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success())
}

/// True when `tool` is on PATH. Missing: a failure under `CI=true`, else a
/// skip that says so.
pub fn require(tool: &str) -> bool {
    let found = on_path(tool);
    if !found {
        missing(
            &format!("{tool} is required under CI=true (scripts/test installs it)"),
            &format!("{tool} is not installed (run scripts/test to install the test tools)"),
        );
    }
    found
}

/// True when a Docker Engine answers. Missing: a failure under `CI=true`.
pub fn require_docker() -> bool {
    let up = Command::new("docker")
        .arg("info")
        .output()
        .is_ok_and(|o| o.status.success());
    if !up {
        missing(
            "a running Docker Engine is required under CI=true",
            "no Docker Engine answers (docker info failed)",
        );
    }
    up
}

/// Makes `dir` a git checkout with one commit of everything in it.
pub fn git_commit_all(dir: &Path) {
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &["commit", "-q", "-m", "one"],
    ] {
        git(dir, args);
    }
}

/// Runs git in `dir` with no user or system configuration and fixed names
/// and dates, so commits are the same on every machine.
pub fn git(dir: &Path, args: &[&str]) {
    run(Command::new("git")
        .args(args)
        .current_dir(dir)
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_AUTHOR_NAME", "onebin")
        .env("GIT_AUTHOR_EMAIL", "onebin@example.com")
        .env("GIT_COMMITTER_NAME", "onebin")
        .env("GIT_COMMITTER_EMAIL", "onebin@example.com")
        .env("GIT_AUTHOR_DATE", "2024-01-01T00:00:00Z")
        .env("GIT_COMMITTER_DATE", "2024-01-01T00:00:00Z"));
}

/// Runs a command and panics with its output when it fails.
pub fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    out
}

/// Every file under `dir`, relative names, sorted: to prove nothing stray was left.
pub fn list_files(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            out.push(e.file_name().to_string_lossy().into_owned());
        }
    }
    out.sort();
    out
}

/// Go's build cache, shared by every test process (nextest runs each test in
/// a process of its own). Go's cache is safe for concurrent use, so building
/// the same program again is only a link.
pub fn go_cache() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("gocache")
}

/// A temp path as the `&str` a command line takes.
pub fn s(path: &Path) -> &str {
    path.to_str().expect("temp paths are UTF-8")
}

/// Deterministic, incompressible-looking bytes (xorshift), so gzip and zstd
/// streams span several blocks and no two files share content by accident.
pub fn noise(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            (x >> 24) as u8
        })
        .collect()
}

/// A failed extract: exit 2, and nothing at all left in `out`; its stderr.
pub fn extract_fails(image: &str, path: &str, out: &Path) -> String {
    let o = onebin(&["extract", "--quiet", image, "--path", path, "--out", s(out)]);
    let err = stderr(&o);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{image} {path}: expected exit 2, stderr:\n{err}"
    );
    assert!(
        list_files(out).is_empty(),
        "{image} {path}: a failed run left {:?}",
        list_files(out)
    );
    err
}

/// Runs onebin and returns its output and its peak resident memory in bytes
/// (`getrusage(RUSAGE_CHILDREN)`: nextest runs each test in a process of its
/// own, so the children are this test's).
pub fn onebin_peak_rss(args: &[&str]) -> (Output, u64) {
    let out = onebin(args);
    // SAFETY: getrusage only writes the struct it is handed.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        assert_eq!(libc::getrusage(libc::RUSAGE_CHILDREN, &mut usage), 0);
        usage
    };
    (out, usage.ru_maxrss as u64 * 1024)
}

/// The mode `extract` gives a file the image holds with `image_mode`: 0755 or
/// 0644 (runnable by anyone or not), less this process's umask.
pub fn asset_mode(image_mode: u32) -> u32 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let umask = status
        .lines()
        .find_map(|l| l.strip_prefix("Umask:"))
        .map(|m| u32::from_str_radix(m.trim(), 8).unwrap())
        .unwrap();
    let base = if image_mode & 0o111 != 0 {
        0o755
    } else {
        0o644
    };
    base & !umask
}

/// One request a [`loopback`] server received.
#[derive(Clone, Debug)]
pub struct Request {
    pub method: String,
    pub path: String,
    pub headers: Vec<(String, String)>,
}

impl Request {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A server on a loopback port that plays a misbehaving registry (or worse):
/// each connection's request head is read (its body skipped by
/// `Content-Length`), recorded, and handed with the socket to `answer`, which
/// writes whatever it likes, as slowly as it likes, or nothing at all.
pub fn loopback(
    answer: impl Fn(&Request, &mut std::net::TcpStream) + Send + Sync + 'static,
) -> (
    std::net::SocketAddr,
    std::sync::Arc<std::sync::Mutex<Vec<Request>>>,
) {
    use std::io::{BufRead, BufReader, Read};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let seen = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let answer = std::sync::Arc::new(answer);
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answer, log) = (answer.clone(), log.clone());
            std::thread::spawn(move || {
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 {
                    return;
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or_default().to_string();
                let path = parts.next().unwrap_or_default().to_string();
                let mut headers = Vec::new();
                loop {
                    line.clear();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.push((k.trim().to_string(), v.trim().to_string()));
                    }
                }
                let request = Request {
                    method,
                    path,
                    headers,
                };
                let length: u64 = request
                    .header("content-length")
                    .and_then(|l| l.parse().ok())
                    .unwrap_or(0);
                let _ = std::io::copy(&mut (&mut reader).take(length), &mut std::io::sink());
                log.lock().unwrap().push(request.clone());
                let mut stream = stream;
                answer(&request, &mut stream);
            });
        }
    });
    (addr, seen)
}

/// The example image that ships in the repository (linux/amd64 and
/// linux/arm64; /usr/local/bin/hello, and /usr/bin/hello a symlink to it).
pub const EXAMPLE_IMAGE: &str = concat!(
    "oci:",
    env!("CARGO_MANIFEST_DIR"),
    "/../../examples/hello/image"
);

/// `--binary PLATFORM=FILE` for each (platform, file), as `package` and
/// `verify` take them.
pub fn binary_args(binaries: &[(&str, impl AsRef<Path>)]) -> Vec<String> {
    binaries
        .iter()
        .flat_map(|(platform, file)| {
            [
                "--binary".to_string(),
                format!("{platform}={}", s(file.as_ref())),
            ]
        })
        .collect()
}

/// Owned arguments as the `&[&str]` a command line takes.
pub fn strs(args: &[String]) -> Vec<&str> {
    args.iter().map(String::as_str).collect()
}

/// `onebin extract --quiet IMAGE --path PATH --out OUT --json EXTRA`, which
/// must succeed; the report.
pub fn extract_json(image: &str, path: &str, out: &Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "extract",
        "--quiet",
        image,
        "--path",
        path,
        "--out",
        s(out),
        "--json",
    ];
    args.extend_from_slice(extra);
    let o = onebin(&args);
    assert!(
        o.status.success(),
        "onebin {args:?} failed ({:?}):\n{}",
        o.status.code(),
        stderr(&o)
    );
    serde_json::from_str(&stdout(&o))
        .unwrap_or_else(|e| panic!("--json output: {e}\n{}", stdout(&o)))
}

/// Extracts one path of a single-platform image, returning the bytes written
/// and the report's entry for it, after checking the report against the file.
pub fn extract_one(image: &str, path: &str, out: &Path) -> (Vec<u8>, serde_json::Value) {
    let report = extract_json(image, path, out, &[]);
    let files = report["files"].as_array().unwrap();
    assert_eq!(files.len(), 1, "{image} {path}: {report:#}");
    let file = files[0].clone();
    let bytes = std::fs::read(file["output"].as_str().unwrap()).unwrap();
    assert_eq!(
        file["sha256"],
        serde_json::json!(sha256_hex(&bytes)),
        "{image} {path}"
    );
    assert_eq!(
        file["size"],
        serde_json::json!(bytes.len()),
        "{image} {path}"
    );
    (bytes, file)
}

/// The entry of a report's list (`platforms`, `files`, `results`) for
/// `platform`.
pub fn with_platform<'a>(list: &'a serde_json::Value, platform: &str) -> &'a serde_json::Value {
    list.as_array()
        .unwrap()
        .iter()
        .find(|entry| entry["platform"] == platform)
        .unwrap_or_else(|| panic!("{platform} not in {list:#}"))
}
