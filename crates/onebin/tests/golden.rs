//! The bytes `package` writes are decided by its inputs alone. This digest is
//! the guard: if it changes, the image bytes changed, and that must be a
//! deliberate decision, written down in docs/ARCHITECTURE.md (ADR-0007).

mod support;

use std::path::Path;

use serde_json::Value;
use support::{binary_args, isolated::onebin_in, strs};

/// The index digest of the example binaries packaged with the flags below.
const GOLDEN_INDEX: &str =
    "sha256:977a61604af5fb994bad632a1c68b70d477734a279d9c99813ff026c3d1ed63d";

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
}
