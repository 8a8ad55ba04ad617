use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Parser, Subcommand};
use onebin::extract::{extract, ExtractRequest, DEFAULT_TEMPLATE};
use onebin::inspect::inspect;
use onebin::package::{package, PackageRequest};
use onebin::progress::Progress;
use onebin::verify::{verify, Release};
use onebin::{exit, explain};
use onebin_image::auth::Credentials;
use onebin_image::mutate::ConfigChanges;
use onebin_image::transport::remote;
use onebin_image::{transport, ImageReference, Platform};

/// One binary, one hash: ship the same binary in the release assets and the
/// container image, and prove it.
#[derive(Parser)]
#[command(name = "onebin", version, about, max_term_width = 100)]
struct Cli {
    /// No progress bars.
    #[arg(long, short, global = true)]
    quiet: bool,
    /// A registry (HOST or HOST:PORT) to reach over plain HTTP; repeat for several.
    /// localhost and 127.0.0.1 always are.
    #[arg(long = "insecure-registry", value_name = "HOST", global = true)]
    insecure_registries: Vec<String>,
    /// User name for registries (with --password-stdin); else Docker's and
    /// containers' credential files and helpers, then CI_REGISTRY_USER.
    #[arg(long, global = true, requires = "password_stdin")]
    username: Option<String>,
    /// Read the registry password or token from standard input.
    #[arg(long, global = true, requires = "username")]
    password_stdin: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Show an image's digest, platforms and layers.
    Inspect {
        /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker-daemon:NAME[:TAG], docker://NAME[:TAG|@DIGEST]
        image: String,
        #[arg(long)]
        json: bool,
    },
    /// Take a file out of an image, per platform, into release assets and a checksums file.
    Extract {
        /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker-daemon:NAME[:TAG], docker://NAME[:TAG|@DIGEST]
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
    /// Prove, per platform, that the release assets and the image carry the same binary.
    #[command(group(clap::ArgGroup::new("assets").required(true).args(["checksums", "release", "binaries"])))]
    Verify {
        /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:REF], docker-daemon:NAME[:TAG], docker://NAME[:TAG|@DIGEST]
        image: String,
        /// The binary's path inside the image.
        #[arg(long)]
        path: String,
        /// A checksums file (sha256sum/GoReleaser format); the files it names are the release.
        #[arg(long)]
        checksums: Option<PathBuf>,
        /// A directory of release assets: raw binaries and archives.
        #[arg(long)]
        release: Option<PathBuf>,
        /// PLATFORM=FILE; repeat per platform.
        #[arg(long = "binary", value_name = "PLATFORM=FILE", value_parser = parse_binary)]
        binaries: Vec<(Platform, PathBuf)>,
        /// Only these platforms; repeat for several.
        #[arg(long = "platform", value_name = "PLATFORM")]
        platforms: Vec<Platform>,
        #[arg(long)]
        json: bool,
    },
    /// Say why two binaries differ: toolchain, settings, source, or only libc and linker.
    Explain {
        a: PathBuf,
        b: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Put prebuilt binaries into a reproducible multi-arch image, with no daemon and no Dockerfile.
    Package {
        /// PLATFORM=FILE, e.g. linux/arm64=dist/app_linux_arm64; repeat per platform.
        #[arg(long = "binary", value_name = "PLATFORM=FILE", value_parser = parse_binary, required = true)]
        binaries: Vec<(Platform, PathBuf)>,
        /// Where the binary goes in the image, e.g. /usr/local/bin/app.
        #[arg(long)]
        path: String,
        /// oci:DIR[:TAG], oci-archive:FILE[:TAG], docker-archive:FILE[:NAME:TAG], docker-daemon:NAME:TAG, docker://NAME:TAG
        #[arg(long)]
        dest: String,
        /// The image to build on (any transport), or scratch.
        #[arg(long, default_value = "scratch")]
        base: String,
        /// One argument of the entrypoint; repeat for more. Default: [PATH].
        #[arg(long = "entrypoint", value_name = "ARG", allow_hyphen_values = true)]
        entrypoint: Vec<String>,
        /// One argument of the command; repeat for more.
        #[arg(long = "cmd", value_name = "ARG", allow_hyphen_values = true)]
        cmd: Vec<String>,
        #[arg(long = "env", value_name = "K=V", value_parser = parse_key_value)]
        env: Vec<(String, String)>,
        #[arg(long)]
        user: Option<String>,
        #[arg(long)]
        workdir: Option<String>,
        /// The binary's file mode in the image, in octal.
        #[arg(long, default_value = "0755", value_parser = parse_mode)]
        mode: u32,
        #[arg(long = "label", value_name = "K=V", value_parser = parse_key_value)]
        labels: Vec<(String, String)>,
        /// Annotations of the manifests and the index.
        #[arg(long = "annotation", value_name = "K=V", value_parser = parse_key_value)]
        annotations: Vec<(String, String)>,
        /// docker-daemon: the platform to load (default: the engine's); docker-archive with
        /// several platforms: the one also tagged NAME:TAG (default: this machine's).
        #[arg(long)]
        daemon_platform: Option<Platform>,
        #[arg(long)]
        json: bool,
    },
    /// Find double builds in CI configs and Dockerfiles; recommend Option A, B or C.
    Audit {
        /// The project's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        #[arg(long)]
        json: bool,
    },
    /// Write or update the ADR recording the decision in DIR/docs/ARCHITECTURE.md.
    Adr {
        /// The project's directory.
        #[arg(default_value = ".")]
        dir: PathBuf,
        /// A, B or C; default: the audit's recommendation.
        #[arg(long, value_parser = clap::value_parser!(onebin_audit::recommend::OptionKind))]
        option: Option<onebin_audit::recommend::OptionKind>,
        /// Print the file it would write, and write nothing.
        #[arg(long)]
        dry_run: bool,
    },
}

fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

fn parse_binary(s: &str) -> Result<(Platform, PathBuf), String> {
    let (platform, file) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not PLATFORM=FILE"))?;
    let platform = platform.parse::<Platform>().map_err(|e| e.to_string())?;
    if file.is_empty() {
        return Err(format!("'{s}': no file after '=' (PLATFORM=FILE)"));
    }
    Ok((platform, PathBuf::from(file)))
}

fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("'{s}' is not an octal file mode like 0755"))
}

/// `SOURCE_DATE_EPOCH`, the reproducible-builds convention; the epoch when unset.
fn source_date_epoch() -> Result<u64> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => v
            .trim()
            .parse()
            .map_err(|_| anyhow::anyhow!("SOURCE_DATE_EPOCH='{v}' is not a number of seconds")),
        _ => Ok(0),
    }
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

/// The registry settings from the global flags, for every `docker://` image.
fn configure_registries(cli: &Cli) -> Result<()> {
    let credentials = match &cli.username {
        Some(user) => {
            let mut password = String::new();
            std::io::stdin().read_line(&mut password)?;
            let password = password.trim_end_matches(['\n', '\r']);
            if password.is_empty() {
                anyhow::bail!("--password-stdin: standard input held no password");
            }
            Some(Credentials::new(
                user,
                password,
                "--username/--password-stdin",
            ))
        }
        None => None,
    };
    remote::configure(remote::RegistryOptions {
        insecure: cli.insecure_registries.clone(),
        credentials,
        ..Default::default()
    });
    Ok(())
}

fn run(cli: Cli) -> Result<u8> {
    configure_registries(&cli)?;
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
        Command::Verify {
            image,
            path,
            checksums,
            release,
            binaries,
            platforms,
            json,
        } => {
            let release = match (checksums, release) {
                (Some(file), _) => Release::Checksums(file),
                (None, Some(dir)) => Release::Dir(dir),
                (None, None) => Release::Binaries(binaries),
            };
            let report = verify(open_image(&image)?.as_ref(), &path, &release, &platforms)?;
            if json {
                print_json(&report)?;
            } else {
                println!("{} {}  {}", report.image, report.path, report.digest);
                for r in &report.results {
                    let image = r
                        .image
                        .as_ref()
                        .map_or("-".to_string(), |i| format!("sha256:{}", i.sha256));
                    let release = r.release.as_ref().map_or("-".to_string(), |f| {
                        format!(
                            "{}{}",
                            f.file,
                            f.member
                                .as_ref()
                                .map(|m| format!(" ({m})"))
                                .unwrap_or_default()
                        )
                    });
                    println!(
                        "  {:<16} {:<18} image {image}  release {release}",
                        r.platform, r.status
                    );
                    if let Some(e) = &r.explanation {
                        match e.get("verdict") {
                            Some(v) => {
                                println!("      explain: {}", v.as_str().unwrap_or_default())
                            }
                            None => println!("      {}", e.as_str().unwrap_or_default()),
                        }
                    }
                }
                for c in report.checksums.iter().filter(|c| c.status != "ok") {
                    println!(
                        "  checksums: {} is {} (expected sha256:{})",
                        c.file, c.status, c.expected
                    );
                }
                println!(
                    "{}",
                    if report.ok {
                        "OK: the release and the image carry the same binaries"
                    } else {
                        "FAILED"
                    }
                );
            }
            Ok(if report.ok {
                exit::OK
            } else {
                exit::FOUND_PROBLEM
            })
        }
        Command::Explain { a, b, json } => {
            let report = explain::compare(explain::Side::read(&a)?, explain::Side::read(&b)?);
            if json {
                print_json(&report)?;
            } else {
                print!("{}", explain::render(&report));
            }
            Ok(exit::OK)
        }
        Command::Package {
            binaries,
            path,
            dest,
            base,
            entrypoint,
            cmd,
            env,
            user,
            workdir,
            mode,
            labels,
            annotations,
            daemon_platform,
            json,
        } => {
            let dest = ImageReference::parse(&dest)?;
            let base = if base == "scratch" {
                None
            } else {
                Some(ImageReference::parse(&base)?)
            };
            let changes = ConfigChanges {
                entrypoint: (!entrypoint.is_empty()).then_some(entrypoint),
                cmd: (!cmd.is_empty()).then_some(cmd),
                env,
                user,
                workdir,
                labels: labels.into_iter().collect(),
                created: String::new(),
            };
            let checkout = std::env::current_dir()?;
            let request = PackageRequest {
                binaries: &binaries,
                path: &path,
                dest: &dest,
                base: base.as_ref(),
                changes,
                mode,
                annotations: annotations.into_iter().collect(),
                epoch: source_date_epoch()?,
                daemon_platform,
                checkout: &checkout,
                env: &|k| std::env::var(k).ok().filter(|v| !v.is_empty()),
                progress: &progress,
            };
            let report = package(&request)?;
            if json {
                print_json(&report)?;
            } else {
                println!("{}\n  index: {}", report.image, report.digest);
                for p in &report.platforms {
                    println!(
                        "  {:<16} {}  {} sha256:{}",
                        p.platform, p.digest, p.binary, p.sha256
                    );
                }
                println!("  read back and verified: every binary matches its input");
            }
            Ok(exit::OK)
        }
        Command::Audit { dir, json } => {
            let report = onebin_audit::audit(&dir)?;
            if json {
                print_json(&report)?;
                // The text report lists warnings itself; with --json they go to stderr too.
                for w in &report.warnings {
                    eprintln!("onebin: warning: {w}");
                }
            } else {
                print!("{}", onebin::audit::render(&dir, &report));
            }
            Ok(if report.has_double_build() {
                exit::FOUND_PROBLEM
            } else {
                exit::OK
            })
        }
        Command::Adr {
            dir,
            option,
            dry_run,
        } => {
            let report = onebin_audit::audit(&dir)?;
            let outcome = onebin::audit::adr(&dir, &report, option, dry_run)?;
            if dry_run {
                print!("{}", outcome.text);
            } else if outcome.changed {
                println!(
                    "{} {}",
                    if outcome.created {
                        "created"
                    } else {
                        "updated"
                    },
                    outcome.path.display()
                );
            } else {
                println!("{} is up to date", outcome.path.display());
            }
            Ok(exit::OK)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn flags_are_consistent() {
        super::Cli::command().debug_assert();
    }
}
