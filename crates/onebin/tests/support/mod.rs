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

/// True when `tool` is on PATH. Missing: a failure under `CI=true`, else a
/// skip that says so.
pub fn require(tool: &str) -> bool {
    let found = Command::new("sh")
        .args(["-c", &format!("command -v {tool}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if !found {
        assert!(
            !in_ci(),
            "{tool} is required under CI=true (scripts/test installs it)"
        );
        eprintln!("SKIPPED: {tool} is not installed (run scripts/test to install the test tools)");
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
        assert!(
            !in_ci(),
            "a running Docker Engine is required under CI=true"
        );
        eprintln!("SKIPPED: no Docker Engine answers (docker info failed)");
    }
    up
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
