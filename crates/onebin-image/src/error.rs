//! One error type for everything that reads images, so callers can name the
//! file, platform or blob that was at fault, and tell a registry's refusal
//! from a missing image or a network failure without parsing the text.

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
    /// No such image, tag, blob or file (a registry's 404 among them).
    #[error("{0}")]
    NotFound(String),
    #[error("blob {digest}: {reason}")]
    Blob { digest: String, reason: String },
    #[error("docker engine: {0}")]
    Daemon(String),
    /// A registry (or its token service) wants other credentials: HTTP 401.
    #[error("{message}")]
    Unauthorized {
        /// The registry's first `errors[].code`, e.g. `UNAUTHORIZED`.
        code: Option<String>,
        message: String,
    },
    /// The credentials are known, and not allowed this: HTTP 403.
    #[error("{message}")]
    Denied {
        code: Option<String>,
        message: String,
    },
    /// Any other answer a registry should not have given.
    #[error("{message}")]
    Registry {
        status: u16,
        code: Option<String>,
        message: String,
    },
    /// A registry could not be reached, or its answer broke off.
    #[error("{0}")]
    Connection(String),
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
