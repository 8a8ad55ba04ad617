//! `onebin audit` and `onebin adr`: the text rendering of the audit, and the
//! ADR written atomically into `DIR/docs/ARCHITECTURE.md`. The analysis
//! itself lives in `onebin-audit`.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use onebin_audit::model::Artifact;
use onebin_audit::recommend::OptionKind;
use onebin_audit::Report;

/// The audit as people read it: builds, findings, the recommendation with
/// its changes, how to verify, and what could not be read.
pub fn render(dir: &Path, report: &Report) -> String {
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

/// `YYYY-MM-DD` of `SOURCE_DATE_EPOCH`, else of today.
pub fn today() -> String {
    let when = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
        .unwrap_or_else(std::time::SystemTime::now);
    humantime::format_rfc3339_seconds(when)
        .to_string()
        .chars()
        .take(10)
        .collect()
}

/// What `onebin adr` did.
pub struct AdrOutcome {
    pub path: PathBuf,
    pub text: String,
    pub changed: bool,
    pub created: bool,
}

/// Adds or updates the onebin ADR in `DIR/docs/ARCHITECTURE.md`; writes
/// nothing with `dry_run`, nor when the file would not change.
pub fn adr(
    dir: &Path,
    report: &Report,
    option: Option<OptionKind>,
    dry_run: bool,
) -> Result<AdrOutcome> {
    let path = dir.join("docs").join("ARCHITECTURE.md");
    let existing = match std::fs::read(&path) {
        Ok(bytes) => Some(
            String::from_utf8(bytes)
                .map_err(|_| anyhow::anyhow!("{}: not UTF-8 text", path.display()))?,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(e).with_context(|| format!("reading {}", path.display())),
    };
    let text = onebin_audit::adr::update(existing.as_deref(), report, option, &today());
    let changed = existing.as_deref() != Some(text.as_str());
    if changed && !dry_run {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        crate::output::write_atomic(&path, text.as_bytes())?;
    }
    Ok(AdrOutcome {
        path,
        text,
        changed,
        created: existing.is_none(),
    })
}
