//! Reading shell commands as far as builds go: which compiler runs, with
//! which environment and flags, what calls `make`, a script, `docker build`
//! or onebin. Not a shell: quoting, `&&`/`;`/`|`, `export`, `VAR=x cmd` and
//! `$VAR` expansion from known variables are enough for CI scripts.

use crate::model::Flags;

/// Variables in effect: later entries win.
#[derive(Debug, Clone, Default)]
pub struct Env(pub Vec<(String, String)>);

impl Env {
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    pub fn set(&mut self, key: &str, value: &str) {
        self.0.push((key.to_string(), value.to_string()));
    }

    /// Expands `$X`, `${X}` and `$(X)` (make) for known variables; unknown
    /// ones are kept as written.
    pub fn expand(&self, s: &str) -> String {
        let mut out = String::new();
        let chars: Vec<char> = s.chars().collect();
        let mut i = 0;
        while i < chars.len() {
            if chars[i] != '$' || i + 1 >= chars.len() {
                out.push(chars[i]);
                i += 1;
                continue;
            }
            let (name, end) = match chars[i + 1] {
                '{' | '(' => {
                    let close = if chars[i + 1] == '{' { '}' } else { ')' };
                    match chars[i + 2..].iter().position(|c| *c == close) {
                        Some(p) => {
                            let inner: String = chars[i + 2..i + 2 + p].iter().collect();
                            // ${X:-default}: the default when X is unknown.
                            let (n, default) = match inner.split_once(":-") {
                                Some((n, d)) => (n.to_string(), Some(d.to_string())),
                                None => (inner, None),
                            };
                            if let (None, Some(d)) = (self.get(&n), default) {
                                out.push_str(&d);
                                i = i + 3 + p;
                                continue;
                            }
                            (n, i + 3 + p)
                        }
                        None => (String::new(), i + 1),
                    }
                }
                c if c.is_ascii_alphabetic() || c == '_' => {
                    let mut j = i + 1;
                    while j < chars.len() && (chars[j].is_ascii_alphanumeric() || chars[j] == '_') {
                        j += 1;
                    }
                    (chars[i + 1..j].iter().collect(), j)
                }
                _ => (String::new(), i + 1),
            };
            match self.get(&name) {
                Some(v) if !name.is_empty() && !v.contains(&format!("${name}")) => {
                    out.push_str(v);
                    i = end;
                }
                _ => {
                    out.extend(&chars[i..end.max(i + 1)]);
                    i = end.max(i + 1);
                }
            }
        }
        out
    }
}

/// What one command does, as far as the audit cares.
#[derive(Debug, Clone, PartialEq)]
pub enum Action {
    Go {
        flags: Flags,
        goos: Option<String>,
        goarch: Option<String>,
        output: Option<String>,
    },
    Cargo {
        flags: Flags,
        package: Option<String>,
    },
    C {
        tool: String,
        output: Option<String>,
    },
    Make {
        target: Option<String>,
        dir: Option<String>,
        file: Option<String>,
        vars: Vec<(String, String)>,
    },
    Script {
        path: String,
    },
    Docker {
        file: Option<String>,
        context: Option<String>,
        platforms: Vec<String>,
        tags: Vec<String>,
        target: Option<String>,
    },
    Goreleaser,
    Ko,
    Onebin {
        verb: String,
    },
    /// `apk add gcc`, `apt-get install build-essential`: a C compiler appears.
    InstallsC,
    /// `gh release`, `release-cli`: the job publishes a release.
    Releases,
    /// A build tool the audit does not read (`promu`, `docker buildx bake`,
    /// `task`, `just`, `cargo dist`): an `unread-build` finding.
    Unread {
        tool: String,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub struct Step {
    pub action: Action,
    pub line: usize,
    pub command: String,
}

/// Script lines as CI configs give them: one entry per list item, each maybe
/// several lines (a `|` block starts on the line after its marker).
pub fn split_script(items: &[(String, usize)]) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (text, line) in items {
        if text.contains('\n') {
            let base = line + 1;
            out.extend(logical_lines(text, base));
        } else {
            out.push((text.clone(), *line));
        }
    }
    out
}

/// Joins `\`-continued lines; each logical line keeps its first line number.
pub fn logical_lines(text: &str, first_line: usize) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = first_line;
    for (i, raw) in text.lines().enumerate() {
        if current.is_empty() {
            start = first_line + i;
        }
        let trimmed = raw.trim_end();
        if let Some(stripped) = trimmed.strip_suffix('\\') {
            current.push_str(stripped);
            current.push(' ');
        } else {
            current.push_str(trimmed);
            out.push((std::mem::take(&mut current), start));
        }
    }
    if !current.is_empty() {
        out.push((current, start));
    }
    out
}

/// Splits a line into commands at `&&`, `||`, `;` and `|`, then into words,
/// honouring quotes. Comments end the line.
pub fn commands(line: &str) -> Vec<Vec<String>> {
    let mut cmds = Vec::new();
    let mut words: Vec<String> = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut chars = line.chars().peekable();
    let mut quote: Option<char> = None;
    while let Some(c) = chars.next() {
        match (quote, c) {
            (Some(q), c) if c == q => quote = None,
            (Some('"'), '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                }
            }
            (Some(_), c) => word.push(c),
            (None, '\'' | '"') => {
                quote = Some(c);
                in_word = true;
            }
            (None, '\\') => {
                if let Some(n) = chars.next() {
                    word.push(n);
                    in_word = true;
                }
            }
            (None, '#') if !in_word => break,
            (None, ' ' | '\t' | '\n') => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            (None, ';' | '&' | '|' | '(' | ')') => {
                if c == '&' && chars.peek() != Some(&'&') && in_word {
                    // `2>&1`-style redirections stay in their word.
                    word.push(c);
                    continue;
                }
                if (c == '&' || c == '|') && chars.peek() == Some(&c) {
                    chars.next();
                }
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
                if !words.is_empty() {
                    cmds.push(std::mem::take(&mut words));
                }
            }
            (None, c) => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    if !words.is_empty() {
        cmds.push(words);
    }
    cmds
}

fn is_assignment(w: &str) -> Option<(&str, &str)> {
    let (k, v) = w.split_once('=')?;
    (!k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit()))
    .then_some((k, v))
}

/// `-x V`, `-x=V`, `--x V`, `--x=V`.
fn flag_value(words: &[String], names: &[&str]) -> Option<String> {
    let mut it = words.iter();
    while let Some(w) = it.next() {
        for n in names {
            if w == n {
                return it.next().cloned();
            }
            if let Some(v) = w.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                return Some(v.to_string());
            }
        }
    }
    None
}

fn flag_values(words: &[String], names: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    let mut it = words.iter();
    while let Some(w) = it.next() {
        for n in names {
            if w == n {
                if let Some(v) = it.next() {
                    out.push(v.clone());
                }
                break;
            }
            if let Some(v) = w.strip_prefix(n).and_then(|r| r.strip_prefix('=')) {
                out.push(v.to_string());
            }
        }
    }
    out
}

fn has_flag(words: &[String], names: &[&str]) -> bool {
    words.iter().any(|w| {
        names
            .iter()
            .any(|n| w == n || w.starts_with(&format!("{n}=")))
    })
}

/// Reads script lines (already joined), updating `env` with `export`s.
pub fn analyze(lines: &[(String, usize)], env: &mut Env) -> Vec<Step> {
    let mut steps = Vec::new();
    for (text, line) in lines {
        for words in commands(text) {
            let words: Vec<String> = words.iter().map(|w| env.expand(w)).collect();
            if let Some(action) = analyze_command(&words, env) {
                steps.push(Step {
                    action,
                    line: *line,
                    command: text.trim().to_string(),
                });
            }
        }
    }
    steps
}

fn analyze_command(words: &[String], env: &mut Env) -> Option<Action> {
    let mut local = env.clone();
    let mut i = 0;
    // Prefixes that run the rest as a command.
    loop {
        let w = words.get(i)?;
        if let Some((k, v)) = is_assignment(w) {
            local.set(k, v);
            i += 1;
        } else if matches!(
            w.as_str(),
            "env" | "sudo" | "time" | "exec" | "command" | "nice"
        ) {
            i += 1;
        } else {
            break;
        }
    }
    let cmd = words[i].rsplit('/').next().unwrap_or("");
    let args = &words[i + 1..];
    match cmd {
        "export" => {
            for a in args {
                if let Some((k, v)) = is_assignment(a) {
                    env.set(k, v);
                }
            }
            None
        }
        "go" => {
            let sub = args.first()?;
            // `go install tool@v1` installs a tool, not the project's binary.
            let tool = sub == "install" && args.iter().any(|a| a.contains('@'));
            if sub != "build" && sub != "install" || tool {
                return None;
            }
            let goflags = local.get("GOFLAGS").map(str::to_string);
            let flags = Flags {
                cgo_enabled: local.get("CGO_ENABLED").map(str::to_string),
                trimpath: has_flag(args, &["-trimpath", "--trimpath"])
                    || goflags.as_deref().is_some_and(|g| g.contains("-trimpath")),
                ldflags: flag_value(args, &["-ldflags", "--ldflags"]),
                tags: flag_value(args, &["-tags", "--tags"]),
                goflags,
                target: None,
                release: true,
            };
            Some(Action::Go {
                flags,
                goos: local.get("GOOS").map(str::to_string),
                goarch: local.get("GOARCH").map(str::to_string),
                output: flag_value(args, &["-o"]),
            })
        }
        "cargo" | "cross" => {
            let sub = args.iter().find(|a| !a.starts_with('+'))?;
            if sub == "dist" && args.iter().any(|a| a == "build") {
                return Some(Action::Unread {
                    tool: "cargo-dist".into(),
                });
            }
            // `cargo auditable build` and `cargo auditable zigbuild` wrap a build.
            let wrapped =
                |a: Option<&String>| matches!(a.map(String::as_str), Some("build" | "zigbuild"));
            let build = matches!(sub.as_str(), "build" | "zigbuild")
                || sub == "auditable" && wrapped(args.get(1));
            if !build {
                return None;
            }
            let flags = Flags {
                target: flag_value(args, &["--target"])
                    .or_else(|| local.get("CARGO_BUILD_TARGET").map(str::to_string)),
                release: has_flag(args, &["--release", "-r"]),
                ..Flags::default()
            };
            Some(Action::Cargo {
                flags,
                package: flag_value(args, &["--bin", "-p", "--package"]),
            })
        }
        "gcc" | "cc" | "clang" | "g++" | "c++" | "clang++" | "musl-gcc" => {
            // A compile or link that writes something.
            if args.iter().any(|a| a == "--version" || a == "-v") {
                return None;
            }
            Some(Action::C {
                tool: cmd.to_string(),
                output: flag_value(args, &["-o"]),
            })
        }
        "cmake" if has_flag(args, &["--build"]) => Some(Action::C {
            tool: "cmake".into(),
            output: None,
        }),
        "ninja" | "meson" => Some(Action::C {
            tool: cmd.to_string(),
            output: None,
        }),
        "make" | "gmake" => {
            let mut target = None;
            let mut vars = Vec::new();
            let mut it = args.iter();
            while let Some(a) = it.next() {
                if a == "-C" || a == "-f" || a == "-j" || a == "--file" || a == "--directory" {
                    if a != "-j" {
                        it.next();
                    }
                } else if let Some((k, v)) = is_assignment(a) {
                    vars.push((k.to_string(), v.to_string()));
                } else if !a.starts_with('-') && target.is_none() {
                    target = Some(a.clone());
                }
            }
            Some(Action::Make {
                target,
                dir: flag_value(args, &["-C", "--directory"]),
                file: flag_value(args, &["-f", "--file"]),
                vars,
            })
        }
        "sh" | "bash" | "zsh" | "dash" => {
            let path = args.iter().find(|a| !a.starts_with('-'))?;
            Some(Action::Script { path: path.clone() })
        }
        "docker" | "podman" | "buildah" | "nerdctl" => {
            let rest: Vec<String> = args
                .iter()
                .skip_while(|a| a.starts_with('-'))
                .cloned()
                .collect();
            let bake = rest.first().map(String::as_str) == Some("bake")
                || rest.first().map(String::as_str) == Some("buildx")
                    && rest.get(1).map(String::as_str) == Some("bake");
            if bake {
                return Some(Action::Unread {
                    tool: "docker buildx bake".into(),
                });
            }
            let build = match rest.first().map(String::as_str) {
                Some("build" | "bud") => &rest[1..],
                Some("buildx" | "image") if rest.get(1).map(String::as_str) == Some("build") => {
                    &rest[2..]
                }
                _ => return None,
            };
            Some(docker_action(build))
        }
        "executor" => Some(Action::Docker {
            file: flag_value(args, &["--dockerfile", "-f"]),
            context: flag_value(args, &["--context", "-c"]),
            platforms: flag_values(args, &["--custom-platform"]),
            tags: flag_values(args, &["--destination", "-d"]),
            target: flag_value(args, &["--target"]),
        }),
        "goreleaser" => match args.first().map(String::as_str) {
            Some("check" | "healthcheck" | "init" | "--version" | "-v") => None,
            _ => Some(Action::Goreleaser),
        },
        "ko" if matches!(
            args.first().map(String::as_str),
            Some("build" | "publish" | "resolve" | "apply")
        ) =>
        {
            Some(Action::Ko)
        }
        "onebin" => Some(Action::Onebin {
            verb: args.first().cloned().unwrap_or_default(),
        }),
        "apk" | "apt-get" | "apt" | "yum" | "dnf" | "microdnf" => {
            let c = args.iter().any(|a| {
                matches!(
                    a.as_str(),
                    "gcc"
                        | "build-base"
                        | "build-essential"
                        | "clang"
                        | "musl-dev"
                        | "libc-dev"
                        | "g++"
                )
            });
            c.then_some(Action::InstallsC)
        }
        "gh" | "glab" if args.first().map(String::as_str) == Some("release") => {
            Some(Action::Releases)
        }
        "release-cli" => Some(Action::Releases),
        "promu" if args.iter().any(|a| a.contains("build")) => Some(Action::Unread {
            tool: "promu".into(),
        }),
        "task" | "just" | "mage" | "earthly" | "bazel" | "bazelisk" | "dagger" | "nix"
            if !args.is_empty() =>
        {
            Some(Action::Unread {
                tool: cmd.to_string(),
            })
        }
        "dist" | "cargo-dist" if args.first().map(String::as_str) == Some("build") => {
            Some(Action::Unread {
                tool: "cargo-dist".into(),
            })
        }
        "maturin" if args.first().map(String::as_str) == Some("build") => Some(Action::Unread {
            tool: "maturin".into(),
        }),
        "gcloud" if args.iter().any(|a| a == "builds") => Some(Action::Unread {
            tool: "gcloud builds (Cloud Build)".into(),
        }),
        _ if (cmd.ends_with(".sh") || words[i].starts_with("./") || words[i].contains('/'))
            && !words[i].starts_with('/') =>
        {
            Some(Action::Script {
                path: words[i].clone(),
            })
        }
        _ => None,
    }
}

fn docker_action(args: &[String]) -> Action {
    // The context is the positional argument: the first word that is not a
    // flag nor a flag's value.
    let with_value = [
        "-f",
        "--file",
        "-t",
        "--tag",
        "--platform",
        "--target",
        "--build-arg",
        "--output",
        "-o",
        "--cache-from",
        "--cache-to",
        "--label",
        "--secret",
        "--ssh",
        "--progress",
        "--builder",
        "--iidfile",
        "--metadata-file",
        "--network",
        "--provenance",
        "--sbom",
        "--attest",
        "--build-context",
    ];
    let mut context = None;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        if with_value.contains(&a.as_str()) {
            it.next();
        } else if !a.starts_with('-') && context.is_none() {
            context = Some(a.clone());
        }
    }
    Action::Docker {
        file: flag_value(args, &["-f", "--file"]),
        context,
        platforms: flag_values(args, &["--platform"])
            .iter()
            .flat_map(|p| p.split(',').map(|s| s.trim().to_string()))
            .filter(|p| !p.is_empty())
            .collect(),
        tags: flag_values(args, &["-t", "--tag"]),
        target: flag_value(args, &["--target"]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_build_with_env_and_flags() {
        let mut env = Env::default();
        env.set("VERSION", "1.0");
        let lines = vec![(
            "export CGO_ENABLED=0 && GOOS=linux GOARCH=arm64 go build -trimpath -ldflags \"-s -w -X main.v=$VERSION\" -o dist/app ./cmd/app".to_string(),
            3,
        )];
        let steps = analyze(&lines, &mut env);
        assert_eq!(steps.len(), 1);
        let Action::Go {
            flags,
            goos,
            goarch,
            output,
        } = &steps[0].action
        else {
            panic!("{steps:?}")
        };
        assert_eq!(flags.cgo_enabled.as_deref(), Some("0"));
        assert!(flags.trimpath);
        assert_eq!(flags.ldflags.as_deref(), Some("-s -w -X main.v=1.0"));
        assert_eq!(goos.as_deref(), Some("linux"));
        assert_eq!(goarch.as_deref(), Some("arm64"));
        assert_eq!(output.as_deref(), Some("dist/app"));
    }

    #[test]
    fn docker_buildx() {
        let lines = vec![(
            "docker buildx build --platform linux/amd64,linux/arm64 -t app:1 -f build/Dockerfile --push .".to_string(),
            1,
        )];
        let steps = analyze(&lines, &mut Env::default());
        assert_eq!(
            steps[0].action,
            Action::Docker {
                file: Some("build/Dockerfile".into()),
                context: Some(".".into()),
                platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
                tags: vec!["app:1".into()],
                target: None
            }
        );
    }

    #[test]
    fn continuations_and_defaults() {
        let l = logical_lines("go build \\\n  -o app .\necho hi", 10);
        assert_eq!(l[0].1, 10);
        assert_eq!(l[1], ("echo hi".to_string(), 12));
        assert_eq!(Env::default().expand("${X:-7}"), "7");
    }
}
