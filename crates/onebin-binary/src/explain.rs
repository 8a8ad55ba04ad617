//! Why two binaries differ: every fact that differs, what it means, and one
//! verdict, from the most benign (`identical`) to the least
//! (`different-program`). Option C's evidence: two builds that differ only
//! where they must (libc, linker, paths, stripping) are `same-source`.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::{BinaryFacts, GoBuildInfo, Module};

/// From the most benign to the least; a comparison's verdict is the least
/// benign class among its differences.
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
}

#[derive(Clone, Debug, Serialize)]
pub struct Explanation {
    pub verdict: Verdict,
    pub differences: Vec<Difference>,
}

/// Compares two binaries given their bytes' sha256 and their facts.
pub fn explain(a_sha256: &str, a: &BinaryFacts, b_sha256: &str, b: &BinaryFacts) -> Explanation {
    if a_sha256 == b_sha256 {
        return Explanation {
            verdict: Verdict::Identical,
            differences: Vec::new(),
        };
    }
    let mut diffs = Diffs::default();
    diffs.check(
        "platform",
        &format!("{}/{}", a.os, a.architecture),
        &format!("{}/{}", b.os, b.architecture),
        Verdict::DifferentProgram,
        "built for another platform: another program",
    );
    diffs.check(
        "format",
        &format!("{:?}", a.format),
        &format!("{:?}", b.format),
        Verdict::DifferentProgram,
        "another executable format",
    );
    // What Option C accepts: the libc and the linker may differ.
    diffs.check("libc", a.libc.as_str(), b.libc.as_str(), Verdict::SameSource, "the C library differs (e.g. glibc on the CI runner, musl on Alpine): expected between two builds");
    diffs.check(
        "linkage",
        &format!("{:?}", a.linkage),
        &format!("{:?}", b.linkage),
        Verdict::SameSource,
        "static and dynamic linking differ: the linker's choice",
    );
    diffs.check(
        "interpreter",
        opt(&a.interpreter),
        opt(&b.interpreter),
        Verdict::SameSource,
        "another dynamic loader: follows from libc and linkage",
    );
    diffs.check(
        "needed",
        &a.needed.join(" "),
        &b.needed.join(" "),
        Verdict::SameSource,
        "other shared libraries: follows from libc and linkage",
    );
    diffs.check(
        "glibc_versions",
        last(&a.glibc_versions),
        last(&b.glibc_versions),
        Verdict::SameSource,
        "the newest glibc symbol version required: sets the oldest glibc that can run it",
    );
    diffs.check(
        "symbols",
        &a.symbols.to_string(),
        &b.symbols.to_string(),
        Verdict::SameSource,
        "one is stripped of its symbol table (-s)",
    );
    diffs.check(
        "debug_info",
        &a.debug_info.to_string(),
        &b.debug_info.to_string(),
        Verdict::SameSource,
        "one is stripped of DWARF (-w)",
    );
    diffs.check(
        "gnu_build_id",
        opt(&a.gnu_build_id),
        opt(&b.gnu_build_id),
        Verdict::SameSource,
        "the linker's build ID: a hash of the output, so it differs whenever the bytes do",
    );
    diffs.check(
        "go_build_id",
        opt(&a.go_build_id),
        opt(&b.go_build_id),
        Verdict::SameSource,
        "Go's build ID: a hash of inputs and output, so it differs whenever the bytes do",
    );
    match (&a.go, &b.go) {
        (Some(ga), Some(gb)) => compare_go(&mut diffs, ga, gb),
        (None, None) => {
            let verdict = diffs.verdict().max(Verdict::Unknown);
            let verdict = if verdict == Verdict::DifferentProgram {
                verdict
            } else {
                Verdict::Unknown
            };
            diffs.0.push(Difference {
                field: "bytes".into(),
                a: a_sha256.to_string(),
                b: b_sha256.to_string(),
                class: Verdict::Unknown,
                why: "not Go binaries: without build information onebin cannot tell whether the source differs".into(),
            });
            return Explanation {
                verdict,
                differences: diffs.0,
            };
        }
        (ga, gb) => diffs.push(
            "go",
            yes_no(ga.is_some()),
            yes_no(gb.is_some()),
            Verdict::DifferentProgram,
            "only one of them is a Go program",
        ),
    }
    // Same recorded settings, same libc, yet other code or data: with
    // -trimpath Go does not record -ldflags, so -X values hide here.
    let settings_equal = !diffs.0.iter().any(|d| d.field.starts_with("go."));
    if settings_equal
        && diffs.verdict() <= Verdict::SameSource
        && a.libc == b.libc
        && a.linkage == b.linkage
    {
        for (section, hash) in &a.content {
            if let Some(other) = b.content.get(section).filter(|other| *other != hash) {
                diffs.push(&format!("content {section}"), hash, other, Verdict::DifferentSettings,
                    "the program's code or constants differ though the recorded build settings match: Go does not record -ldflags under -trimpath, so -X values are the likely cause");
            }
        }
    }
    let verdict = diffs.verdict().max(Verdict::SameSource);
    if diffs.0.is_empty() {
        diffs.push("bytes", a_sha256, b_sha256, Verdict::SameSource, "same build information, other bytes: paths or build environment (build with -trimpath)");
    }
    Explanation {
        verdict,
        differences: diffs.0,
    }
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
        });
    }

    fn verdict(&self) -> Verdict {
        self.0
            .iter()
            .map(|d| d.class)
            .filter(|c| *c != Verdict::Unknown)
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
