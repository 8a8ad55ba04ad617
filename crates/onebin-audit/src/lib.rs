//! onebin-audit: finds where a project builds its binary (CI jobs, Dockerfile
//! stages, GoReleaser, Makefiles and scripts one step deep), reports double
//! builds and the differences between them, recommends Option A, B or C, and
//! writes that decision down as an ADR.
//!
//! Nothing here runs a tool or touches the network: it reads files, and bad
//! ones become warnings with a line while the rest is still audited.

pub mod adr;
pub mod ci;
mod collect;
pub mod dockerfile;
pub mod files;
pub mod findings;
pub mod goreleaser;
pub mod make;
pub mod model;
mod reader;
pub mod recommend;
pub mod shell;
mod unread;
pub mod yaml;

use std::path::{Path, PathBuf};

use serde::Serialize;

use ci::Dialect;
use collect::Collector;
use findings::Finding;
use model::{Build, DockerfileFacts, ImageBuild, OnebinStep, Warning};
use recommend::{OptionKind, Recommendation};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
    /// A symbolic link or an include that leads out of the repository: what
    /// it points at is not the project's, and is never read.
    #[error("{0}")]
    Outside(files::Outside),
}

/// Everything `onebin audit` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub builds: Vec<Build>,
    pub findings: Vec<Finding>,
    pub recommendation: Recommendation,
    pub images: Vec<ImageBuild>,
    pub dockerfiles: Vec<DockerfileFacts>,
    pub onebin: Vec<OnebinStep>,
    pub warnings: Vec<Warning>,
    pub dialect: Dialect,
}

impl Report {
    pub fn has_double_build(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.id == findings::DOUBLE_BUILD && f.severity == findings::Severity::Error)
    }
}

/// Where a project keeps its ADRs, `onebin adr`'s among them.
pub const ARCHITECTURE_MD: &str = "docs/ARCHITECTURE.md";

/// Audits the project in `root`, reading its `docs/ARCHITECTURE.md` (if
/// any, and if readable) for a decision already taken.
pub fn audit(root: &Path) -> Result<Report, AuditError> {
    if !root.is_dir() {
        return Err(AuditError::NotADirectory(root.to_path_buf()));
    }
    let mut warnings = Vec::new();
    let architecture = if root.join(ARCHITECTURE_MD).exists() {
        files::read_text(root, ARCHITECTURE_MD, &mut warnings)
    } else {
        None
    };
    if let Some(e) = refusal(&warnings) {
        return Err(e);
    }
    audit_with_architecture(root, architecture.as_deref())
}

/// The refusal a warning with `outside` set stands for.
fn refusal(warnings: &[Warning]) -> Option<AuditError> {
    warnings.iter().find_map(|w| {
        let target = w.outside.clone()?;
        Some(AuditError::Outside(files::Outside {
            path: w.file.clone(),
            target,
        }))
    })
}

/// Audits the project in `root`; `architecture` is its
/// `docs/ARCHITECTURE.md`, read once by the caller, which may then update it.
pub fn audit_with_architecture(
    root: &Path,
    architecture: Option<&str>,
) -> Result<Report, AuditError> {
    if !root.is_dir() {
        return Err(AuditError::NotADirectory(root.to_path_buf()));
    }
    let mut collector = Collector::new(root);
    for ci in reader::CI_SYSTEMS {
        ci.read(&mut collector);
    }
    collector.run_jobs();
    for build_file in reader::BUILD_FILES {
        build_file.read(&mut collector);
    }
    collector.mark_packaged();
    if let Some(e) = refusal(&collector.warnings) {
        return Err(e);
    }
    let accepted_c = architecture.and_then(adr::existing_option) == Some(OptionKind::C);
    Ok(collector.into_report(accepted_c))
}
