//! Reproducible layers: one file and its parent directories, in a tar whose
//! every byte is decided by the inputs. Entries in path order, owner 0:0 with
//! no names, one fixed time stamp, GNU headers (long names as GNU records);
//! gzip at level 6 with no name, time or OS in its header.

use std::io::{self, Write};

use flate2::{Compression, GzBuilder};
use sha2::{Digest as _, Sha256};

/// A gzip-compressed layer and the sha256 of its tar (the config's diff_id).
pub struct PackedLayer {
    pub gzip: Vec<u8>,
    pub diff_id: String,
}

/// Packs `content` at `path` (absolute in the image) with `mode`, dated `mtime`.
pub fn pack_file(path: &str, content: &[u8], mode: u32, mtime: u64) -> io::Result<PackedLayer> {
    let path = path.trim_matches('/');
    if path.is_empty()
        || path
            .split('/')
            .any(|p| p.is_empty() || p == "." || p == "..")
    {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("'/{path}' is not a clean absolute file path"),
        ));
    }
    let gzip = GzBuilder::new()
        .operating_system(255)
        .mtime(0)
        .write(Vec::with_capacity(content.len() / 2), Compression::new(6));
    let mut tar = tar::Builder::new(HashingWriter {
        inner: gzip,
        hasher: Sha256::new(),
    });
    let parts: Vec<&str> = path.split('/').collect();
    for depth in 1..parts.len() {
        let dir = format!("{}/", parts[..depth].join("/"));
        let mut header = header(tar::EntryType::Directory, 0o755, 0, mtime);
        tar.append_data(&mut header, dir, io::empty())?;
    }
    let mut header = header(tar::EntryType::Regular, mode, content.len() as u64, mtime);
    tar.append_data(&mut header, path, content)?;
    let hashing = tar.into_inner()?;
    let diff_id = format!("sha256:{}", hex::encode(hashing.hasher.finalize()));
    Ok(PackedLayer {
        gzip: hashing.inner.finish()?,
        diff_id,
    })
}

fn header(kind: tar::EntryType, mode: u32, size: u64, mtime: u64) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(mtime);
    header.set_uid(0);
    header.set_gid(0);
    header
}

struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decompress;
    use crate::index::{LayerIndex, Node};
    use std::collections::HashSet;

    #[test]
    fn same_input_same_bytes_and_a_readable_layer() {
        let a = pack_file("/usr/local/bin/app", b"binary", 0o755, 0).unwrap();
        let b = pack_file("usr/local/bin/app", b"binary", 0o755, 0).unwrap();
        assert_eq!(a.gzip, b.gzip);
        assert_ne!(
            a.gzip,
            pack_file("/usr/local/bin/app", b"binary", 0o755, 1)
                .unwrap()
                .gzip
        );
        let (_, tar) = decompress(&a.gzip[..]).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let wanted = HashSet::from(["usr/local/bin/app".to_string()]);
        let index = LayerIndex::scan(tar, &wanted, dir.path()).unwrap();
        assert_eq!(index.entries["usr/local"], Node::Dir);
        assert_eq!(
            index.entries["usr/local/bin/app"],
            Node::File {
                size: 6,
                mode: 0o755
            }
        );
        assert!(pack_file("/usr/../x", b"", 0o755, 0).is_err());
    }
}
