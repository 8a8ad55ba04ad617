//! A Dockerfile reader, written by hand (no maintained Rust crate covers
//! heredocs and BuildKit's flags): parser directives, comments, line
//! continuations with the escape character, heredocs (`<<EOF`, `<<-EOF`,
//! quoted), JSON and shell forms, and stages with `ARG` defaults in `FROM`.
//! Errors become warnings with a line; the rest is still read. `read`
//! turns the parsed stages into the audit's model.

mod read;

pub use read::Dockerfiles;

use crate::shell::Env;

#[derive(Debug, Clone, PartialEq)]
pub struct Instruction {
    /// Upper-cased keyword.
    pub keyword: String,
    /// Flags such as `--from=builder`, `--platform=$BUILDPLATFORM`, `--mount=…`.
    pub flags: Vec<String>,
    /// The arguments: JSON form's items, or the shell form's text as one item.
    pub args: Vec<String>,
    pub json: bool,
    /// Heredoc bodies, in order (`RUN <<EOF` … `EOF`).
    pub heredocs: Vec<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Stage {
    pub index: usize,
    pub name: Option<String>,
    /// The `FROM` image, with `ARG` defaults expanded.
    pub base: String,
    pub platform: Option<String>,
    pub line: usize,
    pub instructions: Vec<Instruction>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Dockerfile {
    /// `ARG`s before the first `FROM`, with their defaults.
    pub global_args: Vec<(String, String)>,
    pub stages: Vec<Stage>,
    pub warnings: Vec<(usize, String)>,
}

const KEYWORDS: &[&str] = &[
    "FROM",
    "RUN",
    "CMD",
    "LABEL",
    "MAINTAINER",
    "EXPOSE",
    "ENV",
    "ADD",
    "COPY",
    "ENTRYPOINT",
    "VOLUME",
    "USER",
    "WORKDIR",
    "ARG",
    "ONBUILD",
    "STOPSIGNAL",
    "HEALTHCHECK",
    "SHELL",
];

/// Heredoc markers in an instruction line: (`EOF`, strip leading tabs).
fn heredoc_markers(line: &str) -> Vec<(String, bool)> {
    let mut out = Vec::new();
    let mut rest = line;
    while let Some(p) = rest.find("<<") {
        let mut after = &rest[p + 2..];
        let strip = after.starts_with('-');
        if strip {
            after = &after[1..];
        }
        let quoted = after.starts_with(['"', '\'']);
        let word: String = after
            .trim_start_matches(['"', '\''])
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `<<` inside a shell command (`cat <<EOF` within a RUN's text) is a
        // heredoc too in BuildKit; a lone `<<` or `<<<` is not.
        if !word.is_empty() && !after.starts_with('<') {
            let _ = quoted;
            out.push((word, strip));
        }
        rest = &rest[p + 2..];
    }
    out
}

/// Splits flags (`--x=y`) off the start of an instruction's arguments.
fn split_flags(text: &str) -> (Vec<String>, &str) {
    let mut flags = Vec::new();
    let mut rest = text.trim_start();
    while rest.starts_with("--") {
        let end = rest.find(char::is_whitespace).unwrap_or(rest.len());
        flags.push(rest[..end].to_string());
        rest = rest[end..].trim_start();
    }
    (flags, rest)
}

pub fn parse(text: &str) -> Dockerfile {
    let mut df = Dockerfile::default();
    let lines: Vec<&str> = text.lines().collect();
    let mut escape = '\\';
    let mut i = 0;
    // Parser directives: `# key=value` lines at the very top.
    while i < lines.len() {
        let l = lines[i].trim();
        let Some(d) = l.strip_prefix('#') else { break };
        let Some((k, v)) = d.split_once('=') else {
            break;
        };
        let k = k.trim().to_ascii_lowercase();
        if k.contains(' ') {
            break;
        }
        if k == "escape" {
            match v.trim() {
                "`" => escape = '`',
                "\\" => escape = '\\',
                other => df
                    .warnings
                    .push((i + 1, format!("unknown escape character '{other}'"))),
            }
        }
        i += 1;
    }
    let mut instructions = Vec::new();
    while i < lines.len() {
        let start = i;
        let first = lines[i].trim();
        i += 1;
        if first.is_empty() || first.starts_with('#') {
            continue;
        }
        // Join continuations; comment lines inside are dropped.
        let mut logical = String::new();
        let mut current = first.to_string();
        loop {
            let t = current.trim_end();
            match t.strip_suffix(escape) {
                Some(s) => {
                    logical.push_str(s);
                    logical.push(' ');
                    let mut next = None;
                    while i < lines.len() {
                        let l = lines[i].trim();
                        i += 1;
                        if l.starts_with('#') {
                            continue;
                        }
                        if l.is_empty() {
                            // An empty line ends nothing but is deprecated; keep reading.
                            continue;
                        }
                        next = Some(l.to_string());
                        break;
                    }
                    match next {
                        Some(n) => current = n,
                        None => {
                            df.warnings.push((
                                start + 1,
                                "line continuation at the end of the file".into(),
                            ));
                            break;
                        }
                    }
                }
                None => {
                    logical.push_str(t);
                    break;
                }
            }
        }
        let (keyword, rest) = match logical.split_once(char::is_whitespace) {
            Some((k, r)) => (k.to_ascii_uppercase(), r.trim().to_string()),
            None => (logical.to_ascii_uppercase(), String::new()),
        };
        if !KEYWORDS.contains(&keyword.as_str()) {
            df.warnings.push((
                start + 1,
                format!(
                    "unknown instruction '{}'",
                    keyword.chars().take(40).collect::<String>()
                ),
            ));
            continue;
        }
        let mut heredocs = Vec::new();
        if matches!(keyword.as_str(), "RUN" | "COPY" | "ADD") {
            for (word, strip) in heredoc_markers(&rest) {
                let mut body = String::new();
                let mut closed = false;
                while i < lines.len() {
                    let l = lines[i];
                    i += 1;
                    let cmp = if strip { l.trim_start_matches('\t') } else { l };
                    if cmp.trim_end() == word {
                        closed = true;
                        break;
                    }
                    body.push_str(cmp);
                    body.push('\n');
                }
                if !closed {
                    df.warnings.push((
                        start + 1,
                        format!("heredoc <<{word} is not closed before the end of the file"),
                    ));
                }
                heredocs.push(body);
            }
        }
        let (flags, args_text) = split_flags(&rest);
        let (args, json) = match args_text.starts_with('[') {
            true => match serde_json::from_str::<Vec<String>>(args_text) {
                Ok(v) => (v, true),
                Err(_) => (vec![args_text.to_string()], false),
            },
            false => (vec![args_text.to_string()], false),
        };
        instructions.push(Instruction {
            keyword,
            flags,
            args,
            json,
            heredocs,
            line: start + 1,
        });
    }
    // Stages.
    let mut global = Env::default();
    for ins in instructions {
        if ins.keyword == "FROM" {
            let words: Vec<&str> = ins
                .args
                .first()
                .map_or(Vec::new(), |a| a.split_whitespace().collect());
            let Some(image) = words.first() else {
                df.warnings.push((ins.line, "FROM without an image".into()));
                continue;
            };
            let name = match (words.get(1), words.get(2)) {
                (Some(a), Some(n)) if a.eq_ignore_ascii_case("as") => Some(n.to_string()),
                (Some(_), _) => {
                    df.warnings
                        .push((ins.line, "FROM: expected 'AS name'".into()));
                    None
                }
                _ => None,
            };
            let platform = ins
                .flags
                .iter()
                .find_map(|f| f.strip_prefix("--platform="))
                .map(str::to_string);
            df.stages.push(Stage {
                index: df.stages.len(),
                name,
                base: global.expand(image),
                platform,
                line: ins.line,
                instructions: Vec::new(),
            });
        } else if let Some(stage) = df.stages.last_mut() {
            stage.instructions.push(ins);
        } else if ins.keyword == "ARG" {
            for (k, v) in arg_pairs(&ins) {
                global.set(&k, &v);
                df.global_args.push((k, v));
            }
        } else {
            df.warnings
                .push((ins.line, format!("{} before the first FROM", ins.keyword)));
        }
    }
    df
}

/// `ARG A=1 B` and `ENV A=1 B=2` / `ENV A 1` as pairs (no default: empty).
pub fn arg_pairs(ins: &Instruction) -> Vec<(String, String)> {
    let text = ins.args.join(" ");
    let words = crate::shell::commands(&text)
        .into_iter()
        .flatten()
        .collect::<Vec<_>>();
    if ins.keyword == "ENV" && words.len() >= 2 && !words[0].contains('=') {
        return vec![(words[0].clone(), words[1..].join(" "))];
    }
    words
        .into_iter()
        .map(|w| match w.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (w, String::new()),
        })
        .collect()
}

impl Instruction {
    /// A RUN's script: the heredoc bodies when it has them, else its text.
    pub fn script(&self) -> Vec<(String, usize)> {
        if !self.heredocs.is_empty() {
            let mut out = Vec::new();
            let mut line = self.line + 1;
            for body in &self.heredocs {
                out.extend(crate::shell::logical_lines(body, line));
                line += body.lines().count() + 1;
            }
            return out;
        }
        if self.json {
            // ["sh", "-c", "…"] runs the last item; else the words are the command.
            if self.args.len() >= 3 && self.args[1] == "-c" {
                return vec![(self.args[2].clone(), self.line)];
            }
            let quoted: Vec<String> = self
                .args
                .iter()
                .map(|a| format!("'{}'", a.replace('\'', "")))
                .collect();
            return vec![(quoted.join(" "), self.line)];
        }
        vec![(self.args.join(" "), self.line)]
    }

    pub fn flag(&self, name: &str) -> Option<&str> {
        self.flags
            .iter()
            .find_map(|f| f.strip_prefix(name).and_then(|r| r.strip_prefix('=')))
    }
}

impl Dockerfile {
    pub fn stage_by_ref(&self, r: &str) -> Option<&Stage> {
        self.stages
            .iter()
            .find(|s| s.name.as_deref().is_some_and(|n| n.eq_ignore_ascii_case(r)))
            .or_else(|| r.parse::<usize>().ok().and_then(|i| self.stages.get(i)))
    }

    /// The stages the image is made of: the final (or `target`) stage, its
    /// base stages, and what it copies `--from`, transitively.
    pub fn shipped_stages(&self, target: Option<&str>) -> Vec<usize> {
        let last = match target.and_then(|t| self.stage_by_ref(t)) {
            Some(s) => s.index,
            None => match self.stages.len() {
                0 => return Vec::new(),
                n => n - 1,
            },
        };
        let mut seen = vec![last];
        let mut todo = vec![last];
        while let Some(i) = todo.pop() {
            let Some(stage) = self.stages.get(i) else {
                continue;
            };
            let mut deps: Vec<&str> = vec![stage.base.as_str()];
            for ins in &stage.instructions {
                if let Some(f) = ins.flag("--from") {
                    deps.push(f);
                }
                if let Some(m) = ins.flag("--mount") {
                    if let Some(from) = m.split(',').find_map(|p| p.strip_prefix("from=")) {
                        deps.push(from);
                    }
                }
            }
            for d in deps {
                if let Some(s) = self.stage_by_ref(d) {
                    if s.index < i && !seen.contains(&s.index) {
                        seen.push(s.index);
                        todo.push(s.index);
                    }
                }
            }
        }
        seen.sort_unstable();
        seen
    }

    /// The external image a stage finally rests on, through its base stages.
    pub fn root_image<'a>(&'a self, stage: &'a Stage) -> (&'a str, usize) {
        let mut s = stage;
        for _ in 0..self.stages.len() {
            match self.stage_by_ref(&s.base) {
                Some(b) if b.index < s.index => s = b,
                _ => break,
            }
        }
        (&s.base, s.line)
    }

    /// The chain of stages from the root image down to `stage`.
    pub fn lineage<'a>(&'a self, stage: &'a Stage) -> Vec<&'a Stage> {
        let mut chain = vec![stage];
        let mut s = stage;
        for _ in 0..self.stages.len() {
            match self.stage_by_ref(&s.base) {
                Some(b) if b.index < s.index => {
                    chain.push(b);
                    s = b;
                }
                _ => break,
            }
        }
        chain.reverse();
        chain
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_args_heredocs() {
        let df = parse(
            "# syntax=docker/dockerfile:1.7\nARG GO_VERSION=1.22\nFROM --platform=$BUILDPLATFORM golang:${GO_VERSION}-alpine AS build\n# comment\nRUN <<EOF\nset -e\ngo build \\\n  -o /out/app .\nEOF\nCOPY --from=build /out/app /usr/local/bin/app\nFROM scratch\nCOPY --from=build /out/app /app\nENTRYPOINT [\"/app\"]\n",
        );
        assert!(df.warnings.is_empty(), "{:?}", df.warnings);
        assert_eq!(df.stages.len(), 2);
        assert_eq!(df.stages[0].base, "golang:1.22-alpine");
        assert_eq!(df.stages[0].platform.as_deref(), Some("$BUILDPLATFORM"));
        let run = &df.stages[0].instructions[0];
        assert_eq!(run.line, 5);
        let script = run.script();
        assert_eq!(script[1], ("go build    -o /out/app .".to_string(), 7));
        assert_eq!(df.shipped_stages(None), vec![0, 1]);
        assert!(df.stages[1].instructions[1].json);
    }

    #[test]
    fn continuation_comments_and_errors() {
        let df =
            parse("FROM alpine\nRUN apk add \\\n# a comment\n  gcc\nBOGUS x\nRUN <<-EOT\n\techo\n");
        assert_eq!(df.stages[0].instructions[0].args[0], "apk add  gcc");
        assert_eq!(df.warnings.len(), 2, "{:?}", df.warnings);
        assert_eq!(df.warnings[0].0, 5);
    }

    #[test]
    fn escape_directive() {
        let df =
            parse("# escape=`\nFROM mcr.microsoft.com/windows\nRUN go build `\n  -o app.exe .\n");
        assert_eq!(
            df.stages[0].instructions[0].args[0],
            "go build  -o app.exe ."
        );
    }
}
