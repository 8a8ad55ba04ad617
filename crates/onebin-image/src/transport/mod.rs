//! The transports: where images are read from and written to, each with its
//! reader and its writer side by side, in the spirit of containers/image's
//! one package per transport.
//!
//! - [`layout`]: an OCI image layout, in a directory (`oci:`) or a tar file
//!   (`oci-archive:`).
//! - [`docker_archive`]: `docker save` output (`docker-archive:`), and the
//!   Docker Engine's export stream, which has the same shape.
//! - [`daemon`]: the Docker Engine (`docker-daemon:`): export and load.
//! - [`remote`]: a registry (`docker://`), over the OCI distribution API.
//! - [`files`]: the file sets both are read from: a directory, a tar file, or
//!   the engine's export stream.
//!
//! [`TRANSPORTS`] is the one list of them: [`open()`], [`write()`] and the help
//! texts of the CLI all come from it. A new transport is a module, a case of
//! the reference parser, and an entry here.

pub mod daemon;
pub mod docker_archive;
pub mod files;
pub mod layout;
pub mod remote;

use crate::options::WriteOptions;
use crate::write::WriteSet;
use crate::{Error, ImageReference, ImageSource, Options, Platform, Result};
use remote::PushReport;

type OpenFn = fn(&ImageReference, &Options) -> Result<Box<dyn ImageSource>>;
type WriteFn = fn(&ImageReference, &WriteSet, &WriteOptions) -> Result<WriteReport>;
/// Checks `--daemon-platform` against the destination and the platforms to
/// be written, before any work; settles the Docker platform.
type DaemonPlatformFn =
    fn(&ImageReference, &[Platform], Option<&Platform>) -> Result<Option<Platform>>;

/// One transport: how its references are written, and what reads and writes them.
pub struct Transport {
    /// What a reference starts with: `oci:`, `docker://`.
    pub prefix: &'static str,
    /// A reference to read from, e.g. `oci:DIR[:TAG]`.
    pub read_syntax: &'static str,
    /// A destination to write to, e.g. `docker-daemon:NAME:TAG`.
    pub write_syntax: &'static str,
    pub description: &'static str,
    open: OpenFn,
    write: WriteFn,
    daemon_platform: DaemonPlatformFn,
}

/// Every transport, in the order help texts list them.
pub static TRANSPORTS: [Transport; 5] = [
    Transport {
        prefix: "oci:",
        read_syntax: "oci:DIR[:TAG]",
        write_syntax: "oci:DIR[:TAG]",
        description: "an OCI image layout directory",
        open: layout::open,
        write: layout::write,
        daemon_platform: no_daemon_platform,
    },
    Transport {
        prefix: "oci-archive:",
        read_syntax: "oci-archive:FILE[:TAG]",
        write_syntax: "oci-archive:FILE[:TAG]",
        description: "an OCI image layout in a tar file",
        open: layout::open,
        write: layout::write,
        daemon_platform: no_daemon_platform,
    },
    Transport {
        prefix: "docker-archive:",
        read_syntax: "docker-archive:FILE[:REF]",
        write_syntax: "docker-archive:FILE[:NAME:TAG]",
        description: "what `docker save` writes and `docker load` reads",
        open: docker_archive::open,
        write: docker_archive::write,
        daemon_platform: docker_archive::daemon_platform,
    },
    Transport {
        prefix: "docker-daemon:",
        read_syntax: "docker-daemon:NAME[:TAG]",
        write_syntax: "docker-daemon:NAME:TAG",
        description: "the local Docker Engine, through its API",
        open: daemon::open,
        write: daemon::write,
        daemon_platform: daemon::daemon_platform,
    },
    Transport {
        prefix: "docker://",
        read_syntax: "docker://NAME[:TAG|@DIGEST]",
        write_syntax: "docker://NAME:TAG",
        description: "a registry, over the OCI distribution API",
        open: remote::open,
        write: remote::write,
        daemon_platform: no_daemon_platform,
    },
];

/// The transport a reference belongs to.
pub fn transport_of(reference: &ImageReference) -> &'static Transport {
    let prefix = reference.transport_prefix();
    TRANSPORTS
        .iter()
        .find(|t| t.prefix == prefix)
        .expect("every kind of reference has its transport in TRANSPORTS")
}

/// `oci:DIR[:TAG], …, docker://NAME[:TAG|@DIGEST]`: what an image argument may be.
pub fn read_syntaxes() -> String {
    let all: Vec<&str> = TRANSPORTS.iter().map(|t| t.read_syntax).collect();
    all.join(", ")
}

/// `oci:DIR[:TAG], …, docker://NAME:TAG`: what a destination may be.
pub fn write_syntaxes() -> String {
    let all: Vec<&str> = TRANSPORTS.iter().map(|t| t.write_syntax).collect();
    all.join(", ")
}

/// `oci:, oci-archive:, … or docker://`, for the message about an unknown transport.
pub fn prefixes() -> String {
    let all: Vec<&str> = TRANSPORTS.iter().map(|t| t.prefix).collect();
    match all.split_last() {
        Some((last, [])) => last.to_string(),
        Some((last, rest)) => format!("{} or {last}", rest.join(", ")),
        None => String::new(),
    }
}

/// Opens the image a reference names.
pub fn open(reference: &ImageReference, options: &Options) -> Result<Box<dyn ImageSource>> {
    (transport_of(reference).open)(reference, options)
}

/// Checks, before any work, that `platforms` can be written to `dest` with
/// `asked` (`--daemon-platform`), and settles the Docker platform: the one a
/// `docker-daemon:` destination loads (default: the engine's), or the one a
/// `docker-archive:` destination also tags `NAME:TAG` (default: this
/// machine's). `None` for the other transports.
pub fn settle_daemon_platform(
    dest: &ImageReference,
    platforms: &[Platform],
    asked: Option<&Platform>,
) -> Result<Option<Platform>> {
    (transport_of(dest).daemon_platform)(dest, platforms, asked)
}

/// Writes the set to `dest`.
pub fn write(dest: &ImageReference, set: &WriteSet, options: &WriteOptions) -> Result<WriteReport> {
    (transport_of(dest).write)(dest, set, options)
}

/// What a write did, and where to read it back from.
#[derive(Debug)]
pub struct WriteReport {
    /// Per platform written, the reference that reads that platform's image
    /// back: the destination itself, an archive's entry, or the registry by
    /// digest.
    pub readback: Vec<(Platform, ImageReference)>,
    /// `docker://`: what the push did.
    pub push: Option<PushReport>,
}

impl WriteReport {
    /// Every platform of the set, read back from `reference`.
    fn every_platform(
        set: &WriteSet,
        reference: &ImageReference,
    ) -> Vec<(Platform, ImageReference)> {
        set.images
            .iter()
            .map(|i| (i.platform.clone(), reference.clone()))
            .collect()
    }
}

fn no_daemon_platform(
    _: &ImageReference,
    _: &[Platform],
    asked: Option<&Platform>,
) -> Result<Option<Platform>> {
    match asked {
        Some(_) => Err(Error::invalid(
            "--daemon-platform applies to docker-archive: and docker-daemon: destinations only",
        )),
        None => Ok(None),
    }
}

/// A reference handed to another transport than its own: a bug in [`TRANSPORTS`].
fn unexpected_reference(reference: &ImageReference, transport: &str) -> Error {
    Error::invalid(format!(
        "{reference}: not a {transport} reference (TRANSPORTS lists the wrong functions)"
    ))
}
