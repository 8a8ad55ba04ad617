//! Bad input: a clear error naming what is wrong, exit 2, no panic, and
//! nothing written (in --out or outside it).

mod support;

use std::path::Path;
use std::process::Command;

use serde_json::Value;
use support::{onebin, require, run, s, stderr, Compression, LayerBuilder, Layout};

struct Case {
    _tmp: tempfile::TempDir,
    layout: Layout,
    root: Value,
    out: std::path::PathBuf,
}

fn image(layers: Vec<Vec<u8>>) -> Case {
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(&tmp.path().join("img"));
    let layers: Vec<_> = layers.into_iter().map(|l| (l, Compression::Gzip)).collect();
    let root = layout.image("linux/amd64", &layers);
    layout.set_root(&root, "t");
    let out = tmp.path().join("out");
    Case {
        _tmp: tmp,
        layout,
        root,
        out,
    }
}

fn app_layer() -> Vec<u8> {
    LayerBuilder::new()
        .file("bin/app", &vec![7u8; 200_000], 0o755)
        .tar()
}

fn manifest(case: &Case) -> Value {
    serde_json::from_slice(&std::fs::read(case.layout.blob_path(&case.root)).unwrap()).unwrap()
}

fn fails(case: &Case, path: &str, expected: &[&str]) {
    let out = onebin(&[
        "extract",
        &case.layout.reference("t"),
        "--path",
        path,
        "--out",
        case.out.to_str().unwrap(),
    ]);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(!message.contains("panicked"), "{message}");
    for e in expected {
        assert!(message.contains(e), "'{e}' not in: {message}");
    }
    assert!(
        !case.out.exists() || support::list_files(&case.out).is_empty(),
        "{:?}",
        support::list_files(&case.out)
    );
}

fn rewrite_layer(case: &Case, edit: impl Fn(&mut Vec<u8>)) -> String {
    let layer = manifest(case)["layers"][0].clone();
    let path = case.layout.blob_path(&layer);
    let mut bytes = std::fs::read(&path).unwrap();
    edit(&mut bytes);
    std::fs::write(path, bytes).unwrap();
    layer["digest"].as_str().unwrap().to_string()
}

#[test]
fn blob_that_does_not_match_its_digest() {
    let case = image(vec![app_layer()]);
    let digest = rewrite_layer(&case, |b| {
        let n = b.len() - 12;
        b[n] ^= 0xff;
    });
    fails(&case, "/bin/app", &[&digest, "linux/amd64"]);
}

#[test]
fn truncated_blob_and_broken_gzip() {
    let case = image(vec![app_layer()]);
    rewrite_layer(&case, |b| b.truncate(b.len() / 2));
    fails(&case, "/bin/app", &["linux/amd64", "layer 1 of 1"]);

    let case = image(vec![app_layer()]);
    rewrite_layer(&case, |b| {
        for x in &mut b[20..60] {
            *x = 0x55;
        }
    });
    fails(&case, "/bin/app", &["linux/amd64", "layer 1 of 1"]);
}

#[test]
fn missing_index_and_missing_blob() {
    let case = image(vec![app_layer()]);
    std::fs::remove_file(case.layout.dir.join("index.json")).unwrap();
    fails(&case, "/bin/app", &["index.json"]);

    let case = image(vec![app_layer()]);
    let layer = manifest(&case)["layers"][0].clone();
    std::fs::remove_file(case.layout.blob_path(&layer)).unwrap();
    fails(
        &case,
        "/bin/app",
        &[layer["digest"].as_str().unwrap(), "missing"],
    );

    let case = image(vec![app_layer()]);
    std::fs::write(case.layout.blob_path(&case.root), b"{not json").unwrap();
    fails(&case, "/bin/app", &[case.root["digest"].as_str().unwrap()]);
}

#[test]
fn diff_id_that_does_not_match() {
    // The config claims another uncompressed digest than the layer has.
    let case = image(vec![app_layer()]);
    let m = manifest(&case);
    let config_path = case.layout.blob_path(&m["config"]);
    let mut config: Value = serde_json::from_slice(&std::fs::read(&config_path).unwrap()).unwrap();
    config["rootfs"]["diff_ids"][0] = Value::from(format!("sha256:{}", "0".repeat(64)));
    let tmp = tempfile::tempdir().unwrap();
    let layout = Layout::new(&tmp.path().join("img"));
    let tar = app_layer();
    let layer = layout.blob(
        support::layer_media_type(Compression::Gzip),
        &support::compress(&tar, Compression::Gzip),
    );
    let config = layout.blob(
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let manifest = serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]});
    let root = layout.blob(
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    layout.set_root(&root, "t");
    let case = Case {
        out: tmp.path().join("out"),
        _tmp: tmp,
        layout,
        root,
    };
    fails(&case, "/bin/app", &["diff_id"]);
}

#[test]
fn entries_that_escape_the_root() {
    for name in ["../../escaped", "/abs/escaped", "bin/../../escaped"] {
        let layer = LayerBuilder::new()
            .file("bin/app", b"x", 0o755)
            .raw_name_file(name, b"evil")
            .tar();
        let case = image(vec![layer]);
        fails(&case, "/bin/app", &[name]);
        let parent = case.out.parent().unwrap();
        assert!(!parent.join("escaped").exists() && !Path::new("/abs/escaped").exists());
    }
}

/// A base whose layer cannot be read does not lack the interpreter: the
/// read error is the answer, and nothing is written.
#[test]
fn a_base_that_cannot_be_read_is_an_error_not_a_missing_interpreter() {
    if !require("gcc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let c = t.join("hello.c");
    std::fs::write(&c, "int main(void) { return 0; }\n").unwrap();
    let glibc = t.join("hello-glibc");
    run(Command::new("gcc").arg("-o").arg(&glibc).arg(&c));

    let layout = Layout::new(&t.join("base"));
    let layer = LayerBuilder::new().file("etc/motd", b"hello", 0o644).tar();
    let root = layout.image("linux/amd64", &[(layer, Compression::None)]);
    layout.set_root(&root, "base");
    // One byte of the file's content changed: the tar still reads, the blob
    // digest does not match.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(layout.blob_path(&root)).unwrap()).unwrap();
    let blob = layout.blob_path(&manifest["layers"][0]);
    let mut bytes = std::fs::read(&blob).unwrap();
    let at = bytes.windows(5).position(|w| w == b"hello").unwrap();
    bytes[at] = b'j';
    std::fs::write(&blob, bytes).unwrap();

    let dest = t.join("out");
    let out = onebin(&[
        "package",
        "--binary",
        &format!("linux/amd64={}", s(&glibc)),
        "--path",
        "/app",
        "--base",
        &layout.reference("base"),
        "--dest",
        &format!("oci:{}:v1", s(&dest)),
    ]);
    let message = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{message}");
    assert!(
        message.contains("content does not match its digest"),
        "{message}"
    );
    assert!(
        message.contains(manifest["layers"][0]["digest"].as_str().unwrap()),
        "{message}"
    );
    assert!(!message.contains("does not have"), "{message}");
    assert!(!dest.exists(), "{message}");
}

#[test]
fn bad_references_and_flags() {
    let case = image(vec![app_layer()]);
    let dir = case.layout.dir.to_str().unwrap();
    for (args, expected) in [
        (
            vec!["extract", "oci:/nonexistent/dir", "--path", "/x"],
            "/nonexistent/dir",
        ),
        (
            vec!["extract", &format!("oci:{dir}:nope"), "--path", "/x"],
            "no image tagged 'nope'",
        ),
        (
            vec!["extract", "ftp:a/b", "--path", "/x"],
            "unknown transport",
        ),
        (
            vec![
                "extract",
                &format!("oci:{dir}:t"),
                "--path",
                "/bin/app",
                "--platform",
                "linux",
            ],
            "invalid platform",
        ),
        (
            vec![
                "extract",
                &format!("oci:{dir}:t"),
                "--path",
                "/bin/app",
                "--name",
                "{bogus}",
            ],
            "unknown placeholder",
        ),
        (
            vec!["inspect", "docker-archive:/nonexistent.tar"],
            "/nonexistent.tar",
        ),
    ] {
        let mut args = args.clone();
        let out_dir = case.out.to_str().unwrap();
        if args[0] == "extract" {
            args.extend(["--out", out_dir]);
        }
        let out = onebin(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: '{expected}' not in {}",
            stderr(&out)
        );
        assert!(!case.out.exists(), "{args:?} created the output directory");
    }
}
