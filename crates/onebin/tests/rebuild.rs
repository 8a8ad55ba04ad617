//! `onebin rebuild`: real builds (Go, gcc, cargo) run twice under
//! reprotest's variations; each unreproducible one must be told by its
//! root cause, and each reproducible one must pass.

mod support;

use std::fs;
use std::path::Path;
use std::process::{Command, Output};

use serde_json::Value;
use support::{require, s, stderr, stdout};

/// `onebin rebuild ARGS` in `dir`, with a clean environment for Go and cargo.
fn rebuild(dir: &Path, args: &[&str]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onebin"));
    for (key, _) in std::env::vars() {
        // This test runs under cargo: its variables are not the built crate's.
        if (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || key == "RUSTFLAGS"
            || key == "RUSTUP_TOOLCHAIN"
            || key.starts_with("GO")
        {
            cmd.env_remove(key);
        }
    }
    cmd.current_dir(dir)
        .arg("rebuild")
        .args(args)
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOENV", "off")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    cmd.output().expect("onebin runs")
}

/// `--json` run: exit code and report.
fn rebuild_json(dir: &Path, args: &[&str]) -> (i32, Value) {
    let mut all = vec!["--json"];
    all.extend_from_slice(args);
    let out = rebuild(dir, &all);
    let report = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}{}", stdout(&out), stderr(&out)));
    (out.status.code().unwrap(), report)
}

fn causes(report: &Value) -> String {
    report["outputs"][0]["causes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c.as_str().unwrap().to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

fn go() -> Option<String> {
    let debian = Path::new("/usr/lib/go/bin/go");
    if debian.exists() {
        return Some(debian.display().to_string());
    }
    require("go").then(|| "go".to_string())
}

fn go_module(dir: &Path, main: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("go.mod"), "module example.com/app\n\ngo 1.19\n").unwrap();
    fs::write(dir.join("main.go"), main).unwrap();
}

const GO_MAIN: &str = "package main\n\nfunc main() { println(\"hello\") }\n";

#[test]
fn go_with_trimpath_is_reproducible_and_without_it_names_the_build_directory() {
    let Some(go) = go() else { return };
    let tmp = tempfile::tempdir().unwrap();
    go_module(tmp.path(), GO_MAIN);
    let (code, report) = rebuild_json(
        tmp.path(),
        &[
            "--output",
            "app",
            "--",
            &go,
            "build",
            "-trimpath",
            "-o",
            "app",
            ".",
        ],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["reproducible"], true);
    assert_eq!(report["outputs"][0]["identical"], true);
    assert_eq!(
        report["variations"],
        serde_json::json!([
            "build-path",
            "time",
            "umask",
            "locale",
            "timezone",
            "home",
            "caches"
        ])
    );

    let (code, report) = rebuild_json(
        tmp.path(),
        &["--output", "app", "--", &go, "build", "-o", "app", "."],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["reproducible"], false);
    assert_eq!(report["outputs"][0]["verdict"], "same-source");
    assert!(
        causes(&report).contains("`-trimpath` missing: the build directory is in the binary"),
        "{report:#}"
    );
    // The text says the same.
    let out = rebuild(
        tmp.path(),
        &["--output", "app", "--", &go, "build", "-o", "app", "."],
    );
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("cause: `-trimpath` missing"), "{text}");
    assert!(text.contains("NOT REPRODUCIBLE"), "{text}");

    // Without the build path among the variations the same build is reproducible.
    let (code, report) = rebuild_json(
        tmp.path(),
        &[
            "--vary",
            "umask,locale",
            "--output",
            "app",
            "--",
            &go,
            "build",
            "-o",
            "app",
            ".",
        ],
    );
    assert_eq!(code, 0, "{report:#}");
    assert_eq!(report["variations"], serde_json::json!(["umask", "locale"]));
}

/// The build writes a Go file into its own (git) tree before compiling it:
/// Go records vcs.modified=true, and the code differs from run to run.
#[test]
fn go_building_a_tree_it_modifies_is_told() {
    let Some(go) = go() else { return };
    if !require("git") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    go_module(
        tmp.path(),
        "package main\n\nfunc main() { println(\"hello\", stamp) }\n",
    );
    fs::write(
        tmp.path().join("stamp.go"),
        "package main\n\nconst stamp = \"\"\n",
    )
    .unwrap();
    support::git_commit_all(tmp.path());
    let script = format!(
        "printf 'package main\\n\\nconst stamp = \"%s\"\\n' \"$(date +%s%N)\" > stamp.go && {go} build -trimpath -o app ."
    );
    let (code, report) = rebuild_json(tmp.path(), &["--output", "app", "--", "sh", "-c", &script]);
    assert_eq!(code, 1, "{report:#}");
    let causes = causes(&report);
    assert!(causes.contains("vcs.modified=true"), "{report:#}");
    assert!(
        causes.contains("a file the build generates or changes is compiled in"),
        "{report:#}"
    );
}

#[test]
fn c_with_date_and_time_macros_names_them() {
    if !require("gcc") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::write(
        tmp.path().join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"built \" __DATE__ \" \" __TIME__); return 0; }\n",
    )
    .unwrap();
    let (code, report) = rebuild_json(
        tmp.path(),
        &[
            "--output", "hello", "--", "gcc", "-O2", "-o", "hello", "hello.c",
        ],
    );
    assert_eq!(code, 1, "{report:#}");
    assert_eq!(report["outputs"][0]["verdict"], "same-source");
    assert!(
        causes(&report).contains("the build's date and time are in the binary (__DATE__/__TIME__"),
        "{report:#}"
    );
    // The same program without the macros is reproducible.
    fs::write(
        tmp.path().join("hello.c"),
        "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n",
    )
    .unwrap();
    let (code, report) = rebuild_json(
        tmp.path(),
        &[
            "--output", "hello", "--", "gcc", "-O2", "-o", "hello", "hello.c",
        ],
    );
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn rust_without_path_remapping_names_the_build_directory() {
    if !require("cargo") {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    fs::create_dir_all(tmp.path().join("src")).unwrap();
    fs::write(
        tmp.path().join("Cargo.toml"),
        "[package]\nname = \"hello\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\n",
    )
    .unwrap();
    fs::write(
        tmp.path().join("src/main.rs"),
        "fn main() {\n    println!(\"hello\");\n}\n",
    )
    .unwrap();
    // A debug build: DWARF records the build directory.
    let (code, report) = rebuild_json(
        tmp.path(),
        &[
            "--output",
            "target/debug/hello",
            "--",
            "cargo",
            "build",
            "--offline",
            "--quiet",
        ],
    );
    assert_eq!(code, 1, "{report:#}");
    assert!(
        causes(&report)
            .contains("`--remap-path-prefix` missing: the build directory is in the binary"),
        "{report:#}"
    );
    // Remapped, in a shell so that $PWD is each build's own directory.
    let (code, report) = rebuild_json(
        tmp.path(),
        &[
            "--output",
            "target/debug/hello",
            "--",
            "sh",
            "-c",
            "RUSTFLAGS=\"--remap-path-prefix=$PWD=.\" cargo build --offline --quiet",
        ],
    );
    assert_eq!(code, 0, "{report:#}");
}

#[test]
fn rebuild_bad_input_exits_2_naming_the_file() {
    let tmp = tempfile::tempdir().unwrap();
    let out = rebuild(tmp.path(), &["--output", "nope", "--", "true"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(stderr(&out).contains("--output nope"), "{}", stderr(&out));
    let out = rebuild(
        tmp.path(),
        &["--output", "x", "--", "sh", "-c", "echo broken >&2; exit 3"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(
        stderr(&out).contains("failed") && stderr(&out).contains("broken"),
        "{}",
        stderr(&out)
    );
    let out = rebuild(tmp.path(), &["--output", "../escape", "--", "true"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("../escape"), "{}", stderr(&out));
    let out = rebuild(tmp.path(), &["--output", "x"]);
    assert_eq!(out.status.code(), Some(2), "no build command");
    let missing = tmp.path().join("missing");
    let out = rebuild(
        tmp.path(),
        &["--source", s(&missing), "--output", "x", "--", "true"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains(s(&missing)), "{}", stderr(&out));
    // Nothing is left behind in the source tree.
    assert_eq!(fs::read_dir(tmp.path()).unwrap().count(), 0);
}
