//! Images built by the real Docker Engine, read back by onebin through
//! `docker save` archives (`docker-archive:`) and the engine's own export
//! (`docker-daemon:`), and checked byte for byte against what `docker cp`
//! copies out of a container of the same image.
//!
//! The engine has no base images and cannot pull, so every image starts
//! `FROM scratch`; build steps that must run (rm, ln -s) run a statically
//! linked busybox copied in first, in exec form (no /bin/sh needed).

mod support;

use std::collections::HashMap;
use std::fs;
use std::io::Read;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::{
    extract_fails, extract_one, require, require_docker, run, s, sha256_hex, stderr, stdout,
};

fn docker(args: &[&str]) -> Output {
    run(Command::new("docker").args(args))
}

/// Removes, when dropped (also on a failed assertion), the containers and
/// images a test made: best effort, newest first.
#[derive(Default)]
struct Cleanup {
    containers: Vec<String>,
    images: Vec<String>,
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        for c in self.containers.iter().rev() {
            let _ = Command::new("docker").args(["rm", "-f", c]).output();
        }
        for i in self.images.iter().rev() {
            let _ = Command::new("docker").args(["rmi", "-f", i]).output();
        }
    }
}

/// A name no other test, or test run, uses: `onebin-interop-<pid>-<what>:t`.
fn unique_image(what: &str) -> String {
    format!("onebin-interop-{}-{what}:t", std::process::id())
}

/// A static C program (musl) that prints `message`; `pad` bytes of data make
/// two versions differ in size, not only in content.
fn static_binary(dir: &Path, name: &str, message: &str, pad: usize) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    fs::write(
        &src,
        format!(
            "#include <stdio.h>\n\
             static volatile const char pad[{}] = {{1}};\n\
             int main(void) {{ puts(\"{message}\"); return pad[0] == 1 ? 0 : 1; }}\n",
            pad.max(1)
        ),
    )
    .unwrap();
    let out = dir.join(name);
    run(Command::new("musl-gcc").args(["-static", "-O2", "-o", s(&out), s(&src)]));
    out
}

fn set_mtime(path: &Path, secs: u64) {
    run(Command::new("touch").args(["-h", "-d", &format!("@{secs}"), s(path)]));
}

/// What the base image holds, for the checks to refer to.
struct Base {
    image: String,
    app_v1: Vec<u8>,
    app_v2: Vec<u8>,
    keep_v2: Vec<u8>,
}

const KEEP_V2: &str = "keep.txt, rewritten by a RUN step in the last layer";

/// Paths that must extract, each compared with `docker cp -L`.
const PRESENT: &[&str] = &[
    "/usr/local/bin/app",        // replaced by a later COPY
    "/bin/busybox",              // bottom layer, ~2 MB
    "/opt/data/keep.txt",        // replaced by a RUN step in the top layer
    "/opt/tools/tool",           // made by RUN cp
    "/opt/tools/hard",           // a hard link to tool, same layer
    "/usr/bin/abs",              // absolute symlink -> /usr/local/bin/app
    "/usr/bin/rel",              // relative symlink -> ../local/bin/app
    "/usr/bin/chain",            // symlink -> rel -> app
    "/opt/app/bin/app-1",        // through an absolute directory symlink
    "/srv/current/bin/app-1",    // through a relative directory symlink
    "/srv/current/through-link", // a file written through the directory symlink
    "/opt/escape",               // relative symlink with too many `..`
];

/// Builds the base image: COPY, a replacing COPY, `rm`, `rm -r`, symlinks.
fn build_base(tmp: &Path, test: &str, cleanup: &mut Cleanup) -> Base {
    let ctx = tmp.join("context");
    fs::create_dir_all(ctx.join("data/olddir")).unwrap();
    fs::copy("/bin/busybox", ctx.join("busybox")).unwrap();
    let v1 = static_binary(&ctx, "app-v1", "onebin interop app, version 1", 1);
    let v2 = static_binary(&ctx, "app-v2", "onebin interop app, version two", 40_000);
    // Docker decides what a COPY changed by size and mtime (seconds): give the
    // replacement both, or the engine may record no layer at all.
    set_mtime(&v1, 1_600_000_000);
    set_mtime(&v2, 1_700_000_000);
    fs::write(ctx.join("data/gone.txt"), "deleted by RUN rm\n").unwrap();
    fs::write(
        ctx.join("data/olddir/f"),
        "in a directory deleted by RUN rm -r\n",
    )
    .unwrap();
    fs::write(ctx.join("data/keep.txt"), "keep.txt as first copied\n").unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        format!(
            r#"FROM scratch
COPY busybox /bin/busybox
COPY app-v1 /usr/local/bin/app
COPY data/ /opt/data/
RUN ["/bin/busybox", "sh", "-c", "set -e; bb=/bin/busybox; $bb mkdir -p /srv/app-v1/bin /usr/bin /opt/tools; $bb cp /usr/local/bin/app /srv/app-v1/bin/app-1; $bb cp /bin/busybox /opt/tools/tool; $bb ln /opt/tools/tool /opt/tools/hard"]
COPY app-v2 /usr/local/bin/app
RUN ["/bin/busybox", "rm", "/opt/data/gone.txt"]
RUN ["/bin/busybox", "rm", "-r", "/opt/data/olddir"]
RUN ["/bin/busybox", "sh", "-c", "set -e; bb=/bin/busybox; $bb ln -s /usr/local/bin/app /usr/bin/abs; $bb ln -s ../local/bin/app /usr/bin/rel; $bb ln -s rel /usr/bin/chain; $bb ln -s /srv/app-v1 /opt/app; $bb ln -s app-v1 /srv/current; $bb ln -s ../../../../../usr/local/bin/app /opt/escape; echo written through /srv/current > /srv/current/through-link; echo '{KEEP_V2}' > /opt/data/keep.txt"]
"#
        ),
    )
    .unwrap();
    let image = unique_image(&format!("{test}-base"));
    cleanup.images.push(image.clone());
    build(&ctx, &image);
    Base {
        image,
        app_v1: fs::read(&v1).unwrap(),
        app_v2: fs::read(&v2).unwrap(),
        keep_v2: format!("{KEEP_V2}\n").into_bytes(),
    }
}

/// `docker build` with the classic builder, which the engine runs itself.
fn build(ctx: &Path, image: &str) {
    run(Command::new("docker")
        .args(["build", "--quiet", "--force-rm", "-t", image, s(ctx)])
        .env("DOCKER_BUILDKIT", "0"));
}

fn create_container(image: &str, cleanup: &mut Cleanup) -> String {
    let out = docker(&["create", image, "/bin/busybox", "true"]);
    let id = stdout(&out).trim().to_string();
    cleanup.containers.push(id.clone());
    id
}

/// What `docker cp -L` copies out for `path`: the content a symlink leads to.
fn docker_cp(container: &str, path: &str, dest: &Path) -> Result<(Vec<u8>, u32), String> {
    let o = Command::new("docker")
        .args(["cp", "-L", &format!("{container}:{path}"), s(dest)])
        .output()
        .unwrap();
    if !o.status.success() {
        return Err(stderr(&o));
    }
    let meta = fs::symlink_metadata(dest).unwrap();
    assert!(meta.is_file(), "docker cp -L {path} gave no regular file");
    Ok((fs::read(dest).unwrap(), meta.permissions().mode() & 0o7777))
}

/// `extract_one`, and the file's permission bits.
fn extract(image: &str, path: &str, out: &Path) -> (Vec<u8>, u32, Value) {
    let (bytes, file) = extract_one(image, path, out);
    let output = file["output"].as_str().unwrap();
    // The engine builds for its own platform.
    assert!(
        file["platform"].as_str().unwrap().starts_with("linux/"),
        "{file}"
    );
    let mode = fs::metadata(output).unwrap().permissions().mode() & 0o7777;
    (bytes, mode, file)
}

/// The members of a `docker save` archive, by name (layer symlinks resolved).
fn archive_members(file: &Path) -> HashMap<String, Vec<u8>> {
    let mut members = HashMap::new();
    let mut links = Vec::new();
    let mut archive = tar::Archive::new(fs::File::open(file).unwrap());
    for entry in archive.entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry
            .path()
            .unwrap()
            .to_string_lossy()
            .trim_start_matches("./")
            .to_string();
        match entry.header().entry_type() {
            tar::EntryType::Regular => {
                let mut bytes = Vec::new();
                entry.read_to_end(&mut bytes).unwrap();
                members.insert(name, bytes);
            }
            tar::EntryType::Symlink => {
                let target = entry
                    .link_name()
                    .unwrap()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned();
                let dir = Path::new(&name).parent().unwrap().join(target);
                links.push((name, dir));
            }
            _ => {}
        }
    }
    for (name, target) in links {
        let mut parts: Vec<String> = Vec::new();
        for c in target.components() {
            match c {
                std::path::Component::ParentDir => drop(parts.pop()),
                std::path::Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
                _ => {}
            }
        }
        if let Some(bytes) = members.get(&parts.join("/")).cloned() {
            members.insert(name, bytes);
        }
    }
    members
}

/// For the image `tag` of a `docker save` archive: its diff_ids, bottom first,
/// and the 1-based position of the only layer whose tar holds `entry`.
fn layer_with_entry(archive: &Path, tag: &str, entry: &str) -> (Vec<String>, usize) {
    let members = archive_members(archive);
    let manifest: Value = serde_json::from_slice(&members["manifest.json"]).unwrap();
    let image = manifest
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["RepoTags"].as_array().unwrap().iter().any(|t| t == tag))
        .unwrap_or_else(|| panic!("{tag} not in {manifest}"));
    let config: Value =
        serde_json::from_slice(&members[image["Config"].as_str().unwrap()]).unwrap();
    let diff_ids: Vec<String> = config["rootfs"]["diff_ids"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d.as_str().unwrap().to_string())
        .collect();
    let hits: Vec<usize> = image["Layers"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, layer)| {
            let bytes = &members[layer.as_str().unwrap()];
            let mut tar = tar::Archive::new(bytes.as_slice());
            let found = tar.entries().unwrap().any(|e| {
                e.unwrap()
                    .path()
                    .unwrap()
                    .to_string_lossy()
                    .trim_start_matches("./")
                    == entry
            });
            found
        })
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(hits.len(), 1, "layers of {tag} holding {entry}: {hits:?}");
    // Docker stores layers uncompressed: the member's digest is its diff_id.
    let layer = image["Layers"][hits[0] - 1].as_str().unwrap();
    assert_eq!(
        format!("sha256:{}", sha256_hex(&members[layer])),
        diff_ids[hits[0] - 1]
    );
    (diff_ids, hits[0])
}

/// The base image built for `test` in a temp dir, removed by the `Cleanup`;
/// `None` (a visible skip) without Docker, musl-gcc or busybox.
fn base_in_tempdir(test: &str) -> Option<(tempfile::TempDir, Cleanup, Base)> {
    if !require_docker() || !require("musl-gcc") || !require("busybox") {
        return None;
    }
    let tmp = tempfile::tempdir().unwrap();
    let mut cleanup = Cleanup::default();
    let base = build_base(tmp.path(), test, &mut cleanup);
    Some((tmp, cleanup, base))
}

#[test]
fn docker_build_layers_match_docker_cp() {
    let Some((tmp, mut cleanup, base)) = base_in_tempdir("cp") else {
        return;
    };
    let t = tmp.path();
    let container = create_container(&base.image, &mut cleanup);
    let saved = t.join("saved.tar");
    docker(&["save", "-o", s(&saved), &base.image]);

    let images = [
        format!("docker-archive:{}", s(&saved)),
        format!("docker-archive:{}:{}", s(&saved), base.image),
        format!("docker-daemon:{}", base.image),
    ];
    for (i, path) in PRESENT.iter().enumerate() {
        let (expected, expected_mode) = docker_cp(&container, path, &t.join(format!("cp-{i}")))
            .unwrap_or_else(|e| panic!("docker cp -L {path}: {e}"));
        for (n, image) in images.iter().enumerate() {
            let (bytes, mode, _) = extract(image, path, &t.join(format!("out-{i}-{n}")));
            assert!(
                bytes == expected,
                "{image} {path}: onebin gave {} bytes (sha256 {}), docker cp {} bytes (sha256 {})",
                bytes.len(),
                sha256_hex(&bytes),
                expected.len(),
                sha256_hex(&expected)
            );
            assert_eq!(
                mode, expected_mode,
                "{image} {path}: mode {mode:o}, docker cp {expected_mode:o}"
            );
        }
    }

    // The replacements are real: the engine itself holds the new versions.
    let (app, _) = docker_cp(&container, "/usr/bin/abs", &t.join("app-check")).unwrap();
    assert!(
        app == base.app_v2 && app != base.app_v1,
        "the later COPY did not replace the app"
    );
    let (keep, _) = docker_cp(&container, "/opt/data/keep.txt", &t.join("keep-check")).unwrap();
    assert_eq!(keep, base.keep_v2);

    // An extracted binary runs as it runs in a container of the image.
    let in_container = docker(&["run", "--rm", &base.image, "/usr/bin/chain"]);
    let (_, _, file) = extract(&images[0], "/usr/bin/chain", &t.join("run"));
    let extracted = run(&mut Command::new(file["output"].as_str().unwrap()));
    assert_eq!(stdout(&extracted), stdout(&in_container));
    assert_eq!(stdout(&extracted).trim(), "onebin interop app, version two");

    // Deleted by `rm` and `rm -r`: docker cp finds nothing, onebin exits 2
    // naming the layer whose whiteout decided it.
    for (i, (path, marker)) in [
        ("/opt/data/gone.txt", "opt/data/.wh.gone.txt"),
        ("/opt/data/olddir/f", "opt/data/.wh.olddir"),
    ]
    .iter()
    .enumerate()
    {
        assert!(docker_cp(&container, path, &t.join(format!("cp-gone-{i}"))).is_err());
        let (diff_ids, position) = layer_with_entry(&saved, &base.image, marker);
        for (n, image) in images.iter().enumerate() {
            let err = extract_fails(image, path, &t.join(format!("gone-{i}-{n}")));
            assert!(err.contains("whiteout"), "{image} {path}: {err}");
            assert!(
                err.contains(&diff_ids[position - 1]),
                "{image} {path}: {err}"
            );
            assert!(
                err.contains(&format!("layer {position} of {}", diff_ids.len())),
                "{image} {path}: {err}"
            );
        }
    }
}

#[test]
fn docker_save_of_two_images_and_engine_ids() {
    let Some((tmp, mut cleanup, base)) = base_in_tempdir("two") else {
        return;
    };
    let t = tmp.path();

    // A second image on top of the first: it deletes the app the symlinks
    // lead to, and adds one file.
    let ctx = t.join("derived");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(ctx.join("added.txt"), "only in the derived image\n").unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM {}\nRUN [\"/bin/busybox\", \"rm\", \"/usr/local/bin/app\"]\nCOPY added.txt /opt/added.txt\n",
            base.image
        ),
    )
    .unwrap();
    let derived = unique_image("two-derived");
    cleanup.images.push(derived.clone());
    build(&ctx, &derived);

    // One archive, two images sharing their lower layers.
    let saved = t.join("both.tar");
    docker(&["save", "-o", s(&saved), &base.image, &derived]);
    let base_container = create_container(&base.image, &mut cleanup);
    let derived_container = create_container(&derived, &mut cleanup);

    // Without a name, the archive is ambiguous; the error lists both.
    let err = extract_fails(
        &format!("docker-archive:{}", s(&saved)),
        "/usr/bin/abs",
        &t.join("ambiguous"),
    );
    assert!(err.contains(&base.image) && err.contains(&derived), "{err}");

    // Named, by tag or by position, each image gives what docker cp gives.
    let manifest: Value =
        serde_json::from_slice(&archive_members(&saved)["manifest.json"]).unwrap();
    let position = |tag: &str| {
        manifest
            .as_array()
            .unwrap()
            .iter()
            .position(|i| i["RepoTags"].as_array().unwrap().iter().any(|t| t == tag))
            .unwrap()
    };
    let (expected, _) = docker_cp(&base_container, "/usr/bin/abs", &t.join("cp-abs")).unwrap();
    for image in [
        format!("docker-archive:{}:{}", s(&saved), base.image),
        format!("docker-archive:{}:@{}", s(&saved), position(&base.image)),
    ] {
        let (bytes, _, _) = extract(
            &image,
            "/usr/bin/abs",
            &t.join(format!("abs-{}", sha256_hex(image.as_bytes()))),
        );
        assert!(bytes == expected, "{image}");
    }
    let (expected, _) =
        docker_cp(&derived_container, "/opt/added.txt", &t.join("cp-added")).unwrap();
    for image in [
        format!("docker-archive:{}:{}", s(&saved), derived),
        format!("docker-archive:{}:@{}", s(&saved), position(&derived)),
        format!("docker-daemon:{derived}"),
    ] {
        let (bytes, _, _) = extract(
            &image,
            "/opt/added.txt",
            &t.join(format!("added-{}", sha256_hex(image.as_bytes()))),
        );
        assert!(bytes == expected, "{image}");
        // A hard link of the base image's layers, read through the derived one.
        let (expected_busybox, _) = docker_cp(
            &derived_container,
            "/opt/tools/hard",
            &t.join(format!("cp-hard-{}", sha256_hex(image.as_bytes()))),
        )
        .unwrap();
        let (bytes, _, _) = extract(
            &image,
            "/opt/tools/hard",
            &t.join(format!("hard-{}", sha256_hex(image.as_bytes()))),
        );
        assert!(bytes == expected_busybox, "{image}");
    }

    // In the derived image the symlink's target is gone: docker cp -L fails,
    // and onebin names the derived image's whiteout layer.
    assert!(docker_cp(&derived_container, "/usr/bin/abs", &t.join("cp-dangling")).is_err());
    let (diff_ids, at) = layer_with_entry(&saved, &derived, "usr/local/bin/.wh.app");
    for image in [
        format!("docker-archive:{}:{}", s(&saved), derived),
        format!("docker-daemon:{derived}"),
    ] {
        let err = extract_fails(
            &image,
            "/usr/bin/abs",
            &t.join(format!("dangling-{}", sha256_hex(image.as_bytes()))),
        );
        assert!(err.contains("/usr/local/bin/app"), "{image}: {err}");
        assert!(
            err.contains("whiteout") && err.contains(&diff_ids[at - 1]),
            "{image}: {err}"
        );
    }

    // The engine's image ID reads as the same image as its tag.
    let id = stdout(&docker(&[
        "image",
        "inspect",
        "--format",
        "{{.Id}}",
        &base.image,
    ]))
    .trim()
    .to_string();
    assert!(id.starts_with("sha256:"), "{id}");
    let (by_id, _, _) = extract(
        &format!("docker-daemon:{id}"),
        "/usr/local/bin/app",
        &t.join("by-id"),
    );
    assert!(by_id == base.app_v2);
}
