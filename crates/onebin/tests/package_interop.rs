//! `onebin package` against the real tools: a Go program built for three
//! platforms, packaged, then read by skopeo and umoci, run under qemu, loaded
//! and run by a real Docker Engine, refused when it cannot run, and packaged
//! again to prove the output is reproducible. No digest is hard-coded: every
//! expected value comes from the inputs or from another tool.
//!
//! onebin always runs in a temporary directory outside any git checkout,
//! without the CI's variables, so that no provenance label comes from the
//! machine the tests run on.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;

use serde_json::{json, Value};
use support::isolated::onebin_in;
use support::{
    asset_mode, binary_args, list_files, require, require_docker, run, s, sha256_hex, skopeo,
    stderr, stdout, Compression, LayerBuilder, Layout,
};

// ---------------------------------------------------------------- the Go program

/// Prints a fixed line with the platform it was built for, then what the
/// container gave it: its arguments, $GREETING, its uid and working directory.
/// Only `runtime` and `syscall`, so the three cross builds stay quick.
const MAIN_GO: &str = r#"package main

import (
	"runtime"
	"syscall"
)

func itoa(n int) string {
	if n == 0 {
		return "0"
	}
	s := ""
	neg := n < 0
	if neg {
		n = -n
	}
	for n > 0 {
		s = string(rune('0'+n%10)) + s
		n /= 10
	}
	if neg {
		s = "-" + s
	}
	return s
}

// The arguments, from /proc (os.Args would pull in much of the library).
func args() []string {
	fd, err := syscall.Open("/proc/self/cmdline", syscall.O_RDONLY, 0)
	if err != nil {
		return nil
	}
	defer syscall.Close(fd)
	var all []byte
	buf := make([]byte, 4096)
	for {
		n, err := syscall.Read(fd, buf)
		if n <= 0 || err != nil {
			break
		}
		all = append(all, buf[:n]...)
	}
	var out []string
	start := 0
	for i, c := range all {
		if c == 0 {
			out = append(out, string(all[start:i]))
			start = i + 1
		}
	}
	if len(out) > 0 {
		out = out[1:]
	}
	return out
}

func main() {
	out := "hello from onebin interop on " + runtime.GOOS + "/" + runtime.GOARCH + "\n"
	for _, a := range args() {
		out += "arg=" + a + "\n"
	}
	greeting, _ := syscall.Getenv("GREETING")
	cwd, _ := syscall.Getwd()
	out += "GREETING=" + greeting + "\nuid=" + itoa(syscall.Getuid()) + "\ncwd=" + cwd + "\n"
	syscall.Write(1, []byte(out))
}
"#;

/// The first line the program prints when built for linux/`goarch`.
fn hello(goarch: &str) -> String {
    format!("hello from onebin interop on linux/{goarch}")
}

/// The platforms the Go program is built for, in the order of its binaries.
const PLATFORMS: [&str; 3] = ["linux/amd64", "linux/arm64", "linux/arm/v7"];

/// The Go program built for linux/amd64, linux/arm64 and linux/arm (GOARM=7),
/// kept in memory: each test writes the copies it needs into its own temp dir.
struct GoBinaries {
    amd64: Vec<u8>,
    arm64: Vec<u8>,
    arm: Vec<u8>,
}

impl GoBinaries {
    /// Each binary's bytes under its platform.
    fn by_platform(&self) -> [(&'static str, &Vec<u8>); 3] {
        let [amd64, arm64, arm] = PLATFORMS;
        [(amd64, &self.amd64), (arm64, &self.arm64), (arm, &self.arm)]
    }
}

static GO_BINARIES: OnceLock<Option<GoBinaries>> = OnceLock::new();

/// Builds the program once per test binary run; `None` (a visible skip) when
/// there is no Go toolchain.
fn go_binaries() -> Option<&'static GoBinaries> {
    GO_BINARIES
        .get_or_init(|| {
            if !require("go") {
                return None;
            }
            let tmp = tempfile::tempdir().unwrap();
            let src = tmp.path().join("src");
            fs::create_dir_all(&src).unwrap();
            fs::write(
                src.join("go.mod"),
                "module example.com/onebin-interop\n\ngo 1.19\n",
            )
            .unwrap();
            fs::write(src.join("main.go"), MAIN_GO).unwrap();
            let gotmp = tmp.path().join("gotmp");
            fs::create_dir_all(&gotmp).unwrap();
            // Stripped (-s -w), as release binaries often are: smaller, so
            // every test that compresses them is quicker.
            let build = |goarch: &str| -> Vec<u8> {
                let out = tmp.path().join(format!("app-{goarch}"));
                run(support::go::command("go", &src, &tmp.path().join("gopath"))
                    .args([
                        "build",
                        "-trimpath",
                        "-buildvcs=false",
                        "-ldflags=-s -w",
                        "-o",
                    ])
                    .arg(&out)
                    .arg(".")
                    .env("GOTMPDIR", &gotmp)
                    .env("GOARCH", goarch)
                    .env("GOARM", "7"));
                fs::read(&out).unwrap()
            };
            Some(GoBinaries {
                amd64: build("amd64"),
                arm64: build("arm64"),
                arm: build("arm"),
            })
        })
        .as_ref()
}

// ---------------------------------------------------------------- helpers

fn write_exe(path: &Path, bytes: &[u8]) -> PathBuf {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, bytes).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(0o755)).unwrap();
    path.to_path_buf()
}

/// Writes the three Go binaries into `dir`.
fn go_files(dir: &Path, go: &GoBinaries) -> [PathBuf; 3] {
    [
        write_exe(&dir.join("app-amd64"), &go.amd64),
        write_exe(&dir.join("app-arm64"), &go.arm64),
        write_exe(&dir.join("app-arm"), &go.arm),
    ]
}

/// When `ready` (the test's other prerequisites are there): the Go program
/// and a temp dir holding its three binaries (`go_files`); `None` (a visible
/// skip) without a Go toolchain.
fn go_in_tempdir(ready: bool) -> Option<(&'static GoBinaries, tempfile::TempDir, [PathBuf; 3])> {
    if !ready {
        return None;
    }
    let go = go_binaries()?;
    let tmp = tempfile::tempdir().unwrap();
    let files = go_files(tmp.path(), go);
    Some((go, tmp, files))
}

/// Each of the three binaries `go_files` wrote, under its platform.
fn as_built(files: &[PathBuf; 3]) -> [(&'static str, &Path); 3] {
    let [amd64, arm64, arm] = PLATFORMS;
    [(amd64, &files[0]), (arm64, &files[1]), (arm, &files[2])]
}

/// The arguments of `onebin package`: `binaries` (platform, file), the path
/// in the image and the destination, then `extra`.
fn package_args(binaries: &[(&str, &Path)], path: &str, dest: &str, extra: &[&str]) -> Vec<String> {
    let mut args = binary_args(binaries);
    args.extend(["--path", path, "--dest", dest].map(String::from));
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// onebin, which must succeed; its stdout.
fn onebin_ok(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let out = onebin_in(cwd, args, env);
    assert!(
        out.status.success(),
        "onebin {args:?} failed ({:?}):\n{}\n{}",
        out.status.code(),
        stdout(&out),
        stderr(&out)
    );
    stdout(&out)
}

/// `onebin package ARGS --json`, which must succeed; the report.
fn package_json(cwd: &Path, args: &[impl AsRef<str>], env: &[(&str, &str)]) -> Value {
    let mut all = vec!["package"];
    all.extend(args.iter().map(AsRef::as_ref));
    all.push("--json");
    let text = onebin_ok(cwd, &all, env);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// `onebin package ARGS`, which must fail with exit 2; its stderr.
fn package_fails(cwd: &Path, args: &[impl AsRef<str>]) -> String {
    let mut all = vec!["package"];
    all.extend(args.iter().map(AsRef::as_ref));
    let out = onebin_in(cwd, &all, &[]);
    let message = stderr(&out);
    assert_eq!(
        out.status.code(),
        Some(2),
        "onebin {all:?}: expected exit 2:\n{}\n{message}",
        stdout(&out)
    );
    assert!(!message.contains("panicked"), "{message}");
    message
}

/// `onebin extract IMAGE --path PATH --out OUT --json`; the report.
fn extract(cwd: &Path, image: &str, path: &str, out: &Path) -> Value {
    let args = ["extract", image, "--path", path, "--out", s(out), "--json"];
    let text = onebin_ok(cwd, &args, &[]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

fn inspect(cwd: &Path, image: &str) -> Value {
    let text = onebin_ok(cwd, &["inspect", image, "--json"], &[]);
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{e}: {text}"))
}

/// The bytes of the one file `extract` wrote for `platform`.
fn extracted(report: &Value, platform: &str) -> (Vec<u8>, Value) {
    let file = support::with_platform(&report["files"], platform).clone();
    (fs::read(file["output"].as_str().unwrap()).unwrap(), file)
}

fn mode_of(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

fn platforms_of(report: &Value) -> Vec<String> {
    report["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap().to_string())
        .collect()
}

/// The report's entry for `platform`.
fn entry<'a>(report: &'a Value, platform: &str) -> &'a Value {
    support::with_platform(&report["platforms"], platform)
}

/// The GOARCH of the machine the tests (and onebin) run on.
fn host_goarch() -> Option<&'static str> {
    match std::env::consts::ARCH {
        "x86_64" => Some("amd64"),
        "aarch64" => Some("arm64"),
        _ => None,
    }
}

// ---------------------------------------------------------------- docker helpers

fn docker(args: &[&str]) -> Output {
    run(Command::new("docker").args(args))
}

fn docker_inspect(image: &str) -> Value {
    let out = docker(&["image", "inspect", image]);
    let all: Value = serde_json::from_slice(&out.stdout).unwrap();
    all[0].clone()
}

/// Names unique to this run, removed (best effort) when the test ends, even
/// when it fails.
struct DockerImages {
    names: Vec<String>,
}

impl DockerImages {
    fn new() -> Self {
        DockerImages { names: Vec::new() }
    }

    /// A repository name unique to this test run.
    fn name(&mut self, what: &str) -> String {
        let name = format!("onebin-package-interop-{}-{what}", std::process::id());
        self.names.push(name.clone());
        name
    }
}

impl Drop for DockerImages {
    fn drop(&mut self) {
        for name in &self.names {
            let Ok(out) = Command::new("docker")
                .args(["image", "ls", "--format", "{{.Repository}}:{{.Tag}}", name])
                .output()
            else {
                continue;
            };
            let tags: Vec<String> = stdout(&out).lines().map(str::to_string).collect();
            if !tags.is_empty() {
                let _ = Command::new("docker")
                    .args(["image", "rm", "--force"])
                    .args(&tags)
                    .output();
            }
        }
    }
}

/// `docker load -i FILE`; the references it says it loaded.
fn docker_load(file: &Path) -> Vec<String> {
    let out = docker(&["load", "-i", s(file)]);
    stdout(&out)
        .lines()
        .filter_map(|l| l.strip_prefix("Loaded image: "))
        .map(str::to_string)
        .collect()
}

fn docker_run(args: &[&str]) -> String {
    let mut all = vec!["run", "--rm"];
    all.extend_from_slice(args);
    stdout(&docker(&all))
}

// ---------------------------------------------------------------- OCI layout, skopeo, umoci, qemu

#[test]
fn oci_layout_of_three_platforms_is_read_by_skopeo_umoci_and_runs_under_qemu() {
    let Some((go, tmp, files)) = go_in_tempdir(require("skopeo") && require("umoci")) else {
        return;
    };
    let t = tmp.path();
    let dir = t.join("layout");
    let image = format!("oci:{}:v1", s(&dir));
    let args = package_args(
        &as_built(&files),
        "/usr/local/bin/app",
        &image,
        &["--annotation", "org.example.note=interop"],
    );
    let report = package_json(t, &args, &[]);
    assert_eq!(report["image"], image.as_str());
    assert_eq!(report["verified"], true);
    assert_eq!(platforms_of(&report), PLATFORMS);
    for (platform, bytes) in go.by_platform() {
        let e = entry(&report, platform);
        assert_eq!(e["sha256"], sha256_hex(bytes).as_str(), "{platform}");
        assert_eq!(e["size"], bytes.len(), "{platform}");
    }
    let index_digest = report["digest"].as_str().unwrap();

    // index.json names the index by the tag, with the digest --json gave.
    let index_json: Value =
        serde_json::from_slice(&fs::read(dir.join("index.json")).unwrap()).unwrap();
    let tagged: Vec<&Value> = index_json["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "v1")
        .collect();
    assert_eq!(tagged.len(), 1, "{index_json:#}");
    assert_eq!(tagged[0]["digest"], index_digest);

    // skopeo inspect --raw: the index's exact bytes, one manifest per platform.
    let raw = run(Command::new("skopeo").args(["inspect", "--raw", &image])).stdout;
    assert_eq!(format!("sha256:{}", sha256_hex(&raw)), index_digest);
    let raw: Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(raw["mediaType"], "application/vnd.oci.image.index.v1+json");
    assert_eq!(raw["annotations"]["org.example.note"], "interop");
    let manifests = raw["manifests"].as_array().unwrap();
    assert_eq!(manifests.len(), 3, "{raw:#}");
    for (m, platform) in manifests.iter().zip(PLATFORMS) {
        assert_eq!(m["digest"], entry(&report, platform)["digest"], "{raw:#}");
        assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
        let mut parts = platform.split('/').skip(1);
        assert_eq!(m["platform"]["os"], "linux");
        assert_eq!(m["platform"]["architecture"], parts.next().unwrap());
        if let Some(variant) = parts.next() {
            assert_eq!(m["platform"]["variant"], variant);
        }
    }

    // skopeo inspect: the config of each platform; one layer, the one --json named.
    for (arch, platform) in [("amd64", "linux/amd64"), ("arm64", "linux/arm64")] {
        let seen = skopeo::json(&["--override-arch", arch, "inspect", &image]);
        assert_eq!(seen["Digest"], index_digest, "{seen:#}");
        assert_eq!(seen["Architecture"], arch, "{seen:#}");
        assert_eq!(seen["Os"], "linux");
        assert_eq!(seen["Created"], "1970-01-01T00:00:00Z", "{seen:#}");
        assert_eq!(seen["Layers"], json!([entry(&report, platform)["layer"]]));
        // Outside a git checkout and without CI variables: only `created`.
        assert_eq!(
            seen["Labels"],
            json!({"org.opencontainers.image.created": "1970-01-01T00:00:00Z"}),
            "{seen:#}"
        );
    }
    let config = skopeo::json(&["--override-arch", "arm64", "inspect", "--config", &image]);
    assert_eq!(
        config["config"]["Entrypoint"],
        json!(["/usr/local/bin/app"]),
        "{config:#}"
    );

    // skopeo copy --all into an oci-archive keeps the index; onebin reads it back.
    let archive = t.join("copy.oci.tar");
    skopeo::copy(
        t,
        &["--all", &image, &format!("oci-archive:{}:v1", s(&archive))],
    );
    let seen = inspect(t, &format!("oci-archive:{}:v1", s(&archive)));
    assert_eq!(seen["digest"], index_digest, "{seen:#}");
    let from_archive = extract(
        t,
        &format!("oci-archive:{}:v1", s(&archive)),
        "/usr/local/bin/app",
        &t.join("from-oci-archive"),
    );
    for (platform, bytes) in go.by_platform() {
        assert_eq!(&extracted(&from_archive, platform).0, bytes, "{platform}");
    }

    // skopeo copy of the tag (the host's platform) into a docker-archive.
    let docker_archive = t.join("copy.docker.tar");
    skopeo::copy(
        t,
        &[
            "--override-arch",
            "amd64",
            &image,
            &format!(
                "docker-archive:{}:example.com/onebin/app:v1",
                s(&docker_archive)
            ),
        ],
    );
    let from_docker = extract(
        t,
        &format!("docker-archive:{}", s(&docker_archive)),
        "/usr/local/bin/app",
        &t.join("from-docker-archive"),
    );
    assert_eq!(extracted(&from_docker, "linux/amd64").0, go.amd64);

    // umoci unpacks one manifest at a time: skopeo picks each platform into a
    // layout of its own, umoci unpacks it, the file is the input, mode 0755.
    for (arch, variant, bytes) in [
        ("amd64", None, &go.amd64),
        ("arm64", None, &go.arm64),
        ("arm", Some("v7"), &go.arm),
    ] {
        let bundle = unpack_with_umoci(t, &image, arch, variant);
        let file = bundle.join("rootfs/usr/local/bin/app");
        assert_eq!(&fs::read(&file).unwrap(), bytes, "{arch}");
        assert_eq!(mode_of(&file), 0o755, "{arch}");
        assert_eq!(
            list_files(&bundle.join("rootfs")),
            ["usr"],
            "{arch}: scratch plus one file"
        );
    }

    // The binaries extracted back out run: natively and under qemu.
    let out = t.join("dist");
    let report = extract(t, &image, "/usr/local/bin/app", &out);
    assert_eq!(
        list_files(&out),
        [
            "app_linux_amd64",
            "app_linux_arm64",
            "app_linux_arm_v7",
            "checksums.txt"
        ]
    );
    let (bytes, file) = extracted(&report, "linux/arm64");
    assert_eq!(bytes, go.arm64);
    assert_eq!(file["mode"], "0755");
    if host_goarch() == Some("amd64") {
        let ran = run(&mut Command::new(out.join("app_linux_amd64")));
        assert!(
            stdout(&ran).starts_with(&hello("amd64")),
            "{}",
            stdout(&ran)
        );
    }
    if require("qemu-aarch64-static") {
        let ran = run(Command::new("qemu-aarch64-static").arg(out.join("app_linux_arm64")));
        assert_eq!(stdout(&ran).lines().next(), Some(hello("arm64").as_str()));
    }
    if require("qemu-arm-static") {
        let ran = run(Command::new("qemu-arm-static").arg(out.join("app_linux_arm_v7")));
        assert_eq!(stdout(&ran).lines().next(), Some(hello("arm").as_str()));
    }
}

#[test]
fn mode_0750_reaches_umoci_and_extract() {
    let Some((go, tmp, [_, arm64, _])) = go_in_tempdir(require("umoci")) else {
        return;
    };
    let t = tmp.path();
    let dir = t.join("layout");
    // A single platform: still an index, with one manifest, which umoci unpacks directly.
    let args = package_args(
        &[("linux/arm64", &arm64)],
        "/opt/app/bin/app",
        &format!("oci:{}:only", s(&dir)),
        &["--mode", "0750"],
    );
    package_json(t, &args, &[]);
    let bundle = t.join("bundle");
    run(Command::new("umoci")
        .args(["unpack", "--rootless", "--image"])
        .arg(format!("{}:only", s(&dir)))
        .arg(&bundle));
    let file = bundle.join("rootfs/opt/app/bin/app");
    assert_eq!(fs::read(&file).unwrap(), go.arm64);
    assert_eq!(mode_of(&file), 0o750);
    let report = extract(
        t,
        &format!("oci:{}:only", s(&dir)),
        "/opt/app/bin/app",
        &t.join("dist"),
    );
    let (bytes, entry) = extracted(&report, "linux/arm64");
    assert_eq!(bytes, go.arm64);
    assert_eq!(entry["image_mode"], "0750", "{report:#}");
    assert_eq!(
        entry["mode"],
        format!("{:04o}", asset_mode(0o750)),
        "{report:#}"
    );
}

// ---------------------------------------------------------------- compression

/// `bytes` repeated, then cut to `len`: still the same ELF program (the
/// loader reads only what the headers point at), and a layer of many gzip
/// members.
fn padded(bytes: &[u8], len: usize) -> Vec<u8> {
    bytes.iter().copied().cycle().take(len).collect()
}

/// The top layer's descriptor of `arch`'s manifest in the layout `dir`.
fn top_layer(dir: &Path, image: &str, arch: &str) -> Value {
    let manifest = skopeo::json(&["--override-arch", arch, "inspect", "--raw", image]);
    let manifest = if manifest["manifests"].is_array() {
        let m = manifest["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["platform"]["architecture"] == arch)
            .unwrap()
            .clone();
        let digest = m["digest"].as_str().unwrap().replace("sha256:", "");
        serde_json::from_slice(&fs::read(dir.join("blobs/sha256").join(digest)).unwrap()).unwrap()
    } else {
        manifest
    };
    manifest["layers"]
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .clone()
}

fn blob_path(dir: &Path, descriptor: &Value) -> PathBuf {
    let digest = descriptor["digest"].as_str().unwrap();
    dir.join("blobs/sha256")
        .join(digest.trim_start_matches("sha256:"))
}

/// skopeo picks `arch` (and `variant`) out of `image` into a layout of its
/// own, and umoci, which reads one manifest at a time, unpacks it; the
/// bundle. umoci reads zstd layers from 0.5 on; an older one (Debian's
/// 0.4.7 refuses the media type) unpacks the gzip copy skopeo makes instead.
fn unpack_with_umoci(t: &Path, image: &str, arch: &str, variant: Option<&str>) -> PathBuf {
    let single = t.join(format!("single-{arch}"));
    let dest = format!("oci:{}:t", s(&single));
    let mut args = vec!["--override-arch", arch];
    if let Some(v) = variant {
        args.extend_from_slice(&["--override-variant", v]);
    }
    args.extend_from_slice(&[image, &dest]);
    skopeo::copy(t, &args);
    let bundle = t.join(format!("bundle-{arch}"));
    let unpack = |layout: &Path| {
        Command::new("umoci")
            .args(["unpack", "--rootless", "--image"])
            .arg(format!("{}:t", s(layout)))
            .arg(&bundle)
            .output()
            .unwrap()
    };
    let out = unpack(&single);
    if !out.status.success() {
        let zstd = top_layer(&single, &dest, arch)["mediaType"]
            == "application/vnd.oci.image.layer.v1.tar+zstd";
        assert!(
            zstd && stderr(&out).contains("not correct mediatype"),
            "{}",
            stderr(&out)
        );
        eprintln!("this umoci reads no zstd layers: unpacking skopeo's gzip copy instead");
        let _ = fs::remove_dir_all(&bundle);
        let gzip = t.join(format!("gzip-{arch}"));
        let gzip_dest = format!("oci:{}:t", s(&gzip));
        skopeo::copy(t, &["--dest-compress-format", "gzip", &dest, &gzip_dest]);
        assert_eq!(
            top_layer(&gzip, &gzip_dest, arch)["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let out = unpack(&gzip);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    bundle
}

/// Layers of several MiB are gzip members joined in order; GNU gzip, Go's
/// compress/gzip (umoci, skopeo into a docker-archive, Docker's load) and
/// onebin read them whole, whatever the number of cores that made them.
#[test]
fn gzip_layers_of_many_members_are_read_by_gzip_umoci_and_docker() {
    let Some(go) = go_binaries() else { return };
    if !require("gzip") || !require("skopeo") || !require("umoci") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let amd64 = padded(&go.amd64, 5 << 20);
    let arm64 = padded(&go.arm64, (3 << 20) + 12345);
    let a = write_exe(&t.join("big/app-amd64"), &amd64);
    let b = write_exe(&t.join("big/app-arm64"), &arm64);
    let dir = t.join("layout");
    let image = format!("oci:{}:v1", s(&dir));
    let report = package_json(
        t,
        &[
            "--binary",
            &format!("linux/amd64={}", s(&a)),
            "--binary",
            &format!("linux/arm64={}", s(&b)),
            "--path",
            "/usr/local/bin/app",
            "--dest",
            &image,
        ],
        &[],
    );
    assert_eq!(report["verified"], true);
    for (arch, bytes) in [("amd64", &amd64), ("arm64", &arm64)] {
        let layer = top_layer(&dir, &image, arch);
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+gzip"
        );
        let blob = blob_path(&dir, &layer);
        run(Command::new("gzip").arg("-t").arg(&blob));
        // GNU tar through GNU gzip: the whole file, not the first member's MiB.
        let out = run(Command::new("tar")
            .args(["-xzOf"])
            .arg(&blob)
            .arg("usr/local/bin/app"));
        assert!(out.stdout == *bytes, "{arch}: gzip | tar");

        let bundle = unpack_with_umoci(t, &image, arch, None);
        let unpacked = fs::read(bundle.join("rootfs/usr/local/bin/app")).unwrap();
        assert!(unpacked == *bytes, "{arch}: umoci");
    }
    let extracted_report = extract(t, &image, "/usr/local/bin/app", &t.join("dist"));
    assert!(extracted(&extracted_report, "linux/amd64").0 == amd64);

    // Docker loads what skopeo wrote from the layout, and runs it.
    if !require_docker() {
        return;
    }
    let mut images = DockerImages::new();
    let name = images.name("members");
    let archive = t.join("docker.tar");
    skopeo::copy(
        t,
        &[
            "--override-arch",
            "amd64",
            &image,
            &format!("docker-archive:{}:{name}:v1", s(&archive)),
        ],
    );
    assert_eq!(docker_load(&archive), [format!("{name}:v1")]);
    if host_goarch() == Some("amd64") {
        let output = docker_run(&[&format!("{name}:v1")]);
        assert_eq!(output.lines().next(), Some(hello("amd64").as_str()));
    }
}

/// `--compression zstd`: the media type says so, the zstd tool checks the
/// frames, skopeo copies them (and decompresses them to gzip), umoci unpacks
/// them, onebin extracts them. umoci reads zstd layers from 0.5 on; before
/// (Debian's 0.4.7 refuses the media type) it unpacks skopeo's gzip copy.
/// Docker Engine 20.10 (the one tested here) does not read zstd layers (23
/// and later do): nothing is asserted on it.
#[test]
fn zstd_layers_are_copied_by_skopeo_and_unpacked_by_umoci() {
    let Some(go) = go_binaries() else { return };
    if !require("skopeo") || !require("umoci") || !require("zstd") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let [amd64, arm64, _] = go_files(t, go);
    let dir = t.join("layout");
    let image = format!("oci:{}:v1", s(&dir));
    let args = |dest: &str| {
        vec![
            "--binary".to_string(),
            format!("linux/amd64={}", s(&amd64)),
            "--binary".to_string(),
            format!("linux/arm64={}", s(&arm64)),
            "--path".to_string(),
            "/usr/local/bin/app".to_string(),
            "--dest".to_string(),
            dest.to_string(),
            "--compression".to_string(),
            "zstd".to_string(),
        ]
    };
    let zstd_args = args(&image);
    let zstd_args: Vec<&str> = zstd_args.iter().map(String::as_str).collect();
    let report = package_json(t, &zstd_args, &[]);
    assert_eq!(report["verified"], true);
    let gzip_args = args(&format!("oci:{}:v1", s(&t.join("gzip"))));
    let gzip_args: Vec<&str> = gzip_args[..8].iter().map(String::as_str).collect();
    let gzip_report = package_json(t, &gzip_args, &[]);
    assert_ne!(report["digest"], gzip_report["digest"]);

    for (arch, bytes) in [("amd64", &go.amd64), ("arm64", &go.arm64)] {
        let layer = top_layer(&dir, &image, arch);
        assert_eq!(
            layer["mediaType"],
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        let blob = blob_path(&dir, &layer);
        run(Command::new("zstd").args(["-q", "-t"]).arg(&blob));

        let bundle = unpack_with_umoci(t, &image, arch, None);
        let single = t.join(format!("single-{arch}"));
        let copied = top_layer(&single, &format!("oci:{}:t", s(&single)), arch);
        assert_eq!(copied, layer, "{arch}: skopeo keeps the zstd blob");
        let file = bundle.join("rootfs/usr/local/bin/app");
        assert_eq!(&fs::read(&file).unwrap(), bytes, "{arch}: umoci");
        assert_eq!(mode_of(&file), 0o755, "{arch}");
    }

    // skopeo copy --all keeps the zstd blobs; onebin reads the copy.
    let archive = t.join("copy.oci.tar");
    skopeo::copy(
        t,
        &["--all", &image, &format!("oci-archive:{}:v1", s(&archive))],
    );
    let copied = extract(
        t,
        &format!("oci-archive:{}:v1", s(&archive)),
        "/usr/local/bin/app",
        &t.join("dist"),
    );
    assert_eq!(extracted(&copied, "linux/arm64").0, go.arm64);
    assert_eq!(
        inspect(t, &format!("oci-archive:{}:v1", s(&archive)))["digest"],
        report["digest"]
    );
}

// ---------------------------------------------------------------- Docker

#[test]
fn docker_archive_on_scratch_runs_with_the_config_asked_for() {
    let Some((_, tmp, [amd64, _, _])) = go_in_tempdir(require_docker()) else {
        return;
    };
    let t = tmp.path();
    let mut images = DockerImages::new();
    let name = images.name("scratch");
    let archive = t.join("image.tar");
    let args = package_args(
        &[("linux/amd64", &amd64)],
        "/usr/local/bin/app",
        &format!("docker-archive:{}:{name}:v1", s(&archive)),
        &[
            "--env",
            "GREETING=hello there",
            "--user",
            "1000",
            "--workdir",
            "/tmp",
            "--label",
            "org.example.team=interop",
            "--cmd",
            "first",
            "--cmd",
            "second arg",
        ],
    );
    let report = package_json(t, &args, &[]);
    assert_eq!(report["verified"], true);
    assert_eq!(docker_load(&archive), [format!("{name}:v1")]);

    let output = docker_run(&[&format!("{name}:v1")]);
    let lines: Vec<&str> = output.lines().collect();
    assert_eq!(
        lines,
        [
            hello("amd64").as_str(),
            "arg=first",
            "arg=second arg",
            "GREETING=hello there",
            "uid=1000",
            "cwd=/tmp"
        ],
        "{output}"
    );

    let seen = docker_inspect(&format!("{name}:v1"));
    let config = &seen["Config"];
    assert_eq!(
        config["Entrypoint"],
        json!(["/usr/local/bin/app"]),
        "{seen:#}"
    );
    assert_eq!(config["Cmd"], json!(["first", "second arg"]));
    assert_eq!(config["Env"], json!(["GREETING=hello there"]));
    assert_eq!(config["User"], "1000");
    assert_eq!(config["WorkingDir"], "/tmp");
    assert_eq!(
        config["Labels"],
        json!({
            "org.example.team": "interop",
            "org.opencontainers.image.created": "1970-01-01T00:00:00Z",
        }),
        "outside a checkout only the labels asked for, and created"
    );
    assert_eq!(seen["Architecture"], "amd64");
    assert_eq!(seen["Os"], "linux");
    // Docker's image ID is the config's digest, which onebin reads back too.
    let read_back = inspect(t, &format!("docker-archive:{}", s(&archive)));
    assert_eq!(
        seen["Id"], read_back["platforms"][0]["config"],
        "{read_back:#}"
    );
    assert_eq!(
        seen["RootFS"]["Layers"].as_array().map(Vec::len),
        Some(1),
        "{seen:#}"
    );
}

/// A base image made by the real `docker build` (FROM scratch, COPY of a
/// static `cat` and a text file, ENV, LABEL, ENTRYPOINT/CMD), saved with
/// `docker save`; the Go binary packaged on it both from that archive and
/// straight from the engine.
#[test]
fn docker_built_base_keeps_its_files_and_config() {
    let Some((_, tmp, [amd64, _, _])) = go_in_tempdir(require_docker() && require("gcc")) else {
        return;
    };
    let t = tmp.path();
    let mut images = DockerImages::new();
    let base = images.name("base");
    let name = images.name("on-base");

    let ctx = t.join("ctx");
    fs::create_dir_all(&ctx).unwrap();
    fs::write(
        ctx.join("cat.c"),
        "#include <stdio.h>\nint main(int c, char **v) {\n  for (int i = 1; i < c; i++) {\n    FILE *f = fopen(v[i], \"rb\");\n    if (!f) return 1;\n    int ch;\n    while ((ch = fgetc(f)) != EOF) putchar(ch);\n    fclose(f);\n  }\n  return 0;\n}\n",
    )
    .unwrap();
    run(Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(ctx.join("cat"))
        .arg(ctx.join("cat.c")));
    let greeting = format!(
        "greetings from the base image of run {}\n",
        std::process::id()
    );
    fs::write(ctx.join("greeting.txt"), &greeting).unwrap();
    fs::write(
        ctx.join("Dockerfile"),
        "FROM scratch\nCOPY cat /bin/cat\nCOPY greeting.txt /etc/greeting.txt\nENV BASE_ENV=from-base\nLABEL org.example.base=kept\nENTRYPOINT [\"/bin/cat\"]\nCMD [\"/etc/greeting.txt\"]\n",
    )
    .unwrap();
    // The classic builder: it needs no BuildKit and pulls nothing for FROM scratch.
    run(Command::new("docker")
        .args(["build", "--quiet", "-t", &format!("{base}:v1")])
        .arg(&ctx)
        .env("DOCKER_BUILDKIT", "0"));
    assert_eq!(
        docker_run(&[&format!("{base}:v1")]),
        greeting,
        "the base runs"
    );
    let base_tar = t.join("base.tar");
    docker(&["save", "-o", s(&base_tar), &format!("{base}:v1")]);

    let archive = t.join("on-base.tar");
    let args = package_args(
        &[("linux/amd64", &amd64)],
        "/usr/local/bin/app",
        &format!("docker-archive:{}:{name}:v1", s(&archive)),
        &[
            "--base",
            &format!("docker-archive:{}", s(&base_tar)),
            "--env",
            "GREETING=on a base",
        ],
    );
    package_json(t, &args, &[]);
    // The base's layers, as they were, under the new one.
    let base_seen = inspect(t, &format!("docker-archive:{}", s(&base_tar)));
    let seen = inspect(t, &format!("docker-archive:{}", s(&archive)));
    let digests = |v: &Value| -> Vec<Value> {
        v["platforms"][0]["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].clone())
            .collect()
    };
    let (base_layers, layers) = (digests(&base_seen), digests(&seen));
    assert_eq!(base_layers.len(), 2, "{base_seen:#}");
    assert_eq!(layers.len(), 3, "{seen:#}");
    assert_eq!(layers[..2], base_layers[..]);

    assert_eq!(docker_load(&archive), [format!("{name}:v1")]);
    // The new ENTRYPOINT drops the base's CMD, as in a Dockerfile: no arguments.
    let output = docker_run(&[&format!("{name}:v1")]);
    assert_eq!(
        output.lines().take(2).collect::<Vec<_>>(),
        [hello("amd64").as_str(), "GREETING=on a base"],
        "{output}"
    );
    // The base's files are still there, and its cat still runs.
    assert_eq!(
        docker_run(&[
            "--entrypoint",
            "/bin/cat",
            &format!("{name}:v1"),
            "/etc/greeting.txt"
        ]),
        greeting
    );
    let config = &docker_inspect(&format!("{name}:v1"))["Config"];
    assert_eq!(config["Entrypoint"], json!(["/usr/local/bin/app"]));
    assert_eq!(config["Cmd"], Value::Null, "{config:#}");
    let env: Vec<&str> = config["Env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e.as_str().unwrap())
        .collect();
    assert!(env.contains(&"BASE_ENV=from-base"), "{env:?}");
    assert!(env.contains(&"GREETING=on a base"), "{env:?}");
    assert!(env.iter().any(|e| e.starts_with("PATH=")), "{env:?}");
    assert_eq!(config["Labels"]["org.example.base"], "kept", "{config:#}");

    // onebin extract gives the base's bytes back, and the binary's.
    let dist = t.join("dist");
    let report = extract(
        t,
        &format!("docker-archive:{}", s(&archive)),
        "/etc/greeting.txt",
        &dist,
    );
    assert_eq!(extracted(&report, "linux/amd64").0, greeting.as_bytes());
    let report = extract(
        t,
        &format!("docker-archive:{}", s(&archive)),
        "/bin/cat",
        &dist,
    );
    assert_eq!(
        extracted(&report, "linux/amd64").0,
        fs::read(ctx.join("cat")).unwrap()
    );

    // The same base read straight from the engine, the result loaded into it.
    let from_engine = format!("{name}:from-engine");
    let args = package_args(
        &[("linux/amd64", &amd64)],
        "/usr/local/bin/app",
        &format!("docker-daemon:{from_engine}"),
        &["--base", &format!("docker-daemon:{base}:v1")],
    );
    package_json(t, &args, &[]);
    assert_eq!(
        docker_run(&[
            "--entrypoint",
            "/bin/cat",
            &from_engine,
            "/etc/greeting.txt"
        ]),
        greeting
    );
    let output = docker_run(&[&from_engine]);
    assert_eq!(output.lines().next(), Some(hello("amd64").as_str()));
}

#[test]
fn docker_archive_of_three_platforms_loads_every_tag() {
    let Some((_, tmp, files)) = go_in_tempdir(require_docker()) else {
        return;
    };
    let t = tmp.path();
    let mut images = DockerImages::new();
    let name = images.name("multi");
    let archive = t.join("multi.tar");
    let dest = format!("docker-archive:{}:{name}:v2", s(&archive));
    let report = package_json(t, &package_args(&as_built(&files), "/app", &dest, &[]), &[]);
    assert_eq!(report["verified"], true);
    let mut loaded = docker_load(&archive);
    loaded.sort();
    let mut expected = vec![
        format!("{name}:v2-linux-amd64"),
        format!("{name}:v2-linux-arm64"),
        format!("{name}:v2-linux-arm-v7"),
    ];
    let host = host_goarch();
    if host.is_some() {
        expected.push(format!("{name}:v2"));
    }
    expected.sort();
    assert_eq!(loaded, expected);

    for (tag, arch, variant) in [
        ("v2-linux-amd64", "amd64", None),
        ("v2-linux-arm64", "arm64", None),
        ("v2-linux-arm-v7", "arm", Some("v7")),
    ] {
        let seen = docker_inspect(&format!("{name}:{tag}"));
        assert_eq!(seen["Architecture"], arch, "{tag}: {seen:#}");
        assert_eq!(seen["Os"], "linux");
        if let Some(v) = variant {
            assert_eq!(seen["Variant"], v, "{tag}: {seen:#}");
        }
        assert_eq!(seen["Config"]["Entrypoint"], json!(["/app"]));
    }
    if let Some(host) = host {
        // The plain tag is the host's platform.
        let plain = docker_inspect(&format!("{name}:v2"));
        let specific = docker_inspect(&format!("{name}:v2-linux-{host}"));
        assert_eq!(plain["Id"], specific["Id"]);
        let output = docker_run(&[&format!("{name}:v2")]);
        assert_eq!(
            output.lines().next(),
            Some(hello(host).as_str()),
            "{output}"
        );
    }
}

#[test]
fn docker_daemon_destination_runs_at_once() {
    let Some((_, tmp, files)) = go_in_tempdir(require_docker()) else {
        return;
    };
    let t = tmp.path();
    let mut images = DockerImages::new();
    let name = images.name("daemon");
    let dest = format!("docker-daemon:{name}:v3");
    let report = package_json(
        t,
        &package_args(&as_built(&files), "/hello", &dest, &[]),
        &[],
    );
    assert_eq!(report["verified"], true);

    let engine: Value =
        serde_json::from_slice(&docker(&["version", "--format", "{{json .Server}}"]).stdout)
            .unwrap();
    let engine_arch = engine["Arch"].as_str().unwrap().to_string();
    let seen = docker_inspect(&format!("{name}:v3"));
    assert_eq!(seen["Architecture"], engine_arch.as_str(), "{seen:#}");
    assert_eq!(seen["Config"]["Entrypoint"], json!(["/hello"]));
    let output = docker_run(&[&format!("{name}:v3")]);
    assert_eq!(
        output.lines().next(),
        Some(hello(&engine_arch).as_str()),
        "{output}"
    );

    // Another platform on request: loaded, not run (the engine may lack binfmt).
    let args = package_args(
        &as_built(&files)[1..2],
        "/hello",
        &format!("docker-daemon:{name}:arm64"),
        &["--daemon-platform", "linux/arm64"],
    );
    package_json(t, &args, &[]);
    let seen = docker_inspect(&format!("{name}:arm64"));
    assert_eq!(seen["Architecture"], "arm64", "{seen:#}");
}

#[test]
fn oci_archive_into_docker_load() {
    let Some((_, tmp, [amd64, _, _])) = go_in_tempdir(require_docker()) else {
        return;
    };
    let t = tmp.path();
    let archive = t.join("image.oci.tar");
    let dest = format!("oci-archive:{}:v1", s(&archive));
    let args = package_args(&[("linux/amd64", &amd64)], "/usr/local/bin/app", &dest, &[]);
    package_json(t, &args, &[]);
    // Docker Engine 20.10 does not read OCI archives: `docker load` fails with
    // "open /var/lib/docker/tmp/docker-import-…/blobs/json: no such file or
    // directory" (it looks for the legacy layout, and there is no
    // manifest.json). Nothing is asserted about it. Where an engine does accept
    // it (25 and later), the loaded image, which is untagged, must run.
    let out = Command::new("docker")
        .args(["load", "-i", s(&archive)])
        .output()
        .unwrap();
    if !out.status.success() {
        eprintln!(
            "docker load of an oci-archive refused by this engine: {}",
            stderr(&out).trim()
        );
        return;
    }
    for line in stdout(&out).lines() {
        let Some(id) = line
            .strip_prefix("Loaded image ID: ")
            .or_else(|| line.strip_prefix("Loaded image: "))
        else {
            continue;
        };
        let output = docker_run(&[id]);
        assert_eq!(output.lines().next(), Some(hello("amd64").as_str()));
        let _ = Command::new("docker").args(["image", "rm", id]).output();
    }
}

// ---------------------------------------------------------------- guard rails

#[test]
fn a_binary_for_another_platform_is_refused() {
    let Some((_, tmp, [amd64, arm64, arm])) = go_in_tempdir(true) else {
        return;
    };
    let t = tmp.path();
    let before = list_files(t);
    for (platform, file, actual, dest) in [
        ("linux/amd64", &arm64, "linux/arm64", "oci:out:v1"),
        ("linux/arm64", &arm, "linux/arm", "oci-archive:out.tar:v1"),
        (
            "linux/arm/v7",
            &amd64,
            "linux/amd64",
            "docker-archive:out.tar:x:v1",
        ),
    ] {
        let message = package_fails(t, &package_args(&[(platform, file)], "/app", dest, &[]));
        // Whole words: "linux/arm" is also the start of "linux/arm64".
        let words: Vec<&str> = message
            .split_whitespace()
            .map(|w| w.trim_matches(|c: char| !c.is_ascii_alphanumeric() && c != '/'))
            .collect();
        assert!(words.contains(&platform), "{platform}: {message}");
        assert!(words.contains(&actual), "{actual}: {message}");
        assert_eq!(list_files(t), before, "{dest} written anyway");
    }
    // One wrong binary among right ones refuses the lot.
    let wrong = [("linux/amd64", amd64.as_path()), ("linux/arm/v7", &arm64)];
    let message = package_fails(t, &package_args(&wrong, "/app", "oci:out:v1", &[]));
    assert!(message.contains("linux/arm/v7"), "{message}");
    assert_eq!(list_files(t), before);
}

/// Debian's musl package installs /lib/ld-musl-x86_64.so.1 as a symlink to
/// x86_64-linux-musl/libc.so (Alpine as the file itself): the same, mirrored
/// into a hand-written layer.
fn musl_loader_layer() -> Option<Vec<u8>> {
    let loader = Path::new("/lib/ld-musl-x86_64.so.1");
    let bytes = fs::read(loader).ok()?;
    let layer = LayerBuilder::new().dir("lib/");
    let layer = match fs::read_link(loader) {
        Ok(target) if target.is_relative() => {
            let target = target.to_str().unwrap();
            let mut dirs = String::from("lib/");
            let mut layer = layer;
            if let Some((parents, _)) = target.rsplit_once('/') {
                for part in parents.split('/') {
                    dirs.push_str(part);
                    dirs.push('/');
                    layer = layer.dir(&dirs);
                }
            }
            layer
                .file(&format!("lib/{target}"), &bytes, 0o755)
                .symlink("lib/ld-musl-x86_64.so.1", target)
        }
        _ => layer.file("lib/ld-musl-x86_64.so.1", &bytes, 0o755),
    };
    Some(layer.tar())
}

#[test]
fn dynamic_binaries_need_their_loader_in_the_base() {
    if !require("gcc") || !require("musl-gcc") {
        return;
    }
    let Some(loader_layer) = musl_loader_layer() else {
        support::missing(
            "/lib/ld-musl-x86_64.so.1 is required under CI=true (musl package)",
            "no /lib/ld-musl-x86_64.so.1 (install musl)",
        );
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let c = t.join("hello.c");
    fs::write(
        &c,
        "#include <stdio.h>\nint main(void) { puts(\"hello from C\"); return 0; }\n",
    )
    .unwrap();
    let glibc = t.join("hello-glibc");
    run(Command::new("gcc").arg("-o").arg(&glibc).arg(&c));
    let musl_static = t.join("hello-musl-static");
    run(Command::new("musl-gcc")
        .arg("-static")
        .arg("-o")
        .arg(&musl_static)
        .arg(&c));
    let musl_dynamic = t.join("hello-musl");
    run(Command::new("musl-gcc")
        .arg("-o")
        .arg(&musl_dynamic)
        .arg(&c));

    // The musl base: the loader in a hand-written layer, then a static musl
    // program packaged on it by onebin.
    let loader_dir = t.join("loader");
    let layout = Layout::new(&loader_dir);
    let root = layout.image("linux/amd64", &[(loader_layer, Compression::Gzip)]);
    let root = layout.index(&[root]);
    layout.set_root(&root, "base");
    let musl_base = format!("oci:{}:v1", s(&t.join("musl-base")));
    let on_musl_base = ["--base", musl_base.as_str()];
    let args = package_args(
        &[("linux/amd64", &musl_static)],
        "/bin/hello-static",
        &musl_base,
        &["--base", &layout.reference("base")],
    );
    package_json(t, &args, &[]);

    let before = list_files(t);
    let refused = |file: &Path, dest: &str, extra: &[&str]| {
        package_fails(
            t,
            &package_args(&[("linux/amd64", file)], "/app", dest, extra),
        )
    };
    // glibc on musl: refused, naming both.
    let message = refused(&glibc, "oci:refused:v1", &on_musl_base);
    assert!(message.contains("glibc"), "{message}");
    assert!(message.contains("musl"), "{message}");
    assert!(
        message.contains("this glibc binary will not start on this musl base"),
        "{message}"
    );
    assert_eq!(list_files(t), before);
    // glibc on scratch: refused.
    let message = refused(&glibc, "docker-archive:refused.tar:x:v1", &[]);
    assert!(message.contains("glibc"), "{message}");
    assert!(message.contains("scratch"), "{message}");
    assert_eq!(list_files(t), before);
    // musl, dynamically linked, on scratch: refused.
    let message = refused(&musl_dynamic, "oci:refused:v1", &[]);
    assert!(message.contains("musl"), "{message}");
    assert!(message.contains("scratch"), "{message}");
    assert_eq!(list_files(t), before);

    // musl, dynamically linked, on the musl base: accepted.
    let accepted = t.join("accepted.tar");
    let name = format!("onebin-package-interop-{}-musl", std::process::id());
    let args = package_args(
        &[("linux/amd64", &musl_dynamic)],
        "/usr/bin/hello",
        &format!("docker-archive:{}:{name}:v1", s(&accepted)),
        &on_musl_base,
    );
    package_json(t, &args, &[]);
    // And it does start there: the engine runs it through the base's loader.
    if host_goarch() == Some("amd64") && require_docker() {
        let mut images = DockerImages::new();
        images.names.push(name.clone());
        assert_eq!(docker_load(&accepted), [format!("{name}:v1")]);
        assert_eq!(docker_run(&[&format!("{name}:v1")]), "hello from C\n");
        assert_eq!(
            docker_run(&["--entrypoint", "/bin/hello-static", &format!("{name}:v1")]),
            "hello from C\n"
        );
    }
}

#[test]
fn bad_flags_are_refused_and_write_nothing() {
    let Some((_, tmp, [amd64, arm64, _])) = go_in_tempdir(true) else {
        return;
    };
    let t = tmp.path();
    fs::write(t.join("not-an-image.tar"), "this is no tar archive\n").unwrap();
    fs::write(t.join("notes.txt"), "no executable either\n").unwrap();
    // A readable base with only linux/amd64.
    let base = format!("oci:{}:v1", s(&t.join("base")));
    let args = package_args(&[("linux/amd64", &amd64)], "/base-app", &base, &[]);
    package_json(t, &args, &[]);
    let before = list_files(t);
    let amd64_arg = format!("linux/amd64={}", s(&amd64));
    let arm64_arg = format!("linux/arm64={}", s(&arm64));
    let base_missing_tag = format!("oci:{}:nope", s(&t.join("base")));
    let cases: Vec<(Vec<&str>, &[&str])> = vec![
        (vec!["--binary", "linux/amd64"], &["PLATFORM=FILE"]),
        (vec!["--binary", "linux/amd64="], &["linux/amd64="]),
        (
            vec!["--binary", "linux/amd64=missing-file"],
            &["missing-file"],
        ),
        (vec!["--binary", "linux/amd64=notes.txt"], &["notes.txt"]),
        (vec!["--binary", &amd64_arg, "--mode", "99"], &["99"]),
        (vec!["--binary", &amd64_arg, "--mode", "rwx"], &["rwx"]),
        (
            vec!["--binary", &amd64_arg, "--compression", "lz4"],
            &["lz4", "gzip or zstd"],
        ),
        (
            vec!["--binary", &amd64_arg, "--path", "relative/app"],
            &["relative/app"],
        ),
        (
            vec!["--binary", &amd64_arg, "--binary", &amd64_arg],
            &["twice"],
        ),
        (
            vec!["--binary", &amd64_arg, "--base", "oci:no-such-layout:v1"],
            &["base", "no-such-layout"],
        ),
        (
            vec![
                "--binary",
                &amd64_arg,
                "--base",
                "docker-archive:not-an-image.tar",
            ],
            &["not-an-image.tar"],
        ),
        (
            vec!["--binary", &amd64_arg, "--base", &base_missing_tag],
            &["nope"],
        ),
        (
            vec!["--binary", &arm64_arg, "--base", &base],
            &["linux/arm64", "linux/amd64"],
        ),
    ];
    for dest in [
        "oci:out:v1",
        "oci-archive:out.tar:v1",
        "docker-archive:out.tar:x:v1",
    ] {
        for (args, expected) in &cases {
            let mut all = args.clone();
            if !all.contains(&"--path") {
                all.extend_from_slice(&["--path", "/app"]);
            }
            all.extend_from_slice(&["--dest", dest]);
            let message = package_fails(t, &all);
            for e in *expected {
                assert!(message.contains(e), "{all:?}: '{e}' not in: {message}");
            }
            assert_eq!(list_files(t), before, "{all:?} left something behind");
        }
    }
}

// ---------------------------------------------------------------- reproducibility

#[test]
fn same_inputs_give_the_same_image_and_any_change_shows() {
    let Some(go) = go_binaries() else { return };
    let one = tempfile::tempdir().unwrap();
    let two = tempfile::tempdir().unwrap();
    let out = tempfile::tempdir().unwrap();
    let [amd64, arm64, arm] = go_files(one.path(), go);
    let epoch = [("SOURCE_DATE_EPOCH", "1700000000")];

    // In `one` by relative names; in `two` by absolute paths.
    let package = |cwd: &Path, files: &[&str], dest: &str, extra: &[&str], env: &[(&str, &str)]| {
        let binaries: Vec<(&str, &Path)> = PLATFORMS
            .into_iter()
            .zip(files.iter().map(Path::new))
            .collect();
        let mut args = package_args(
            &binaries,
            "/usr/local/bin/app",
            dest,
            &["--env", "MODE=prod"],
        );
        args.extend(extra.iter().map(|a| a.to_string()));
        package_json(cwd, &args, env)
    };
    let relative = ["app-amd64", "app-arm64", "app-arm"];
    let absolute = [s(&amd64), s(&arm64), s(&arm)];
    let archive = |name: &str| out.path().join(name);
    let dest = |name: &str| format!("oci-archive:{}:v1", s(&archive(name)));

    let first = package(one.path(), &relative, &dest("a.tar"), &[], &epoch);
    let again = package(one.path(), &relative, &dest("b.tar"), &[], &epoch);
    let elsewhere = package(two.path(), &absolute, &dest("c.tar"), &[], &epoch);
    let digest = first["digest"].as_str().unwrap().to_string();
    assert_eq!(again["digest"], digest.as_str());
    assert_eq!(elsewhere["digest"], digest.as_str());
    let bytes = fs::read(archive("a.tar")).unwrap();
    assert!(
        bytes == fs::read(archive("b.tar")).unwrap(),
        "a.tar != b.tar"
    );
    assert!(
        bytes == fs::read(archive("c.tar")).unwrap(),
        "a.tar != c.tar"
    );
    for p in PLATFORMS {
        assert_eq!(entry(&first, p)["digest"], entry(&elsewhere, p)["digest"]);
        assert_eq!(entry(&first, p)["layer"], entry(&elsewhere, p)["layer"]);
    }
    // The digest --json gives is the one a reader computes.
    assert_eq!(
        inspect(out.path(), &dest("c.tar"))["digest"],
        digest.as_str()
    );
    // The time stamp is SOURCE_DATE_EPOCH's.
    if require("skopeo") {
        let seen = skopeo::json(&["inspect", &dest("a.tar")]);
        assert_eq!(seen["Created"], "2023-11-14T22:13:20Z", "{seen:#}");
    }

    // docker-archive output is as reproducible.
    let docker_dest = |name: &str| format!("docker-archive:{}:x/app:v1", s(&archive(name)));
    let d1 = package(one.path(), &relative, &docker_dest("d1.tar"), &[], &epoch);
    let d2 = package(two.path(), &absolute, &docker_dest("d2.tar"), &[], &epoch);
    assert_eq!(d1["digest"], digest.as_str());
    assert_eq!(d2["digest"], digest.as_str());
    assert!(
        fs::read(archive("d1.tar")).unwrap() == fs::read(archive("d2.tar")).unwrap(),
        "d1.tar != d2.tar"
    );

    // One changed byte of one input: that platform changes, and the index.
    let mut changed = go.arm64.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0xff;
    let changed_file = write_exe(&two.path().join("app-arm64-changed"), &changed);
    let flipped = package(
        two.path(),
        &[s(&amd64), s(&changed_file), s(&arm)],
        &dest("flipped.tar"),
        &[],
        &epoch,
    );
    assert_ne!(flipped["digest"], digest.as_str());
    assert_ne!(
        entry(&flipped, "linux/arm64")["layer"],
        entry(&first, "linux/arm64")["layer"]
    );
    assert_eq!(
        entry(&flipped, "linux/amd64")["digest"],
        entry(&first, "linux/amd64")["digest"],
        "the other platforms are untouched"
    );

    // The rest on linux/amd64 alone, which is quicker, against a baseline of its own.
    let solo = package(one.path(), &relative[..1], &dest("solo.tar"), &[], &epoch);
    let solo_digest = solo["digest"].as_str().unwrap();
    assert_eq!(
        package(two.path(), &absolute[..1], &dest("solo2.tar"), &[], &epoch)["digest"],
        solo_digest
    );

    // A changed --env: the config, so the manifest and the index; not the layer.
    let env_changed = package(
        one.path(),
        &relative[..1],
        &dest("env.tar"),
        &["--env", "EXTRA=1"],
        &epoch,
    );
    assert_ne!(env_changed["digest"], solo_digest);
    assert_eq!(
        entry(&env_changed, "linux/amd64")["layer"],
        entry(&solo, "linux/amd64")["layer"],
        "the layer does not depend on the config"
    );
    assert_ne!(
        entry(&env_changed, "linux/amd64")["digest"],
        entry(&solo, "linux/amd64")["digest"]
    );

    // Another SOURCE_DATE_EPOCH: another image.
    let later = package(
        one.path(),
        &relative[..1],
        &dest("later.tar"),
        &[],
        &[("SOURCE_DATE_EPOCH", "1700000001")],
    );
    assert_ne!(later["digest"], solo_digest);
    let unset = package(one.path(), &relative[..1], &dest("unset.tar"), &[], &[]);
    assert_ne!(unset["digest"], solo_digest);
    // Unset is 0, the same as SOURCE_DATE_EPOCH=0.
    let zero = package(
        two.path(),
        &absolute[..1],
        &dest("zero.tar"),
        &[],
        &[("SOURCE_DATE_EPOCH", "0")],
    );
    assert_eq!(zero["digest"], unset["digest"]);

    let all: BTreeMap<&str, &Value> = [
        ("solo", &solo["digest"]),
        ("env", &env_changed["digest"]),
        ("later", &later["digest"]),
        ("unset", &unset["digest"]),
    ]
    .into_iter()
    .collect();
    let distinct: std::collections::BTreeSet<String> =
        all.values().map(|v| v.to_string()).collect();
    assert_eq!(distinct.len(), all.len(), "{all:#?}");
}
