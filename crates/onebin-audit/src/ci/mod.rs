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
    /// `artifacts:`, `release:`, an upload action: the job's output ships.
    pub publishes: bool,
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
    /// An upload or release action.
    Publishes,
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

    /// Test and lint jobs build to check, not to ship.
    pub fn is_check(&self) -> bool {
        let words = [
            "test", "lint", "vet", "check", "fmt", "coverage", "bench", "audit",
        ];
        let name = self.name.to_ascii_lowercase();
        let stage = self.stage.clone().unwrap_or_default().to_ascii_lowercase();
        !self.publishes && words.iter().any(|w| name.contains(w) || stage.contains(w))
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
