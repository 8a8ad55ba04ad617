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
        let Some(text) = crate::files::read_text(root, &file, warnings) else {
            continue;
        };
        let doc = match crate::yaml::parse(&text) {
            Ok(d) => d,
            Err(e) => {
                warnings.push(Warning {
                    file: file.clone(),
                    line: e.line,
                    message: format!("invalid YAML: {}", e.message),
                });
                continue;
            }
        };
        if doc.get("jobs").is_none() {
            warnings.push(Warning {
                file: file.clone(),
                line: doc.line.max(1),
                message: "no 'jobs:' in this workflow".into(),
            });
            continue;
        }
        let wf_env = env_of(doc.at("env"));
        for (name, job) in doc.at("jobs").entries() {
            if let Some(uses) = job.at("uses").as_str() {
                warnings.push(Warning {
                    file: file.clone(),
                    line: job.line,
                    message: format!(
                        "job '{name}' calls the reusable workflow {uses}, which is not read"
                    ),
                });
                continue;
            }
            let container = job
                .at("container")
                .as_str()
                .or_else(|| job.at("container").at("image").as_str());
            let toolchain = match container {
                Some(img) => toolchain_from_image(img, &file, job.at("container").line),
                None => {
                    let runs_on = job.at("runs-on").strings().first().map(|(s, _)| s.clone());
                    let runs_on = runs_on.unwrap_or_else(|| "runner".into());
                    if runs_on.contains("windows") || runs_on.contains("macos") {
                        Toolchain {
                            libc: None,
                            ..runner_toolchain(&runs_on, &file, job.line)
                        }
                    } else {
                        runner_toolchain(&runs_on, &file, job.line)
                    }
                }
            };
            let mut env = vec![("GITHUB_WORKSPACE".to_string(), ".".to_string())];
            env.extend(wf_env.iter().cloned());
            env.extend(env_of(job.at("env")));
            let matrix_node = job.at("strategy").at("matrix");
            let axes: Vec<(String, Vec<String>)> = matrix_node
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
            for inc in matrix_node.at("include").as_seq() {
                let extra: Vec<(String, String)> = inc
                    .entries()
                    .filter_map(|(k, v)| v.as_str().map(|v| (format!("matrix.{k}"), v.to_string())))
                    .collect();
                // As GitHub does: an include extends the combinations whose
                // axis values it agrees with, else it is a combination of its own.
                let mut matched = false;
                for c in matrix.iter_mut().filter(|c| !c.is_empty()) {
                    let agrees = extra.iter().all(|(k, v)| {
                        axes.iter().all(|(a, _)| a != k)
                            || c.iter().any(|(ck, cv)| ck == k && cv == v)
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
            let mut steps = Vec::new();
            let mut publishes = false;
            for step in job.at("steps").as_seq() {
                if let Some(run) = step.at("run").as_str() {
                    let run = expressions(run);
                    let lines = if run.contains('\n') {
                        crate::shell::logical_lines(&run, step.at("run").line + 1)
                    } else {
                        vec![(run, step.at("run").line)]
                    };
                    steps.push(JobStep::Script {
                        lines,
                        env: env_of(step.at("env")),
                    });
                    continue;
                }
                let Some(uses) = step.at("uses").as_str() else {
                    continue;
                };
                let line = step.at("uses").line;
                let with = step.at("with");
                let action = uses.split('@').next().unwrap_or(uses);
                if let Some(t) = setup_toolchain(uses, with, root, &toolchain, &file, line) {
                    steps.push(JobStep::Toolchain(t));
                } else if action == "docker/build-push-action" {
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
                    steps.push(JobStep::Docker(DockerStep {
                        file: with.at("file").as_str().map(expressions),
                        context: with.at("context").as_str().map(expressions),
                        platforms: list("platforms"),
                        tags: list("tags"),
                        target: with.at("target").as_str().map(str::to_string),
                        line,
                    }));
                } else if action == "goreleaser/goreleaser-action" {
                    steps.push(JobStep::Goreleaser { line });
                    publishes = true;
                } else if (action.contains("onebin") || action.contains("templates/github/"))
                    && (action.ends_with("/package") || action.ends_with("/extract"))
                {
                    let verb = action.rsplit('/').next().unwrap_or("package").to_string();
                    steps.push(JobStep::Onebin { verb, line });
                } else if matches!(
                    action,
                    "softprops/action-gh-release"
                        | "actions/upload-artifact"
                        | "ncipollo/release-action"
                        | "actions/upload-release-asset"
                ) {
                    publishes = true;
                    steps.push(JobStep::Publishes);
                }
            }
            jobs.push(Job {
                name: name.to_string(),
                stage: None,
                file: file.clone(),
                line: job.line,
                toolchain,
                env,
                matrix,
                steps,
                publishes,
            });
        }
    }
    Some(jobs)
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
