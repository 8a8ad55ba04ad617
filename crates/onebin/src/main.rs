use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use onebin::exit;
use onebin::extract::{extract, ExtractRequest, DEFAULT_TEMPLATE};
use onebin::inspect::inspect;
use onebin::progress::Progress;
use onebin_image::{transport, ImageReference, Platform};

/// One binary, one hash: ship the same binary in the release assets and the
/// container image, and prove it.
#[derive(Parser)]
#[command(name = "onebin", version, about, max_term_width = 100)]
struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show an image's digest, platforms and layers.
    Inspect {
        /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker-daemon:NAME[:TAG]
        image: String,
        #[arg(long)]
        json: bool,
    },
    /// Take a file out of an image, per platform, into release assets and a checksums file.
    Extract {
        /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker-daemon:NAME[:TAG]
        image: String,
        /// The file's path inside the image, e.g. /usr/local/bin/app.
        #[arg(long)]
        path: String,
        /// OS/ARCH[/VARIANT]; repeat for several. Default: every platform of the image.
        #[arg(long = "platform", value_name = "PLATFORM")]
        platforms: Vec<Platform>,
        /// Where to write the files.
        #[arg(long, default_value = "dist")]
        out: PathBuf,
        /// Output file name: {name} {os} {arch} {variant} {_variant} {ext}.
        #[arg(long, default_value = DEFAULT_TEMPLATE)]
        name: String,
        /// Checksums file (sha256sum/GoReleaser format); relative paths are inside --out.
        #[arg(long, default_value = "checksums.txt")]
        checksums: PathBuf,
        #[arg(long)]
        json: bool,
    },
}

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                exit::ERROR
            } else {
                exit::OK
            });
        }
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("onebin: error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn open_image(image: &str) -> Result<Box<dyn onebin_image::ImageSource>> {
    Ok(transport::open(&ImageReference::parse(image)?)?)
}

fn print_json(value: &impl serde::Serialize) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut stdout, value)?;
    writeln!(stdout)?;
    Ok(())
}

fn run(cli: Cli) -> Result<u8> {
    let progress = Progress::new(cli.quiet);
    match cli.command {
        Command::Inspect { image, json } => {
            let report = inspect(open_image(&image)?.as_ref())?;
            if json {
                print_json(&report)?;
            } else {
                println!(
                    "{}\n  digest:     {}\n  media type: {}",
                    report.image, report.digest, report.media_type
                );
                for p in &report.platforms {
                    println!(
                        "  {}  {}  {} layers, {} bytes",
                        p.platform,
                        p.digest,
                        p.layers.len(),
                        p.size
                    );
                    for (i, l) in p.layers.iter().enumerate() {
                        println!(
                            "    {:>2}. {}  {:>12}  {}",
                            i + 1,
                            l.digest,
                            l.size,
                            l.media_type
                        );
                    }
                }
                for s in &report.skipped {
                    println!(
                        "  skipped (not a runnable image): {}  {}",
                        s.digest, s.media_type
                    );
                }
            }
            Ok(exit::OK)
        }
        Command::Extract {
            image,
            path,
            platforms,
            out,
            name,
            checksums,
            json,
        } => {
            let source = open_image(&image)?;
            let request = ExtractRequest {
                path: &path,
                platforms: &platforms,
                out_dir: &out,
                name_template: &name,
                checksums: &checksums,
            };
            let report = extract(source.as_ref(), &request, &progress)?;
            if json {
                print_json(&report)?;
            } else {
                for f in &report.files {
                    println!(
                        "{:<16} {}  sha256:{}  {} bytes",
                        f.platform, f.output, f.sha256, f.size
                    );
                }
                println!("{}", report.checksums);
            }
            Ok(exit::OK)
        }
    }
}
