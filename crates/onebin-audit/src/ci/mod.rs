//! CI configurations, read into one shape: jobs with a toolchain, variables,
//! an optional matrix, and steps. Each CI system is a module with a
//! `Reader` (listed in `reader::CI_SYSTEMS`) that hands its jobs to the
//! collector; the collector runs them once every system is read.

pub mod github;
pub mod gitlab;

use crate::model::{Place, Toolchain};

/// One CI job, whatever the dialect.
#[derive(Debug, Clone)]
pub struct Job {
    pub name: String,
    pub stage: Option<String>,
    pub file: String,
    pub line: usize,
    pub toolchain: Toolchain,
    /// Variables in effect for the whole job.
    pub env: Vec<(String, String)>,
    /// Matrix combinations (`parallel:matrix`, `strategy.matrix`); empty: one run.
    pub matrix: Vec<Vec<(String, String)>>,
    pub steps: Vec<JobStep>,
    /// How the job's output ships, when it does: `artifacts:`, `release:`,
    /// an upload or release action, with its place.
    pub publishes: Option<String>,
    /// What runs the job for a release (`push: tags [v*]`, `release`, every
    /// GitLab pipeline); `None` when it only runs for branches, pull
    /// requests or a schedule, so what it builds never ships.
    pub on_release: Option<String>,
    /// `runs-on:`, as written (a matrix value is expanded per run).
    pub runs_on: Option<String>,
}

#[derive(Debug, Clone)]
pub enum JobStep {
    /// Shell lines, with step-level variables.
    Script {
        lines: Vec<(String, usize)>,
        env: Vec<(String, String)>,
    },
    /// `actions/setup-go` and friends change the toolchain from here on.
    Toolchain(Toolchain),
    /// `docker/build-push-action`.
    Docker(DockerStep),
    /// `goreleaser/goreleaser-action`.
    Goreleaser { line: usize },
    /// A onebin template (`extends: .onebin-package`, the composite actions).
    Onebin { verb: String, line: usize },
    /// An upload or release action, described for the judgement's why.
    Publishes(String),
    /// `wangyoucao577/go-release-action`: a Go build uploaded to a release.
    GoRelease(GoRelease),
    /// A build tool or action the audit does not read (`promu`, `docker
    /// buildx bake`, `go-release-action`): reported, never guessed.
    Unread { tool: String, line: usize },
}

/// `go-release-action`'s inputs, as written.
#[derive(Debug, Clone)]
pub struct GoRelease {
    pub goos: Option<String>,
    pub goarch: Option<String>,
    pub goversion: Option<String>,
    pub project_path: Option<String>,
    pub binary_name: Option<String>,
    pub ldflags: Option<String>,
    pub line: usize,
}

/// An image build a CI step asks for, as the config writes it (variables
/// not yet expanded).
#[derive(Debug, Clone)]
pub struct DockerStep {
    pub file: Option<String>,
    pub context: Option<String>,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub target: Option<String>,
    /// `push:` is set: the image goes to a registry.
    pub push: bool,
    pub line: usize,
}

/// Which dialect the project's CI speaks, for the changes we propose.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Dialect {
    Gitlab,
    Github,
    None,
}

impl Job {
    pub fn place(&self, kind: crate::model::PlaceKind, line: usize) -> Place {
        Place {
            kind,
            name: self.name.clone(),
            file: self.file.clone(),
            line,
        }
    }

    /// Test, lint and analysis jobs build to check, not to ship.
    pub fn is_check(&self) -> bool {
        self.publishes.is_none() && self.check_word().is_some()
    }

    /// The word in the job's name or stage that makes it a check.
    pub fn check_word(&self) -> Option<&'static str> {
        let words = [
            "test",
            "lint",
            "vet",
            "check",
            "fmt",
            "coverage",
            "bench",
            "audit",
            "codeql",
            "analy",
            "e2e",
            "integration",
            "conformance",
            "validat",
            "snapshot",
            "fuzz",
            "presubmit",
        ];
        let name = self.name.to_ascii_lowercase();
        let stage = self.stage.clone().unwrap_or_default().to_ascii_lowercase();
        words
            .into_iter()
            .find(|w| name.contains(w) || stage.contains(w))
    }

    /// Whether what the job builds ships, and why: the judgement `--json`
    /// and the text show beside each build.
    pub fn judgement(&self) -> (bool, String) {
        let at = format!("{}:{}", self.file, self.line);
        // A release upload ships, whatever runs it; an artifact ships when
        // a tag or release runs a job that is not a check.
        let automatic = |on: &str| !on.starts_with("a manual") && !on.starts_with("a call");
        if let Some(how) = &self.publishes {
            let artifact_only = how.starts_with("keeps its output");
            return match &self.on_release {
                Some(on) if !artifact_only => (
                    true,
                    format!("job `{}` ({at}) runs on {on} and {how}", self.name),
                ),
                None if !artifact_only => (true, format!("job `{}` ({at}) {how}", self.name)),
                Some(on) if automatic(on) && self.check_word().is_none() => {
                    (true, format!("job `{}` ({at}) runs on {on} and {how}", self.name))
                }
                _ => (
                    false,
                    format!(
                        "job `{}` ({at}) {how}, but is a check or runs only for branches, pull requests or by hand: not the release",
                        self.name
                    ),
                ),
            };
        }
        if let Some(word) = self.check_word() {
            return (
                false,
                format!(
                    "job `{}` ({at}) is a check ({word}) and publishes nothing",
                    self.name
                ),
            );
        }
        match &self.on_release {
            // A manual or called run releases only what it publishes.
            Some(on) if automatic(on) => {
                (true, format!("job `{}` ({at}) runs on {on}", self.name))
            }
            Some(on) => (
                false,
                format!(
                    "job `{}` ({at}) runs on {on} and publishes nothing",
                    self.name
                ),
            ),
            None => (
                false,
                format!(
                    "job `{}` ({at}) runs only for branches, pull requests or a schedule, and publishes nothing",
                    self.name
                ),
            ),
        }
    }

    /// The platform a build without GOOS/GOARCH targets: the runner's.
    pub fn host(&self, env: &crate::shell::Env) -> String {
        let runs_on = env
            .expand(self.runs_on.as_deref().unwrap_or(""))
            .to_ascii_lowercase();
        let arm = runs_on.contains("arm") || runs_on.contains("aarch64");
        let arch = if arm { "arm64" } else { "amd64" };
        if runs_on.contains("windows") {
            format!("windows/{arch}")
        } else if runs_on.contains("macos") {
            // The Intel images are `macos-13` and `*-large`; the others are Apple silicon.
            let intel = runs_on.contains("macos-13") || runs_on.contains("large");
            format!("darwin/{}", if intel { "amd64" } else { "arm64" })
        } else {
            format!("linux/{arch}")
        }
    }
}

/// All combinations of a matrix given as key → values.
pub fn combinations(axes: &[(String, Vec<String>)]) -> Vec<Vec<(String, String)>> {
    let mut out: Vec<Vec<(String, String)>> = vec![Vec::new()];
    for (k, values) in axes {
        if values.is_empty() {
            continue;
        }
        let mut next = Vec::new();
        for combo in &out {
            for v in values {
                let mut c = combo.clone();
                c.push((k.clone(), v.clone()));
                next.push(c);
            }
            if next.len() > 4096 {
                break;
            }
        }
        out = next;
    }
    out
}
