//! What one layer says about the filesystem: its entries, whiteouts and opaque
//! directories, and the content of the few files the caller asked for.

use std::collections::{HashMap, HashSet};
use std::io::{self, BufWriter, Read};
use std::path::Path;

use onebin_image::DigestWriter;
use tempfile::NamedTempFile;

use crate::error::{EntryNameError, ReadError};

const WHITEOUT_PREFIX: &str = ".wh.";
const OPAQUE_MARKER: &str = ".wh..wh..opq";

/// One entry of a layer, without its content.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Node {
    File {
        size: u64,
        mode: u32,
    },
    Dir,
    Symlink(String),
    /// A hard link to another path of the image (normalised).
    Hardlink(String),
    /// Devices and FIFOs: present, but never a release asset.
    Special(&'static str),
}

/// A file's content, copied out while the layer streamed past, hashed as written.
#[derive(Debug)]
pub struct Capture {
    pub file: NamedTempFile,
    pub sha256: String,
    pub size: u64,
}

#[derive(Debug, Default)]
pub struct LayerIndex {
    pub entries: HashMap<String, Node>,
    /// Paths deleted from the layers below (`.wh.NAME`).
    pub whiteouts: HashSet<String>,
    /// Directories whose content in the layers below is hidden (`.wh..wh..opq`).
    pub opaque: HashSet<String>,
    pub captures: HashMap<String, Capture>,
}

/// A tar entry name as an image path: no leading `./` or `/`, no `..`, no
/// trailing `/`; `Ok(None)` for the root itself.
pub fn normalize_entry_name(name: &str) -> Result<Option<String>, EntryNameError> {
    if name.starts_with('/') {
        return Err(EntryNameError::Absolute(name.to_string()));
    }
    let mut parts = Vec::new();
    for part in name.split('/') {
        match part {
            "" | "." => {}
            ".." => return Err(EntryNameError::EscapesRoot(name.to_string())),
            p => parts.push(p),
        }
    }
    Ok((!parts.is_empty()).then(|| parts.join("/")))
}

fn split_parent(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

impl LayerIndex {
    /// Layers often omit their parent directories' entries; on an overlay
    /// snapshotter (Docker's and containerd's default) each layer is unpacked
    /// on its own, so those parents are directories of this layer.
    pub(crate) fn add_implicit_parents(&mut self, dir: &str) {
        let mut end = dir.len();
        while end > 0 {
            let parent = &dir[..end];
            if self.entries.contains_key(parent) {
                break;
            }
            self.entries.insert(parent.to_string(), Node::Dir);
            end = parent.rfind('/').unwrap_or(0);
        }
    }

    /// Reads a whole tar stream, indexing every entry and copying the regular
    /// files whose path is in `wanted` into temporary files in `capture_dir`
    /// (the output directory, so that keeping one is a rename).
    pub fn scan(
        tar_stream: impl Read,
        wanted: &HashSet<String>,
        capture_dir: &Path,
    ) -> Result<Self, ReadError> {
        let mut index = LayerIndex::default();
        let mut archive = tar::Archive::new(tar_stream);
        let entries = archive.entries().map_err(ReadError::NotTar)?;
        for entry in entries {
            let mut entry = entry.map_err(ReadError::BrokenTar)?;
            let raw_name = entry.path().map_err(ReadError::UnreadableName)?;
            let raw_name = raw_name.to_string_lossy().into_owned();
            let Some(path) = normalize_entry_name(&raw_name)? else {
                continue;
            };
            let (dir, base) = split_parent(&path);
            index.add_implicit_parents(dir);
            if base == OPAQUE_MARKER {
                index.opaque.insert(dir.to_string());
                continue;
            }
            if let Some(hidden) = base.strip_prefix(WHITEOUT_PREFIX) {
                // `.wh..wh.*` other than the opaque marker is aufs bookkeeping.
                if !hidden.starts_with(".wh.") {
                    index.whiteouts.insert(join(dir, hidden));
                }
                continue;
            }
            let header = entry.header();
            let mode = header.mode().unwrap_or(0o644) & 0o7777;
            let link = |entry: &tar::Entry<_>| -> Result<String, ReadError> {
                let target = entry.link_name().map_err(|cause| ReadError::LinkTarget {
                    name: raw_name.clone(),
                    cause,
                })?;
                Ok(target
                    .map(|t| t.to_string_lossy().into_owned())
                    .unwrap_or_default())
            };
            let node = match header.entry_type() {
                tar::EntryType::Regular
                | tar::EntryType::Continuous
                | tar::EntryType::GNUSparse => Node::File {
                    size: entry.size(),
                    mode,
                },
                tar::EntryType::Directory => Node::Dir,
                tar::EntryType::Symlink => Node::Symlink(link(&entry)?),
                tar::EntryType::Link => {
                    let target = link(&entry)?;
                    match normalize_entry_name(target.trim_start_matches('/'))? {
                        Some(target) => Node::Hardlink(target),
                        None => return Err(ReadError::HardLinkToRoot { name: raw_name }),
                    }
                }
                tar::EntryType::Char => Node::Special("character device"),
                tar::EntryType::Block => Node::Special("block device"),
                tar::EntryType::Fifo => Node::Special("fifo"),
                // PAX and GNU long-name headers are consumed by the tar reader.
                _ => continue,
            };
            if matches!(node, Node::File { .. }) && wanted.contains(&path) {
                let capture =
                    capture(&mut entry, capture_dir).map_err(|cause| ReadError::Capture {
                        path: path.clone(),
                        cause,
                    })?;
                index.captures.insert(path.clone(), capture);
            } else {
                // A later duplicate replaces an earlier capture of the same path.
                index.captures.remove(&path);
            }
            index.entries.insert(path, node);
        }
        Ok(index)
    }
}

fn capture(entry: &mut impl Read, dir: &Path) -> io::Result<Capture> {
    let file = tempfile::Builder::new()
        .prefix(".onebin-")
        .suffix(".part")
        .tempfile_in(dir)?;
    let mut writer = DigestWriter::new(BufWriter::with_capacity(256 << 10, file));
    io::copy(entry, &mut writer)?;
    let (buffered, sha256, size) = writer.finish();
    let file = buffered.into_inner().map_err(|e| e.into_error())?;
    Ok(Capture { file, sha256, size })
}

#[cfg(test)]
mod tests {
    use super::normalize_entry_name as norm;
    use crate::error::EntryNameError;

    #[test]
    fn normalises_names() {
        assert_eq!(
            norm("./usr/bin/app").unwrap().as_deref(),
            Some("usr/bin/app")
        );
        assert_eq!(norm("usr/bin/").unwrap().as_deref(), Some("usr/bin"));
        assert_eq!(norm("./").unwrap(), None);
        let escapes = norm("../../x").unwrap_err();
        assert_eq!(escapes, EntryNameError::EscapesRoot("../../x".into()));
        assert!(escapes.to_string().contains("escapes"));
        let absolute = norm("/etc/passwd").unwrap_err();
        assert_eq!(absolute, EntryNameError::Absolute("/etc/passwd".into()));
        assert!(absolute.to_string().contains("absolute"));
    }
}
