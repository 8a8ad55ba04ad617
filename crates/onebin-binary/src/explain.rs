//! Why two binaries differ: every fact that differs, what it means, and one
//! verdict, from the most benign (`identical`) to the least
//! (`different-program`). Option C's evidence: two builds that differ only
//! where they must (libc, linker, paths, stripping) are `same-source`.
//!
//! The verdict names the root cause, not the worst symptom: a difference
//! that another one implies (`RULES`: a newer Go stamps the main module's
//! version, another libc brings another loader) is listed as its
//! consequence (`caused_by`) and does not count towards the verdict.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::toolchain::Toolchain;
use crate::{BinaryFacts, GoBuildInfo, Module};

/// From the most benign to the least; a comparison's verdict is the least
/// benign class among its root differences (those no other one implies).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    Identical,
    SameSource,
    DifferentSettings,
    DifferentToolchain,
    DifferentSource,
    DifferentProgram,
    /// Not Go: the bytes differ and onebin cannot say whether it matters.
    Unknown,
}

impl Verdict {
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Identical => "identical",
            Verdict::SameSource => "same-source",
            Verdict::DifferentSettings => "different-settings",
            Verdict::DifferentToolchain => "different-toolchain",
            Verdict::DifferentSource => "different-source",
            Verdict::DifferentProgram => "different-program",
            Verdict::Unknown => "unknown",
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Difference {
    pub field: String,
    pub a: String,
    pub b: String,
    /// The class this difference puts the pair in.
    pub class: Verdict,
    pub why: String,
    /// The difference that implies this one (`RULES`); it then does not
    /// count towards the verdict.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub caused_by: Option<String>,
}

impl Difference {
    /// Not implied by another difference: a cause of its own.
    pub fn is_root(&self) -> bool {
        self.caused_by.is_none()
    }
}

/// When a rule applies, beyond both differences being there.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum When {
    Always,
    /// The effect is recorded on one side only (a setting one Go release writes and another never did).
    OneSided,
    /// One side's main module version is `(devel)`: older Go did not stamp it from VCS.
    DevelOnOneSide,
    /// One side lists only entries the other lacks (the other's list is contained in it).
    OneSideAdds,
    /// The two lists (`; `-separated) share an entry: the program's own
    /// compiler is the same, only the C library's objects carry another stamp.
    SharesEntry,
}

/// One line of the root-cause table: a difference in `cause` implies one
/// in `effect`. Field patterns are exact, or a prefix ending in `*`.
#[derive(Clone, Copy, Debug)]
pub struct Rule {
    pub cause: &'static str,
    pub effect: &'static str,
    pub when: When,
    pub why: &'static str,
}

const fn rule(cause: &'static str, effect: &'static str, when: When, why: &'static str) -> Rule {
    Rule {
        cause,
        effect,
        when,
        why,
    }
}

/// The root-cause table, in priority order (the first rule that explains a
/// difference names its cause). Documented in the README; every line has a
/// pair built from real toolchains in the tests.
pub const RULES: &[Rule] = &[
    rule("platform", "*", When::Always, "another platform is another program"),
    rule("go", "*", When::Always, "only one of them is Go"),
    rule("go.version", "go.main.version", When::DevelOnOneSide, "Go 1.24+ stamps the main module with a version from VCS where older Go wrote (devel)"),
    rule("go.version", "go.build DefaultGODEBUG", When::Always, "each Go release has its own default GODEBUG"),
    rule("go.version", "go.build *", When::OneSided, "a setting one Go release records and the other does not (-buildmode, DefaultGODEBUG…)"),
    rule("go.version", "paths", When::Always, "another Go installation, at another GOROOT"),
    rule("go.build -trimpath", "paths", When::Always, "without -trimpath Go keeps the build's file system paths"),
    rule("libc", "linkage", When::Always, "the C library decides how it can be linked"),
    rule("libc", "interpreter", When::Always, "each C library has its own dynamic loader"),
    rule("libc", "needed", When::Always, "each C library has its own shared objects"),
    rule("libc", "glibc_versions", When::Always, "only glibc has symbol versions"),
    rule("libc", "static_pie", When::Always, "the C library's start files decide static-pie"),
    rule("libc", "paths", When::OneSideAdds, "the C library's own build directory, from its objects' debug information"),
    rule("libc", "compilers", When::SharesEntry, "the C library's objects carry the stamp of the compiler that built them"),
    rule("libc", "dwarf.*", When::OneSideAdds, "the C library's objects carry their own DWARF producers and flags"),
    rule("libc", "go.build -ldflags (linking)", When::Always, "linking against musl statically takes external-linker flags"),
    rule("linkage", "interpreter", When::Always, "a static binary has no loader"),
    rule("linkage", "needed", When::Always, "a static binary loads no shared object"),
    rule("linkage", "glibc_versions", When::Always, "a static binary needs no glibc symbol version"),
    rule("linkage", "static_pie", When::Always, "static-pie is one way to link statically"),
    rule("go.build -ldflags (linking)", "symbols", When::Always, "-s strips the symbol table"),
    rule("go.build -ldflags (linking)", "debug_info", When::Always, "-w strips DWARF"),
    rule("debug_info", "paths", When::OneSideAdds, "DWARF records the compilation directory"),
    rule("compilers", "dwarf.producer", When::Always, "another compiler names itself in DWARF too"),
    rule("go.*", "content *", When::Always, "the code and constants follow from the Go build"),
    rule("rust.dep *", "content *", When::Always, "other crates compiled in"),
    rule("compilers", "content *", When::Always, "another compiler generates other code"),
    rule("dwarf.*", "content *", When::Always, "another compiler or its flags generate other code"),
    rule("libc", "content *", When::Always, "another C library is linked in"),
    rule("linkage", "content *", When::Always, "static and dynamic linking lay out code differently"),
    rule("static_pie", "content *", When::Always, "static-pie code relocates itself"),
    rule("paths", "content *", When::Always, "the paths are strings in the binary (panic locations, __FILE__), and the code that points at them moves"),
    rule("timestamps", "content *", When::Always, "the build's date and time are strings in the binary"),
    rule("*", "gnu_build_id", When::Always, "the linker's build ID hashes the output"),
    rule("*", "go_build_id", When::Always, "Go's build ID hashes inputs and output"),
];

fn matches(pattern: &str, field: &str) -> bool {
    match pattern.strip_suffix('*') {
        Some(prefix) => field.starts_with(prefix),
        None => pattern == field,
    }
}

fn applies(rule: &Rule, cause: &Difference, effect: &Difference) -> bool {
    if cause.field == effect.field
        || !matches(rule.cause, &cause.field)
        || !matches(rule.effect, &effect.field)
    {
        return false;
    }
    // Build IDs are hashes of everything else: they explain nothing.
    if rule.cause == "*" && cause.field.ends_with("build_id") {
        return false;
    }
    let list = |v: &str| -> Vec<String> {
        if v == "(none)" || v.is_empty() {
            Vec::new()
        } else {
            v.split("; ").map(str::to_string).collect()
        }
    };
    match rule.when {
        When::Always => true,
        When::OneSided => effect.a.is_empty() || effect.b.is_empty(),
        When::DevelOnOneSide => (effect.a == "(devel)") != (effect.b == "(devel)"),
        // Fields listed as "only in a" / "only in b": one side is empty.
        When::OneSideAdds => list(&effect.a).is_empty() || list(&effect.b).is_empty(),
        When::SharesEntry => {
            let b = list(&effect.b);
            list(&effect.a).iter().any(|x| b.contains(x))
        }
    }
}

/// Marks each difference that another one implies. The rules are tried in
/// order; among the differences they could name, one that is itself a root
/// is preferred (so a build ID is "caused by
/// go.version", not by one of go.version's own consequences). A chain that
/// would loop back is cut where it closes.
fn attribute(diffs: &mut [Difference]) {
    for _pass in 0..2 {
        let previous: Vec<Option<String>> = diffs.iter().map(|d| d.caused_by.clone()).collect();
        for i in 0..diffs.len() {
            let all: &[Difference] = diffs;
            let candidates: Vec<usize> = RULES
                .iter()
                .flat_map(|rule| {
                    (0..all.len()).filter(move |j| *j != i && applies(rule, &all[*j], &all[i]))
                })
                .collect();
            let cause = candidates
                .iter()
                .find(|j| previous[**j].is_none())
                .or(candidates.first())
                .map(|j| diffs[*j].field.clone());
            diffs[i].caused_by = cause;
        }
    }
    for i in 0..diffs.len() {
        let mut at = diffs[i].caused_by.clone();
        for _ in 0..diffs.len() {
            match at {
                Some(ref f) if *f == diffs[i].field => {
                    diffs[i].caused_by = None;
                    break;
                }
                Some(ref f) => {
                    at = diffs
                        .iter()
                        .find(|d| d.field == *f)
                        .and_then(|d| d.caused_by.clone())
                }
                None => break,
            }
        }
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    pub differences: Vec<Difference>,
}

/// A fact every binary has, compared as one value per side: its field, how
/// it is read, and what a difference in it means.
struct Fact {
    field: &'static str,
    value: fn(&BinaryFacts) -> String,
    class: Verdict,
    why: &'static str,
}

/// The binary-wide facts, in the order their differences are listed.
const FACTS: &[Fact] = &[
    Fact {
        field: "platform",
        value: |f| format!("{}/{}", f.os, f.architecture),
        class: Verdict::DifferentProgram,
        why: "built for another platform: another program",
    },
    Fact {
        field: "format",
        value: |f| format!("{:?}", f.format),
        class: Verdict::DifferentProgram,
        why: "another executable format",
    },
    // What Option C accepts: the libc and the linker may differ.
    Fact {
        field: "libc",
        value: |f| f.libc.as_str().to_string(),
        class: Verdict::SameSource,
        why: "the C library differs (e.g. glibc on the CI runner, musl on Alpine): expected between two builds",
    },
    Fact {
        field: "linkage",
        value: |f| format!("{:?}", f.linkage),
        class: Verdict::SameSource,
        why: "static and dynamic linking differ: the linker's choice",
    },
    Fact {
        field: "static_pie",
        value: |f| yes_no(f.toolchain.static_pie).to_string(),
        class: Verdict::SameSource,
        why: "static-pie in one (Rust's crt-static, gcc -static-pie): how it is linked",
    },
    Fact {
        field: "interpreter",
        value: |f| opt(&f.interpreter).to_string(),
        class: Verdict::SameSource,
        why: "another dynamic loader: follows from libc and linkage",
    },
    Fact {
        field: "needed",
        value: |f| f.needed.join(" "),
        class: Verdict::SameSource,
        why: "other shared libraries: follows from libc and linkage",
    },
    Fact {
        field: "glibc_versions",
        value: |f| last(&f.glibc_versions).to_string(),
        class: Verdict::SameSource,
        why: "the newest glibc symbol version required: sets the oldest glibc that can run it",
    },
    Fact {
        field: "symbols",
        value: |f| f.symbols.to_string(),
        class: Verdict::SameSource,
        why: "one is stripped of its symbol table (-s)",
    },
    Fact {
        field: "debug_info",
        value: |f| f.debug_info.to_string(),
        class: Verdict::SameSource,
        why: "one is stripped of DWARF (-w)",
    },
    Fact {
        field: "gnu_build_id",
        value: |f| opt(&f.gnu_build_id).to_string(),
        class: Verdict::SameSource,
        why: "the linker's build ID: a hash of the output, so it differs whenever the bytes do",
    },
    Fact {
        field: "go_build_id",
        value: |f| opt(&f.go_build_id).to_string(),
        class: Verdict::SameSource,
        why: "Go's build ID: a hash of inputs and output, so it differs whenever the bytes do",
    },
];

/// Compares two binaries given their bytes' sha256 and their facts.
pub fn explain(a_sha256: &str, a: &BinaryFacts, b_sha256: &str, b: &BinaryFacts) -> Explanation {
    if a_sha256 == b_sha256 {
        return Explanation {
            verdict: Verdict::Identical,
            differences: Vec::new(),
        };
    }
    let mut diffs = Diffs::default();
    for fact in FACTS {
        let (va, vb) = ((fact.value)(a), (fact.value)(b));
        diffs.check(fact.field, &va, &vb, fact.class, fact.why);
    }
    compare_toolchain(&mut diffs, &a.toolchain, &b.toolchain);
    let is_go = match (&a.go, &b.go) {
        (Some(ga), Some(gb)) => {
            compare_go(&mut diffs, ga, gb);
            true
        }
        (None, None) => false,
        (ga, gb) => {
            diffs.push(
                "go",
                yes_no(ga.is_some()),
                yes_no(gb.is_some()),
                Verdict::DifferentProgram,
                "only one of them is a Go program",
            );
            true
        }
    };
    for (section, hash) in &a.content {
        if let Some(other) = b.content.get(section).filter(|other| *other != hash) {
            if is_go {
                // With -trimpath Go does not record -ldflags, so -X values hide here.
                diffs.push(&format!("content {section}"), hash, other, Verdict::DifferentSettings,
                    "the program's code or constants differ though the recorded build settings match: Go does not record -ldflags under -trimpath, so -X values are the likely cause");
            } else {
                diffs.push(&format!("content {section}"), hash, other, Verdict::Unknown,
                    "the program's code or constants differ and nothing it records explains why: another source, other compiler flags, or the build environment");
            }
        }
    }
    if diffs.0.is_empty() {
        if is_go {
            diffs.push("bytes", a_sha256, b_sha256, Verdict::SameSource, "same build information, other bytes: paths or build environment (build with -trimpath)");
        } else {
            diffs.push("bytes", a_sha256, b_sha256, Verdict::Unknown, "the bytes differ where onebin reads no facts: it cannot tell whether the source differs");
        }
    }
    attribute(&mut diffs.0);
    let verdict = diffs.verdict().max(Verdict::SameSource);
    Explanation {
        verdict,
        differences: diffs.0,
    }
}

/// What Rust and C binaries record (and Go's pc-line table: its paths).
fn compare_toolchain(diffs: &mut Diffs, a: &Toolchain, b: &Toolchain) {
    diffs.check(
        "compilers",
        &a.compilers.join("; "),
        &b.compilers.join("; "),
        Verdict::DifferentToolchain,
        "another compiler release (the .comment stamps of GCC, clang, rustc)",
    );
    let split = |producers: &[String]| -> (Vec<String>, Vec<String>) {
        let mut compilers = std::collections::BTreeSet::new();
        let mut flags = std::collections::BTreeSet::new();
        for p in producers {
            let (name, rest) = match p.find(" -") {
                Some(at) => (&p[..at], &p[at..]),
                None => (p.as_str(), ""),
            };
            compilers.insert(name.to_string());
            for flag in rest.split_whitespace().filter(|f| code_flag(f)) {
                flags.insert(flag.to_string());
            }
        }
        (compilers.into_iter().collect(), flags.into_iter().collect())
    };
    let ((ca, fa), (cb, fb)) = (split(&a.producers), split(&b.producers));
    // Only one built with -g: that is `debug_info`'s difference, not the compiler's.
    let both_dwarf = !a.producers.is_empty() && !b.producers.is_empty();
    if both_dwarf {
        diffs.only_in(
            "dwarf.producer",
            &ca,
            &cb,
            Verdict::DifferentToolchain,
            "another compiler release, as DWARF's producer names it",
        );
        diffs.only_in(
            "dwarf.flags",
            &fa,
            &fb,
            Verdict::DifferentSettings,
            "other compiler flags that change the code (DWARF's producer records them)",
        );
    }
    match (&a.rust_deps, &b.rust_deps) {
        (Some(da), Some(db)) => {
            let by_name = |deps: &[String]| -> BTreeMap<String, String> {
                deps.iter()
                    .map(|d| {
                        let (name, rest) = d.split_once(' ').unwrap_or((d, ""));
                        (name.to_string(), rest.to_string())
                    })
                    .collect()
            };
            let (ma, mb) = (by_name(da), by_name(db));
            for name in ma.keys().chain(mb.keys()).collect::<std::collections::BTreeSet<_>>() {
                diffs.check(
                    &format!("rust.dep {name}"),
                    ma.get(name).map_or("(none)", String::as_str),
                    mb.get(name).map_or("(none)", String::as_str),
                    Verdict::DifferentSource,
                    "another crate, version or source (cargo-auditable's dependency list)",
                );
            }
        }
        (None, None) => {}
        (da, db) => diffs.push(
            "rust.deps",
            yes_no(da.is_some()),
            yes_no(db.is_some()),
            Verdict::SameSource,
            "only one carries cargo-auditable's dependency list (.dep-v0): built with and without cargo auditable",
        ),
    }
    diffs.only_in(
        "paths",
        &a.paths,
        &b.paths,
        Verdict::SameSource,
        "directories of the build machine recorded in the binary (the build directory, ~/.cargo/registry): built elsewhere; -trimpath, --remap-path-prefix or -ffile-prefix-map keep them out",
    );
    diffs.only_in(
        "timestamps",
        &a.timestamps,
        &b.timestamps,
        Verdict::SameSource,
        "the date or time of the build is in the binary (__DATE__, __TIME__): same source, another clock; honour SOURCE_DATE_EPOCH",
    );
}

/// Compiler flags that can change the code, as DWARF's producer lists
/// them: not debug levels, and not the path maps that only rewrite names.
fn code_flag(flag: &str) -> bool {
    flag.starts_with('-')
        && !flag.starts_with("-g")
        && !flag.starts_with("-ffile-prefix-map")
        && !flag.starts_with("-fdebug-prefix-map")
        && !flag.starts_with("-fmacro-prefix-map")
        && !flag.starts_with("-I")
        && !flag.starts_with("-iquote")
        && !flag.starts_with("-isystem")
}

fn compare_go(diffs: &mut Diffs, a: &GoBuildInfo, b: &GoBuildInfo) {
    diffs.check(
        "go.path",
        &a.path,
        &b.path,
        Verdict::DifferentProgram,
        "another main package",
    );
    diffs.check(
        "go.main.path",
        &a.main.path,
        &b.main.path,
        Verdict::DifferentProgram,
        "another main module",
    );
    diffs.check(
        "go.version",
        &a.go_version,
        &b.go_version,
        Verdict::DifferentToolchain,
        "another Go release: compiler, runtime and standard library differ",
    );
    diffs.check(
        "go.main.version",
        &a.main.version,
        &b.main.version,
        Verdict::DifferentSource,
        "another version of the main module",
    );
    diffs.check(
        "go.main.replace",
        &replace(&a.main),
        &replace(&b.main),
        Verdict::DifferentSource,
        "the main module is replaced differently",
    );
    let deps = |info: &GoBuildInfo| -> BTreeMap<String, String> {
        info.deps
            .iter()
            .map(|m| {
                (
                    m.path.clone(),
                    format!("{} {}{}", m.version, m.sum, replace(m)),
                )
            })
            .collect()
    };
    let (da, db) = (deps(a), deps(b));
    for path in da
        .keys()
        .chain(db.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (va, vb) = (
            da.get(path).map_or("(none)", String::as_str),
            db.get(path).map_or("(none)", String::as_str),
        );
        diffs.check(
            &format!("go.dep {path}"),
            va,
            vb,
            Verdict::DifferentSource,
            "another version or sum of a dependency",
        );
    }
    let settings: std::collections::BTreeSet<&String> =
        a.settings.keys().chain(b.settings.keys()).collect();
    for key in settings {
        let (va, vb) = (
            a.settings.get(key).map_or("", String::as_str),
            b.settings.get(key).map_or("", String::as_str),
        );
        if va == vb {
            continue;
        }
        if key == "-ldflags" {
            // Under -trimpath Go does not record -ldflags: absent there means unknown, not none.
            let trimmed = |info: &GoBuildInfo, value: &str| {
                value.is_empty() && info.settings.get("-trimpath").is_some_and(|t| t == "true")
            };
            if trimmed(a, va) || trimmed(b, vb) {
                diffs.push(
                    "go.build -ldflags (unrecorded)",
                    va,
                    vb,
                    Verdict::SameSource,
                    "Go does not record -ldflags under -trimpath: the two cannot be compared",
                );
            } else {
                compare_ldflags(diffs, va, vb);
            }
            continue;
        }
        let (class, why) = setting_class(key, va, vb);
        diffs.push(&format!("go.build {key}"), va, vb, class, why);
    }
}

fn setting_class(key: &str, a: &str, b: &str) -> (Verdict, &'static str) {
    match key {
        "vcs.revision" => (Verdict::DifferentSource, "built from another commit"),
        "vcs.modified" if a == "true" || b == "true" => (
            Verdict::DifferentSource,
            "built from a tree with uncommitted changes",
        ),
        "vcs.modified" | "vcs" => (Verdict::SameSource, "how the checkout was recorded"),
        "vcs.time" => (
            Verdict::SameSource,
            "the commit time recorded: same commit, other clock or metadata",
        ),
        "-trimpath" => (
            Verdict::SameSource,
            "file system paths kept in one: no effect on behaviour",
        ),
        "-compiler" => (Verdict::DifferentToolchain, "another Go compiler"),
        "CC" | "CXX" | "CGO_CFLAGS" | "CGO_CPPFLAGS" | "CGO_CXXFLAGS" | "CGO_LDFLAGS" => (
            Verdict::SameSource,
            "the C toolchain and its flags: follows from libc and the linker",
        ),
        "GOOS" | "GOARCH" => (Verdict::DifferentProgram, "built for another platform"),
        "CGO_ENABLED" => (
            Verdict::DifferentSettings,
            "cgo on in one, off in the other: net and os/user resolve names differently",
        ),
        "-tags" => (
            Verdict::DifferentSettings,
            "other build tags: other files compiled in",
        ),
        "-gcflags" | "-asmflags" => (Verdict::DifferentSettings, "other compiler flags"),
        "-buildmode" => (Verdict::DifferentSettings, "another build mode"),
        "-race" | "-msan" | "-asan" | "-cover" => {
            (Verdict::DifferentSettings, "instrumented in one build only")
        }
        k if k.starts_with("GO") => (
            Verdict::DifferentSettings,
            "another target level or experiment (GOAMD64, GOARM, GOEXPERIMENT…)",
        ),
        _ => (
            Verdict::DifferentSettings,
            "a build setting that may change behaviour",
        ),
    }
}

/// `-s -w`, the link mode and external linker flags only change how the
/// binary is linked; `-X` values and anything else can change what it does.
fn compare_ldflags(diffs: &mut Diffs, a: &str, b: &str) {
    let split = |flags: &str| -> (Vec<String>, Vec<String>) {
        let words = shell_words(flags);
        let (mut linking, mut behaviour) = (Vec::new(), Vec::new());
        let mut i = 0;
        while i < words.len() {
            let word = words[i].trim_start_matches('-').to_string();
            let takes_value = matches!(
                word.as_str(),
                "X" | "linkmode" | "extldflags" | "extld" | "buildid" | "r" | "B"
            );
            let value = if takes_value && !words[i].contains('=') {
                words.get(i + 1).cloned()
            } else {
                None
            };
            let full = match &value {
                Some(v) => format!("{} {v}", words[i]),
                None => words[i].clone(),
            };
            let name = word.split('=').next().unwrap_or("");
            if matches!(
                name,
                "s" | "w" | "linkmode" | "extldflags" | "extld" | "buildid"
            ) {
                linking.push(full);
            } else {
                behaviour.push(full);
            }
            i += if value.is_some() { 2 } else { 1 };
        }
        (linking, behaviour)
    };
    let ((la, ba), (lb, bb)) = (split(a), split(b));
    if la != lb {
        diffs.push("go.build -ldflags (linking)", &la.join(" "), &lb.join(" "), Verdict::SameSource, "stripping (-s -w) or the external linker and its flags: how it is linked, not what it does");
    }
    if ba != bb {
        diffs.push(
            "go.build -ldflags",
            &ba.join(" "),
            &bb.join(" "),
            Verdict::DifferentSettings,
            "-X values or other linker flags that change the program",
        );
    }
}

/// Splits like a shell: quotes group, backslashes escape.
fn shell_words(text: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut current = String::new();
    let mut quote: Option<char> = None;
    let mut in_word = false;
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some(_), '\\') | (None, '\\') => {
                if let Some(next) = chars.next() {
                    current.push(next);
                }
                in_word = true;
            }
            (Some(_), c) => current.push(c),
            (None, '"' | '\'') => {
                quote = Some(c);
                in_word = true;
            }
            (None, c) if c.is_whitespace() => {
                if in_word {
                    words.push(std::mem::take(&mut current));
                    in_word = false;
                }
            }
            (None, c) => {
                current.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(current);
    }
    words
}

fn replace(m: &Module) -> String {
    m.replace
        .as_ref()
        .map(|r| format!(" => {} {}", r.path, r.version))
        .unwrap_or_default()
}

fn opt(value: &Option<String>) -> &str {
    value.as_deref().unwrap_or("(none)")
}

fn last(values: &[String]) -> &str {
    values.last().map_or("(none)", String::as_str)
}

fn yes_no(b: bool) -> &'static str {
    if b {
        "yes"
    } else {
        "no"
    }
}

#[derive(Default)]
struct Diffs(Vec<Difference>);

impl Diffs {
    fn check(&mut self, field: &str, a: &str, b: &str, class: Verdict, why: &str) {
        if a != b {
            self.push(field, a, b, class, why);
        }
    }

    fn push(&mut self, field: &str, a: &str, b: &str, class: Verdict, why: &str) {
        self.0.push(Difference {
            field: field.into(),
            a: a.into(),
            b: b.into(),
            class,
            why: why.into(),
            caused_by: None,
        });
    }

    /// Two lists compared as sets: what only `a` has against what only `b` has.
    fn only_in(&mut self, field: &str, a: &[String], b: &[String], class: Verdict, why: &str) {
        let only = |x: &[String], y: &[String]| -> String {
            let list: Vec<&str> = x
                .iter()
                .filter(|v| !y.contains(v))
                .map(String::as_str)
                .collect();
            list.join("; ")
        };
        let (oa, ob) = (only(a, b), only(b, a));
        if !oa.is_empty() || !ob.is_empty() {
            let none = |v: String| {
                if v.is_empty() {
                    "(none)".to_string()
                } else {
                    v
                }
            };
            self.push(field, &none(oa), &none(ob), class, why);
        }
    }

    /// The least benign class among the root differences; `unknown` (code
    /// that differs for no recorded reason) ranks last.
    fn verdict(&self) -> Verdict {
        self.0
            .iter()
            .filter(|d| d.is_root())
            .map(|d| d.class)
            .max()
            .unwrap_or(Verdict::Identical)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_ldflags_like_a_shell() {
        assert_eq!(
            shell_words(r#"-s -w -X "main.v=1 2" -extldflags '-static'"#),
            ["-s", "-w", "-X", "main.v=1 2", "-extldflags", "-static"]
        );
    }

    #[test]
    fn stripping_and_linker_flags_are_benign_x_values_are_not() {
        let mut d = Diffs::default();
        compare_ldflags(
            &mut d,
            "-s -w -X main.v=1",
            "-X main.v=1 -linkmode external -extldflags -static",
        );
        assert_eq!(d.verdict(), Verdict::SameSource, "{:?}", d.0);
        let mut d = Diffs::default();
        compare_ldflags(&mut d, "-X main.v=1", "-X main.v=2");
        assert_eq!(d.verdict(), Verdict::DifferentSettings);
    }
}
