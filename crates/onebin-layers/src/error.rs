//! Why a path could not be taken out of an image. The cases where the layers
//! were read and say the file is not there are kept apart from the failures
//! to read them, so that "the image has no such file" is never a guess.
//! Causes are part of each message, not a `source`, so that a chain printed
//! with `{:#}` does not say them twice.

use std::fmt;
use std::io;

use crate::lookup::Absence;

/// One layer of a platform image as messages name it: counted from the
/// bottom, as `docker history` lists them, with its blob digest.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayerRef {
    pub number: usize,
    pub total: usize,
    pub digest: String,
}

impl fmt::Display for LayerRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "layer {} of {} ({})",
            self.number, self.total, self.digest
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    /// No layer has the path, or a layer deleted or hid it; `at` is where the
    /// resolution stood when it differs from the path asked for.
    #[error("{path} not found{}: {absence}", in_parentheses(at))]
    NotFound {
        path: String,
        at: Option<String>,
        absence: Absence<LayerRef>,
    },
    /// A file stands where the path needs a directory.
    #[error("{path}: {at} is not a directory ({layer})")]
    NotADirectory {
        path: String,
        at: String,
        layer: LayerRef,
    },
    #[error("{path} is a directory ({at}), not a file")]
    IsADirectory { path: String, at: String },
    #[error("{path}: too many levels of symbolic links at {at} ({})", symlinks.iter().take(4).cloned().collect::<Vec<_>>().join(", "))]
    SymlinkLoop {
        path: String,
        at: String,
        symlinks: Vec<String>,
    },
    /// A device or a FIFO.
    #[error("{path} is a {kind}, not a file")]
    NotARegularFile { path: String, kind: &'static str },
    /// A hard link whose target its own layer does not hold as a file: the
    /// layer is malformed (tar links only to entries before them).
    #[error(
        "{path}: hard link /{link} points to /{target}, which {layer} does not hold as a file"
    )]
    BrokenHardLink {
        path: String,
        link: String,
        target: String,
        layer: LayerRef,
    },
    /// The layer, read a second time, no longer held the file.
    #[error("{layer}: /{path} vanished when read again")]
    Vanished { layer: LayerRef, path: String },
    /// The image's manifest and config do not describe one stack of layers.
    #[error("{0}")]
    Image(onebin_image::Error),
    #[error("{layer}: {cause}")]
    Read { layer: LayerRef, cause: ReadError },
}

impl LayerError {
    /// True when the layers were read and hold no regular file at the path;
    /// false when the image could not be read, which says nothing either way.
    pub fn is_absent(&self) -> bool {
        matches!(
            self,
            LayerError::NotFound { .. }
                | LayerError::NotADirectory { .. }
                | LayerError::IsADirectory { .. }
                | LayerError::SymlinkLoop { .. }
                | LayerError::NotARegularFile { .. }
        )
    }
}

fn in_parentheses(at: &Option<String>) -> String {
    at.as_ref().map(|at| format!(" ({at})")).unwrap_or_default()
}

/// Why one layer blob could not be read to its end.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    /// Opening the blob failed (a missing blob, a registry error).
    #[error("{0}")]
    Blob(onebin_image::Error),
    /// The blob or its decompression failed, its digest check included.
    #[error("cannot read: {0}")]
    Stream(io::Error),
    #[error("not a tar stream: {0}")]
    NotTar(io::Error),
    #[error("broken tar stream: {0}")]
    BrokenTar(io::Error),
    #[error("bad tar entry name: {0}")]
    UnreadableName(io::Error),
    #[error("{0}")]
    EntryName(EntryNameError),
    #[error("tar entry '{name}': bad link target: {cause}")]
    LinkTarget { name: String, cause: io::Error },
    #[error("tar entry '{name}' is a hard link to the root")]
    HardLinkToRoot { name: String },
    #[error("copying '{path}': {cause}")]
    Capture { path: String, cause: io::Error },
    #[error("uncompressed content is {actual}, but the config's diff_id is {expected}")]
    DiffId { actual: String, expected: String },
}

/// A tar entry name that would write outside the image root: a layer that
/// tries it is not one to ship from.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum EntryNameError {
    #[error("tar entry '{0}' is an absolute path")]
    Absolute(String),
    #[error("tar entry '{0}' escapes the image root with '..'")]
    EscapesRoot(String),
}

impl From<EntryNameError> for ReadError {
    fn from(cause: EntryNameError) -> Self {
        ReadError::EntryName(cause)
    }
}
