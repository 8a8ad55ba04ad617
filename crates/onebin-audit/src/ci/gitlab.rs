//! `.gitlab-ci.yml`: `include: local`, `extends`, anchors and `<<` merges
//! (resolved by `yaml`), `default:`, `variables:`, `image:`, `parallel:matrix`.

use std::path::Path;

use super::{combinations, Dialect, Job, JobStep};
use crate::collect::Collector;
use crate::model::{runner_toolchain, toolchain_from_image, Warning};
use crate::reader::Reader;
use crate::yaml::{deep_merge, Node, Value};

/// GitLab CI: `.gitlab-ci.yml` and its local includes.
pub struct GitlabCi;

impl Reader for GitlabCi {
    fn read(&self, collector: &mut Collector) {
        if let Some(jobs) = jobs(collector.root, &mut collector.warnings) {
            collector.add_ci(Dialect::Gitlab, jobs);
        }
    }
}

const GLOBAL_KEYS: &[&str] = &[
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "before_script",
    "after_script",
    "cache",
    "spec",
    "pages",
];

const JOB_KEYS: &[&str] = &[
    "script",
    "before_script",
    "after_script",
    "image",
    "services",
    "stage",
    "extends",
    "variables",
    "rules",
    "only",
    "except",
    "needs",
    "dependencies",
    "artifacts",
    "cache",
    "tags",
    "when",
    "allow_failure",
    "parallel",
    "environment",
    "release",
    "retry",
    "timeout",
    "interruptible",
    "coverage",
    "trigger",
    "resource_group",
    "secrets",
    "id_tokens",
    "inherit",
    "hooks",
    "identity",
    "manual_confirmation",
    "pages",
    "publish",
    "run",
    "dast_configuration",
];

/// The onebin templates' hidden jobs and what they run.
pub const TEMPLATE_JOBS: &[(&str, &str)] = &[
    (".onebin-package", "package"),
    (".onebin-extract", "extract"),
];

/// Loads `.gitlab-ci.yml` with its local includes into one mapping.
fn load(
    root: &Path,
    rel: &str,
    depth: usize,
    files: &mut Vec<String>,
    warnings: &mut Vec<Warning>,
) -> Option<Node> {
    let rel = rel.trim_start_matches('/').to_string();
    if depth > 10 || files.contains(&rel) {
        return None;
    }
    files.push(rel.clone());
    let doc = crate::files::read_yaml(root, &rel, warnings)?;
    if !doc.is_map() && !doc.is_null() {
        warnings.push(Warning::new(
            rel.clone(),
            doc.line,
            "expected a mapping of jobs".into(),
        ));
        return None;
    }
    // Tag every node with its file: lines alone would be ambiguous.
    let mut merged = Node {
        value: Value::Map(Vec::new()),
        line: 1,
    };
    for (inc, line) in includes(doc.at("include")) {
        match inc {
            Include::Local(path) => {
                if path.contains('*') {
                    for p in crate::files::glob_files(root, &path) {
                        if let Some(n) = load(root, &p, depth + 1, files, warnings) {
                            merged = deep_merge(&merged, &n);
                        }
                    }
                } else if let Some(n) = load(root, &path, depth + 1, files, warnings) {
                    merged = deep_merge(&merged, &n);
                }
            }
            // onebin's own template is known: its hidden jobs are modelled.
            Include::Other(what) if what.contains("onebin.gitlab-ci.yml") => {}
            Include::Other(what) => warnings.push(Warning::new(
                rel.clone(),
                line,
                format!("include {what} is not read (only local includes are)"),
            )),
        }
    }
    let mut own = doc.clone();
    if let Value::Map(entries) = &mut own.value {
        for (k, v) in entries.iter_mut() {
            if !k.as_str().is_some_and(|k| GLOBAL_KEYS.contains(&k)) {
                mark_file(v, &rel);
            }
        }
        entries.retain(|(k, _)| k.as_str() != Some("include"));
    }
    Some(deep_merge(&merged, &own))
}

/// Job nodes remember their file in a synthetic `__file` key.
fn mark_file(node: &mut Node, file: &str) {
    if let Value::Map(entries) = &mut node.value {
        if !entries.iter().any(|(k, _)| k.as_str() == Some("__file")) {
            entries.push((Node::str("__file", node.line), Node::str(file, node.line)));
        }
    }
}

enum Include {
    Local(String),
    Other(String),
}

fn includes(node: &Node) -> Vec<(Include, usize)> {
    let items: Vec<&Node> = match &node.value {
        Value::Seq(s) => s.iter().collect(),
        Value::Null => Vec::new(),
        _ => vec![node],
    };
    items
        .into_iter()
        .filter_map(|n| {
            if let Some(s) = n.as_str() {
                return Some(if s.starts_with("http://") || s.starts_with("https://") {
                    (Include::Other(format!("remote {s}")), n.line)
                } else {
                    (Include::Local(s.to_string()), n.line)
                });
            }
            if let Some(l) = n.at("local").as_str() {
                return Some((Include::Local(l.to_string()), n.line));
            }
            let kind = ["remote", "project", "template", "component"]
                .into_iter()
                .find(|k| n.get(k).is_some())?;
            let what = n.at(kind).as_str().unwrap_or("").to_string();
            Some((Include::Other(format!("{kind} {what}")), n.line))
        })
        .collect()
}

fn variables(node: &Node) -> Vec<(String, String)> {
    node.entries()
        .filter_map(|(k, v)| {
            // `X: value` or `X: {value: …, description: …}`.
            let value = v.as_str().or_else(|| v.at("value").as_str())?;
            Some((k.to_string(), value.to_string()))
        })
        .collect()
}

fn image_name(node: &Node) -> Option<(String, usize)> {
    node.as_str()
        .map(|s| (s.to_string(), node.line))
        .or_else(|| node.at("name").as_str().map(|s| (s.to_string(), node.line)))
}

/// Resolves `extends` (deep merge, the job's own keys winning), at most 11
/// levels as GitLab allows.
fn resolve_extends(
    name: &str,
    all: &Node,
    depth: usize,
    warnings: &mut Vec<Warning>,
    file: &str,
) -> Node {
    let job = all.at(name).clone();
    if depth > 11 {
        warnings.push(Warning::new(
            file.to_string(),
            job.line,
            format!("job '{name}': extends nests too deep"),
        ));
        return job;
    }
    let mut base = Node {
        value: Value::Map(Vec::new()),
        line: job.line,
    };
    for (parent, line) in job.at("extends").strings() {
        if all.get(&parent).is_some() {
            base = deep_merge(
                &base,
                &resolve_extends(&parent, all, depth + 1, warnings, file),
            );
        } else if let Some((_, verb)) = TEMPLATE_JOBS.iter().find(|(t, _)| *t == parent) {
            // From the remote onebin template: record what it runs.
            let script = Node {
                value: Value::Seq(vec![Node::str(&format!("onebin {verb}"), line)]),
                line,
            };
            let tpl = Node {
                value: Value::Map(vec![(Node::str("script", line), script)]),
                line,
            };
            base = deep_merge(&base, &tpl);
        } else {
            warnings.push(Warning::new(
                file.to_string(),
                line,
                format!("job '{name}' extends '{parent}', which is not defined here"),
            ));
        }
    }
    let mut own = job.clone();
    if let Value::Map(entries) = &mut own.value {
        entries.retain(|(k, _)| k.as_str() != Some("extends"));
    }
    deep_merge(&base, &own)
}

fn k_line(entries: &[(Node, Node)], key: &str) -> usize {
    entries
        .iter()
        .find(|(k, _)| k.as_str() == Some(key))
        .map_or(1, |(k, _)| k.line.max(1))
}

/// Reads the pipeline's jobs. `None` when the project has no `.gitlab-ci.yml`.
pub fn jobs(root: &Path, warnings: &mut Vec<Warning>) -> Option<Vec<Job>> {
    if !root.join(".gitlab-ci.yml").is_file() {
        return None;
    }
    let mut files = Vec::new();
    let all = load(root, ".gitlab-ci.yml", 0, &mut files, warnings)?;
    let pipeline = Pipeline {
        all: &all,
        default: all.at("default"),
        vars: variables(all.at("variables")),
        image: image_name(all.at("default").at("image")).or_else(|| image_name(all.at("image"))),
    };
    let mut jobs = Vec::new();
    for (name, node) in all.entries() {
        if GLOBAL_KEYS.contains(&name) && name != "pages" || name.starts_with('.') {
            continue;
        }
        if let Some(job) = pipeline.job(name, node, warnings) {
            jobs.push(job);
        }
    }
    Some(jobs)
}

/// The whole pipeline, with what its jobs inherit.
struct Pipeline<'a> {
    all: &'a Node,
    default: &'a Node,
    /// Global `variables:`.
    vars: Vec<(String, String)>,
    /// `default: image:`, else the global `image:`.
    image: Option<(String, usize)>,
}

impl Pipeline<'_> {
    /// One job, its `extends` resolved; a job without a script, or that is
    /// not a mapping, is a warning and `None`.
    fn job(&self, name: &str, node: &Node, warnings: &mut Vec<Warning>) -> Option<Job> {
        let file = node
            .at("__file")
            .as_str()
            .unwrap_or(".gitlab-ci.yml")
            .to_string();
        if !node.is_map() {
            warnings.push(Warning::new(
                file.clone(),
                node.line,
                format!("'{name}' is neither a keyword nor a job"),
            ));
            return None;
        }
        let job = resolve_extends(name, self.all, 0, warnings, &file);
        warn_unknown_keys(name, &job, &file, warnings);
        if job.get("script").is_none() && job.get("trigger").is_none() && job.get("run").is_none() {
            warnings.push(Warning::new(
                file.clone(),
                job.line,
                format!("job '{name}' has no script"),
            ));
            return None;
        }
        let toolchain = match image_name(job.at("image")).or_else(|| self.image.clone()) {
            Some((img, line)) => {
                let img = crate::shell::Env(self.vars.clone()).expand(&img);
                toolchain_from_image(&img, &file, line)
            }
            None => runner_toolchain("the runner (no image)", &file, job.line),
        };
        // Paths under the checkout are paths in the project.
        let mut env = vec![("CI_PROJECT_DIR".to_string(), ".".to_string())];
        env.extend(self.vars.iter().cloned());
        env.extend(variables(job.at("variables")));
        let publishes = if let Some(r) = job.get("release") {
            Some(format!("creates a release (`release:`, {file}:{})", r.line))
        } else {
            job.get("artifacts")
                .map(|a| format!("keeps its output as artifacts ({file}:{})", a.line))
        };
        let on_release = release_rule(&job, &file);
        Some(Job {
            name: name.to_string(),
            stage: job.at("stage").as_str().map(str::to_string),
            file,
            line: job.line,
            toolchain,
            env,
            matrix: matrix(job.at("parallel").at("matrix")),
            steps: vec![JobStep::Script {
                lines: self.script_lines(&job),
                env: Vec::new(),
            }],
            publishes,
            on_release,
            runs_on: None,
        })
    }

    /// `before_script`, `script`, `after_script`, each the job's own or,
    /// unless `inherit: default: false`, the default's or the global one.
    fn script_lines(&self, job: &Node) -> Vec<(String, usize)> {
        let inherit_default = !matches!(job.at("inherit").at("default").as_str(), Some("false"));
        let pick = |key: &str| -> Node {
            match job.get(key) {
                Some(n) => n.clone(),
                None if inherit_default => self
                    .default
                    .get(key)
                    .or_else(|| self.all.get(key))
                    .cloned()
                    .unwrap_or_else(|| Node::null(0)),
                None => Node::null(0),
            }
        };
        let mut lines = Vec::new();
        for key in ["before_script", "script", "after_script"] {
            lines.extend(pick(key).lines());
        }
        lines
    }
}

fn warn_unknown_keys(name: &str, job: &Node, file: &str, warnings: &mut Vec<Warning>) {
    for (k, _) in job.as_map() {
        let Some(key) = k.as_str() else { continue };
        if key != "__file" && !JOB_KEYS.contains(&key) {
            warnings.push(Warning::new(
                file.to_string(),
                k_line(job.as_map(), key),
                format!("job '{name}': unknown key '{key}'"),
            ));
        }
    }
}

/// `parallel: matrix:`: every entry's combinations.
fn matrix(node: &Node) -> Vec<Vec<(String, String)>> {
    let mut matrix = Vec::new();
    for entry in node.as_seq() {
        let axes: Vec<(String, Vec<String>)> = entry
            .entries()
            .map(|(k, v)| {
                (
                    k.to_string(),
                    v.strings().into_iter().map(|(s, _)| s).collect(),
                )
            })
            .collect();
        matrix.extend(combinations(&axes));
    }
    matrix
}

/// When a GitLab job runs for a release: `rules` or `only` that name tags
/// (`$CI_COMMIT_TAG`), else every pipeline (tags included) unless its rules
/// keep it off tags (`if: $CI_COMMIT_TAG` with `when: never`).
fn release_rule(job: &Node, file: &str) -> Option<String> {
    for rule in job.at("rules").as_seq() {
        let cond = rule.at("if").as_str().unwrap_or("");
        if cond.contains("CI_COMMIT_TAG") && !cond.contains("== null") && !cond.contains("== \"\"")
        {
            if rule.at("when").as_str() == Some("never") {
                return None;
            }
            return Some(format!("a tag (`rules: if: {cond}`, {file}:{})", rule.line));
        }
    }
    let only = job.at("only");
    let only: Vec<String> = only
        .strings()
        .into_iter()
        .chain(only.at("refs").strings())
        .map(|(s, _)| s)
        .collect();
    if only.iter().any(|o| o == "tags") {
        return Some(format!(
            "tags (`only: tags`, {file}:{})",
            job.at("only").line
        ));
    }
    if !only.is_empty() {
        return None;
    }
    Some("every pipeline, tags included".into())
}
