//! `onebin explain A B`: why two binaries differ, read without running them.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use onebin_binary::explain::{explain, Difference, Verdict};
use onebin_binary::BinaryFacts;
use serde::Serialize;

use super::Report;

#[derive(clap::Args)]
pub struct Args {
    pub a: PathBuf,
    pub b: PathBuf,
    #[arg(long)]
    pub json: bool,
}

pub fn run(args: &Args) -> Result<ExplainReport> {
    Ok(compare(Side::read(&args.a)?, Side::read(&args.b)?))
}

#[derive(Debug, Serialize)]
pub struct ExplainReport {
    pub verdict: Verdict,
    pub a: Side,
    pub b: Side,
    pub differences: Vec<Difference>,
}

#[derive(Debug, Serialize)]
pub struct Side {
    pub file: String,
    pub sha256: String,
    pub size: u64,
    pub facts: BinaryFacts,
}

impl Side {
    pub fn read(path: &Path) -> Result<Self> {
        let data = std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
        Self::from_bytes(&path.display().to_string(), &data)
    }

    pub fn from_bytes(name: &str, data: &[u8]) -> Result<Self> {
        let facts = BinaryFacts::parse(data).map_err(|e| {
            anyhow::anyhow!("{name}: not an executable onebin can read (ELF, PE or Mach-O): {e}")
        })?;
        let sha256 = onebin_image::sha256_digest(data).digest().to_string();
        Ok(Side {
            file: name.to_string(),
            sha256,
            size: data.len() as u64,
            facts,
        })
    }
}

pub fn compare(a: Side, b: Side) -> ExplainReport {
    let explanation = explain(&a.sha256, &a.facts, &b.sha256, &b.facts);
    ExplainReport {
        verdict: explanation.verdict,
        a,
        b,
        differences: explanation.differences,
    }
}

impl Report for ExplainReport {
    /// The verdict, then each difference with both values; a consequence
    /// says what caused it.
    fn render(&self) -> String {
        let mut out = format!(
            "verdict: {}\n  a: {}  sha256:{}\n  b: {}  sha256:{}\n",
            self.verdict.as_str(),
            self.a.file,
            self.a.sha256,
            self.b.file,
            self.b.sha256
        );
        for d in &self.differences {
            let class = match &d.caused_by {
                Some(cause) => format!("caused by {cause}"),
                None => d.class.as_str().to_string(),
            };
            out.push_str(&format!(
                "  [{class}] {}\n      a: {}\n      b: {}\n      {}\n",
                d.field, d.a, d.b, d.why
            ));
        }
        out
    }
}
