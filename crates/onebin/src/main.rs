use std::io::Write;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use onebin::cmd::index::{self, IndexCommand};
use onebin::cmd::{
    adr, audit, explain, extract, inspect, package, rebuild, release, verify, Report,
};
use onebin::exit::Outcome;
use onebin::progress::Progress;
use onebin::registry::RegistryArgs;
use serde::Serialize;

/// One binary, one hash: ship the same binary in the release assets and the
/// container image, and prove it.
#[derive(Parser)]
#[command(name = "onebin", version, about, max_term_width = 100)]
struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(flatten)]
    registry: RegistryArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show an image's digest, platforms and layers.
    Inspect(inspect::Args),
    /// Take a file out of an image, per platform, into release assets and a checksums file.
    Extract(extract::Args),
    /// Prove, per platform, that the release assets and the image carry the same binary.
    Verify(verify::Args),
    /// Say why two binaries differ: toolchain, settings, source, or only libc and linker.
    Explain(explain::Args),
    /// Put prebuilt binaries into a reproducible multi-arch image, with no daemon and no Dockerfile.
    Package(package::Args),
    /// The whole release from onebin.toml or GoReleaser's dist: image(s), assets, checksums, proof.
    Release(release::Args),
    /// Make multi-arch indexes: `index create DEST SRC...` joins what several runners pushed.
    Index(index::Args),
    /// Find double builds in CI configs and Dockerfiles; recommend Option A, B or C.
    Audit(audit::Args),
    /// Write or update the ADR recording the decision in DIR/docs/ARCHITECTURE.md.
    Adr(adr::Args),
    /// Run a build twice, varying what reprotest varies, and say why the outputs differ.
    Rebuild(rebuild::Args),
}

fn main() -> ExitCode {
    let outcome = match Cli::try_parse() {
        Ok(cli) => run(cli).unwrap_or_else(|e| {
            eprintln!("onebin: error: {e:#}");
            Outcome::Error
        }),
        Err(e) => {
            let _ = e.print();
            if e.use_stderr() {
                Outcome::Error
            } else {
                Outcome::Ok
            }
        }
    };
    ExitCode::from(outcome.code())
}

fn run(cli: Cli) -> Result<Outcome> {
    let options = cli.registry.options()?;
    let progress = Progress::new(cli.quiet);
    match &cli.command {
        Command::Inspect(args) => print(&inspect::run(args, &options)?, args.json),
        Command::Extract(args) => print(&extract::run(args, &options, &progress)?, args.json),
        Command::Verify(args) => print(&verify::run(args, &options)?, args.json),
        Command::Explain(args) => print(&explain::run(args)?, args.json),
        Command::Package(args) => print(&package::run(args, &options, &progress)?, args.json),
        Command::Release(args) => print(&release::run(args, &options, &progress)?, args.json),
        Command::Index(args) => match &args.command {
            IndexCommand::Create(args) => {
                print(&index::create(args, &options, &progress)?, args.json)
            }
        },
        Command::Audit(args) => print(&audit::run(args)?, args.json),
        Command::Adr(args) => print_text(&adr::run(args)?),
        Command::Rebuild(args) => print(&rebuild::run(args)?, args.json),
    }
}

/// Prints a report, as text or as `--json` asks, and says how the run ended.
fn print(report: &(impl Report + Serialize), json: bool) -> Result<Outcome> {
    if !json {
        return print_text(report);
    }
    print_json(report)?;
    for warning in report.json_warnings() {
        eprintln!("onebin: warning: {warning}");
    }
    Ok(report.outcome())
}

fn print_text(report: &impl Report) -> Result<Outcome> {
    print!("{}", report.render());
    Ok(report.outcome())
}

fn print_json(report: &impl Serialize) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, report)?;
    writeln!(stdout)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::{CommandFactory, Parser};

    use super::Cli;

    #[test]
    fn flags_are_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn timeout_is_a_global_flag_in_humantime_syntax() {
        let timeout = |args: &[&str]| {
            let cli = Cli::try_parse_from(args).map_err(|e| e.kind())?;
            Ok::<_, clap::error::ErrorKind>(cli.registry.options().unwrap().timeout)
        };
        assert_eq!(
            timeout(&["onebin", "inspect", "oci:x"]),
            Ok(Duration::from_secs(120))
        );
        assert_eq!(
            timeout(&["onebin", "inspect", "oci:x", "--timeout", "1m 30s"]),
            Ok(Duration::from_secs(90))
        );
        assert_eq!(
            timeout(&["onebin", "--timeout", "45s", "inspect", "oci:x"]),
            Ok(Duration::from_secs(45))
        );
        assert_eq!(
            timeout(&["onebin", "--timeout", "soon", "inspect", "oci:x"]),
            Err(clap::error::ErrorKind::ValueValidation)
        );
    }
}
