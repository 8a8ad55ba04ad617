//! Finding one file of one platform image: index layers from the top down
//! until the path is decided, and copy the file's content out on the way.

use std::collections::HashSet;
use std::io::{self, Read};
use std::path::Path;

use onebin_image::{Descriptor, ImageSource, PlatformImage};

use crate::decode::{decompress, HashingReader};
use crate::error::{LayerError, LayerRef, ReadError};
use crate::index::{Capture, LayerIndex, Node};
use crate::lookup::{resolve, Resolution};

/// The file a path leads to, with its content in a temporary file beside
/// the final output.
#[derive(Debug)]
pub struct FoundFile {
    /// The path after following symlinks, absolute.
    pub resolved_path: String,
    pub mode: u32,
    /// The digest of the layer that holds the file's content.
    pub layer: String,
    pub symlinks: Vec<String>,
    pub content: Capture,
    /// How many layers were read, of how many.
    pub layers_read: usize,
    pub layers_total: usize,
}

/// Called with the number of compressed bytes read, for progress bars.
pub type Progress<'a> = &'a (dyn Fn(u64) + Sync);

/// Finds `path` in `image`, reading only the layers that decide it.
pub fn find_file(
    source: &dyn ImageSource,
    image: &PlatformImage,
    path: &str,
    capture_dir: &Path,
    progress: Progress,
) -> Result<FoundFile, LayerError> {
    let layers = image.layers_top_down().map_err(LayerError::Image)?;
    let describe = |i: usize| LayerRef {
        number: layers.len() - i,
        total: layers.len(),
        digest: layers[i].0.digest().to_string(),
    };
    let read_error = |i: usize| {
        move |cause| LayerError::Read {
            layer: describe(i),
            cause,
        }
    };
    let mut indexes: Vec<LayerIndex> = Vec::new();
    let mut wanted: HashSet<String> = HashSet::new();
    let asked = path.trim_start_matches('/');
    wanted.insert(asked.to_string());
    loop {
        let (found_path, layer, node, symlinks) = match resolve(&indexes, layers.len(), path) {
            Resolution::NeedLayer { path: guess } => {
                wanted.insert(guess);
                let (desc, diff_id) = &layers[indexes.len()];
                let index = scan(source, desc, diff_id, &wanted, capture_dir, progress)
                    .map_err(read_error(indexes.len()))?;
                indexes.push(index);
                continue;
            }
            Resolution::Found {
                path,
                layer,
                node,
                symlinks,
            } => (path, layer, node, symlinks),
            Resolution::Missing {
                path: missing,
                absence,
            } => {
                return Err(LayerError::NotFound {
                    path: path.to_string(),
                    at: (missing.trim_start_matches('/') != asked).then_some(missing),
                    absence: absence.map_layer(describe),
                })
            }
            Resolution::NotADirectory { path: at, layer } => {
                return Err(LayerError::NotADirectory {
                    path: path.to_string(),
                    at,
                    layer: describe(layer),
                })
            }
            Resolution::IsDirectory { path: at } => {
                return Err(LayerError::IsADirectory {
                    path: path.to_string(),
                    at,
                })
            }
            Resolution::SymlinkLoop { path: at, symlinks } => {
                return Err(LayerError::SymlinkLoop {
                    path: path.to_string(),
                    at,
                    symlinks,
                })
            }
        };
        // A hard link's content is the file it links to, in the same layer.
        let (content_path, mode) = match node {
            Node::File { mode, .. } => (found_path.clone(), mode),
            Node::Hardlink(target) => match indexes[layer].entries.get(&target) {
                Some(Node::File { mode, .. }) => (target, *mode),
                _ => {
                    return Err(LayerError::BrokenHardLink {
                        path: path.to_string(),
                        link: found_path,
                        target,
                        layer: describe(layer),
                    })
                }
            },
            Node::Special(kind) => {
                return Err(LayerError::NotARegularFile {
                    path: path.to_string(),
                    kind,
                })
            }
            Node::Dir | Node::Symlink(_) => {
                unreachable!("resolve follows symlinks and reports directories")
            }
        };
        let content = match indexes[layer].captures.remove(&content_path) {
            Some(capture) => capture,
            None => {
                // The path was only known after the layer streamed past: read it again.
                let (desc, diff_id) = &layers[layer];
                let again = HashSet::from([content_path.clone()]);
                let mut index = scan(source, desc, diff_id, &again, capture_dir, progress)
                    .map_err(read_error(layer))?;
                index
                    .captures
                    .remove(&content_path)
                    .ok_or_else(|| LayerError::Vanished {
                        layer: describe(layer),
                        path: content_path.clone(),
                    })?
            }
        };
        return Ok(FoundFile {
            resolved_path: format!("/{found_path}"),
            mode,
            layer: layers[layer].0.digest().to_string(),
            symlinks,
            content,
            layers_read: indexes.len(),
            layers_total: layers.len(),
        });
    }
}

/// Reads one layer blob end to end: blob digest, decompression, diff_id, tar.
fn scan(
    source: &dyn ImageSource,
    desc: &Descriptor,
    diff_id: &str,
    wanted: &HashSet<String>,
    capture_dir: &Path,
    progress: Progress,
) -> Result<LayerIndex, ReadError> {
    let raw = source.open_blob(desc).map_err(ReadError::Blob)?;
    let counted = Counting {
        inner: raw,
        progress,
    };
    let (_, tar_stream) = decompress(counted).map_err(ReadError::Stream)?;
    let same_bytes = desc.digest().to_string() == diff_id;
    let mut hashed = HashingReader::new(tar_stream, !same_bytes);
    let index = LayerIndex::scan(
        ZeroTail {
            inner: &mut hashed,
            left: 1024,
        },
        wanted,
        capture_dir,
    )?;
    // Past the tar end marker: the padding, the compression trailer, and the
    // blob's end, where its digest is checked.
    io::copy(&mut hashed, &mut io::sink()).map_err(ReadError::Stream)?;
    if let Some(actual) = hashed.digest() {
        if actual != diff_id {
            return Err(ReadError::DiffId {
                actual,
                expected: diff_id.to_string(),
            });
        }
    }
    Ok(index)
}

/// Two zero blocks after the end of the stream. Some writers (`umoci insert`)
/// end a layer right after the last file's data, with neither padding nor the
/// end-of-archive blocks; Go's archive/tar and containerd read that as a clean
/// end, and so does onebin. A layer cut short is still caught: its blob digest
/// and diff_id are checked.
struct ZeroTail<R> {
    inner: R,
    left: usize,
}

impl<R: Read> Read for ZeroTail<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n > 0 || buf.is_empty() {
            return Ok(n);
        }
        let n = buf.len().min(self.left);
        buf[..n].fill(0);
        self.left -= n;
        Ok(n)
    }
}

struct Counting<'a, R> {
    inner: R,
    progress: Progress<'a>,
}

impl<R: Read> Read for Counting<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        (self.progress)(n as u64);
        Ok(n)
    }
}
