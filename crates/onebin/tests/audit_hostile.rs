//! `audit` and `adr` on hostile repositories: nothing outside the
//! repository is read or written (a symbolic link or an include that leaves
//! it is refused, exit 2, naming the path), and a huge file is refused by
//! its size before it is read. Each input is built here, small on disk.

mod support;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use support::{onebin, stderr, stdout};

fn write(dir: &Path, rel: &str, text: &str) {
    let p = dir.join(rel);
    fs::create_dir_all(p.parent().expect("parent")).expect("mkdir");
    fs::write(p, text).expect("write");
}

/// A repository next to a directory it must never read: `outside/` holds a
/// secret in files shaped like the ones audit reads.
fn repo_and_outside() -> (tempfile::TempDir, std::path::PathBuf, std::path::PathBuf) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let repo = tmp.path().join("repo");
    let outside = tmp.path().join("outside");
    write(&repo, "main.go", "package main\n\nfunc main() {}\n");
    write(
        &outside,
        "ci.yml",
        "steal:\n  image: golang:1.22.5\n  script:\n    - go build -o SECRET-OUTSIDE .\n",
    );
    write(
        &outside,
        "workflows/release.yml",
        "on: push\njobs:\n  steal:\n    runs-on: ubuntu-latest\n    steps:\n      - run: go build -o SECRET-OUTSIDE .\n",
    );
    write(
        &outside,
        "Dockerfile",
        "FROM golang:1.22.5 AS SECRET-OUTSIDE\nRUN go build -o /SECRET-OUTSIDE .\n",
    );
    write(&outside, "ARCHITECTURE.md", "# SECRET-OUTSIDE\n");
    (tmp, repo, outside)
}

/// Exit 2, the path named, and nothing of the outside in the output.
fn assert_refused(out: &std::process::Output, path: &str) {
    assert_eq!(out.status.code(), Some(2), "{}{}", stdout(out), stderr(out));
    let err = stderr(out);
    assert!(
        err.contains(path) && err.contains("out of the repository"),
        "{err}"
    );
    assert!(!stdout(out).contains("SECRET-OUTSIDE"), "{}", stdout(out));
    assert!(!err.contains("SECRET-OUTSIDE"), "{err}");
}

#[test]
fn audit_refuses_a_symlinked_workflow_directory() {
    let (_tmp, repo, outside) = repo_and_outside();
    fs::create_dir_all(repo.join(".github")).expect("mkdir");
    symlink(outside.join("workflows"), repo.join(".github/workflows")).expect("symlink");
    let out = onebin(&["audit", repo.to_str().expect("utf8"), "--json"]);
    assert_refused(&out, ".github/workflows/release.yml");
}

#[test]
fn audit_refuses_a_dockerfile_linked_out_by_a_relative_link() {
    let (_tmp, repo, _outside) = repo_and_outside();
    symlink("../outside/Dockerfile", repo.join("Dockerfile")).expect("symlink");
    let out = onebin(&["audit", repo.to_str().expect("utf8")]);
    assert_refused(&out, "Dockerfile");
}

#[test]
fn audit_refuses_a_local_include_that_climbs_out() {
    let (_tmp, repo, _outside) = repo_and_outside();
    write(
        &repo,
        ".gitlab-ci.yml",
        "include:\n  - local: ../outside/ci.yml\n\nbuild:\n  image: golang:1.22.5\n  script:\n    - go build -o app .\n",
    );
    let out = onebin(&["audit", repo.to_str().expect("utf8"), "--json"]);
    assert_refused(&out, "../outside/ci.yml");
}

#[test]
fn audit_refuses_an_include_through_a_linked_directory() {
    let (_tmp, repo, outside) = repo_and_outside();
    symlink(&outside, repo.join("ci")).expect("symlink");
    write(
        &repo,
        ".gitlab-ci.yml",
        "include:\n  - local: ci/ci.yml\n\nbuild:\n  image: golang:1.22.5\n  script:\n    - go build -o app .\n",
    );
    let out = onebin(&["audit", repo.to_str().expect("utf8")]);
    assert_refused(&out, "ci/ci.yml");
}

#[test]
fn audit_follows_links_that_stay_inside() {
    let (_tmp, repo, _outside) = repo_and_outside();
    write(
        &repo,
        "ci/build.yml",
        "build:\n  image: golang:1.22.5\n  script:\n    - CGO_ENABLED=0 go build -trimpath -o dist/app .\n",
    );
    symlink("ci/build.yml", repo.join("linked.yml")).expect("symlink");
    write(&repo, ".gitlab-ci.yml", "include:\n  - local: linked.yml\n");
    let out = onebin(&["audit", repo.to_str().expect("utf8"), "--json"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(report["builds"][0]["program"], "app", "{report}");
}

/// A 3 GiB sparse Dockerfile (a few KiB on disk) under a 1 GiB address
/// space limit: reading it whole would abort; its size alone refuses it.
#[test]
fn audit_refuses_a_huge_file_without_reading_it() {
    let (_tmp, repo, _outside) = repo_and_outside();
    let f = fs::File::create(repo.join("Dockerfile")).expect("create");
    f.set_len(3 << 30).expect("sparse");
    let out = Command::new("sh")
        .arg("-c")
        .arg("ulimit -v 1048576 && exec \"$0\" audit \"$1\" --json")
        .arg(env!("CARGO_BIN_EXE_onebin"))
        .arg(&repo)
        .output()
        .expect("sh runs");
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    let warnings = report["warnings"].to_string();
    assert!(
        warnings.contains("Dockerfile") && warnings.contains("larger than 8 MiB"),
        "{report}"
    );
}

#[test]
fn adr_refuses_a_docs_directory_linked_outside() {
    let (_tmp, repo, outside) = repo_and_outside();
    symlink(&outside, repo.join("docs")).expect("symlink");
    let out = onebin(&["adr", repo.to_str().expect("utf8")]);
    assert_refused(&out, "docs/ARCHITECTURE.md");
    let kept = fs::read_to_string(outside.join("ARCHITECTURE.md")).expect("read");
    assert_eq!(kept, "# SECRET-OUTSIDE\n");
}

#[test]
fn adr_refuses_an_architecture_file_linked_outside() {
    let (_tmp, repo, outside) = repo_and_outside();
    fs::create_dir_all(repo.join("docs")).expect("mkdir");
    symlink(
        outside.join("ARCHITECTURE.md"),
        repo.join("docs/ARCHITECTURE.md"),
    )
    .expect("symlink");
    let out = onebin(&["adr", repo.to_str().expect("utf8")]);
    assert_refused(&out, "docs/ARCHITECTURE.md");
    // A link to a file that does not exist yet would be created outside.
    fs::remove_file(repo.join("docs/ARCHITECTURE.md")).expect("rm");
    symlink("../../outside/NEW.md", repo.join("docs/ARCHITECTURE.md")).expect("symlink");
    let out = onebin(&["adr", repo.to_str().expect("utf8")]);
    assert_refused(&out, "docs/ARCHITECTURE.md");
    assert!(!outside.join("NEW.md").exists());
    let kept = fs::read_to_string(outside.join("ARCHITECTURE.md")).expect("read");
    assert_eq!(kept, "# SECRET-OUTSIDE\n");
}
