//! Makefiles, one step deep: when CI runs `make build`, the recipe of
//! `build` (and of its prerequisites in the same Makefile) is what builds.

use std::path::Path;

use crate::files::normalize;
use crate::shell::Env;

/// A `make` command in a script: where it looks, and what it is asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    /// `-C DIR`, relative to the project's top.
    pub dir: String,
    /// `-f FILE`, relative to `dir`.
    pub file: Option<String>,
    pub target: Option<String>,
    /// `VAR=value` on the command line.
    pub vars: Vec<(String, String)>,
}

impl Call {
    /// Targets that check rather than build: with no Makefile to read,
    /// `make test` is still not a build.
    pub fn is_check(&self) -> bool {
        let target = self.target.as_deref().unwrap_or_default();
        [
            "test",
            "lint",
            "clean",
            "check",
            "fmt",
            "vet",
            "install-deps",
            "deps",
        ]
        .contains(&target)
    }
}

/// The Makefile `call` reads: its `-f`, else the first of GNU make's names
/// that the project has.
pub fn find(root: &Path, call: &Call) -> Option<String> {
    let candidates: Vec<String> = match &call.file {
        Some(f) => vec![normalize(&format!("{}/{f}", call.dir))],
        None => ["GNUmakefile", "makefile", "Makefile"]
            .iter()
            .map(|f| normalize(&format!("{}/{f}", call.dir)))
            .collect(),
    };
    candidates.into_iter().find(|c| root.join(c).is_file())
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Makefile {
    pub vars: Vec<(String, String)>,
    /// Target, prerequisites, recipe lines with their line numbers.
    pub rules: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Rule {
    pub targets: Vec<String>,
    pub prereqs: Vec<String>,
    pub recipe: Vec<(String, usize)>,
    pub line: usize,
}

pub fn parse(text: &str) -> Makefile {
    let mut mk = Makefile::default();
    let lines = crate::shell::logical_lines(text, 1);
    for (line, n) in lines {
        if let Some(cmd) = line.strip_prefix('\t') {
            if let Some(rule) = mk.rules.last_mut() {
                let cmd = cmd
                    .trim_start_matches(['@', '-', '+', ' '])
                    .replace("$$", "$");
                rule.recipe.push((cmd, n));
            }
            continue;
        }
        let t = line.trim();
        if t.is_empty() || t.starts_with('#') {
            continue;
        }
        // Assignments: `X = y`, `X := y`, `X ?= y`, `X += y`, `export X = y`.
        let t2 = t.strip_prefix("export ").unwrap_or(t);
        if let Some(p) = t2.find('=') {
            let (k, v) = (&t2[..p], &t2[p + 1..]);
            let k = k.trim_end_matches([':', '?', '+', '!']).trim();
            if !k.is_empty() && !k.contains(char::is_whitespace) && !k.contains(':') {
                let v = v.trim().to_string();
                match t2.as_bytes().get(p.saturating_sub(1)) {
                    Some(b'?') if mk.vars.iter().any(|(x, _)| x == k) => {}
                    Some(b'+') => {
                        let old = mk
                            .vars
                            .iter()
                            .rev()
                            .find(|(x, _)| x == k)
                            .map(|(_, v)| v.clone())
                            .unwrap_or_default();
                        mk.vars
                            .push((k.to_string(), format!("{old} {v}").trim().to_string()));
                    }
                    _ => mk.vars.push((k.to_string(), v)),
                }
                continue;
            }
        }
        if let Some((targets, prereqs)) = t.split_once(':') {
            let prereqs = prereqs.split(';').next().unwrap_or("");
            mk.rules.push(Rule {
                targets: targets.split_whitespace().map(str::to_string).collect(),
                prereqs: prereqs
                    .split_whitespace()
                    .filter(|p| *p != "|")
                    .map(str::to_string)
                    .collect(),
                recipe: Vec::new(),
                line: n,
            });
        }
    }
    mk
}

impl Makefile {
    /// The recipe lines `make TARGET` runs (the first target when none), with
    /// the Makefile's and the command line's variables expanded.
    pub fn recipe(
        &self,
        target: Option<&str>,
        overrides: &[(String, String)],
    ) -> Vec<(String, usize)> {
        let mut env = Env::default();
        for (k, v) in self.vars.iter().chain(overrides) {
            env.set(k, v);
        }
        // Variables defined from others: expand twice.
        let vars: Vec<(String, String)> = env
            .0
            .iter()
            .map(|(k, v)| (k.clone(), env.expand(v)))
            .collect();
        let env = Env(vars);
        let first = self
            .rules
            .iter()
            .find(|r| r.targets.iter().any(|t| !t.starts_with('.')))
            .and_then(|r| r.targets.first().cloned());
        let Some(target) = target.map(str::to_string).or(first) else {
            return Vec::new();
        };
        let mut out = Vec::new();
        let mut seen = Vec::new();
        self.collect(&target, &env, &mut out, &mut seen, 0);
        out
    }

    fn collect(
        &self,
        target: &str,
        env: &Env,
        out: &mut Vec<(String, usize)>,
        seen: &mut Vec<String>,
        depth: usize,
    ) {
        if depth > 8 || seen.iter().any(|s| s == target) {
            return;
        }
        seen.push(target.to_string());
        for rule in self
            .rules
            .iter()
            .filter(|r| r.targets.iter().any(|t| t == target))
        {
            for p in &rule.prereqs {
                self.collect(&env.expand(p), env, out, seen, depth + 1);
            }
            for (cmd, n) in &rule.recipe {
                out.push((env.expand(cmd), *n));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recipes_with_variables() {
        let mk = parse("GO ?= go\nLDFLAGS := -s -w\n.PHONY: build\nbuild: gen\n\t@CGO_ENABLED=0 $(GO) build -ldflags \"$(LDFLAGS)\" -o bin/app .\ngen:\n\tgo generate ./...\n");
        let r = mk.recipe(Some("build"), &[]);
        assert_eq!(r.len(), 2);
        assert_eq!(
            r[1].0,
            "CGO_ENABLED=0 go build -ldflags \"-s -w\" -o bin/app ."
        );
        assert_eq!(r[1].1, 5);
        assert_eq!(mk.recipe(None, &[]).len(), 2);
    }

    #[test]
    fn finds_the_makefile_make_reads() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::create_dir_all(dir.path().join("sub")).expect("mkdir");
        std::fs::write(dir.path().join("sub/Makefile"), "all:\n").expect("write");
        std::fs::write(dir.path().join("sub/GNUmakefile"), "all:\n").expect("write");
        let mut call = Call {
            dir: "sub".into(),
            file: None,
            target: Some("test".into()),
            vars: Vec::new(),
        };
        assert!(call.is_check());
        assert_eq!(find(dir.path(), &call).as_deref(), Some("sub/GNUmakefile"));
        call.file = Some("../Makefile".into());
        assert_eq!(find(dir.path(), &call), None);
        call.target = Some("build".into());
        assert!(!call.is_check());
    }
}
