//! The defect classes of issue #10, each on a small repository written
//! here: the builds audit must find, where each ships and why, the
//! findings and the option, and no changes where none are due.

use std::fs;
use std::path::Path;

use onebin_audit::model::{Artifact, Build};
use onebin_audit::recommend::OptionKind;
use onebin_audit::{audit, ci::Dialect, Report};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

fn ids(r: &Report) -> Vec<&str> {
    let mut ids: Vec<&str> = r.findings.iter().map(|f| f.id).collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

fn build_at<'a>(r: &'a Report, file: &str, line: usize) -> &'a Build {
    r.builds
        .iter()
        .find(|b| b.place.file == file && b.place.line == line)
        .unwrap_or_else(|| panic!("no build at {file}:{line}: {:#?}", r.builds))
}

const GO_MOD: &str = "module example.com/tool\n\ngo 1.22\n";

/// Class 1: test, lint and PR jobs are not the release; a tag-triggered
/// GoReleaser run is, and a ko build in an e2e job is not the image.
#[test]
fn checks_are_not_the_release_and_tag_runs_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "go.mod", GO_MOD);
    write(
        d,
        ".github/workflows/ci.yml",
        "on:\n  pull_request:\n  push:\n    branches: [main]\njobs:\n  build:\n    runs-on: ubuntu-latest\n    steps:\n      - run: go build -v ./...\n      - uses: actions/upload-artifact@v4\n        with: {name: logs, path: out/}\n  e2e:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ko build ./test/fixture\n",
    );
    write(
        d,
        ".github/workflows/release.yml",
        "on:\n  push:\n    tags: ['v*']\njobs:\n  goreleaser:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-go@v5\n        with: {go-version: 1.22.5}\n      - uses: goreleaser/goreleaser-action@v6\n        with: {args: release --clean}\n",
    );
    write(
        d,
        ".goreleaser.yaml",
        "builds:\n  - binary: tool\n    env: [CGO_ENABLED=0]\n    flags: [-trimpath]\n    goos: [linux]\n    goarch: [amd64]\n",
    );
    let r = audit(d).expect("audit");
    let ci = build_at(&r, ".github/workflows/ci.yml", 9);
    assert_eq!(ci.artifact, Artifact::None);
    assert!(ci.why.contains("branches"), "{}", ci.why);
    let e2e = build_at(&r, ".github/workflows/ci.yml", 15);
    assert_eq!(e2e.artifact, Artifact::None, "{}", e2e.why);
    assert!(e2e.why.contains("check (e2e)"), "{}", e2e.why);
    let release = build_at(&r, ".goreleaser.yaml", 2);
    assert_eq!(release.artifact, Artifact::Release);
    assert!(
        release.why.contains("a tag push `v*`") && release.why.contains("GoReleaser"),
        "{}",
        release.why
    );
    assert!(!r.has_double_build(), "{:?}", r.findings);
    // No image at all: nothing to change.
    assert!(r.recommendation.changes.is_empty());
    assert!(
        r.recommendation.reasons[0].contains("no container image"),
        "{:?}",
        r.recommendation.reasons
    );
}

/// Class 2: build tools audit does not read are findings with file and
/// line, in release jobs; go-release-action is read as the Go build it is.
#[test]
fn unread_build_tools_are_named_and_go_release_action_is_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "go.mod", GO_MOD);
    write(
        d,
        "Taskfile.yml",
        "version: '3'\ntasks:\n  build:\n    cmds: [go build]\n",
    );
    write(
        d,
        ".github/workflows/release.yml",
        "on:\n  release:\n    types: [published]\njobs:\n  promu:\n    runs-on: ubuntu-latest\n    steps:\n      - run: promu crossbuild -v\n      - run: docker buildx bake release\n  binaries:\n    runs-on: ubuntu-latest\n    strategy:\n      matrix:\n        goarch: [amd64, arm64]\n    steps:\n      - uses: wangyoucao577/go-release-action@v1\n        with:\n          goos: linux\n          goarch: ${{ matrix.goarch }}\n          goversion: 1.18\n          binary_name: tool\n",
    );
    write(
        d,
        ".github/workflows/lint.yml",
        "on: pull_request\njobs:\n  lint:\n    runs-on: ubuntu-latest\n    steps:\n      - run: task lint\n",
    );
    let r = audit(d).expect("audit");
    let unread: Vec<String> = r
        .findings
        .iter()
        .filter(|f| f.id == "unread-build")
        .map(|f| format!("{}:{}", f.file, f.line))
        .collect();
    assert_eq!(
        unread,
        [
            ".github/workflows/release.yml:8",
            ".github/workflows/release.yml:9",
            "Taskfile.yml:1"
        ],
        "{:#?}",
        r.findings
    );
    let gra = build_at(&r, ".github/workflows/release.yml", 16);
    assert_eq!(gra.platforms, ["linux/amd64", "linux/arm64"]);
    assert_eq!(gra.program.as_deref(), Some("tool"));
    assert_eq!(gra.toolchain.version.as_deref(), Some("1.18"));
    assert_eq!(gra.artifact, Artifact::Release);
    assert!(gra.why.contains("go-release-action"), "{}", gra.why);
}

/// Class 3: a matrix runner's OS is the build's platform, and GitHub's
/// `cond && 'a' || 'b'` is read as its fallback; class 6: the program is
/// the crate's binary target.
#[test]
fn runner_platforms_and_conditional_expressions() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(
        d,
        "Cargo.toml",
        "[package]\nname = \"tool-cli\"\nversion = \"0.1.0\"\n\n[[bin]]\nname = \"tl\"\npath = \"src/main.rs\"\n",
    );
    write(
        d,
        ".github/workflows/release.yml",
        "on:\n  push:\n    tags: ['*']\njobs:\n  build:\n    strategy:\n      matrix:\n        os: [ubuntu-latest, windows-latest, macos-14]\n    runs-on: ${{ matrix.os }}\n    steps:\n      - env:\n          TOOL: ${{ matrix.cross && 'cross' || 'cargo' }}\n        run: $TOOL build --release --locked\n      - uses: softprops/action-gh-release@v2\n",
    );
    let r = audit(d).expect("audit");
    let b = build_at(&r, ".github/workflows/release.yml", 13);
    assert_eq!(
        b.platforms,
        ["linux/amd64", "windows/amd64", "darwin/arm64"]
    );
    assert!(b.why.contains("uploads to a release"), "{}", b.why);
    assert_eq!(b.program.as_deref(), Some("tl"));
}

/// Class 7: a GitLab CI that only scans does not make the project's
/// changes GitLab's when GitHub Actions release it; class 8: a project
/// already on Option B gets no changes.
#[test]
fn the_releasing_ci_is_the_dialect_and_option_b_needs_no_change() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "go.mod", GO_MOD);
    write(
        d,
        ".gitlab-ci.yml",
        "include:\n  - template: Security/SAST.gitlab-ci.yml\n\nsast:\n  stage: test\n  script:\n    - echo scanning\n",
    );
    write(
        d,
        ".github/workflows/release.yml",
        "on:\n  push:\n    tags: ['v*']\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-go@v5\n        with: {go-version: 1.22.5}\n      - run: CGO_ENABLED=0 go build -trimpath -o dist/tool_linux_amd64 .\n      - run: docker build -t ghcr.io/x/tool:v1 .\n      - run: gh release upload v1 dist/*\n",
    );
    write(
        d,
        "Dockerfile",
        "FROM alpine:3.20\nCOPY dist/tool_linux_amd64 /usr/local/bin/tool\nENTRYPOINT [\"/usr/local/bin/tool\"]\n",
    );
    let r = audit(d).expect("audit");
    assert_eq!(r.dialect, Dialect::Github);
    assert!(
        ids(&r).iter().all(|id| *id != "double-build"),
        "{:?}",
        r.findings
    );
    assert_eq!(r.recommendation.option, OptionKind::B);
    assert!(
        r.recommendation.changes.is_empty(),
        "{:#?}",
        r.recommendation.changes
    );
    let b = build_at(&r, ".github/workflows/release.yml", 10);
    assert_eq!(b.artifact, Artifact::ReleaseAndImage);
}

/// Class 1 and 2: a manual release workflow ships what it uploads and the
/// image it pushes; a script the job runs is followed into the Makefile it
/// hands over to (`make -f`).
#[test]
fn pushed_images_ship_and_scripts_are_followed_into_make() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "go.mod", GO_MOD);
    write(
        d,
        "package.sh",
        "#!/bin/sh\nset -e\nmake -f Makefile.cross\n",
    );
    write(
        d,
        "Makefile.cross",
        "all:\n\tCGO_ENABLED=0 GOOS=linux GOARCH=arm64 go build -trimpath -o release/tool_linux_arm64 ./cmd/tool\n",
    );
    write(
        d,
        "Dockerfile",
        "FROM golang:1.22.5 AS build\nRUN CGO_ENABLED=0 go build -trimpath -o /tool ./cmd/tool\nFROM scratch\nCOPY --from=build /tool /tool\nENTRYPOINT [\"/tool\"]\n",
    );
    write(
        d,
        ".github/workflows/release.yml",
        "on: workflow_dispatch\njobs:\n  binaries:\n    runs-on: ubuntu-latest\n    steps:\n      - run: ./package.sh\n      - uses: softprops/action-gh-release@v2\n  image:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          platforms: linux/arm64\n          push: true\n",
    );
    let r = audit(d).expect("audit");
    let release = build_at(&r, "Makefile.cross", 2);
    assert_eq!(release.artifact, Artifact::Release);
    assert_eq!(release.platforms, ["linux/arm64"]);
    assert!(release.why.contains("a manual run"), "{}", release.why);
    let image = build_at(&r, "Dockerfile", 2);
    assert_eq!(image.artifact, Artifact::Image);
    assert!(image.why.contains("pushes the image"), "{}", image.why);
    assert!(r.has_double_build(), "{:?}", r.findings);
    assert_eq!(r.recommendation.option, OptionKind::B);
}

/// Class 4: settings that are there are read: GoReleaser's top-level `env`
/// and `rust-toolchain.toml`, so no false warnings about them.
#[test]
fn top_level_env_and_rust_toolchain_file_are_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    write(d, "go.mod", GO_MOD);
    write(
        d,
        ".goreleaser.yaml",
        "env:\n  - CGO_ENABLED=0\nbuilds:\n  - binary: tool\n    flags: [-trimpath]\n    goos: [linux]\n    goarch: [amd64]\n",
    );
    write(
        d,
        ".github/workflows/release.yml",
        "on:\n  push:\n    tags: ['v*']\njobs:\n  release:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/setup-go@v5\n        with: {go-version: 1.22.5}\n      - uses: goreleaser/goreleaser-action@v6\n  rust:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: dtolnay/rust-toolchain@stable\n      - run: cargo build --release --locked\n      - uses: softprops/action-gh-release@v2\n",
    );
    write(
        d,
        "Cargo.toml",
        "[package]\nname = \"tool-rs\"\nversion = \"0.1.0\"\n",
    );
    write(
        d,
        "rust-toolchain.toml",
        "[toolchain]\nchannel = \"1.91.1\"\n",
    );
    let r = audit(d).expect("audit");
    let go = build_at(&r, ".goreleaser.yaml", 4);
    assert_eq!(go.flags.cgo_enabled.as_deref(), Some("0"));
    let rust = build_at(&r, ".github/workflows/release.yml", 15);
    assert_eq!(rust.toolchain.version.as_deref(), Some("1.91.1"));
    assert!(rust.toolchain.pinned);
    assert_eq!(
        (rust.toolchain.file.as_str(), rust.toolchain.line),
        ("rust-toolchain.toml", 2)
    );
    assert!(
        !ids(&r).contains(&"cgo-implicit") && !ids(&r).contains(&"unpinned-toolchain"),
        "{:#?}",
        r.findings
    );
}
