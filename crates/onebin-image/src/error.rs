//! One error type for everything that reads images, so callers can name the
//! file, platform or blob that was at fault.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The cause is part of the message, not a `source`: a chain printed with
    /// `{:#}` would otherwise say it twice.
    #[error("{path}: {cause}")]
    Io {
        path: PathBuf,
        cause: std::io::Error,
    },
    #[error("invalid image reference '{reference}': {reason}")]
    Reference { reference: String, reason: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    NotFound(String),
    #[error("blob {digest}: {reason}")]
    Blob { digest: String, reason: String },
    #[error("docker engine: {0}")]
    Daemon(String),
}

impl Error {
    pub fn io(path: impl Into<PathBuf>, cause: std::io::Error) -> Self {
        Error::Io {
            path: path.into(),
            cause,
        }
    }

    pub fn invalid(msg: impl Into<String>) -> Self {
        Error::Invalid(msg.into())
    }
}
