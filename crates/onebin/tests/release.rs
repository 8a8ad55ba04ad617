//! `onebin release` end to end, with real tools on the other side: the
//! loopback `docker-registry`, skopeo, `sha256sum -c`, `tar`, git, and
//! GoReleaser's dist layout written as GoReleaser documents it.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::Value;
use support::registry::Registry;
use support::{require, run, s, stderr, stdout};

const HELLO: &str = "/usr/local/bin/hello";
const CHECK: &str = "/usr/local/bin/hello-healthcheck";

fn example() -> String {
    format!(
        "oci:{}",
        concat!(env!("CARGO_MANIFEST_DIR"), "/../../examples/hello/image")
    )
}

/// onebin in `dir` (where onebin.toml is), without SOURCE_DATE_EPOCH from outside.
fn onebin_in(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_onebin"))
        .args(args)
        .current_dir(dir)
        .env_remove("SOURCE_DATE_EPOCH")
        .envs(env.iter().copied())
        .output()
        .expect("onebin runs")
}

fn json_ok(dir: &Path, args: &[&str]) -> Value {
    let mut all = args.to_vec();
    all.push("--json");
    let out = onebin_in(dir, &all, &[]);
    assert!(
        out.status.success(),
        "onebin {args:?} failed:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

fn fails(dir: &Path, args: &[&str], code: i32) -> String {
    let out = onebin_in(dir, args, &[]);
    assert_eq!(
        out.status.code(),
        Some(code),
        "onebin {args:?}:\n{}\n{}",
        stdout(&out),
        stderr(&out)
    );
    stderr(&out)
}

/// The example's binaries as CI built them, in `dir/bin`, and a second
/// binary per platform (the healthcheck: other bytes, same platform).
fn binaries(dir: &Path) {
    run(Command::new(env!("CARGO_BIN_EXE_onebin")).args([
        "extract",
        "--quiet",
        &example(),
        "--path",
        HELLO,
        "--out",
        s(&dir.join("bin")),
    ]));
    for arch in ["amd64", "arm64"] {
        let mut bytes = std::fs::read(dir.join(format!("bin/hello_linux_{arch}"))).unwrap();
        bytes.extend_from_slice(b"healthcheck");
        std::fs::write(dir.join(format!("bin/hc_linux_{arch}")), bytes).unwrap();
    }
    std::fs::write(dir.join("LICENSE"), "Apache-2.0\n").unwrap();
}

fn config(destinations: &[String], extra: &str) -> String {
    let list: Vec<String> = destinations.iter().map(|d| format!("{d:?}")).collect();
    format!(
        r#"project = "hello"
version = "1.2.0"
destinations = [{}]

[[binaries]]
path = "{HELLO}"
platforms = {{ "linux/amd64" = "bin/hello_linux_amd64", "linux/arm64" = "bin/hello_linux_arm64" }}

[[binaries]]
name = "hello-healthcheck"
path = "{CHECK}"
[binaries.platforms]
"linux/amd64" = "bin/hc_linux_amd64"
"linux/arm64" = "bin/hc_linux_arm64"

[image]
env = {{ GREETING = "hi" }}
labels = {{ "org.example.team" = "core" }}

[assets]
files = ["LICENSE"]
{extra}"#,
        list.join(", ")
    )
}

/// The real `sha256sum -c` accepts the release's checksums file.
fn sha256sum_check(dist: &Path) {
    run(Command::new("sha256sum")
        .args(["-c", "hello_1.2.0_checksums.txt"])
        .current_dir(dist));
}

fn skopeo_digest(image: &str) -> Option<String> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", image])
        .output()
        .unwrap();
    out.status
        .success()
        .then(|| format!("sha256:{}", support::sha256_hex(&out.stdout)))
}

#[test]
fn release_pushes_writes_assets_and_proves_every_image() {
    if !require("skopeo") || !require("sha256sum") || !require("tar") {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    let pushed = registry.image("team/hello:{version}");
    std::fs::write(
        dir.join("onebin.toml"),
        config(
            &[
                pushed,
                "oci:build/image:{version}".to_string(),
                "docker-archive:build/image.tar:hello:{version}".to_string(),
            ],
            "",
        ),
    )
    .unwrap();

    let report = json_ok(dir, &["release", "--quiet"]);
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["version"], "1.2.0");
    // Not in a git checkout, no SOURCE_DATE_EPOCH: the epoch.
    assert_eq!(report["source_date_epoch"], 0);
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 3);
    // One set of inputs, one digest, wherever it goes.
    assert_eq!(images[0]["digest"], images[1]["digest"]);
    assert_eq!(images[0]["digest"], images[2]["digest"]);
    let digest = images[0]["digest"].as_str().unwrap();
    assert_eq!(images[0]["push"]["registry_digest"], digest);
    assert_eq!(
        images[0]["tagged"],
        format!("{}/team/hello:1.2.0", registry.host())
    );
    // Two binaries per image, each in the report per platform.
    assert_eq!(images[0]["platforms"].as_array().unwrap().len(), 4);
    // The proof: 3 destinations x 2 platforms x 2 binaries, all matching.
    let proof = report["proof"].as_array().unwrap();
    assert_eq!(proof.len(), 12, "{report:#}");
    assert!(proof.iter().all(|p| p["status"] == "match"), "{report:#}");
    assert!(proof.iter().any(|p| p["path"] == CHECK));

    // The tag, read by skopeo, is the image onebin reported.
    let tagged = format!("docker://{}/team/hello:1.2.0", registry.host());
    assert_eq!(skopeo_digest(&tagged).as_deref(), Some(digest));

    // GoReleaser's names; the checksums file passes sha256sum -c.
    let dist = dir.join("dist");
    assert_eq!(
        support::list_files(&dist),
        [
            "hello_1.2.0_checksums.txt",
            "hello_1.2.0_linux_amd64.tar.gz",
            "hello_1.2.0_linux_arm64.tar.gz"
        ]
    );
    sha256sum_check(&dist);
    let unpacked = dir.join("unpacked");
    std::fs::create_dir(&unpacked).unwrap();
    run(Command::new("tar").args([
        "-xzf",
        s(&dist.join("hello_1.2.0_linux_arm64.tar.gz")),
        "-C",
        s(&unpacked),
    ]));
    assert_eq!(
        support::list_files(&unpacked),
        ["LICENSE", "hello", "hello-healthcheck"]
    );
    assert_eq!(
        std::fs::read(unpacked.join("hello-healthcheck")).unwrap(),
        std::fs::read(dir.join("bin/hc_linux_arm64")).unwrap()
    );

    // verify and extract, as users run them, agree; extract takes the
    // healthcheck out of the registry too.
    let out = onebin_in(
        dir,
        &[
            "verify",
            "oci:build/image:1.2.0",
            "--path",
            CHECK,
            "--checksums",
            "dist/hello_1.2.0_checksums.txt",
        ],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let out = onebin_in(
        dir,
        &[
            "extract", "--quiet", &tagged, "--path", CHECK, "--out", "out",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.join("out/hello-healthcheck_linux_amd64")).unwrap(),
        std::fs::read(dir.join("bin/hc_linux_amd64")).unwrap()
    );

    // The same release again: the same digests and the same asset bytes.
    let again = json_ok(dir, &["release", "--quiet"]);
    assert_eq!(again["images"][0]["digest"], digest);
    assert_eq!(again["assets"], report["assets"]);
}

#[test]
fn a_failure_after_the_push_leaves_the_tag_and_writes_no_asset() {
    if !require("skopeo") {
        return;
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    let stable = registry.image("hello:stable");
    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&stable), ""),
    )
    .unwrap();
    let first = json_ok(dir, &["release", "--quiet"]);
    let before = first["images"][0]["digest"].as_str().unwrap().to_string();

    // 2.0.0 is another image (its version label); the second destination
    // cannot be written (its directory does not exist), after the push.
    std::fs::write(
        dir.join("onebin.toml"),
        config(
            &[
                stable.clone(),
                "oci-archive:missing/dir/image.tar".to_string(),
            ],
            "",
        ),
    )
    .unwrap();
    let err = fails(dir, &["release", "--quiet", "--version", "2.0.0"], 2);
    assert!(err.contains("missing/dir"), "{err}");
    assert_eq!(skopeo_digest(&stable).as_deref(), Some(before.as_str()));
    assert!(
        !support::list_files(&dir.join("dist"))
            .iter()
            .any(|f| f.contains("2.0.0")),
        "{:?}",
        support::list_files(&dir.join("dist"))
    );
}

#[test]
fn bad_config_and_inputs_fail_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    let oci = "oci:build/image:{version}".to_string();

    // An unknown key, named by its line.
    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&oci), "compression = \"best\"\n"),
    )
    .unwrap();
    let err = fails(dir, &["release"], 2);
    assert!(err.contains("onebin.toml:22:"), "{err}");
    assert!(err.contains("compression"), "{err}");

    // A platform onebin does not know, at its line.
    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&oci), "").replace(
            "\"linux/arm64\" = \"bin/hc",
            "\"linux/nope/x/y\" = \"bin/hc",
        ),
    )
    .unwrap();
    let err = fails(dir, &["release"], 2);
    assert!(err.contains("onebin.toml:14:"), "{err}");

    // A binary that is not there: nothing written anywhere.
    std::fs::write(
        dir.join("onebin.toml"),
        config(&[oci.clone(), "oci:other/image:{version}".to_string()], "")
            .replace("bin/hc_linux_arm64", "bin/missing"),
    )
    .unwrap();
    let err = fails(dir, &["release"], 2);
    assert!(err.contains("bin/missing"), "{err}");
    // A binary for the wrong platform.
    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&oci), "").replace("bin/hc_linux_arm64", "bin/hc_linux_amd64"),
    )
    .unwrap();
    let err = fails(dir, &["release"], 2);
    assert!(err.contains("will not run on linux/arm64"), "{err}");
    // An extra file that is not there, at its line.
    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&oci), "")
            .replace("files = [\"LICENSE\"]", "files = [\"NOTICE\"]"),
    )
    .unwrap();
    let err = fails(dir, &["release"], 2);
    assert!(
        err.contains("onebin.toml:21:") && err.contains("NOTICE"),
        "{err}"
    );
    // {version} with no version.
    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&oci), "").replace("version = \"1.2.0\"\n", ""),
    )
    .unwrap();
    let err = fails(dir, &["release"], 2);
    assert!(err.contains("no version is set"), "{err}");
    for left in ["build", "other", "dist"] {
        assert!(!dir.join(left).exists(), "{left} was written");
    }

    // --dry-run checks the same and writes nothing.
    std::fs::write(dir.join("onebin.toml"), config(&[oci], "")).unwrap();
    let plan = json_ok(dir, &["release", "--dry-run", "--version", "3.0.0"]);
    assert_eq!(plan["dry_run"], true);
    let steps: Vec<&str> = plan["plan"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap())
        .collect();
    assert!(steps.contains(&"write oci:build/image:3.0.0"), "{steps:?}");
    assert!(
        steps
            .iter()
            .any(|s| s.starts_with("write dist/hello_3.0.0_linux_arm64.tar.gz")),
        "{steps:?}"
    );
    for left in ["build", "other", "dist"] {
        assert!(!dir.join(left).exists(), "{left} was written");
    }
}

#[test]
fn source_date_epoch_defaults_to_the_commit_time_of_head() {
    if !require("git") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    std::fs::write(
        dir.join("onebin.toml"),
        config(&["oci:build/image:{version}".to_string()], ""),
    )
    .unwrap();
    let git = |args: &[&str]| {
        run(Command::new("git")
            .args(args)
            .current_dir(dir)
            .env("GIT_AUTHOR_DATE", "@1700000000 +0000")
            .env("GIT_COMMITTER_DATE", "@1700000000 +0000")
            .env("GIT_AUTHOR_NAME", "t")
            .env("GIT_AUTHOR_EMAIL", "t@example.org")
            .env("GIT_COMMITTER_NAME", "t")
            .env("GIT_COMMITTER_EMAIL", "t@example.org"))
    };
    git(&["init", "-q"]);
    git(&["add", "onebin.toml"]);
    git(&["commit", "-q", "-m", "release"]);
    let report = json_ok(dir, &["release", "--quiet"]);
    assert_eq!(report["source_date_epoch"], 1_700_000_000u64);
    // SOURCE_DATE_EPOCH still wins.
    let out = onebin_in(
        dir,
        &["release", "--dry-run", "--json"],
        &[("SOURCE_DATE_EPOCH", "42")],
    );
    let plan: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(plan["source_date_epoch"], 42);
}

/// GoReleaser's dist, as its documentation describes artifacts.json and
/// metadata.json, with archives made by tar and checksums by sha256sum.
fn goreleaser_dist(dir: &Path) -> PathBuf {
    let dist = dir.join("dist");
    let mut artifacts = Vec::new();
    for (arch, target) in [("amd64", "linux_amd64_v1"), ("arm64", "linux_arm64_v8.0")] {
        let build = dist.join(format!("hello_{target}"));
        std::fs::create_dir_all(&build).unwrap();
        std::fs::copy(
            dir.join(format!("bin/hello_linux_{arch}")),
            build.join("hello"),
        )
        .unwrap();
        let archive = format!("hello_1.2.0_linux_{arch}.tar.gz");
        std::fs::copy(dir.join("LICENSE"), build.join("LICENSE")).unwrap();
        run(Command::new("tar").args([
            "-czf",
            s(&dist.join(&archive)),
            "-C",
            s(&build),
            "hello",
            "LICENSE",
        ]));
        let extra = if arch == "amd64" {
            r#""goamd64":"v1","#
        } else {
            r#""goarm64":"v8.0","#
        };
        artifacts.push(format!(
            r#"{{"name":"hello","path":"dist/hello_{target}/hello","goos":"linux","goarch":"{arch}",{extra}"target":"{target}","internal_type":4,"type":"Binary","extra":{{"Binary":"hello","Builder":"go","Ext":"","ID":"hello"}}}}"#
        ));
        artifacts.push(format!(
            r#"{{"name":"{archive}","path":"dist/{archive}","goos":"linux","goarch":"{arch}",{extra}"target":"{target}","internal_type":1,"type":"Archive","extra":{{"Binaries":["hello"],"Format":"tar.gz","ID":"default","WrappedIn":""}}}}"#
        ));
    }
    let sums = run(Command::new("sh")
        .args(["-c", "sha256sum *.tar.gz"])
        .current_dir(&dist));
    std::fs::write(dist.join("hello_1.2.0_checksums.txt"), &sums.stdout).unwrap();
    artifacts.push(r#"{"name":"hello_1.2.0_checksums.txt","path":"dist/hello_1.2.0_checksums.txt","internal_type":12,"type":"Checksum","extra":{}}"#.to_string());
    std::fs::write(
        dist.join("artifacts.json"),
        format!("[{}]", artifacts.join(",\n")),
    )
    .unwrap();
    std::fs::write(
        dist.join("metadata.json"),
        r#"{"project_name":"hello","tag":"v1.2.0","previous_tag":"","version":"1.2.0","commit":"0123456789abcdef0123456789abcdef01234567","date":"2026-12-02T10:00:00Z","runtime":{"goos":"linux","goarch":"amd64"}}"#,
    )
    .unwrap();
    dist
}

#[test]
fn from_goreleaser_packages_its_binaries_and_proves_its_archives() {
    if !require("tar") || !require("sha256sum") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    let dist = goreleaser_dist(dir);
    let before = support::list_files(&dist);

    // No onebin.toml: GoReleaser's names, version and binaries.
    let report = json_ok(
        dir,
        &[
            "release",
            "--quiet",
            "--from-goreleaser",
            "dist",
            "--dest",
            "oci:image:{version}",
        ],
    );
    assert_eq!(report["ok"], true, "{report:#}");
    assert_eq!(report["project"], "hello");
    let proof = report["proof"].as_array().unwrap();
    assert_eq!(proof.len(), 2);
    assert!(proof.iter().all(|p| p["status"] == "match"
        && p["path"] == HELLO
        && p["asset"].as_str().unwrap().ends_with(".tar.gz")));
    // onebin wrote no asset of its own next to GoReleaser's.
    assert_eq!(support::list_files(&dist), before);
    let out = onebin_in(
        dir,
        &[
            "verify",
            "oci:image:1.2.0",
            "--path",
            HELLO,
            "--release",
            "dist",
        ],
        &[],
    );
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));

    // An archive that no longer holds the binary that was built: the proof fails (exit 1).
    let build = dist.join("hello_linux_amd64_v1");
    let mut other = std::fs::read(build.join("hello")).unwrap();
    other.extend_from_slice(b"tampered");
    let tampered = dir.join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    std::fs::write(tampered.join("hello"), other).unwrap();
    run(Command::new("tar").args([
        "-czf",
        s(&dist.join("hello_1.2.0_linux_amd64.tar.gz")),
        "-C",
        s(&tampered),
        "hello",
    ]));
    let out = onebin_in(
        dir,
        &[
            "release",
            "--quiet",
            "--from-goreleaser",
            "dist",
            "--dest",
            "oci:image2:{version}",
            "--json",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["ok"], false);
    assert!(report["proof"]
        .as_array()
        .unwrap()
        .iter()
        .any(|p| p["status"] == "mismatch" && p["platform"] == "linux/amd64"));
}

#[test]
fn extract_and_verify_take_the_several_binaries_of_one_image() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    std::fs::write(
        dir.join("onebin.toml"),
        config(&["oci:build/image:{version}".to_string()], ""),
    )
    .unwrap();
    json_ok(dir, &["release", "--quiet"]);
    let both = ["--path", HELLO, "--path", CHECK];
    let mut args = vec![
        "extract",
        "--quiet",
        "oci:build/image:1.2.0",
        "--out",
        "out",
    ];
    args.extend(both);
    let extracted = json_ok(dir, &args);
    assert_eq!(extracted["files"].as_array().unwrap().len(), 4);
    assert_eq!(
        std::fs::read(dir.join("out/hello-healthcheck_linux_arm64")).unwrap(),
        std::fs::read(dir.join("bin/hc_linux_arm64")).unwrap()
    );
    // Raw assets go to the binary whose name starts theirs (the longest).
    let mut args = vec!["verify", "oci:build/image:1.2.0", "--release", "out"];
    args.extend(both);
    let verified = json_ok(dir, &args);
    assert_eq!(verified["ok"], true, "{verified:#}");
    assert_eq!(verified["results"].as_array().unwrap().len(), 4);
    // Archives are searched for each binary by name.
    let mut args = vec!["verify", "oci:build/image:1.2.0", "--release", "dist"];
    args.extend(both);
    assert_eq!(json_ok(dir, &args)["ok"], true);

    // The healthcheck asset replaced by the main binary: that one mismatches.
    std::fs::copy(
        dir.join("bin/hello_linux_arm64"),
        dir.join("out/hello-healthcheck_linux_arm64"),
    )
    .unwrap();
    let mut args = vec![
        "verify",
        "oci:build/image:1.2.0",
        "--release",
        "out",
        "--json",
    ];
    args.extend(both);
    let out = onebin_in(dir, &args, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let bad: Vec<(&str, &str)> = report["results"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["status"] != "match")
        .map(|r| (r["path"].as_str().unwrap(), r["platform"].as_str().unwrap()))
        .collect();
    assert_eq!(bad, [(CHECK, "linux/arm64")]);
}

#[test]
fn package_puts_a_further_binary_at_its_own_path() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    let out = onebin_in(
        dir,
        &[
            "package",
            "--path",
            HELLO,
            "--binary",
            "linux/amd64=bin/hello_linux_amd64",
            "--binary",
            &format!("linux/amd64=bin/hc_linux_amd64={CHECK}"),
            "--dest",
            "oci:image:v1",
            "--json",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let paths: Vec<&str> = report["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["path"].as_str().unwrap())
        .collect();
    assert_eq!(paths, [HELLO, CHECK]);
    let out = onebin_in(
        dir,
        &[
            "extract",
            "-q",
            "oci:image:v1",
            "--path",
            CHECK,
            "--out",
            "x",
        ],
        &[],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(
        std::fs::read(dir.join("x/hello-healthcheck_linux_amd64")).unwrap(),
        std::fs::read(dir.join("bin/hc_linux_amd64")).unwrap()
    );
    // A further binary for fewer platforms than the first: refused.
    let out = onebin_in(
        dir,
        &[
            "package",
            "--path",
            HELLO,
            "--binary",
            "linux/amd64=bin/hello_linux_amd64",
            "--binary",
            "linux/arm64=bin/hello_linux_arm64",
            "--binary",
            &format!("linux/amd64=bin/hc_linux_amd64={CHECK}"),
            "--dest",
            "oci:image2:v1",
        ],
        &[],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("every binary of the image needs every platform"));
    assert!(!dir.join("image2").exists());
}

#[test]
fn zip_and_raw_binary_assets() {
    if !require("sha256sum") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    let oci = "oci:build/image:{version}".to_string();
    let both = ["--path", HELLO, "--path", CHECK];

    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&oci), "")
            .replace("[assets]\n", "[assets]\nformat = \"zip\"\n"),
    )
    .unwrap();
    json_ok(dir, &["release", "--quiet"]);
    let dist = dir.join("dist");
    assert_eq!(
        support::list_files(&dist),
        [
            "hello_1.2.0_checksums.txt",
            "hello_1.2.0_linux_amd64.zip",
            "hello_1.2.0_linux_arm64.zip"
        ]
    );
    sha256sum_check(&dist);
    let mut args = vec!["verify", "oci:build/image:1.2.0", "--release", "dist"];
    args.extend(both);
    assert_eq!(json_ok(dir, &args)["ok"], true);

    std::fs::remove_dir_all(&dist).unwrap();
    std::fs::write(
        dir.join("onebin.toml"),
        config(std::slice::from_ref(&oci), "")
            .replace("[assets]\n", "[assets]\nformat = \"binary\"\n")
            .replace("files = [\"LICENSE\"]\n", "")
            .replace("[image]\n", "[image]\ncompression = \"zstd\"\n"),
    )
    .unwrap();
    json_ok(dir, &["release", "--quiet"]);
    // [image] compression = "zstd": every binary's layer is zstd.
    let layout = dir.join("build/image");
    let blob = |digest: &str| -> Value {
        let file = layout
            .join("blobs/sha256")
            .join(digest.trim_start_matches("sha256:"));
        serde_json::from_slice(&std::fs::read(file).unwrap()).unwrap()
    };
    let top: Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    let index = blob(top["manifests"][0]["digest"].as_str().unwrap());
    for manifest in index["manifests"].as_array().unwrap() {
        let layers = blob(manifest["digest"].as_str().unwrap())["layers"].clone();
        assert_eq!(layers.as_array().unwrap().len(), 2, "{layers}");
        for layer in layers.as_array().unwrap() {
            assert_eq!(
                layer["mediaType"], "application/vnd.oci.image.layer.v1.tar+zstd",
                "{layer}"
            );
        }
    }
    assert_eq!(
        support::list_files(&dist),
        [
            "hello-healthcheck_1.2.0_linux_amd64",
            "hello-healthcheck_1.2.0_linux_arm64",
            "hello_1.2.0_checksums.txt",
            "hello_1.2.0_linux_amd64",
            "hello_1.2.0_linux_arm64"
        ]
    );
    assert_eq!(
        std::fs::read(dist.join("hello-healthcheck_1.2.0_linux_arm64")).unwrap(),
        std::fs::read(dir.join("bin/hc_linux_arm64")).unwrap()
    );
    sha256sum_check(&dist);
    let mut args = vec!["verify", "oci:build/image:1.2.0", "--release", "dist"];
    args.extend(both);
    assert_eq!(json_ok(dir, &args)["ok"], true);
}

#[test]
fn release_loads_the_docker_engine_and_proves_what_it_loaded() {
    if !support::require_docker() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    binaries(dir);
    let name = format!("onebin-release-test-{}", std::process::id());
    std::fs::write(
        dir.join("onebin.toml"),
        config(&[format!("docker-daemon:{name}:{{version}}")], ""),
    )
    .unwrap();
    let report = json_ok(dir, &["release", "--quiet"]);
    let loaded = format!("{name}:1.2.0");
    let cleanup = Command::new("docker")
        .args(["image", "rm", "-f", &loaded])
        .output();
    assert_eq!(report["ok"], true, "{report:#}");
    // The engine holds one platform: its two binaries were read back out of it.
    let proof = report["proof"].as_array().unwrap();
    assert_eq!(proof.len(), 2, "{report:#}");
    assert!(proof.iter().all(|p| p["status"] == "match"));
    assert!(cleanup.unwrap().status.success());
}
