//! `.github/workflows/*.yml`: jobs, steps, `run:`, `env:`, `strategy.matrix`,
//! `container:`, `actions/setup-go`, `docker/build-push-action`,
//! `goreleaser/goreleaser-action`, and onebin's own actions.

use std::path::Path;

use super::{combinations, Dialect, DockerStep, Job, JobStep};
use crate::collect::Collector;
use crate::model::{is_exact_version, runner_toolchain, toolchain_from_image, Toolchain, Warning};
use crate::reader::Reader;
use crate::yaml::Node;

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
        let expr = rest[p + 3..p + end].trim();
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
fn go_mod_version(root: &Path, file: &str) -> Option<String> {
    let text = std::fs::read_to_string(root.join(file)).ok()?;
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
                        .and_then(|f| go_mod_version(root, f))
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
        for (name, node) in doc.at("jobs").entries() {
            if let Some(uses) = node.at("uses").as_str() {
                warnings.push(Warning {
                    file: file.clone(),
                    line: node.line,
                    message: format!(
                        "job '{name}' calls the reusable workflow {uses}, which is not read"
                    ),
                });
                continue;
            }
            jobs.push(job(root, &file, name, node, &wf_env));
        }
    }
    Some(jobs)
}

/// A workflow file with `jobs:`; anything else is a warning and `None`.
fn workflow(root: &Path, file: &str, warnings: &mut Vec<Warning>) -> Option<Node> {
    let doc = crate::files::read_yaml(root, file, warnings)?;
    if doc.get("jobs").is_none() {
        warnings.push(Warning {
            file: file.to_string(),
            line: doc.line.max(1),
            message: "no 'jobs:' in this workflow".into(),
        });
        return None;
    }
    Some(doc)
}

fn job(root: &Path, file: &str, name: &str, node: &Node, wf_env: &[(String, String)]) -> Job {
    let toolchain = job_toolchain(node, file);
    let mut env = vec![("GITHUB_WORKSPACE".to_string(), ".".to_string())];
    env.extend(wf_env.iter().cloned());
    env.extend(env_of(node.at("env")));
    let steps: Vec<JobStep> = node
        .at("steps")
        .as_seq()
        .iter()
        .filter_map(|s| step(root, file, s, &toolchain))
        .collect();
    let publishes = steps
        .iter()
        .any(|s| matches!(s, JobStep::Goreleaser { .. } | JobStep::Publishes));
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
    }
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
fn step(root: &Path, file: &str, node: &Node, toolchain: &Toolchain) -> Option<JobStep> {
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
    if let Some(t) = setup_toolchain(uses, with, root, toolchain, file, line) {
        Some(JobStep::Toolchain(t))
    } else if action == "docker/build-push-action" {
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
            | "actions/upload-artifact"
            | "ncipollo/release-action"
            | "actions/upload-release-asset"
    ) {
        Some(JobStep::Publishes)
    } else {
        None
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
