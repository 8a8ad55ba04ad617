//! The bytes `package` writes are decided by its inputs alone. This digest is
//! the guard: if it changes, the image bytes changed, and that must be a
//! deliberate decision, written down in docs/ARCHITECTURE.md (ADR-0007).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;

/// The index digest of the example binaries packaged with the flags below.
const GOLDEN_INDEX: &str =
    "sha256:1dbf7c6503dea91843404fee54f9f483ab33e2eb11b70dfeee0e2c9ffd1e7522";
/// The same with `--compression zstd`.
const GOLDEN_ZSTD_INDEX: &str =
    "sha256:614b71b7ede70a1b163825486d10eaa718a60c3181bc09d35523dc5df0533fda";

/// Runs onebin outside any git checkout and without CI variables, so that
/// no provenance label depends on where the test runs.
fn package(dir: &Path, binaries: &Path, extra: &[&str], epoch: &str) -> Value {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onebin"));
    cmd.current_dir(dir).env("SOURCE_DATE_EPOCH", epoch);
    for (key, _) in std::env::vars() {
        if key.starts_with("CI_") || key.starts_with("GITHUB_") {
            cmd.env_remove(key);
        }
    }
    cmd.args([
        "package",
        "--binary",
        &format!(
            "linux/amd64={}",
            binaries.join("hello_linux_amd64").display()
        ),
        "--binary",
        &format!(
            "linux/arm64={}",
            binaries.join("hello_linux_arm64").display()
        ),
        "--path",
        "/usr/local/bin/hello",
        "--dest",
        "oci-archive:image.tar:v1",
        "--env",
        "GREETING=hello",
        "--label",
        "org.opencontainers.image.source=https://example.com/hello",
        "--json",
    ]);
    cmd.args(extra);
    let out = support::run(&mut cmd);
    serde_json::from_slice(&out.stdout).unwrap()
}

fn example_binaries(into: &Path) {
    let image = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello/image");
    let out = support::onebin(&[
        "extract",
        &format!("oci:{image}"),
        "--path",
        "/usr/local/bin/hello",
        "--out",
        into.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", support::stderr(&out));
}

#[test]
fn same_inputs_same_digest_anywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let binaries = tmp.path().join("bin");
    example_binaries(&binaries);
    let (a, b) = (tmp.path().join("a"), tmp.path().join("b/deeper"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();

    let first = package(&a, &binaries, &[], "1700000000");
    let second = package(&b, &binaries, &[], "1700000000");
    assert_eq!(
        first["digest"], second["digest"],
        "two directories, one digest"
    );
    assert_eq!(
        std::fs::read(a.join("image.tar")).unwrap(),
        std::fs::read(b.join("image.tar")).unwrap()
    );
    assert_eq!(first["digest"], GOLDEN_INDEX, "the image bytes changed: if on purpose, update GOLDEN_INDEX and say why in docs/ARCHITECTURE.md");

    // Any change of input changes the digest.
    let other_time = package(&a, &binaries, &[], "1700000001");
    let other_env = package(&a, &binaries, &["--env", "GREETING=bye"], "1700000000");
    let other_mode = package(&a, &binaries, &["--mode", "0700"], "1700000000");
    for changed in [&other_time, &other_env, &other_mode] {
        assert_ne!(changed["digest"], first["digest"]);
    }

    // zstd layers are reproducible too, and have a golden digest of their own.
    let zstd = package(&a, &binaries, &["--compression", "zstd"], "1700000000");
    let again = package(&b, &binaries, &["--compression", "zstd"], "1700000000");
    assert_eq!(zstd["digest"], again["digest"]);
    assert_eq!(zstd["digest"], GOLDEN_ZSTD_INDEX, "the zstd image bytes changed: if on purpose, update GOLDEN_ZSTD_INDEX and say why in docs/ARCHITECTURE.md");
}
