//! Projects that use onebin's CI templates have no double build; the ADR is
//! created, numbered after the others, updated in place, and idempotent.

use std::fs;
use std::path::{Path, PathBuf};

use onebin_audit::recommend::OptionKind;
use onebin_audit::{adr, audit, findings};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

const GO_MAIN: &str = "package main\n\nfunc main() {}\n";

#[test]
fn gitlab_template_package_b() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let tpl =
        fs::read_to_string(repo().join("templates/gitlab/onebin.gitlab-ci.yml")).expect("template");
    write(d, "ci/onebin.gitlab-ci.yml", &tpl);
    write(d, "main.go", GO_MAIN);
    write(
        d,
        ".gitlab-ci.yml",
        "include:\n  - local: ci/onebin.gitlab-ci.yml\n\nbuild:\n  image: golang:1.22.5\n  parallel:\n    matrix:\n      - GOARCH: [amd64, arm64]\n  script:\n    - CGO_ENABLED=0 GOOS=linux go build -trimpath -o dist/app_linux_$GOARCH .\n  artifacts:\n    paths: [dist/]\n\npackage-image:\n  extends: .onebin-package\n  needs: [build]\n  variables:\n    ONEBIN_BINARIES: \"linux/amd64=dist/app_linux_amd64 linux/arm64=dist/app_linux_arm64\"\n    ONEBIN_PATH: /usr/local/bin/app\n",
    );
    let r = audit(d).expect("audit");
    assert!(!r.has_double_build(), "{:?}", r.findings);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert!(r.warnings.is_empty(), "{:?}", r.warnings);
    assert_eq!(r.recommendation.option, OptionKind::B);
    assert!(r.onebin.iter().any(|o| o.verb == "package"));
    assert!(r.onebin.iter().any(|o| o.verb == "verify"));
}

#[test]
fn gitlab_template_extract_a() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    let tpl =
        fs::read_to_string(repo().join("templates/gitlab/onebin.gitlab-ci.yml")).expect("template");
    write(d, "onebin.gitlab-ci.yml", &tpl);
    write(d, "main.go", GO_MAIN);
    write(
        d,
        "Dockerfile",
        "FROM --platform=$BUILDPLATFORM golang:1.22.5-alpine AS build\nARG TARGETOS TARGETARCH\nCOPY . /src\nWORKDIR /src\nRUN CGO_ENABLED=0 GOOS=$TARGETOS GOARCH=$TARGETARCH go build -trimpath -o /app .\nFROM scratch\nCOPY --from=build /app /app\n",
    );
    write(
        d,
        ".gitlab-ci.yml",
        "include: onebin.gitlab-ci.yml\n\nbuild-image:\n  image: docker:27\n  script:\n    - docker buildx build --platform linux/amd64,linux/arm64 --output type=oci,dest=image.tar .\n  artifacts:\n    paths: [image.tar]\n\nrelease-assets:\n  extends: .onebin-extract\n  needs: [build-image]\n  variables:\n    ONEBIN_PATH: /app\n",
    );
    let r = audit(d).expect("audit");
    assert!(!r.has_double_build(), "{:?}", r.findings);
    assert!(r.findings.is_empty(), "{:?}", r.findings);
    assert_eq!(r.recommendation.option, OptionKind::A);
}

#[test]
fn github_composite_actions() {
    for (verb, option) in [("package", OptionKind::B), ("extract", OptionKind::A)] {
        let dir = tempfile::tempdir().expect("tempdir");
        let d = dir.path();
        let action = fs::read_to_string(repo().join(format!("templates/github/{verb}/action.yml")))
            .expect("action");
        write(d, &format!("templates/github/{verb}/action.yml"), &action);
        write(d, "main.go", GO_MAIN);
        let wf = if verb == "package" {
            "on: push\njobs:\n  release:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: actions/setup-go@v5\n        with: {go-version: 1.22.5}\n      - run: CGO_ENABLED=0 GOARCH=amd64 go build -trimpath -o dist/app_linux_amd64 .\n      - uses: ./templates/github/package\n        with:\n          binaries: linux/amd64=dist/app_linux_amd64\n          path: /app\n".to_string()
        } else {
            write(
                d,
                "Dockerfile",
                "FROM golang:1.22.5-alpine AS build\nCOPY . /src\nWORKDIR /src\nRUN CGO_ENABLED=0 go build -trimpath -o /app .\nFROM scratch\nCOPY --from=build /app /app\n",
            );
            "on: push\njobs:\n  release:\n    runs-on: ubuntu-24.04\n    steps:\n      - uses: docker/build-push-action@v6\n        with:\n          platforms: linux/amd64\n          outputs: type=oci,dest=image.tar\n      - uses: ./templates/github/extract\n        with: {path: /app}\n".to_string()
        };
        write(d, ".github/workflows/release.yml", &wf);
        let r = audit(d).expect("audit");
        assert!(!r.has_double_build(), "{verb}: {:?}", r.findings);
        assert!(r.findings.is_empty(), "{verb}: {:?}", r.findings);
        assert_eq!(r.recommendation.option, option, "{verb}");
    }
}

fn double_build_report() -> onebin_audit::Report {
    audit(&repo().join("examples/double-build")).expect("audit")
}

#[test]
fn adr_created_when_missing() {
    let r = double_build_report();
    assert!(r.findings.iter().any(|f| f.id == findings::DOUBLE_BUILD));
    let text = adr::update(None, &r, None, "2026-01-02");
    assert!(text.starts_with("# Architecture\n"));
    assert!(
        text.contains("### ADR-0001: One binary, one hash: Option B"),
        "{text}"
    );
    for part in [
        "- **Status**: accepted",
        "- **Date**: 2026-01-02",
        "- **Context**:",
        "- **Options considered**:",
        "- **Decision**: Option B",
        "- **Consequences**:",
        "onebin verify oci-archive:image.tar --path /usr/local/bin/hello --binary linux/amd64=dist/hello_linux_amd64",
    ] {
        assert!(text.contains(part), "missing {part:?} in\n{text}");
    }
}

#[test]
fn adr_numbered_after_existing_styles() {
    let r = double_build_report();
    let doc = "# Arch\n\nIntro.\n\n## Decisions\n\n### ADR-0007: Something\n- **Status**: accepted\n\n### ADR-0002: Older\ntext\n\n```md\n### ADR-0099: in a code block, not an ADR\n```\n";
    let text = adr::update(Some(doc), &r, None, "2026-01-02");
    assert!(text.starts_with(doc), "the file's start was touched");
    assert!(
        text.contains("\n### ADR-0008: One binary, one hash"),
        "{text}"
    );

    let doc = "# Decisions\n\n## ADR 3: three\n\nok\n\n## ADR 1\n\nfirst\n";
    let text = adr::update(Some(doc), &r, Some(OptionKind::A), "2026-01-02");
    assert!(text.starts_with(doc));
    assert!(
        text.contains("\n## ADR 4: One binary, one hash: Option A"),
        "{text}"
    );
    assert!(text.contains("(`onebin audit` recommended Option B.)"));

    let doc = "# Notes\n\nNo decisions yet.";
    let text = adr::update(Some(doc), &r, None, "2026-01-02");
    assert!(
        text.starts_with("# Notes\n\nNo decisions yet.\n\n## Decisions\n\n### ADR-0001: "),
        "{text}"
    );
}

#[test]
fn adr_idempotent_and_updated_in_place() {
    let r = double_build_report();
    let doc = "# Arch\n\n### ADR-0004: Mine\nbody\n";
    let first = adr::update(Some(doc), &r, None, "2026-01-02");
    // Later runs, on other days, change nothing.
    let second = adr::update(Some(&first), &r, None, "2027-05-05");
    assert_eq!(first, second);
    // Others append ADRs after ours; a rerun with another option updates ours only.
    let grown = format!("{second}\n### ADR-0006: Someone else's\nTheir text.\n");
    let third = adr::update(Some(&grown), &r, Some(OptionKind::C), "2027-05-05");
    assert!(
        third.contains("### ADR-0005: One binary, one hash: Option C"),
        "{third}"
    );
    assert!(third.contains("- **Date**: 2026-01-02"));
    assert!(!third.contains("2027-05-05"));
    assert!(third.starts_with(doc));
    assert!(
        third.ends_with("\n### ADR-0006: Someone else's\nTheir text.\n"),
        "{third}"
    );
    assert_eq!(adr::existing_option(&third), Some(OptionKind::C));
    assert_eq!(
        adr::update(Some(&third), &r, Some(OptionKind::C), "2028-01-01"),
        third
    );
    // Option C recorded: the double build is accepted, not an error.
    let dir = tempfile::tempdir().expect("tempdir");
    for f in [".gitlab-ci.yml", "Dockerfile", "go.mod", "main.go"] {
        fs::copy(
            repo().join("examples/double-build").join(f),
            dir.path().join(f),
        )
        .expect("copy");
    }
    write(dir.path(), "docs/ARCHITECTURE.md", &third);
    let r = audit(dir.path()).expect("audit");
    assert!(!r.has_double_build());
    assert_eq!(r.recommendation.option, OptionKind::C);
}
