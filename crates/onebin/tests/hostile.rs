//! Hostile images: each test builds, small on disk, an input made to cost
//! unbounded memory or time or to smuggle something out, and checks the safe
//! outcome (exit 2 with a message, or bounded work) and a bound on the peak
//! memory of the onebin process.

mod support;

use std::io::Write;

use serde_json::{json, Value};
use support::*;

const MIB: u64 = 1 << 20;

/// An image manifest over layer blobs given as (stored bytes, diff_id), bottom first.
fn image_of_blobs(layout: &Layout, platform: Value, layers: &[(Vec<u8>, String)]) -> Value {
    let config = json!({
        "architecture": platform["architecture"], "os": platform["os"],
        "variant": platform.get("variant").cloned().unwrap_or(Value::Null),
        "rootfs": {"type": "layers", "diff_ids": layers.iter().map(|l| &l.1).collect::<Vec<_>>()},
        "config": {},
    });
    let config = layout.blob(
        "application/vnd.oci.image.config.v1+json",
        config.to_string().as_bytes(),
    );
    let layers: Vec<Value> = layers
        .iter()
        .map(|(bytes, _)| layout.blob("application/vnd.oci.image.layer.v1.tar+gzip", bytes))
        .collect();
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config, "layers": layers,
    });
    let mut descriptor = layout.blob(
        "application/vnd.oci.image.manifest.v1+json",
        manifest.to_string().as_bytes(),
    );
    descriptor["platform"] = platform;
    descriptor
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

/// A gzip layer whose first tar header announces a `kind` record of `size`
/// bytes, followed by that many zeros: gzip members of 1 MiB each, so a
/// 512 MiB record takes half a megabyte on disk.
fn layer_with_huge_record(kind: tar::EntryType, size_mib: u64) -> Vec<u8> {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_path("././@LongLink").unwrap();
    header.set_size(size_mib * MIB);
    header.set_mode(0o644);
    header.set_cksum();
    let mut blob = gzip(header.as_bytes());
    let zeros = gzip(&vec![0u8; MIB as usize]);
    for _ in 0..size_mib {
        blob.extend_from_slice(&zeros);
    }
    blob.extend_from_slice(&gzip(&LayerBuilder::new().file("x", b"x", 0o644).tar()));
    blob
}

#[test]
fn oversized_tar_header_records_are_refused_before_they_are_read() {
    for (kind, what) in [
        (tar::EntryType::GNULongName, "GNU long name"),
        (tar::EntryType::GNULongLink, "GNU long link"),
        (tar::EntryType::XHeader, "PAX header"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let layout = Layout::new(&dir.path().join("image"));
        let base = LayerBuilder::new()
            .file("usr/local/bin/app", b"the app", 0o755)
            .tar();
        // The wanted file is in the base; the top layer must still be read to
        // know that it does not hide it.
        let layers = [
            (gzip(&base), format!("sha256:{}", sha256_hex(&base))),
            (
                layer_with_huge_record(kind, 512),
                format!("sha256:{}", "0".repeat(64)),
            ),
        ];
        let image = image_of_blobs(
            &layout,
            json!({"os": "linux", "architecture": "amd64"}),
            &layers,
        );
        layout.set_root(&layout.index(&[image]), "v1");
        let out_dir = dir.path().join("dist");
        let (out, rss) = onebin_peak_rss(&[
            "extract",
            &layout.reference("v1"),
            "--path",
            "/usr/local/bin/app",
            "--out",
            s(&out_dir),
        ]);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(
            err.contains(what) && err.contains("exceeds the 1 MiB limit"),
            "{err}"
        );
        assert!(err.contains("layer 2 of 2"), "names the layer: {err}");
        assert!(rss < 100 * MIB, "{what}: peak RSS {} MiB", rss / MIB);
        assert!(!out_dir.exists());
    }
}

#[test]
fn nested_indexes_that_multiply_stop_at_the_descriptor_cap() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("image"));
    let app = LayerBuilder::new().file("app", b"app", 0o755).tar();
    let mut level = layout.image("linux/amd64", &[(app, Compression::Gzip)]);
    // 200 × 200 × 200 = 8 million visits from a few hundred kilobytes.
    for _ in 0..3 {
        level = layout.index(&vec![level; 200]);
    }
    layout.set_root(&level, "v1");
    let (out, rss) = onebin_peak_rss(&["inspect", &layout.reference("v1")]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("more than 16384 descriptors"), "{err}");
    assert!(rss < 100 * MIB, "peak RSS {} MiB", rss / MIB);
}

#[test]
fn an_index_of_thousands_of_platforms_is_read_with_bounded_memory() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("image"));
    let app = LayerBuilder::new().file("app", b"app", 0o755).tar();
    let manifests: Vec<Value> = (0..2000)
        .map(|i| {
            layout.image(
                &format!("linux/amd64/v{i}"),
                &[(app.clone(), Compression::Gzip)],
            )
        })
        .collect();
    layout.set_root(&layout.index(&manifests), "v1");
    let out_dir = dir.path().join("dist");
    let (out, rss) = onebin_peak_rss(&[
        "extract",
        &layout.reference("v1"),
        "--path",
        "/app",
        "--out",
        s(&out_dir),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(list_files(&out_dir).len(), 2001);
    // A thread per platform took about 100 MiB here; a worker per core, about 25.
    assert!(rss < 60 * MIB, "peak RSS {} MiB", rss / MIB);
}

#[test]
fn control_characters_in_platform_strings_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("image"));
    let app = LayerBuilder::new().file("app", b"app", 0o755).tar();
    let forged = "v8\n0000000000000000000000000000000000000000000000000000000000000000  evil";
    let mut image = layout.image("linux/arm64", &[(app, Compression::Gzip)]);
    image["platform"]["variant"] = json!(forged);
    layout.set_root(&layout.index(&[image]), "v1");
    let out_dir = dir.path().join("dist");
    let err = extract_fails(&layout.reference("v1"), "/app", &out_dir);
    assert!(
        err.contains(r#""v8\n0000"#),
        "escaped in the message: {err}"
    );
    assert!(!err.contains('\n') || err.lines().count() == 1, "{err}");
    assert!(!out_dir.exists());
}

#[test]
fn an_image_listing_one_platform_twice_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("image"));
    let a = LayerBuilder::new().file("app", b"one", 0o755).tar();
    let b = LayerBuilder::new().file("app", b"two", 0o755).tar();
    let one = layout.image("linux/amd64", &[(a, Compression::Gzip)]);
    let two = layout.image("linux/amd64", &[(b, Compression::Gzip)]);
    layout.set_root(&layout.index(&[one, two]), "v1");
    let err = extract_fails(&layout.reference("v1"), "/app", &dir.path().join("dist"));
    assert!(
        err.contains("lists platform linux/amd64 twice") && err.contains("--platform"),
        "{err}"
    );
}

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello/image");

/// The example image's linux/amd64 binary, extracted into `dir`.
fn example_binary(dir: &std::path::Path) -> Vec<u8> {
    let out = onebin(&[
        "extract",
        &format!("oci:{EXAMPLE}"),
        "--path",
        "/usr/local/bin/hello",
        "--platform",
        "linux/amd64",
        "--out",
        s(dir),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    std::fs::read(dir.join("hello_linux_amd64")).unwrap()
}

#[test]
fn verify_streams_release_archive_members_past_without_reading_them_whole() {
    let dir = tempfile::tempdir().unwrap();
    let hello = example_binary(&dir.path().join("bin"));
    // A 64 MiB member of zeros ahead of the binary, in 70 kB of .tar.gz.
    let mut header = tar::Header::new_gnu();
    header.set_path("big.dat").unwrap();
    header.set_size(64 * MIB);
    header.set_mode(0o644);
    header.set_cksum();
    let mut archive = gzip(header.as_bytes());
    let zeros = gzip(&vec![0u8; MIB as usize]);
    for _ in 0..64 {
        archive.extend_from_slice(&zeros);
    }
    archive.extend_from_slice(&gzip(
        &LayerBuilder::new().file("hello", &hello, 0o755).tar(),
    ));
    let release = dir.path().join("release");
    std::fs::create_dir(&release).unwrap();
    std::fs::write(release.join("hello_linux_amd64.tar.gz"), &archive).unwrap();
    let (out, rss) = onebin_peak_rss(&[
        "verify",
        &format!("oci:{EXAMPLE}"),
        "--path",
        "/usr/local/bin/hello",
        "--release",
        s(&release),
        "--platform",
        "linux/amd64",
    ]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("match"), "{}", stdout(&out));
    assert!(rss < 48 * MIB, "peak RSS {} MiB", rss / MIB);
}

#[test]
fn extract_keeps_no_setuid_sticky_or_group_write_bits_and_reports_the_images() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("image"));
    let layer = LayerBuilder::new()
        .file("bin/suid", b"#!/bin/sh\n", 0o7777)
        .file("etc/data", b"data", 0o666)
        .tar();
    let image = layout.image("linux/amd64", &[(layer, Compression::Gzip)]);
    layout.set_root(&layout.index(&[image]), "v1");
    for (path, image_mode, written) in [("/bin/suid", 0o7777, 0o755), ("/etc/data", 0o666, 0o644)] {
        let out_dir = dir.path().join(path.replace('/', "_"));
        let out = onebin(&[
            "extract",
            &layout.reference("v1"),
            "--path",
            path,
            "--out",
            s(&out_dir),
            "--json",
        ]);
        assert!(out.status.success(), "{}", stderr(&out));
        let report: Value = serde_json::from_slice(&out.stdout).unwrap();
        let file = &report["files"][0];
        assert_eq!(file["image_mode"], format!("{image_mode:04o}"), "{report}");
        let on_disk = std::fs::metadata(file["output"].as_str().unwrap())
            .unwrap()
            .permissions()
            .mode()
            & 0o7777;
        assert_eq!(on_disk, asset_mode(image_mode), "{path}: {on_disk:o}");
        assert_eq!(on_disk & !written, 0, "{path}: {on_disk:o}");
        assert_eq!(file["mode"], format!("{on_disk:04o}"), "{report}");
    }
}

/// Runs onebin with `--username u --password-stdin` and no other credentials.
fn onebin_with_password(args: &[&str], password: &str) -> std::process::Output {
    use std::process::{Command, Stdio};
    let empty = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_onebin"))
        .args(["--username", "u", "--password-stdin"])
        .args(args)
        .env("DOCKER_CONFIG", empty.path())
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("CI_REGISTRY")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(password.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

#[test]
fn credentials_never_follow_an_upload_location_to_another_origin() {
    let dir = tempfile::tempdir().unwrap();
    let hello = example_binary(&dir.path().join("bin"));
    let binary = dir.path().join("hello");
    std::fs::write(&binary, &hello).unwrap();
    // Origin B: whoever the registry points uploads at; it takes nothing.
    let (elsewhere, seen_elsewhere) = loopback(|_, stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    });
    // Origin A: the registry, Basic auth, sending every upload to origin B.
    let (registry, seen_registry) = loopback(move |request, stream| {
        let answer = if request.header("authorization").is_none() {
            "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"r\"\r\nContent-Length: 0\r\n".to_string()
        } else if request.method == "POST" {
            format!("HTTP/1.1 202 Accepted\r\nLocation: http://{elsewhere}/upload/1\r\nContent-Length: 0\r\n")
        } else {
            "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n".to_string()
        };
        let _ = stream.write_all(format!("{answer}Connection: close\r\n\r\n").as_bytes());
    });
    let out = onebin_with_password(
        &[
            "--timeout",
            "10s",
            "package",
            "--binary",
            &format!("linux/amd64={}", s(&binary)),
            "--path",
            "/app",
            "--dest",
            &format!("docker://{registry}/team/app:v1"),
        ],
        "hunter2",
    );
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    let at_registry = seen_registry.lock().unwrap().clone();
    assert!(
        at_registry
            .iter()
            .any(|r| r.method == "POST" && r.header("authorization").is_some()),
        "the registry got authenticated requests: {at_registry:?}"
    );
    let elsewhere = seen_elsewhere.lock().unwrap().clone();
    assert!(!elsewhere.is_empty(), "the upload went to the other origin");
    for request in &elsewhere {
        assert!(
            request.header("authorization").is_none(),
            "{} {} got the credentials",
            request.method,
            request.path
        );
    }
    assert!(!stderr(&out).contains("hunter2"));
}

/// Runs onebin with a Docker config of its own and `extra_path` first on PATH.
fn onebin_with_config(args: &[&str], config: &std::path::Path) -> std::process::Output {
    let path = format!(
        "{}:{}",
        config.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    std::process::Command::new(env!("CARGO_BIN_EXE_onebin"))
        .args(args)
        .env("DOCKER_CONFIG", config)
        .env("PATH", path)
        .env_remove("REGISTRY_AUTH_FILE")
        .env_remove("XDG_RUNTIME_DIR")
        .env_remove("CI_REGISTRY")
        .output()
        .unwrap()
}

#[test]
fn a_registry_that_drips_bytes_is_given_up_on_at_the_deadline() {
    // A manifest answer that sends a byte every 100 ms: never a stall, never an end.
    let (registry, _) = loopback(|_, stream| {
        let _ = stream.write_all(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/vnd.oci.image.manifest.v1+json\r\nContent-Length: 100000\r\n\r\n",
        );
        while stream.write_all(b" ").is_ok() {
            std::thread::sleep(std::time::Duration::from_millis(100));
        }
    });
    let out = onebin(&[
        "--timeout",
        "2s",
        "--stall-timeout",
        "1s",
        "inspect",
        &format!("docker://{registry}/team/app:v1"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("gave up after 2s (--timeout)"), "{err}");
}

#[test]
fn a_registry_that_never_answers_is_given_up_on() {
    // Reads the request, then says nothing and keeps the connection open.
    let (registry, seen) =
        loopback(|_, _| std::thread::sleep(std::time::Duration::from_secs(3600)));
    let out = onebin(&[
        "--timeout",
        "3s",
        "--stall-timeout",
        "300ms",
        "inspect",
        &format!("docker://{registry}/team/app:v1"),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("timed out") || err.contains("(--timeout)"),
        "{err}"
    );
    assert!(!seen.lock().unwrap().is_empty());
}

#[test]
fn a_credential_helper_that_hangs_is_killed_and_one_that_fails_is_not_quoted() {
    use std::os::unix::fs::PermissionsExt;
    let config = tempfile::tempdir().unwrap();
    let helper = |name: &str, script: &str| {
        let path = config.path().join(format!("docker-credential-{name}"));
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    helper("hang", "exec sleep 600");
    helper(
        "leaky",
        r#"echo '{"Username":"u","Secret":"s3cr3t-from-stdout"}'; echo 'no keyring' >&2; exit 1"#,
    );
    for (store, expect) in [
        ("hang", "no answer within 500ms (--stall-timeout); killed"),
        ("leaky", "its stderr: no keyring"),
    ] {
        std::fs::write(
            config.path().join("config.json"),
            format!(r#"{{"credsStore": "{store}"}}"#),
        )
        .unwrap();
        let out = onebin_with_config(
            &[
                "--stall-timeout",
                "500ms",
                "inspect",
                "docker://127.0.0.1:9/team/app:v1",
            ],
            config.path(),
        );
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{store}: {err}");
        assert!(err.contains(expect), "{store}: {err}");
        assert!(!err.contains("s3cr3t"), "{store}: {err}");
    }
}

#[test]
fn small_ones_are_refused_with_a_message() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("image"));
    let layer = LayerBuilder::new().file("app", b"app", 0o755).tar();
    let image = layout.image("linux/amd64", &[(layer, Compression::Gzip)]);
    layout.set_root(&layout.index(&[image]), "v1");
    let image = layout.reference("v1");
    let out_dir = dir.path().join("dist");
    let cases: [(&[&str], &str); 3] = [
        (&["--checksums", "../x"], "--checksums '../x' leaves --out"),
        (
            &["--name", "checksums.txt"],
            "gives 'checksums.txt' for linux/amd64, the checksums file's name",
        ),
        (&["--name", "app\n{os}"], "not a plain file name"),
    ];
    for (extra, expect) in cases {
        let mut args = vec!["extract", &image, "--path", "/app", "--out", s(&out_dir)];
        args.extend_from_slice(extra);
        let out = onebin(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {err}");
        assert!(err.contains(expect), "{extra:?}: {err}");
        assert!(!out_dir.exists() && !dir.path().join("x").exists());
    }

    let hello = example_binary(&dir.path().join("bin"));
    let binary = dir.path().join("hello");
    std::fs::write(&binary, hello).unwrap();
    let out = onebin(&[
        "package",
        "--binary",
        &format!("linux/amd64={}", s(&binary)),
        "--path",
        "/usr/local/bin/",
        "--dest",
        &format!("oci:{}:v1", s(&dir.path().join("packaged"))),
    ]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("--path '/usr/local/bin/' ends with '/'"),
        "{err}"
    );

    let out = onebin(&["inspect", "docker://bob:hunter2@127.0.0.1:9/app:v1"]);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(
        err.contains("***@127.0.0.1:9") && !err.contains("hunter2"),
        "{err}"
    );
}

#[test]
fn a_later_run_removes_what_a_killed_run_left_behind() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("dist");
    std::fs::create_dir_all(&out_dir).unwrap();
    // A process that has exited: its id names no running process now.
    let mut gone = std::process::Command::new("true").spawn().unwrap();
    gone.wait().unwrap();
    let dead = gone.id();
    let stale = out_dir.join(format!(".onebin-{dead}-AbCdEf.part"));
    std::fs::write(&stale, b"half a binary").unwrap();
    let live = out_dir.join(format!(".onebin-{}-AbCdEf.part", std::process::id()));
    std::fs::write(&live, b"another run's, still going").unwrap();
    let out = onebin(&[
        "extract",
        &format!("oci:{EXAMPLE}"),
        "--path",
        "/usr/local/bin/hello",
        "--out",
        s(&out_dir),
        "--quiet",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(!stale.exists(), "the dead run's .part file is still there");
    assert!(live.exists(), "a running process's file was removed");
}

#[test]
fn concurrent_package_runs_into_one_layout_keep_every_tag() {
    let dir = tempfile::tempdir().unwrap();
    let hello = example_binary(&dir.path().join("bin"));
    let binary = dir.path().join("hello");
    std::fs::write(&binary, hello).unwrap();
    let layout = dir.path().join("layout");
    let package = |tag: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_onebin"))
            .args([
                "package",
                "--binary",
                &format!("linux/amd64={}", s(&binary)),
                "--path",
                "/app",
                "--label",
                &format!("tag={tag}"),
                "--dest",
                &format!("oci:{}:{tag}", s(&layout)),
            ])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    // Runs into a fresh destination, then into the existing layout, all at once.
    let tags: Vec<String> = (0..12).map(|i| format!("t{i}")).collect();
    let children: Vec<_> = tags.iter().map(|t| package(t)).collect();
    for child in children {
        let out = child.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let index: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let mut found: Vec<String> = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            m["annotations"]["org.opencontainers.image.ref.name"]
                .as_str()
                .unwrap()
                .to_string()
        })
        .collect();
    found.sort();
    let mut want = tags.clone();
    want.sort();
    assert_eq!(found, want);
}

#[test]
fn a_tampered_layer_is_reported_as_a_digest_mismatch_not_as_broken_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(&dir.path().join("image"));
    let layer = LayerBuilder::new().file("app", b"app", 0o755).tar();
    for compression in [Compression::None, Compression::Gzip] {
        let image = layout.image("linux/amd64", &[(layer.clone(), compression)]);
        layout.set_root(&layout.index(std::slice::from_ref(&image)), "v1");
        let manifest: Value =
            serde_json::from_slice(&std::fs::read(layout.blob_path(&image)).unwrap()).unwrap();
        let blob = layout.blob_path(&manifest["layers"][0]);
        let mut bytes = std::fs::read(&blob).unwrap();
        // Flip bytes early in the stream: the tar header or the deflate data breaks first.
        for b in &mut bytes[12..40] {
            *b ^= 0x5a;
        }
        std::fs::write(&blob, &bytes).unwrap();
        let err = extract_fails(&layout.reference("v1"), "/app", &dir.path().join("dist"));
        assert!(
            err.contains("content does not match its digest") && !err.contains("broken tar"),
            "{compression:?}: {err}"
        );
    }
}
