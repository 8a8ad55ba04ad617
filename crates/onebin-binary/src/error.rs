//! Why a file is not a binary onebin can read. Each case keeps its own
//! message; callers put the file's name in front.

use object::{Architecture, BinaryFormat};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {cause}")]
    Io { path: String, cause: std::io::Error },
    #[error("{path}: not an executable onebin can read (ELF, PE or Mach-O): {reason}")]
    Unrecognised { path: String, reason: ParseError },
}

/// What [`BinaryFacts::parse`](crate::BinaryFacts::parse) found wrong in the
/// bytes. Causes are part of the message, not a `source`, so that a chain
/// printed with `{:#}` does not say them twice.
#[derive(Debug, thiserror::Error)]
pub enum ParseError {
    /// The object reader refused the headers or a table they point to.
    #[error("{0}")]
    Object(object::read::Error),
    #[error("unsupported machine {0:?}")]
    UnsupportedMachine(Architecture),
    #[error("{0:?} files are not executables onebin reads")]
    UnsupportedFormat(BinaryFormat),
    #[error("PT_INTERP outside the file")]
    InterpreterOutsideFile,
    #[error("{0}")]
    GoBuildInfo(GoBuildInfoError),
}

/// A Go build information blob that is there but cannot be read: the file
/// claims to be a Go program and is damaged.
#[derive(Debug, thiserror::Error)]
pub enum GoBuildInfoError {
    #[error("Go build info header cut short")]
    HeaderCutShort,
    #[error("Go build info flags {0:#x} are unknown")]
    UnknownFlags(u8),
    #[error("Go version string cut short")]
    VersionCutShort,
    #[error("Go module info cut short")]
    ModuleInfoCutShort,
    #[error("Go build info pointer size {0}")]
    PointerSize(usize),
    #[error("Go build info cut short")]
    PointersCutShort,
    #[error("address out of range")]
    AddressOutOfRange,
    #[error("length out of range")]
    LengthOutOfRange,
    #[error("address {0:#x} beyond the file")]
    BeyondFile(u64),
    #[error("address {0:#x} is in no segment of the file")]
    Unmapped(u64),
    #[error("string header cut short")]
    StringHeaderCutShort,
    #[error("Go string of {len} bytes in a {file_size}-byte file")]
    StringTooLong { len: u64, file_size: usize },
}

impl From<object::read::Error> for ParseError {
    fn from(cause: object::read::Error) -> Self {
        ParseError::Object(cause)
    }
}

impl From<GoBuildInfoError> for ParseError {
    fn from(cause: GoBuildInfoError) -> Self {
        ParseError::GoBuildInfo(cause)
    }
}
