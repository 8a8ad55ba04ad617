//! Images written by real tools (umoci, skopeo, the Go toolchain), read back
//! by onebin and checked byte for byte against what the same tools unpack.
//! Nothing here is hard-coded: every expected byte comes from the tool.

mod support;

use std::collections::VecDeque;
use std::fs;
use std::io::Read;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::{
    extract_fails, extract_json, extract_one, list_files, noise, onebin, require, run, s,
    sha256_hex, skopeo, stderr, Layout,
};

fn umoci(args: &[&str]) {
    run(Command::new("umoci").args(args));
}

fn write(path: &Path, bytes: &[u8], mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// Sets a file's mtime (seconds) without following symlinks, with `touch`.
fn set_mtime(path: &Path, secs: u64) {
    run(Command::new("touch").args(["-h", "-d", &format!("@{secs}"), s(path)]));
}

/// Resolves `path` inside `root` the way the kernel would inside a chroot at
/// `root`: every symlink, in the last component or a parent, is followed;
/// absolute targets start again at `root`; `..` at `root` stays at `root`.
/// Returns the host path of the file that a process would open.
fn resolve_in_root(root: &Path, path: &str) -> PathBuf {
    let mut pending: VecDeque<String> = path.split('/').map(str::to_string).collect();
    let mut current: Vec<String> = Vec::new();
    let mut followed = 0;
    while let Some(part) = pending.pop_front() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                current.pop();
                continue;
            }
            _ => current.push(part),
        }
        let host = root.join(current.join("/"));
        let meta = fs::symlink_metadata(&host)
            .unwrap_or_else(|e| panic!("{path}: {} in the unpacked rootfs: {e}", host.display()));
        if meta.file_type().is_symlink() {
            followed += 1;
            assert!(
                followed <= 40,
                "{path}: symlink loop in the unpacked rootfs"
            );
            let target = fs::read_link(&host).unwrap();
            let target = target.to_str().unwrap();
            current.pop();
            if target.starts_with('/') {
                current.clear();
            }
            for p in target.split('/').rev() {
                pending.push_front(p.to_string());
            }
        }
    }
    root.join(current.join("/"))
}

/// The manifest that `oci:DIR:TAG` names, read from the layout as written.
fn layout_manifest(layout: &Path, tag: &str) -> Value {
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entry = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == json!(tag))
        .unwrap_or_else(|| panic!("{}: no tag {tag}", layout.display()))
        .clone();
    blob_json(layout, entry["digest"].as_str().unwrap())
}

/// The only entry of a layout's index.json.
fn layout_root_descriptor(layout: &Path) -> Value {
    let index: Value =
        serde_json::from_slice(&fs::read(layout.join("index.json")).unwrap()).unwrap();
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 1, "{index:#}");
    entries[0].clone()
}

fn blob_path(layout: &Path, digest: &str) -> PathBuf {
    layout
        .join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

fn blob_json(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&fs::read(blob_path(layout, digest)).unwrap()).unwrap()
}

/// Every entry name of a layer blob, whatever its compression.
fn layer_entries(blob: &Path) -> Vec<String> {
    let raw = fs::read(blob).unwrap();
    let tar: Vec<u8> = match raw.as_slice() {
        [0x1f, 0x8b, ..] => {
            let mut out = Vec::new();
            flate2::read::MultiGzDecoder::new(raw.as_slice())
                .read_to_end(&mut out)
                .unwrap();
            out
        }
        [0x28, 0xb5, 0x2f, 0xfd, ..] => zstd::decode_all(raw.as_slice()).unwrap(),
        _ => raw,
    };
    // `umoci insert` (0.4.7) ends its tars without the last entry's padding
    // and the end-of-archive blocks; Go's archive/tar reads that as a clean
    // end, so pad the stream as if it were complete, to read what it lists.
    let mut tar = tar;
    tar.resize(tar.len() + 1024 + 511, 0);
    let mut archive = tar::Archive::new(tar.as_slice());
    archive
        .entries()
        .unwrap()
        .map(|e| {
            e.unwrap()
                .path()
                .unwrap()
                .to_string_lossy()
                .trim_start_matches("./")
                .to_string()
        })
        .collect()
}

/// The digest and 1-based position (bottom first) of the only layer of the
/// image whose tar holds `entry`, as the tool wrote it.
fn layer_with_entry(layout: &Path, tag: &str, entry: &str) -> (String, usize) {
    let manifest = layout_manifest(layout, tag);
    let hits: Vec<(String, usize)> = manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, l)| {
            let digest = l["digest"].as_str().unwrap();
            layer_entries(&blob_path(layout, digest))
                .iter()
                .any(|n| n == entry)
        })
        .map(|(i, l)| (l["digest"].as_str().unwrap().to_string(), i + 1))
        .collect();
    assert_eq!(hits.len(), 1, "layers holding {entry}: {hits:?}");
    hits[0].clone()
}

/// What the image builder below puts in, for the checks to refer to.
struct Built {
    layout: PathBuf,
    /// `oci:LAYOUT:t`.
    image: String,
    /// `umoci unpack` of the finished image: the reference filesystem.
    rootfs: PathBuf,
    app_v1: Vec<u8>,
    app_v2: Vec<u8>,
}

/// Paths that must extract from the two-layer image, each compared with the
/// unpacked rootfs.
const PRESENT: &[&str] = &[
    "/usr/bin/app",              // replaced in layer 2 (same size, same mtime)
    "/usr/bin/tool",             // layer 1, untouched, mode 0750
    "/usr/bin/hard",             // a hard link umoci wrote for tool
    "/usr/local/bin/abs",        // absolute symlink -> /usr/bin/tool
    "/usr/local/bin/rel",        // relative symlink -> ../../bin/app (replaced file)
    "/usr/local/bin/chain",      // symlink to a symlink
    "/opt/app/bin/app-1",        // through an absolute directory symlink
    "/opt/current/added",        // relative directory symlink, file added in layer 2
    "/opt/current/through-link", // a file written through the directory symlink
    "/escape",                   // relative symlink with too many `..`
];

/// Paths that must extract once `umoci insert` has added three layers.
const INSERTED: &[&str] = &[
    "/etc/inserted.conf",   // `umoci insert` of a file (layer 3)
    "/etc/conf.d/new.conf", // `umoci insert --opaque` of a directory (layer 4)
];

/// Unpacks the image as it now is into a new bundle: the reference rootfs.
fn unpack(image: &str, bundle: &Path) -> PathBuf {
    umoci(&["unpack", "--rootless", "--image", image, s(bundle)]);
    bundle.join("rootfs")
}

/// An image of two layers made with `umoci repack`: 1. a fresh bundle;
/// 2. a second bundle unpacked from 1, changed (replace, rm, rm -r, symlinks).
fn build_umoci_image(tmp: &Path) -> Built {
    let layout = tmp.join("layout");
    let image = format!("{}:t", s(&layout));
    umoci(&["init", "--layout", s(&layout)]);
    umoci(&["new", "--image", &image]);

    // Layer 1.
    let b1 = tmp.join("bundle1");
    let r = unpack(&image, &b1);
    let app_v1 = noise(1, 300_000);
    write(&r.join("usr/bin/app"), &app_v1, 0o755);
    set_mtime(&r.join("usr/bin/app"), 1_600_000_000);
    write(&r.join("usr/bin/tool"), &noise(2, 70_000), 0o750);
    fs::hard_link(r.join("usr/bin/tool"), r.join("usr/bin/hard")).unwrap();
    write(&r.join("usr/bin/gone"), b"deleted in layer 2\n", 0o755);
    write(
        &r.join("opt/olddir/f"),
        b"in a directory deleted in layer 2\n",
        0o644,
    );
    write(&r.join("srv/app-v1/bin/app-1"), &noise(3, 50_000), 0o755);
    write(
        &r.join("etc/conf.d/old.conf"),
        b"hidden by an opaque directory\n",
        0o644,
    );
    write(
        &r.join("etc/removed.conf"),
        b"whited out by umoci insert\n",
        0o644,
    );
    fs::create_dir_all(r.join("usr/local/bin")).unwrap();
    umoci(&["repack", "--image", &image, s(&b1)]);

    // Layer 2: repack is relative to what the bundle was unpacked from, so a
    // new bundle from the image as it now is.
    let b2 = tmp.join("bundle2");
    let r = unpack(&image, &b2);
    // Same size and same mtime as v1: only the content tells them apart.
    let app_v2 = noise(4, 300_000);
    write(&r.join("usr/bin/app"), &app_v2, 0o755);
    set_mtime(&r.join("usr/bin/app"), 1_600_000_000);
    fs::remove_file(r.join("usr/bin/gone")).unwrap();
    fs::remove_dir_all(r.join("opt/olddir")).unwrap();
    symlink("/usr/bin/tool", r.join("usr/local/bin/abs")).unwrap();
    symlink("../../bin/app", r.join("usr/local/bin/rel")).unwrap();
    symlink("abs", r.join("usr/local/bin/chain")).unwrap();
    symlink("/srv/app-v1", r.join("opt/app")).unwrap();
    write(&r.join("opt/app-v2/added"), &noise(5, 20_000), 0o755);
    symlink("app-v2", r.join("opt/current")).unwrap();
    // Relative, so the host follows it inside the rootfs too.
    write(
        &r.join("opt/current/through-link"),
        b"written through opt/current\n",
        0o644,
    );
    symlink("../../../../usr/bin/tool", r.join("escape")).unwrap();
    umoci(&["repack", "--image", &image, s(&b2)]);

    let rootfs = unpack(&image, &tmp.join("unpacked"));
    Built {
        image: format!("oci:{image}"),
        layout,
        rootfs,
        app_v1,
        app_v2,
    }
}

/// Extracts every path of `paths` from `image` and compares the bytes (and
/// permission bits) with the file that path resolves to in `rootfs`.
fn check_present(image: &str, paths: &[&str], rootfs: &Path, out_root: &Path) {
    for (i, path) in paths.iter().enumerate() {
        let out = out_root.join(format!("present-{i}"));
        let (bytes, file) = extract_one(image, path, &out);
        let expected_at = resolve_in_root(rootfs, path);
        let expected = fs::read(&expected_at).unwrap();
        assert!(
            bytes == expected,
            "{image} {path}: {} bytes extracted (sha256 {}), but {} has {} bytes (sha256 {})",
            bytes.len(),
            sha256_hex(&bytes),
            expected_at.display(),
            expected.len(),
            sha256_hex(&expected)
        );
        let resolved = format!("/{}", expected_at.strip_prefix(rootfs).unwrap().display());
        assert_eq!(file["resolved_path"], json!(resolved), "{image} {path}");
        let want_mode = fs::metadata(&expected_at).unwrap().permissions().mode() & 0o7777;
        let got_mode = fs::metadata(file["output"].as_str().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(
            got_mode, want_mode,
            "{image} {path}: mode {got_mode:o}, unpacked {want_mode:o}"
        );
    }
}

/// Paths deleted by a layer: absent from umoci's unpack, and an exit 2 from
/// onebin that names the layer holding `marker` (found by reading the layers
/// as the tool wrote them) and says `word`.
fn check_absent(built: &Built, rootfs: &Path, cases: &[(&str, &str, &str)], out_root: &Path) {
    let total = layout_manifest(&built.layout, "t")["layers"]
        .as_array()
        .unwrap()
        .len();
    for (i, (path, marker, word)) in cases.iter().enumerate() {
        assert!(
            fs::symlink_metadata(rootfs.join(&path[1..])).is_err(),
            "umoci unpacked {path}, which should be deleted"
        );
        let (digest, position) = layer_with_entry(&built.layout, "t", marker);
        let err = extract_fails(&built.image, path, &out_root.join(format!("absent-{i}")));
        assert!(
            err.contains(word),
            "{path}: stderr does not say {word}:\n{err}"
        );
        assert!(
            err.contains(&digest),
            "{path}: stderr does not name layer {digest}:\n{err}"
        );
        assert!(
            err.contains(&format!("layer {position} of {total}")),
            "{path}: {err}"
        );
        assert!(err.contains(path), "{path}: {err}");
    }
}

#[test]
fn umoci_repack_layers_match_umoci_unpack() {
    if !require("umoci") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let built = build_umoci_image(tmp.path());
    let image = &built.image;
    let manifest = layout_manifest(&built.layout, "t");
    assert_eq!(manifest["layers"].as_array().unwrap().len(), 2);

    // The replacement really is in the image, as umoci itself sees it.
    let unpacked_app = fs::read(built.rootfs.join("usr/bin/app")).unwrap();
    assert!(unpacked_app == built.app_v2 && unpacked_app != built.app_v1);

    check_present(image, PRESENT, &built.rootfs, tmp.path());

    // The layer holding the content is named: the replaced app is layer 2's,
    // the untouched tool layer 1's, though its symlink is in layer 2.
    let layer = |path: &str, out: &str| {
        let report = extract_json(image, path, &tmp.path().join(out), &[]);
        assert_eq!(report["files"][0]["layers_total"], json!(2));
        report["files"][0]["layer"].clone()
    };
    assert_eq!(
        layer("/usr/local/bin/rel", "rel"),
        manifest["layers"][1]["digest"]
    );
    assert_eq!(
        layer("/usr/local/bin/abs", "abs"),
        manifest["layers"][0]["digest"]
    );

    check_absent(
        &built,
        &built.rootfs,
        &[
            ("/usr/bin/gone", "usr/bin/.wh.gone", "whiteout"),
            ("/opt/olddir/f", "opt/.wh.olddir", "whiteout"),
        ],
        tmp.path(),
    );

    // A directory is not a file, even through a symlink.
    let err = extract_fails(image, "/opt/app", &tmp.path().join("dir"));
    assert!(err.contains("directory"), "{err}");
}

#[test]
fn umoci_insert_layers_match_umoci_unpack() {
    if !require("umoci") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let built = build_umoci_image(tmp.path());
    let image = format!("{}:t", s(&built.layout));

    // Layers 3 to 5, each a single `umoci insert`.
    let inserted = tmp.path().join("inserted.conf");
    write(&inserted, b"inserted by umoci insert\n", 0o640);
    umoci(&[
        "insert",
        "--image",
        &image,
        s(&inserted),
        "/etc/inserted.conf",
    ]);
    let confd = tmp.path().join("conf.d");
    write(
        &confd.join("new.conf"),
        b"the only file of the opaque conf.d\n",
        0o644,
    );
    umoci(&[
        "insert",
        "--image",
        &image,
        "--opaque",
        s(&confd),
        "/etc/conf.d",
    ]);
    umoci(&[
        "insert",
        "--image",
        &image,
        "--whiteout",
        "/etc/removed.conf",
    ]);
    let rootfs = unpack(&image, &tmp.path().join("unpacked-inserted"));
    let layers = layout_manifest(&built.layout, "t")["layers"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(layers, 5, "two repacks and three inserts");

    check_present(&built.image, PRESENT, &rootfs, &tmp.path().join("old"));
    check_present(&built.image, INSERTED, &rootfs, &tmp.path().join("new"));
    check_absent(
        &built,
        &rootfs,
        &[
            ("/usr/bin/gone", "usr/bin/.wh.gone", "whiteout"),
            ("/etc/conf.d/old.conf", "etc/conf.d/.wh..wh..opq", "opaque"),
            ("/etc/removed.conf", "etc/.wh.removed.conf", "whiteout"),
        ],
        tmp.path(),
    );
}

#[test]
fn skopeo_transports_give_the_same_bytes() {
    if !require("umoci") || !require("skopeo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let built = build_umoci_image(tmp.path());
    let source = built.image.clone();

    let oci_archive = tmp.path().join("image-oci.tar");
    let docker_archive = tmp.path().join("image-docker.tar");
    let oci_copy = tmp.path().join("copy");
    let zstd_copy = tmp.path().join("zstd");
    skopeo::copy(
        tmp.path(),
        &[&source, &format!("oci-archive:{}:t", s(&oci_archive))],
    );
    skopeo::copy(
        tmp.path(),
        &[
            "--additional-tag",
            "onebin-interop:extra",
            &source,
            &format!(
                "docker-archive:{}:example.com/onebin/app:v1",
                s(&docker_archive)
            ),
        ],
    );
    skopeo::copy(tmp.path(), &[&source, &format!("oci:{}:t", s(&oci_copy))]);
    skopeo::copy(
        tmp.path(),
        &[
            "--dest-compress-format",
            "zstd",
            &source,
            &format!("oci:{}:t", s(&zstd_copy)),
        ],
    );

    // skopeo really wrote zstd layers.
    let zstd_layers = layout_manifest(&zstd_copy, "t")["layers"]
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(zstd_layers.len(), 2);
    for layer in &zstd_layers {
        assert_eq!(
            layer["mediaType"],
            json!("application/vnd.oci.image.layer.v1.tar+zstd")
        );
        let blob = fs::read(blob_path(&zstd_copy, layer["digest"].as_str().unwrap())).unwrap();
        assert_eq!(&blob[..4], &[0x28, 0xb5, 0x2f, 0xfd], "not a zstd frame");
    }
    // docker-archive holds both tags (the short one as docker.io/library/...).
    let mut archive = tar::Archive::new(fs::File::open(&docker_archive).unwrap());
    let manifest = archive
        .entries()
        .unwrap()
        .map(|e| e.unwrap())
        .find_map(|mut e| {
            (e.path().unwrap().to_str() == Some("manifest.json")).then(|| {
                let mut text = String::new();
                e.read_to_string(&mut text).unwrap();
                text
            })
        })
        .unwrap();
    assert!(
        manifest.contains("example.com/onebin/app:v1") && manifest.contains("onebin-interop:extra"),
        "{manifest}"
    );

    let images = [
        format!("oci-archive:{}:t", s(&oci_archive)),
        format!("oci-archive:{}", s(&oci_archive)),
        format!("docker-archive:{}", s(&docker_archive)),
        format!(
            "docker-archive:{}:example.com/onebin/app:v1",
            s(&docker_archive)
        ),
        format!("docker-archive:{}:onebin-interop:extra", s(&docker_archive)),
        format!("oci:{}:t", s(&oci_copy)),
        format!("oci:{}:t", s(&zstd_copy)),
    ];
    for (n, image) in images.iter().enumerate() {
        let out = tmp.path().join(format!("image-{n}"));
        check_present(image, PRESENT, &built.rootfs, &out);
        let err = extract_fails(image, "/usr/bin/gone", &out.join("gone"));
        assert!(
            err.contains("whiteout") && err.contains("layer 2 of 2"),
            "{image}: {err}"
        );
        let err = extract_fails(image, "/opt/olddir/f", &out.join("olddir"));
        assert!(
            err.contains("whiteout") && err.contains("/opt/olddir"),
            "{image}: {err}"
        );
    }
    // The zstd copy names its own (zstd) layer blobs.
    let (digest, _) = layer_with_entry(&zstd_copy, "t", "usr/bin/.wh.gone");
    let err = extract_fails(&images[6], "/usr/bin/gone", &tmp.path().join("zstd-gone"));
    assert!(err.contains(&digest), "{err}");

    // A tag the archive lacks is an error that lists what it has.
    let err = extract_fails(
        &format!("docker-archive:{}:nope:v9", s(&docker_archive)),
        "/usr/bin/app",
        &tmp.path().join("nope"),
    );
    assert!(err.contains("example.com/onebin/app:v1"), "{err}");
}

/// Builds a hello-world Go program for linux/`arch`, statically linked.
fn go_build(tmp: &Path, arch: &str) -> PathBuf {
    let src = tmp.join("gosrc");
    if !src.exists() {
        for (name, text) in [
            ("go.mod", "module example.com/app\n\ngo 1.19\n"),
            (
                "main.go",
                "package main\n\nfunc main() { println(\"hello from the onebin interop test\") }\n",
            ),
        ] {
            write(&src.join(name), text.as_bytes(), 0o644);
        }
    }
    let out = tmp.join(format!("app-{arch}"));
    run(support::go::command("go", &src, &tmp.join("gopath"))
        .args(["build", "-trimpath", "-o", s(&out), "."])
        .env("GOARCH", arch));
    out
}

#[test]
fn multi_arch_index_from_umoci_images() {
    if !require("umoci") || !require("go") || !require("skopeo") || !require("sha256sum") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let layout_dir = t.join("multi");
    umoci(&["init", "--layout", s(&layout_dir)]);

    // One umoci image per architecture, each holding the Go binary built for it.
    let mut binaries = Vec::new();
    let mut descriptors = Vec::new();
    let mut top_layers = Vec::new();
    for arch in ["amd64", "arm64"] {
        let binary = go_build(t, arch);
        let image = format!("{}:{arch}", s(&layout_dir));
        umoci(&["new", "--image", &image]);
        umoci(&[
            "config",
            "--image",
            &image,
            "--os",
            "linux",
            "--architecture",
            arch,
        ]);
        let bundle = t.join(format!("bundle-{arch}"));
        umoci(&["unpack", "--rootless", "--image", &image, s(&bundle)]);
        write(
            &bundle.join("rootfs/usr/local/bin/app"),
            &fs::read(&binary).unwrap(),
            0o755,
        );
        umoci(&["repack", "--image", &image, s(&bundle)]);

        let index: Value =
            serde_json::from_slice(&fs::read(layout_dir.join("index.json")).unwrap()).unwrap();
        let mut descriptor = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == json!(arch))
            .unwrap()
            .clone();
        descriptor.as_object_mut().unwrap().remove("annotations");
        // As buildx writes it: arm64 carries its implied variant.
        descriptor["platform"] = if arch == "arm64" {
            json!({"os": "linux", "architecture": "arm64", "variant": "v8"})
        } else {
            json!({"os": "linux", "architecture": arch})
        };
        top_layers.push(layout_manifest(&layout_dir, arch)["layers"][0]["digest"].clone());
        binaries.push(fs::read(&binary).unwrap());
        descriptors.push(descriptor);
    }

    // A buildx-style provenance attestation beside them.
    let layout = Layout {
        dir: layout_dir.clone(),
    };
    let statement = json!({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://slsa.dev/provenance/v0.2",
        "subject": [{"name": "app", "digest": {"sha256": descriptors[0]["digest"].as_str().unwrap().trim_start_matches("sha256:")}}],
        "predicate": {"builder": {"id": "onebin-interop-test"}},
    })
    .to_string();
    let mut statement_layer = layout.blob("application/vnd.in-toto+json", statement.as_bytes());
    statement_layer["annotations"] =
        json!({"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"});
    let att_config = json!({
        "architecture": "unknown", "os": "unknown", "config": {},
        "rootfs": {"type": "layers", "diff_ids": [format!("sha256:{}", sha256_hex(statement.as_bytes()))]},
    });
    let att_config = layout.blob(
        "application/vnd.oci.image.config.v1+json",
        att_config.to_string().as_bytes(),
    );
    let att_manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": att_config,
        "layers": [statement_layer],
    });
    let mut attestation = layout.blob(
        "application/vnd.oci.image.manifest.v1+json",
        att_manifest.to_string().as_bytes(),
    );
    attestation["platform"] = json!({"os": "unknown", "architecture": "unknown"});
    attestation["annotations"] = json!({
        "vnd.docker.reference.digest": descriptors[0]["digest"],
        "vnd.docker.reference.type": "attestation-manifest",
    });
    let mut entries = descriptors.clone();
    entries.push(attestation);
    let root = layout.index(&entries);
    layout.set_root(&root, "t");
    let image = layout.reference("t");

    // Every platform, named after it, with a checksums file sha256sum accepts.
    let out = t.join("dist");
    let report = extract_json(&image, "/usr/local/bin/app", &out, &[]);
    assert_eq!(
        list_files(&out),
        ["app_linux_amd64", "app_linux_arm64", "checksums.txt"]
    );
    assert_eq!(fs::read(out.join("app_linux_amd64")).unwrap(), binaries[0]);
    assert_eq!(fs::read(out.join("app_linux_arm64")).unwrap(), binaries[1]);
    run(Command::new("sha256sum")
        .args(["--check", "--strict", "checksums.txt"])
        .current_dir(&out));
    let sums = fs::read_to_string(out.join("checksums.txt")).unwrap();
    assert_eq!(sums.lines().count(), 2, "{sums}");

    assert_eq!(report["image"], json!(image));
    assert_eq!(report["digest"], root["digest"]);
    let files = report["files"].as_array().unwrap();
    assert_eq!(
        files.len(),
        2,
        "the attestation is not a platform: {report:#}"
    );
    for (i, (file, arch)) in files.iter().zip(["amd64", "arm64"]).enumerate() {
        let binary = &binaries[i];
        assert_eq!(file["platform"], json!(format!("linux/{arch}")));
        assert_eq!(file["path"], json!("/usr/local/bin/app"));
        assert_eq!(
            file["output"],
            json!(s(&out.join(format!("app_linux_{arch}"))))
        );
        assert_eq!(file["sha256"], json!(sha256_hex(binary)));
        assert_eq!(file["size"], json!(binary.len()));
        assert_eq!(file["layer"], top_layers[i]);
        assert!(
            sums.contains(&format!("{}  app_linux_{arch}\n", sha256_hex(binary))),
            "{sums}"
        );
    }

    // One platform, by its full name.
    let out = t.join("arm64");
    let report = extract_json(
        &image,
        "/usr/local/bin/app",
        &out,
        &["--platform", "linux/arm64/v8"],
    );
    assert_eq!(list_files(&out), ["app_linux_arm64", "checksums.txt"]);
    assert_eq!(report["files"][0]["platform"], json!("linux/arm64"));
    assert_eq!(fs::read(out.join("app_linux_arm64")).unwrap(), binaries[1]);

    // A platform the image lacks.
    let out = t.join("s390x");
    let o = onebin(&[
        "extract",
        "--quiet",
        &image,
        "--path",
        "/usr/local/bin/app",
        "--platform",
        "linux/s390x",
        "--out",
        s(&out),
    ]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("linux/s390x"), "{}", stderr(&o));
    assert!(list_files(&out).is_empty(), "{:?}", list_files(&out));

    // skopeo copies the whole index, attestation included; same result.
    let copy = t.join("copied");
    skopeo::copy(t, &["--all", &image, &format!("oci:{}:t", s(&copy))]);
    let copied_root = layout_root_descriptor(&copy);
    let copied_index = blob_json(&copy, copied_root["digest"].as_str().unwrap());
    let kept: Vec<&Value> = copied_index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .collect();
    assert_eq!(
        kept.len(),
        3,
        "skopeo --all kept the attestation: {copied_index:#}"
    );
    let out = t.join("dist-copy");
    let report = extract_json(
        &format!("oci:{}:t", s(&copy)),
        "/usr/local/bin/app",
        &out,
        &[],
    );
    assert_eq!(
        list_files(&out),
        ["app_linux_amd64", "app_linux_arm64", "checksums.txt"]
    );
    assert_eq!(fs::read(out.join("app_linux_amd64")).unwrap(), binaries[0]);
    assert_eq!(fs::read(out.join("app_linux_arm64")).unwrap(), binaries[1]);
    assert_eq!(report["files"].as_array().unwrap().len(), 2);
    run(Command::new("sha256sum")
        .args(["--check", "--strict", "checksums.txt"])
        .current_dir(&out));
}
