//! `onebin rebuild -- BUILD COMMAND`: is this build reproducible? The
//! source tree is copied twice and the command run in each copy, varying
//! what reproducible-builds.org's reprotest varies (the build directory, the
//! clock and `SOURCE_DATE_EPOCH`, umask, locale, timezone, `HOME`, and fresh
//! Go and cargo caches); every `--output` of the two runs is compared with
//! `explain`, and the root cause said in the build's own terms
//! ("`-trimpath` missing: the build directory is in the binary").

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{bail, Context, Result};
use onebin_binary::explain::{explain, Difference, Verdict};
use onebin_binary::BinaryFacts;
use serde::Serialize;

use super::Report;
use crate::exit::Outcome;

#[derive(clap::Args)]
pub struct Args {
    /// A file the build writes, relative to the source directory; repeat for several.
    #[arg(long = "output", value_name = "PATH", required = true)]
    pub outputs: Vec<PathBuf>,
    /// What to vary, comma-separated (default: all): build-path, time, umask, locale,
    /// timezone, home, caches.
    #[arg(long, value_delimiter = ',', value_name = "VARIATION")]
    pub vary: Vec<Variation>,
    /// The source tree to copy (default: the current directory).
    #[arg(long, default_value = ".")]
    pub source: PathBuf,
    #[arg(long)]
    pub json: bool,
    /// The build command and its arguments, after `--`.
    #[arg(last = true, required = true, value_name = "BUILD COMMAND")]
    pub command: Vec<String>,
}

/// reprotest's variations, as far as they apply to one build command.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Variation {
    /// The tree is built at two different paths.
    BuildPath,
    /// SOURCE_DATE_EPOCH unset in the first run, set in the second (and the clock moves on).
    Time,
    /// umask 0022 vs 0002.
    Umask,
    /// LANG/LC_ALL C.UTF-8 vs fr_CH.UTF-8.
    Locale,
    /// TZ UTC vs Etc/GMT-14.
    Timezone,
    /// Two fresh HOME directories (toolchains stay where they are).
    Home,
    /// Fresh GOCACHE, GOPATH (module cache) and CARGO_HOME for each run.
    Caches,
}

const ALL: &[Variation] = &[
    Variation::BuildPath,
    Variation::Time,
    Variation::Umask,
    Variation::Locale,
    Variation::Timezone,
    Variation::Home,
    Variation::Caches,
];

/// SOURCE_DATE_EPOCH of the second run when the caller set none: 2000-01-01.
const FIXED_EPOCH: &str = "946684800";

#[derive(Debug, Serialize)]
pub struct RebuildReport {
    pub reproducible: bool,
    pub command: Vec<String>,
    pub variations: Vec<Variation>,
    pub outputs: Vec<OutputResult>,
}

#[derive(Debug, Serialize)]
pub struct OutputResult {
    pub path: String,
    pub a_sha256: String,
    pub b_sha256: String,
    pub identical: bool,
    /// explain's verdict when they differ.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub verdict: Option<Verdict>,
    /// The root causes, in the build's terms.
    pub causes: Vec<String>,
    pub differences: Vec<Difference>,
}

pub fn run(args: &Args) -> Result<RebuildReport> {
    let source = args
        .source
        .canonicalize()
        .with_context(|| format!("--source {}", args.source.display()))?;
    if !source.is_dir() {
        bail!("--source {}: not a directory", source.display());
    }
    for output in &args.outputs {
        if output.is_absolute() || output.components().any(|c| c.as_os_str() == "..") {
            bail!(
                "--output {}: must be a path inside the source tree, relative to it",
                output.display()
            );
        }
    }
    let mut variations: Vec<Variation> = if args.vary.is_empty() {
        ALL.to_vec()
    } else {
        args.vary.clone()
    };
    variations.sort();
    variations.dedup();
    let work = tempfile::Builder::new()
        .prefix("onebin-rebuild-")
        .tempdir()
        .context("creating a work directory")?;
    let vary = |v: Variation| variations.contains(&v);
    let dir_a = work.path().join("a/build");
    let dir_b = if vary(Variation::BuildPath) {
        work.path().join("b/elsewhere/build-2")
    } else {
        dir_a.clone()
    };
    let saved_a = work.path().join("outputs-a");
    let saved_b = work.path().join("outputs-b");
    for (run, dir, saved) in [(0, &dir_a, &saved_a), (1, &dir_b, &saved_b)] {
        if dir.exists() {
            std::fs::remove_dir_all(dir).with_context(|| format!("removing {}", dir.display()))?;
        }
        copy_tree(&source, dir)?;
        let mut cmd = build_command(&args.command, run, &variations, work.path())?;
        cmd.current_dir(dir);
        let label = if run == 0 { "first" } else { "second" };
        let out = cmd
            .output()
            .with_context(|| format!("running the build command {:?}", args.command[0]))?;
        if !out.status.success() {
            let tail = |b: &[u8]| {
                let text = String::from_utf8_lossy(b);
                let lines: Vec<&str> = text.lines().collect();
                lines[lines.len().saturating_sub(20)..].join("\n")
            };
            bail!(
                "the {label} build ({}) failed with {} in {}:\n{}\n{}",
                args.command.join(" "),
                out.status,
                dir.display(),
                tail(&out.stdout),
                tail(&out.stderr)
            );
        }
        std::fs::create_dir_all(saved)?;
        for (i, output) in args.outputs.iter().enumerate() {
            let built = dir.join(output);
            if !built.is_file() {
                bail!(
                    "--output {}: the {label} build wrote no such file ({})",
                    output.display(),
                    built.display()
                );
            }
            std::fs::copy(&built, saved.join(i.to_string()))
                .with_context(|| format!("copying {}", built.display()))?;
        }
    }
    let mut outputs = Vec::new();
    for (i, output) in args.outputs.iter().enumerate() {
        outputs.push(compare(
            &output.display().to_string(),
            &saved_a.join(i.to_string()),
            &saved_b.join(i.to_string()),
        )?);
    }
    Ok(RebuildReport {
        reproducible: outputs.iter().all(|o| o.identical),
        command: args.command.clone(),
        variations,
        outputs,
    })
}

/// `cp -a`: modes, symlinks and hidden files (`.git`) as they are.
fn copy_tree(from: &Path, to: &Path) -> Result<()> {
    std::fs::create_dir_all(to).with_context(|| format!("creating {}", to.display()))?;
    let status = Command::new("cp")
        .arg("-a")
        .arg(format!("{}/.", from.display()))
        .arg(to)
        .status()
        .context("running cp -a")?;
    if !status.success() {
        bail!("copying {} to {} failed", from.display(), to.display());
    }
    Ok(())
}

/// The build command of run 0 or 1, with that run's side of each variation.
fn build_command(
    command: &[String],
    run: usize,
    variations: &[Variation],
    work: &Path,
) -> Result<Command> {
    let vary = |v: Variation| variations.contains(&v);
    let umask = if vary(Variation::Umask) && run == 1 {
        "0002"
    } else {
        "0022"
    };
    // umask is per process: set it in a shell that then becomes the build.
    let mut cmd = Command::new("sh");
    cmd.arg("-c")
        .arg(format!("umask {umask} && exec \"$@\""))
        .arg("onebin-rebuild")
        .args(command);
    let home = std::env::var_os("HOME").map(PathBuf::from);
    if vary(Variation::Time) {
        if run == 0 {
            cmd.env_remove("SOURCE_DATE_EPOCH");
        } else {
            let epoch =
                std::env::var("SOURCE_DATE_EPOCH").unwrap_or_else(|_| FIXED_EPOCH.to_string());
            cmd.env("SOURCE_DATE_EPOCH", epoch);
        }
    }
    if vary(Variation::Locale) {
        let locale = if run == 0 { "C.UTF-8" } else { "fr_CH.UTF-8" };
        cmd.env("LANG", locale)
            .env("LC_ALL", locale)
            .env("LANGUAGE", "fr_CH:fr");
    }
    if vary(Variation::Timezone) {
        cmd.env("TZ", if run == 0 { "UTC" } else { "Etc/GMT-14" });
    }
    let fresh = |name: &str| -> Result<PathBuf> {
        let dir = work.join(format!("{name}-{run}"));
        std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
        Ok(dir)
    };
    if vary(Variation::Caches) {
        cmd.env("GOCACHE", fresh("gocache")?)
            .env("GOPATH", fresh("gopath")?)
            .env_remove("GOMODCACHE")
            .env("CARGO_HOME", fresh("cargo-home")?);
    }
    if vary(Variation::Home) {
        // Toolchains found through HOME stay where they are: only HOME moves.
        if let Some(home) = &home {
            let keep = |var: &str, default: PathBuf| {
                std::env::var_os(var).map(PathBuf::from).unwrap_or(default)
            };
            cmd.env("RUSTUP_HOME", keep("RUSTUP_HOME", home.join(".rustup")));
            if !vary(Variation::Caches) {
                cmd.env("CARGO_HOME", keep("CARGO_HOME", home.join(".cargo")))
                    .env("GOPATH", keep("GOPATH", home.join("go")))
                    .env("GOCACHE", keep("GOCACHE", home.join(".cache/go-build")));
            }
        }
        cmd.env("HOME", fresh("home")?);
    }
    Ok(cmd)
}

fn compare(name: &str, a: &Path, b: &Path) -> Result<OutputResult> {
    let read = |p: &Path| std::fs::read(p).with_context(|| format!("reading {}", p.display()));
    let (da, db) = (read(a)?, read(b)?);
    let (sa, sb) = (
        onebin_image::sha256_digest(&da).digest().to_string(),
        onebin_image::sha256_digest(&db).digest().to_string(),
    );
    if sa == sb {
        return Ok(OutputResult {
            path: name.to_string(),
            a_sha256: sa,
            b_sha256: sb,
            identical: true,
            verdict: None,
            causes: Vec::new(),
            differences: Vec::new(),
        });
    }
    let (fa, fb) = match (BinaryFacts::parse(&da), BinaryFacts::parse(&db)) {
        (Ok(fa), Ok(fb)) => (fa, fb),
        _ => {
            return Ok(OutputResult {
                path: name.to_string(),
                a_sha256: sa,
                b_sha256: sb,
                identical: false,
                verdict: None,
                causes: vec![format!("{name} differs between the two builds, and is not an executable explain reads (ELF, PE or Mach-O)")],
                differences: Vec::new(),
            })
        }
    };
    let explanation = explain(&sa, &fa, &sb, &fb);
    let causes = causes(&explanation.differences, &fa, &fb);
    Ok(OutputResult {
        path: name.to_string(),
        a_sha256: sa,
        b_sha256: sb,
        identical: false,
        verdict: Some(explanation.verdict),
        causes,
        differences: explanation.differences,
    })
}

/// The root differences, said as what to change in the build.
fn causes(diffs: &[Difference], a: &BinaryFacts, b: &BinaryFacts) -> Vec<String> {
    let go_modified = |f: &BinaryFacts| {
        f.go.as_ref()
            .and_then(|g| g.settings.get("vcs.modified"))
            .is_some_and(|v| v == "true")
    };
    let trimmed = |f: &BinaryFacts| {
        f.go.as_ref()
            .and_then(|g| g.settings.get("-trimpath"))
            .is_some_and(|v| v == "true")
    };
    let language = a.toolchain.language;
    let mut out = Vec::new();
    for d in diffs.iter().filter(|d| d.is_root()) {
        let both = format!("{} vs {}", d.a, d.b);
        let text = match d.field.as_str() {
            "paths" if a.go.is_some() && !(trimmed(a) && trimmed(b)) => {
                format!("`-trimpath` missing: the build directory is in the binary ({both})")
            }
            "paths" if language == onebin_binary::toolchain::Language::Rust => format!(
                "`--remap-path-prefix` missing: the build directory is in the binary ({both}); \
                 build with RUSTFLAGS=\"--remap-path-prefix=$PWD=.\""
            ),
            "paths" => format!(
                "`-ffile-prefix-map` missing: the build directory is in the binary ({both}); \
                 compile with -ffile-prefix-map=$PWD=."
            ),
            "timestamps" => format!(
                "the build's date and time are in the binary (__DATE__/__TIME__: {both}); \
                 take them from SOURCE_DATE_EPOCH, or leave them out"
            ),
            "go.build vcs.modified" => format!(
                "built from a tree the build itself modifies (vcs.modified {both}): a generated or \
                 changed file is in the tree; commit it, ignore it, or write it outside"
            ),
            f if f.starts_with("content ") && (go_modified(a) || go_modified(b)) => format!(
                "the code differs between the builds of a modified tree (vcs.modified=true): a file \
                 the build generates or changes is compiled in ({f})"
            ),
            f if f.starts_with("content ") && a.go.is_some() => format!(
                "the code differs though the Go build settings match ({f}): something of the \
                 environment reaches the program (an -X value from the date, a generated file)"
            ),
            f if f.starts_with("content ") || f == "bytes" => format!(
                "the bytes differ ({f}) and nothing the binary records explains it: the \
                 environment reaches the build (a date, a path, a random seed)"
            ),
            _ => format!("{}: {both}: {}", d.field, d.why),
        };
        out.push(text);
    }
    out
}

impl Report for RebuildReport {
    fn render(&self) -> String {
        let mut s = format!(
            "rebuild: {}\n  varied: {}\n",
            self.command.join(" "),
            self.variations
                .iter()
                .map(|v| serde_json::to_value(v)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_string))
                    .unwrap_or_default())
                .collect::<Vec<_>>()
                .join(", ")
        );
        for o in &self.outputs {
            if o.identical {
                let _ = writeln!(s, "  {}  identical  sha256:{}", o.path, o.a_sha256);
                continue;
            }
            let _ = writeln!(
                s,
                "  {}  differs ({})\n      first  sha256:{}\n      second sha256:{}",
                o.path,
                o.verdict.map_or("not an executable", Verdict::as_str),
                o.a_sha256,
                o.b_sha256
            );
            for cause in &o.causes {
                let _ = writeln!(s, "      cause: {cause}");
            }
        }
        s.push_str(if self.reproducible {
            "OK: the build is reproducible under these variations\n"
        } else {
            "NOT REPRODUCIBLE\n"
        });
        s
    }

    fn outcome(&self) -> Outcome {
        if self.reproducible {
            Outcome::Ok
        } else {
            Outcome::FoundProblem
        }
    }
}
