//! `onebin adr`: the ADR recording the decision, written atomically into
//! `DIR/docs/ARCHITECTURE.md`. Its text comes from `onebin-audit`.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use onebin_audit::recommend::OptionKind;

use super::Report;
use crate::source_date_epoch;

#[derive(clap::Args)]
pub struct Args {
    /// The project's directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
    /// A, B or C; default: the audit's recommendation.
    #[arg(long, value_parser = clap::value_parser!(OptionKind))]
    pub option: Option<OptionKind>,
    /// Print the file it would write, and write nothing.
    #[arg(long)]
    pub dry_run: bool,
}

/// Reads `DIR/docs/ARCHITECTURE.md` once: the audit looks in it for a
/// decision already taken, and the ADR is written into it.
pub fn run(args: &Args) -> Result<AdrReport> {
    let path = args.dir.join(onebin_audit::ARCHITECTURE_MD);
    // A DIR that is not a directory is the audit's error to report.
    let existing = if args.dir.is_dir() {
        // A symlinked `docs/` or file that leaves the project would have the
        // ADR read from, and written to, somewhere else.
        onebin_audit::files::resolve_inside(&args.dir, onebin_audit::ARCHITECTURE_MD)
            .map_err(|o| anyhow::anyhow!("{o}"))?;
        read_existing(&path)?
    } else {
        None
    };
    let report = onebin_audit::audit_with_architecture(&args.dir, existing.as_deref())?;
    adr(path, existing, &report, args.option, args.dry_run)
}

/// The file's text; `None` when there is no file yet.
fn read_existing(path: &Path) -> Result<Option<String>> {
    match std::fs::read(path) {
        Ok(bytes) => {
            Ok(Some(String::from_utf8(bytes).map_err(|_| {
                anyhow::anyhow!("{}: not UTF-8 text", path.display())
            })?))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading {}", path.display())),
    }
}

/// `YYYY-MM-DD` of `SOURCE_DATE_EPOCH`, else of today (also when the
/// variable is not a number: a date in a document is not worth failing for).
pub fn today() -> String {
    let when = source_date_epoch::from_env()
        .ok()
        .flatten()
        .map(|s| std::time::UNIX_EPOCH + std::time::Duration::from_secs(s))
        .unwrap_or_else(std::time::SystemTime::now);
    humantime::format_rfc3339_seconds(when)
        .to_string()
        .chars()
        .take(10)
        .collect()
}

/// What `onebin adr` did.
pub struct AdrReport {
    pub path: PathBuf,
    /// The file's text with the ADR.
    pub text: String,
    pub changed: bool,
    pub created: bool,
    /// Nothing was written; the text is the output.
    pub dry_run: bool,
}

impl Report for AdrReport {
    fn render(&self) -> String {
        if self.dry_run {
            self.text.clone()
        } else if self.changed {
            let done = if self.created { "created" } else { "updated" };
            format!("{done} {}\n", self.path.display())
        } else {
            format!("{} is up to date\n", self.path.display())
        }
    }
}

/// Adds or updates the onebin ADR in `path` (`existing` is its text, when
/// there is a file); writes nothing with `dry_run`, nor when the file
/// would not change.
pub fn adr(
    path: PathBuf,
    existing: Option<String>,
    report: &onebin_audit::Report,
    option: Option<OptionKind>,
    dry_run: bool,
) -> Result<AdrReport> {
    let text = onebin_audit::adr::update(existing.as_deref(), report, option, &today());
    let changed = existing.as_deref() != Some(text.as_str());
    if changed && !dry_run {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating {}", parent.display()))?;
        }
        crate::output::write_atomic(&path, text.as_bytes())?;
    }
    Ok(AdrReport {
        path,
        text,
        changed,
        created: existing.is_none(),
        dry_run,
    })
}
