//! The bytes `package` writes are decided by its inputs alone. This digest is
//! the guard: if it changes, the image bytes changed, and that must be a
//! deliberate decision, written down in docs/ARCHITECTURE.md (ADR-0007).

mod support;

use std::path::Path;

use serde_json::Value;
use support::{binary_args, isolated::onebin_in, strs};

/// The index digest of the example binaries packaged with the flags below.
const GOLDEN_INDEX: &str =
    "sha256:1dbf7c6503dea91843404fee54f9f483ab33e2eb11b70dfeee0e2c9ffd1e7522";
/// The same with `--compression zstd`.
const GOLDEN_ZSTD_INDEX: &str =
    "sha256:614b71b7ede70a1b163825486d10eaa718a60c3181bc09d35523dc5df0533fda";

/// Runs onebin outside any git checkout and without CI variables, so that
/// no provenance label depends on where the test runs.
fn package(dir: &Path, binaries: &Path, extra: &[&str], epoch: &str) -> Value {
    let mut args = vec!["package".to_string()];
    args.extend(binary_args(&[
        ("linux/amd64", binaries.join("hello_linux_amd64")),
        ("linux/arm64", binaries.join("hello_linux_arm64")),
    ]));
    let flags = [
        "--path",
        "/usr/local/bin/hello",
        "--dest",
        "oci-archive:image.tar:v1",
        "--env",
        "GREETING=hello",
        "--label",
        "org.opencontainers.image.source=https://example.com/hello",
        "--json",
    ];
    args.extend(flags.iter().chain(extra).map(|a| a.to_string()));
    let out = onebin_in(dir, &strs(&args), &[("SOURCE_DATE_EPOCH", epoch)]);
    assert!(out.status.success(), "{}", support::stderr(&out));
    serde_json::from_slice(&out.stdout).unwrap()
}

fn example_binaries(into: &Path) {
    support::extract_json(support::EXAMPLE_IMAGE, "/usr/local/bin/hello", into, &[]);
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
