//! `onebin audit`: find double builds in a project's CI configs and
//! Dockerfiles, and recommend Option A, B or C. The analysis itself lives in
//! `onebin-audit`; this is its command and its text.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::Result;
use onebin_audit::model::Artifact;
use serde::Serialize;

use super::Report;
use crate::exit::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// The project's directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// The audit of one directory; its JSON is `onebin-audit`'s report alone.
#[derive(Debug, Serialize)]
#[serde(transparent)]
pub struct AuditReport {
    #[serde(skip)]
    pub dir: PathBuf,
    pub report: onebin_audit::Report,
}

pub fn run(args: &Args) -> Result<AuditReport> {
    Ok(AuditReport {
        dir: args.dir.clone(),
        report: onebin_audit::audit(&args.dir)?,
    })
}

impl Report for AuditReport {
    fn render(&self) -> String {
        render(&self.dir, &self.report)
    }

    /// A double build is the problem the audit looks for.
    fn outcome(&self) -> Outcome {
        if self.report.has_double_build() {
            Outcome::FoundProblem
        } else {
            Outcome::Ok
        }
    }

    fn json_warnings(&self) -> Vec<String> {
        self.report.warnings.iter().map(|w| w.to_string()).collect()
    }
}

/// The audit as people read it: builds, findings, the recommendation with
/// its changes, how to verify, and what could not be read.
fn render(dir: &Path, report: &onebin_audit::Report) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "onebin audit {}", dir.display());
    let _ = writeln!(s, "\nbuilds:");
    if report.builds.is_empty() {
        let _ = writeln!(s, "  (none found)");
    }
    for b in &report.builds {
        let goes = match b.artifact {
            Artifact::Release => "release",
            Artifact::Image => "image",
            Artifact::ReleaseAndImage => "release + image",
            Artifact::None => "not shipped",
        };
        let _ = writeln!(
            s,
            "  {:<4} {}\n       {} with {}  -> {goes}",
            format!("{:?}", b.language),
            b.describe(),
            if b.platforms.is_empty() {
                "?".to_string()
            } else {
                b.platforms.join(",")
            },
            b.toolchain.source,
        );
        if !b.why.is_empty() {
            let _ = writeln!(s, "       why: {}", b.why);
        }
    }
    let _ = writeln!(s, "\nfindings:");
    if report.findings.is_empty() {
        let _ = writeln!(s, "  none");
    }
    for f in &report.findings {
        let _ = writeln!(
            s,
            "  {:<7} {:<18} {}:{}\n          {}",
            f.severity.to_string(),
            f.id,
            f.file,
            f.line,
            f.message
        );
    }
    let r = &report.recommendation;
    let _ = writeln!(
        s,
        "\nrecommendation: Option {}, {}",
        r.option,
        r.option.title()
    );
    for reason in &r.reasons {
        let _ = writeln!(s, "  - {reason}");
    }
    if !r.changes.is_empty() {
        let _ = writeln!(s, "\nchanges:");
    }
    for c in &r.changes {
        let _ = writeln!(s, "  {} {}: {}", c.action, c.file, c.description);
        for l in c.content.lines() {
            let _ = writeln!(s, "      {l}");
        }
    }
    let _ = writeln!(s, "\nverify:");
    for v in &r.verify {
        let _ = writeln!(s, "  {v}");
    }
    if !report.warnings.is_empty() {
        let _ = writeln!(s, "\nwarnings (not read; the rest was audited):");
        for w in &report.warnings {
            let _ = writeln!(s, "  {w}");
        }
    }
    s
}
