//! `onebin index create` with the loopback `docker-registry`: each runner is
//! a separate onebin process that pushes one platform; the index joins them
//! with no blob uploaded again, and skopeo and `onebin extract` read it.

mod support;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_json::{json, Value};
use support::registry::Registry;
use support::{require, run, s, stderr, stdout, Compression, LayerBuilder, Layout};

const HELLO: &str = "/usr/local/bin/hello";

fn example() -> String {
    format!(
        "oci:{}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello/image")
    )
}

fn onebin(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onebin"))
        .args(args)
        .output()
        .expect("onebin runs")
}

fn json_ok(args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = onebin(&all);
    assert!(
        out.status.success(),
        "onebin {args:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn skopeo_raw(image: &str) -> Value {
    let out = run(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", image]));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Two runners, each in its own process, push one platform each: amd64 to
/// the destination's repository, arm64 to a repository of its own.
fn runners(registry: &Registry, tmp: &Path) -> (String, String) {
    run(Command::new(env!("CARGO_BIN_EXE_onebin")).args([
        "extract",
        "--quiet",
        &example(),
        "--path",
        HELLO,
        "--out",
        s(&tmp.join("bin")),
    ]));
    let amd64 = registry.image("app:amd64");
    let arm64 = registry.image("runners/arm64/app:arm64");
    let a = tmp.join("bin/hello_linux_amd64");
    let b = tmp.join("bin/hello_linux_arm64");
    let runner_a = Command::new(env!("CARGO_BIN_EXE_onebin"))
        .args(["package", "--quiet", "--path", HELLO, "--dest", &amd64])
        .arg(format!("--binary=linux/amd64={}", a.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let runner_b = Command::new(env!("CARGO_BIN_EXE_onebin"))
        .args(["package", "--quiet", "--path", HELLO, "--dest", &arm64])
        .arg(format!("--binary=linux/arm64={}", b.display()))
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    for mut runner in [runner_a, runner_b] {
        assert!(runner.wait().unwrap().success());
    }
    (amd64, arm64)
}

#[test]
fn index_create_joins_the_runners_images_without_uploading_a_blob() {
    if !require("skopeo") {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = runners(&registry, tmp.path());
    let dest = registry.image("app:v1");

    let report = json_ok(&["index", "create", &dest, &amd64, &arm64]);
    let push = &report["push"];
    assert_eq!(push["blobs_uploaded"], 0, "{report:#}");
    assert_eq!(push["bytes_uploaded"], 0);
    // arm64's layer and config come from another repository: mounted.
    assert_eq!(push["blobs_mounted"], 2, "{report:#}");
    // amd64's are in app already.
    assert_eq!(push["blobs_existing"], 2, "{report:#}");
    assert_eq!(push["digests_match"], true);
    let digest = report["digest"].as_str().unwrap();

    // skopeo reads an index of both, whose entries are the runners' manifests.
    let raw = run(Command::new("skopeo").args(["inspect", "--raw", "--tls-verify=false", &dest]));
    assert_eq!(
        format!("sha256:{}", support::sha256_hex(&raw.stdout)),
        digest
    );
    let index: Value = serde_json::from_slice(&raw.stdout).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    let platforms: Vec<String> = entries
        .iter()
        .map(|e| {
            format!(
                "{}/{}",
                e["platform"]["os"].as_str().unwrap(),
                e["platform"]["architecture"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
    // The entries are the runners' manifests, as they pushed them.
    for (entry, runner) in entries.iter().zip([&amd64, &arm64]) {
        assert_eq!(
            entry["digest"],
            skopeo_raw(runner)["manifests"][0]["digest"]
        );
    }
    // skopeo copies the whole index out of the registry: every blob is there.
    let copy = tmp.path().join("copy");
    run(Command::new("skopeo").args([
        "copy",
        "--all",
        "--src-tls-verify=false",
        &dest,
        &format!("oci:{}:v1", copy.display()),
    ]));

    // onebin extract takes both binaries out of the index.
    let out = tmp.path().join("out");
    let extracted = json_ok(&[
        "extract",
        "--quiet",
        &dest,
        "--path",
        HELLO,
        "--out",
        s(&out),
    ]);
    assert_eq!(extracted["digest"], digest);
    for arch in ["amd64", "arm64"] {
        let name = format!("hello_linux_{arch}");
        assert_eq!(
            std::fs::read(out.join(&name)).unwrap(),
            std::fs::read(tmp.path().join("bin").join(&name)).unwrap()
        );
    }
}

#[test]
fn two_sources_for_one_platform_are_refused() {
    let Some(registry) = Registry::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, arm64) = runners(&registry, tmp.path());
    let dest = registry.image("app:v1");
    let out = onebin(&["index", "create", &dest, &amd64, &arm64, &amd64]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let err = stderr(&out);
    assert!(
        err.contains("platform linux/amd64") && err.contains(&amd64),
        "{err}"
    );
    // Nothing was tagged.
    let inspect = onebin(&["inspect", &dest]);
    assert_eq!(inspect.status.code(), Some(2));
    // A destination that is not a registry.
    let out = onebin(&["index", "create", "oci:somewhere:v1", &amd64]);
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("docker://NAME:TAG"),
        "{}",
        stderr(&out)
    );
}

/// A source as buildx writes one: an index with an image and its
/// attestation manifest (`unknown/unknown`, `vnd.docker.reference.*`).
fn with_attestation(dir: &Path) -> String {
    let layout = Layout::new(dir);
    let tar = LayerBuilder::new()
        .file("usr/local/bin/hello", b"#!/bin/sh\necho hi\n", 0o755)
        .tar();
    let image = layout.image("linux/riscv64", &[(tar, Compression::Gzip)]);
    let statement = LayerBuilder::new()
        .file(
            "provenance.json",
            br#"{"_type":"https://in-toto.io/Statement/v0.1"}"#,
            0o644,
        )
        .tar();
    let mut attestation = layout.image("unknown/unknown", &[(statement, Compression::Gzip)]);
    attestation["annotations"] = json!({
        "vnd.docker.reference.digest": image["digest"],
        "vnd.docker.reference.type": "attestation-manifest",
    });
    let index = layout.index(&[image, attestation]);
    layout.set_root(&index, "v1");
    layout.reference("v1")
}

#[test]
fn attestations_are_kept_or_dropped() {
    if !require("skopeo") {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let (amd64, _) = runners(&registry, tmp.path());
    let source = with_attestation(&tmp.path().join("buildx"));

    let kept = json_ok(&[
        "index",
        "create",
        &registry.image("app:kept"),
        &amd64,
        &source,
    ]);
    assert_eq!(kept["attestations_kept"], 1);
    let index = skopeo_raw(&registry.image("app:kept"));
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 3, "{index:#}");
    assert_eq!(
        entries[2]["annotations"]["vnd.docker.reference.type"],
        "attestation-manifest"
    );
    assert_eq!(
        entries[2]["annotations"]["vnd.docker.reference.digest"],
        entries[1]["digest"]
    );
    assert_eq!(entries[2]["platform"]["os"], "unknown");

    let dropped = json_ok(&[
        "index",
        "create",
        "--drop-attestations",
        &registry.image("app:dropped"),
        &amd64,
        &source,
    ]);
    assert_eq!(dropped["attestations_dropped"], 1);
    let index = skopeo_raw(&registry.image("app:dropped"));
    assert_eq!(index["manifests"].as_array().unwrap().len(), 2, "{index:#}");
}
