//! `.github/workflows/*.yml`: jobs, steps, `run:`, `env:`, `strategy.matrix`,
//! `container:`, `actions/setup-go`, `docker/build-push-action`,
//! `goreleaser/goreleaser-action`, and onebin's own actions.

use std::path::Path;

use super::{combinations, Dialect, DockerStep, Job, JobStep};
use crate::collect::Collector;
use crate::model::{is_exact_version, runner_toolchain, toolchain_from_image, Toolchain, Warning};
use crate::reader::Reader;
use crate::yaml::Node;

/// Actions that build the binary or the image in ways the audit does not
/// read: each is an `unread-build` finding, not a guess.
const UNREAD_ACTIONS: &[&str] = &[
    "PyO3/maturin-action",
    "docker/bake-action",
    "houseabsolute/actions-rust-cross",
    "taiki-e/upload-rust-binary-action",
    "goreleaser/goreleaser-cross-action",
    "prometheus/promci/publish_release",
];

/// GitHub Actions: every workflow under `.github/workflows`.
pub struct GithubActions;

impl Reader for GithubActions {
    fn read(&self, collector: &mut Collector) {
        if let Some(jobs) = jobs(collector.root, &mut collector.warnings) {
            collector.add_ci(Dialect::Github, jobs);
        }
    }
}

/// `${{ matrix.x }}` → `${matrix.x}`, `${{ env.X }}` → `${X}`, so that
/// `shell::Env` expands them; other expressions stay as they are.
pub fn expressions(s: &str) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(p) = rest.find("${{") {
        out.push_str(&rest[..p]);
        let Some(end) = rest[p..].find("}}") else {
            out.push_str(&rest[p..]);
            return out;
        };
        let mut expr = rest[p + 3..p + end].trim();
        // `cond && 'a' || 'b'`, GitHub's conditional: the fallback is the
        // value most runs see.
        if let Some((_, fallback)) = expr.rsplit_once("||").filter(|_| expr.contains("&&")) {
            let fallback = fallback.trim();
            if let Some(lit) = fallback
                .strip_prefix('\'')
                .and_then(|f| f.strip_suffix('\''))
            {
                out.push_str(lit);
                rest = &rest[p + end + 2..];
                continue;
            }
            expr = fallback;
        }
        match expr.strip_prefix("env.") {
            Some(name) => out.push_str(&format!("${{{name}}}")),
            None if expr.starts_with("matrix.") || expr.starts_with("inputs.") => {
                out.push_str(&format!("${{{expr}}}"))
            }
            None => out.push_str(&rest[p..p + end + 2]),
        }
        rest = &rest[p + end + 2..];
    }
    out.push_str(rest);
    out
}

fn env_of(node: &Node) -> Vec<(String, String)> {
    node.entries()
        .filter_map(|(k, v)| v.as_str().map(|v| (k.to_string(), expressions(v))))
        .collect()
}

/// The Go version `go.mod` asks for (`toolchain go1.22.5` wins over `go 1.22`).
fn go_mod_version(root: &Path, file: &str, warnings: &mut Vec<Warning>) -> Option<String> {
    let text = crate::files::read_text(root, file, warnings)?;
    let mut go = None;
    for l in text.lines() {
        let l = l.trim();
        if let Some(t) = l.strip_prefix("toolchain go") {
            return Some(t.trim().to_string());
        }
        if let Some(v) = l.strip_prefix("go ") {
            go = Some(v.trim().to_string());
        }
    }
    go
}

fn setup_toolchain(
    uses: &str,
    with: &Node,
    root: &Path,
    warnings: &mut Vec<Warning>,
    base: &Toolchain,
    file: &str,
    line: usize,
) -> Option<Toolchain> {
    let action = uses.split('@').next().unwrap_or(uses);
    let (source, version) = match action {
        "actions/setup-go" => {
            let v = with
                .at("go-version")
                .as_str()
                .map(str::to_string)
                .or_else(|| {
                    with.at("go-version-file")
                        .as_str()
                        .and_then(|f| go_mod_version(root, f, warnings))
                });
            ("actions/setup-go", v)
        }
        "dtolnay/rust-toolchain" => {
            let v = with
                .at("toolchain")
                .as_str()
                .map(str::to_string)
                .or_else(|| uses.split('@').nth(1).map(str::to_string));
            ("dtolnay/rust-toolchain", v)
        }
        "actions-rs/toolchain" => (
            "actions-rs/toolchain",
            with.at("toolchain").as_str().map(str::to_string),
        ),
        _ => return None,
    };
    let version = version.map(|v| expressions(&v));
    Some(Toolchain {
        source: format!("{source} {}", version.clone().unwrap_or_default())
            .trim()
            .to_string(),
        pinned: version.as_deref().is_some_and(is_exact_version),
        version,
        libc: base.libc,
        c_compiler: base.c_compiler,
        file: file.to_string(),
        line,
    })
}

/// Reads the workflows' jobs. `None` when the project has no
/// `.github/workflows`.
pub fn jobs(root: &Path, warnings: &mut Vec<Warning>) -> Option<Vec<Job>> {
    let dir = root.join(".github/workflows");
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .ok()?
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".yml") || n.ends_with(".yaml"))
        .map(|n| format!(".github/workflows/{n}"))
        .collect();
    files.sort();
    let mut jobs = Vec::new();
    for file in files {
        let Some(doc) = workflow(root, &file, warnings) else {
            continue;
        };
        let wf_env = env_of(doc.at("env"));
        let on_release = release_trigger(doc.at("on"), &file);
        for (name, node) in doc.at("jobs").entries() {
            if let Some(uses) = node.at("uses").as_str() {
                warnings.push(Warning::new(
                    file.clone(),
                    node.line,
                    format!("job '{name}' calls the reusable workflow {uses}, which is not read"),
                ));
                continue;
            }
            let mut j = job(root, &file, name, node, &wf_env, warnings);
            j.on_release = on_release.clone();
            jobs.push(j);
        }
    }
    Some(jobs)
}

/// A workflow file with `jobs:`; anything else is a warning and `None`.
fn workflow(root: &Path, file: &str, warnings: &mut Vec<Warning>) -> Option<Node> {
    let doc = crate::files::read_yaml(root, file, warnings)?;
    if doc.get("jobs").is_none() {
        warnings.push(Warning::new(
            file.to_string(),
            doc.line.max(1),
            "no 'jobs:' in this workflow".into(),
        ));
        return None;
    }
    Some(doc)
}

fn job(
    root: &Path,
    file: &str,
    name: &str,
    node: &Node,
    wf_env: &[(String, String)],
    warnings: &mut Vec<Warning>,
) -> Job {
    let toolchain = job_toolchain(node, file);
    let mut env = vec![("GITHUB_WORKSPACE".to_string(), ".".to_string())];
    env.extend(wf_env.iter().cloned());
    env.extend(env_of(node.at("env")));
    let steps: Vec<JobStep> = node
        .at("steps")
        .as_seq()
        .iter()
        .filter_map(|s| step(root, file, s, &toolchain, warnings))
        .collect();
    let publishes = steps.iter().find_map(|s| match s {
        JobStep::Docker(d) if d.push => Some(format!(
            "pushes the image it builds (push: true, {file}:{})",
            d.line
        )),
        JobStep::Goreleaser { line } => Some(format!("runs GoReleaser ({file}:{line})")),
        JobStep::Publishes(how) => Some(how.clone()),
        JobStep::GoRelease(g) => Some(format!(
            "uploads to a release (go-release-action, {file}:{})",
            g.line
        )),
        _ => None,
    });
    Job {
        name: name.to_string(),
        stage: None,
        file: file.to_string(),
        line: node.line,
        toolchain,
        env,
        matrix: matrix(node.at("strategy").at("matrix")),
        steps,
        publishes,
        on_release: None,
        runs_on: node
            .at("runs-on")
            .strings()
            .first()
            .map(|(s, _)| expressions(s)),
    }
}

/// What in `on:` runs the workflow for a release: a tag push (a `push`
/// without `branches` includes tags), a `release` event, a manual or
/// called run; `None` when only branches, pull requests or a schedule do.
fn release_trigger(on: &Node, file: &str) -> Option<String> {
    let null = Node::null(on.line);
    let events: Vec<(String, &Node)> = match on.as_str() {
        Some(one) => vec![(one.to_string(), &null)],
        None if !on.as_seq().is_empty() => on
            .as_seq()
            .iter()
            .filter_map(|e| e.as_str().map(|s| (s.to_string(), &null)))
            .collect(),
        None => on.entries().map(|(k, v)| (k.to_string(), v)).collect(),
    };
    let at = |n: &Node| format!("{file}:{}", n.line.max(on.line));
    for (event, node) in &events {
        match event.as_str() {
            "push" if node.get("tags").is_some() => {
                let tags: Vec<String> = node
                    .at("tags")
                    .strings()
                    .into_iter()
                    .map(|(s, _)| s)
                    .collect();
                return Some(format!(
                    "a tag push `{}` ({})",
                    tags.join(" "),
                    at(node.at("tags"))
                ));
            }
            "push" if node.get("branches").is_none() && node.get("branches-ignore").is_none() => {
                return Some(format!("every push, tags included ({})", at(node)));
            }
            "release" => return Some(format!("a release event ({})", at(node))),
            _ => {}
        }
    }
    for (event, node) in &events {
        match event.as_str() {
            "workflow_dispatch" => return Some(format!("a manual run ({})", at(node))),
            "workflow_call" => return Some(format!("a call from another workflow ({})", at(node))),
            _ => {}
        }
    }
    None
}

/// The job's `container:` image, else its runner (no libc on Windows and
/// macOS runners: what they build is not for Linux).
fn job_toolchain(node: &Node, file: &str) -> Toolchain {
    let container = node
        .at("container")
        .as_str()
        .or_else(|| node.at("container").at("image").as_str());
    if let Some(img) = container {
        return toolchain_from_image(img, file, node.at("container").line);
    }
    let runs_on = node.at("runs-on").strings().first().map(|(s, _)| s.clone());
    let runs_on = runs_on.unwrap_or_else(|| "runner".into());
    if runs_on.contains("windows") || runs_on.contains("macos") {
        Toolchain {
            libc: None,
            ..runner_toolchain(&runs_on, file, node.line)
        }
    } else {
        runner_toolchain(&runs_on, file, node.line)
    }
}

/// `strategy.matrix`: its axes' combinations, with `include` applied.
fn matrix(node: &Node) -> Vec<Vec<(String, String)>> {
    let axes: Vec<(String, Vec<String>)> = node
        .entries()
        .filter(|(k, _)| *k != "include" && *k != "exclude")
        .map(|(k, v)| {
            (
                format!("matrix.{k}"),
                v.strings().into_iter().map(|(s, _)| s).collect(),
            )
        })
        .collect();
    let mut matrix = combinations(&axes);
    for inc in node.at("include").as_seq() {
        let extra: Vec<(String, String)> = inc
            .entries()
            .filter_map(|(k, v)| v.as_str().map(|v| (format!("matrix.{k}"), v.to_string())))
            .collect();
        // As GitHub does: an include extends the combinations whose
        // axis values it agrees with, else it is a combination of its own.
        let mut matched = false;
        for c in matrix.iter_mut().filter(|c| !c.is_empty()) {
            let agrees = extra.iter().all(|(k, v)| {
                axes.iter().all(|(a, _)| a != k) || c.iter().any(|(ck, cv)| ck == k && cv == v)
            });
            if agrees {
                c.extend(extra.iter().cloned());
                matched = true;
            }
        }
        if !matched {
            matrix.push(extra);
        }
    }
    matrix.retain(|c| !c.is_empty());
    matrix
}

/// A step the audit cares about: `run:` lines, or an action it knows.
fn step(
    root: &Path,
    file: &str,
    node: &Node,
    toolchain: &Toolchain,
    warnings: &mut Vec<Warning>,
) -> Option<JobStep> {
    if let Some(run) = node.at("run").as_str() {
        let run = expressions(run);
        let lines = if run.contains('\n') {
            crate::shell::logical_lines(&run, node.at("run").line + 1)
        } else {
            vec![(run, node.at("run").line)]
        };
        return Some(JobStep::Script {
            lines,
            env: env_of(node.at("env")),
        });
    }
    let uses = node.at("uses").as_str()?;
    let line = node.at("uses").line;
    let with = node.at("with");
    let action = uses.split('@').next().unwrap_or(uses);
    if let Some(t) = setup_toolchain(uses, with, root, warnings, toolchain, file, line) {
        Some(JobStep::Toolchain(t))
    } else if matches!(
        action,
        "docker/build-push-action" | "depot/build-push-action"
    ) {
        Some(JobStep::Docker(build_push(with, line)))
    } else if action == "goreleaser/goreleaser-action" {
        Some(JobStep::Goreleaser { line })
    } else if (action.contains("onebin") || action.contains("templates/github/"))
        && (action.ends_with("/package") || action.ends_with("/extract"))
    {
        let verb = action.rsplit('/').next().unwrap_or("package").to_string();
        Some(JobStep::Onebin { verb, line })
    } else if matches!(
        action,
        "softprops/action-gh-release"
            | "ncipollo/release-action"
            | "actions/upload-release-asset"
            | "svenstaro/upload-release-action"
    ) {
        Some(JobStep::Publishes(format!(
            "uploads to a release ({action}, {file}:{line})"
        )))
    } else if action == "wangyoucao577/go-release-action" {
        let get = |k: &str| with.at(k).as_str().map(expressions);
        Some(JobStep::GoRelease(super::GoRelease {
            goos: get("goos"),
            goarch: get("goarch"),
            goversion: get("goversion"),
            project_path: get("project_path"),
            binary_name: get("binary_name"),
            ldflags: get("ldflags"),
            line,
        }))
    } else if action == "actions/upload-artifact" {
        Some(JobStep::Publishes(format!(
            "keeps its output as an artifact ({action}, {file}:{line})"
        )))
    } else {
        UNREAD_ACTIONS
            .iter()
            .find(|a| action.eq_ignore_ascii_case(a))
            .map(|tool| JobStep::Unread {
                tool: tool.to_string(),
                line,
            })
    }
}

/// `docker/build-push-action`'s inputs; lists may be comma- or
/// newline-separated.
fn build_push(with: &Node, line: usize) -> DockerStep {
    let list = |k: &str| -> Vec<String> {
        with.at(k)
            .strings()
            .iter()
            .flat_map(|(s, _)| {
                expressions(s)
                    .split([',', '\n'])
                    .map(|p| p.trim().to_string())
                    .collect::<Vec<_>>()
            })
            .filter(|p| !p.is_empty())
            .collect()
    };
    DockerStep {
        file: with.at("file").as_str().map(expressions),
        context: with.at("context").as_str().map(expressions),
        platforms: list("platforms"),
        tags: list("tags"),
        target: with.at("target").as_str().map(str::to_string),
        // `push: ${{ github.event_name != 'pull_request' }}` pushes on a release.
        push: with.at("push").as_str().is_some_and(|p| p != "false"),
        line,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn expressions_become_variables() {
        assert_eq!(
            super::expressions("GOARCH=${{ matrix.goarch }} X=${{ env.V }} ${{ secrets.T }}"),
            "GOARCH=${matrix.goarch} X=${V} ${{ secrets.T }}"
        );
    }
}
