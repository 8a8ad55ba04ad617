//! Container layers: decoding (tar, tar+gzip, tar+zstd), indexing what each
//! layer changes, and finding a path through the stack the way a container
//! runtime's overlay would, top layer first, reading only the layers it must.

pub mod decode;
pub mod error;
pub mod index;
pub mod lookup;
pub mod pack;
pub mod stack;

pub use error::{EntryNameError, LayerError, LayerRef, ReadError};
pub use index::{Capture, LayerIndex, Node};
pub use lookup::{Absence, Resolution};
pub use stack::{find_file, FoundFile};
