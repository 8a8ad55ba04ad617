//! Reproducible layers: files and their parent directories, in a tar whose
//! every byte is decided by the inputs. Entries in path order, owner 0:0 with
//! no names, one fixed time stamp, GNU headers (long names as GNU records).
//!
//! Compressed on every core, yet the bytes do not depend on how many there
//! are. gzip: the tar is cut into fixed 1 MiB blocks, and each becomes a gzip
//! member of its own (libdeflate, level 4: no name, time or OS in the
//! header), joined in order. A gzip file may hold several members, and every
//! layer reader reads them all (Go's compress/gzip, pigz, GNU gzip,
//! containerd, Docker). zstd: zstd's own multithreaded mode, whose frames
//! are the same for any number of workers.

use std::borrow::Cow;
use std::io;
use std::str::FromStr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use libdeflater::{CompressionLvl, Compressor};
use onebin_image::mutate::{OCI_LAYER_GZIP, OCI_LAYER_ZSTD};
use sha2::{Digest as _, Sha256};

/// How much tar one gzip member holds. Fixed: the output depends on it.
const GZIP_BLOCK: usize = 1 << 20;
/// libdeflate's level 4 makes layers as small as zlib's level 6 (what
/// onebin wrote before), at two thirds of the time of its own level 6.
const GZIP_LEVEL: i32 = 4;
const ZSTD_LEVEL: i32 = 3;

/// The layer compression, a part of the image's bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    /// Read by every runtime and registry.
    Gzip,
    /// Smaller and faster; read by Docker 23+, containerd 1.5+, podman,
    /// skopeo and umoci 0.5+, not by Docker 20.10.
    Zstd,
}

impl Compression {
    pub fn media_type(self) -> &'static str {
        match self {
            Compression::Gzip => OCI_LAYER_GZIP,
            Compression::Zstd => OCI_LAYER_ZSTD,
        }
    }
}

impl FromStr for Compression {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "gzip" => Ok(Compression::Gzip),
            "zstd" => Ok(Compression::Zstd),
            _ => Err(format!("'{s}' is not a layer compression: gzip or zstd")),
        }
    }
}

impl std::fmt::Display for Compression {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Compression::Gzip => "gzip",
            Compression::Zstd => "zstd",
        })
    }
}

/// A compressed layer, its media type, and the sha256 of its tar (the
/// config's diff_id).
pub struct PackedLayer {
    pub blob: Vec<u8>,
    pub media_type: &'static str,
    pub diff_id: String,
}

/// The cores to compress on: all of them. The bytes do not depend on it.
pub fn available_threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// Packs `content` at `path` (absolute in the image, the directories above
/// it mode 0755) with `mode`, dated `mtime`, compressed on up to `threads`
/// threads.
pub fn pack_file(
    path: &str,
    content: &[u8],
    mode: u32,
    mtime: u64,
    compression: Compression,
    threads: usize,
) -> io::Result<PackedLayer> {
    let tar = Tar::of(path, content, mode, mtime)?;
    let threads = threads.max(1);
    // The diff_id is hashed while the blocks are compressed.
    let (diff_id, blob) = std::thread::scope(|scope| {
        let hashing = scope.spawn(|| {
            let mut sha = Sha256::new();
            for piece in &tar.pieces {
                sha.update(piece);
            }
            format!("sha256:{}", hex::encode(sha.finalize()))
        });
        let blob = match compression {
            Compression::Gzip => gzip(&tar, threads),
            Compression::Zstd => zstd(&tar.pieces.concat(), threads),
        };
        let diff_id = hashing
            .join()
            .map_err(|_| io::Error::other("the diff_id thread panicked"))?;
        Ok::<_, io::Error>((diff_id, blob?))
    })?;
    Ok(PackedLayer {
        blob,
        media_type: compression.media_type(),
        diff_id,
    })
}

/// A tar in pieces: the headers and padding made here, the files' contents
/// borrowed, so a large binary is not copied before it is compressed.
struct Tar<'a> {
    pieces: Vec<Cow<'a, [u8]>>,
    len: usize,
}

impl<'a> Tar<'a> {
    /// The directories above the file, the file; then the two zero blocks
    /// that end a tar.
    fn of(path: &str, content: &'a [u8], mode: u32, mtime: u64) -> io::Result<Tar<'a>> {
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
        // The tar crate writes each header (with a GNU long-name record
        // before it when the name needs one); the content goes in as it is.
        let mut tar = tar::Builder::new(Vec::new());
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            let dir = format!("{}/", parts[..depth].join("/"));
            let mut header = header(tar::EntryType::Directory, 0o755, 0, mtime);
            tar.append_data(&mut header, &dir, io::empty())?;
        }
        let len = content.len();
        let mut header = header(tar::EntryType::Regular, mode, len as u64, mtime);
        tar.append_data(&mut header, path, io::empty())?;
        let mut pieces = vec![Cow::Owned(std::mem::take(tar.get_mut()))];
        pieces.push(Cow::Borrowed(content));
        let padding = (512 - len % 512) % 512;
        tar.get_mut().resize(padding, 0);
        pieces.push(Cow::Owned(tar.into_inner()?));
        let len = pieces.iter().map(|p| p.len()).sum();
        Ok(Tar { pieces, len })
    }

    /// Bytes `start..end`: borrowed when one piece holds them.
    fn range(&self, start: usize, end: usize) -> Cow<'_, [u8]> {
        let mut at = 0;
        let mut joined = Vec::new();
        for piece in &self.pieces {
            let (from, to) = (start.max(at), end.min(at + piece.len()));
            if from < to {
                if joined.is_empty() && from == start && to == end {
                    return Cow::Borrowed(&piece[from - at..to - at]);
                }
                joined.extend_from_slice(&piece[from - at..to - at]);
            }
            at += piece.len();
        }
        Cow::Owned(joined)
    }
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

/// One gzip member per block of the tar, in order.
fn gzip(tar: &Tar, threads: usize) -> io::Result<Vec<u8>> {
    let level = CompressionLvl::new(GZIP_LEVEL)
        .map_err(|e| io::Error::other(format!("gzip level {GZIP_LEVEL}: {e:?}")))?;
    let blocks = tar.len.div_ceil(GZIP_BLOCK).max(1);
    let members = in_parallel(
        blocks,
        threads,
        || Compressor::new(level),
        |compressor, i| {
            let block = tar.range(i * GZIP_BLOCK, ((i + 1) * GZIP_BLOCK).min(tar.len));
            let mut member = vec![0; compressor.gzip_compress_bound(block.len())];
            let n = compressor
                .gzip_compress(&block, &mut member)
                .map_err(|e| io::Error::other(format!("gzip: {e:?}")))?;
            member.truncate(n);
            Ok(member)
        },
    )?;
    Ok(members.concat())
}

/// One zstd frame with the content size and a checksum. zstd's workers
/// (one at least: with none, zstd takes another, single-threaded path whose
/// bytes differ) split the input into jobs of a size that depends on the
/// level and the input, not on how many workers take them.
fn zstd(tar: &[u8], threads: usize) -> io::Result<Vec<u8>> {
    use zstd::zstd_safe::CParameter;
    let mut zstd = zstd::bulk::Compressor::new(ZSTD_LEVEL)?;
    zstd.set_parameter(CParameter::NbWorkers(threads as u32))?;
    zstd.set_parameter(CParameter::ChecksumFlag(true))?;
    zstd.compress(tar)
}

/// `work(state, 0..n)` on up to `threads` threads, each with a `state` of
/// its own; results in order, the first error wins.
fn in_parallel<S, R: Send>(
    n: usize,
    threads: usize,
    state: impl Fn() -> S + Sync,
    work: impl Fn(&mut S, usize) -> io::Result<R> + Sync,
) -> io::Result<Vec<R>> {
    let next = AtomicUsize::new(0);
    let done: Mutex<Vec<Option<io::Result<R>>>> = Mutex::new((0..n).map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..threads.min(n) {
            scope.spawn(|| {
                let mut state = state();
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= n {
                        break;
                    }
                    let result = work(&mut state, i);
                    done.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    done.into_inner()
        .unwrap_or_else(|e| e.into_inner())
        .into_iter()
        .map(|r| r.unwrap_or_else(|| Err(io::Error::other("a compression thread panicked"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::decode::decompress;
    use crate::index::{LayerIndex, Node};
    use std::collections::HashSet;
    use std::io::Read as _;

    fn gz(path: &str, content: &[u8], mtime: u64) -> Vec<u8> {
        pack_file(path, content, 0o755, mtime, Compression::Gzip, 2)
            .unwrap()
            .blob
    }

    /// Bytes that compress like a binary: repeats at all distances, some
    /// noise, and a long stretch that reaches across block boundaries.
    fn binary_like(len: usize) -> Vec<u8> {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            if state.is_multiple_of(5) && out.len() > 70_000 {
                let back = 1 + (state >> 8) as usize % 60_000;
                let from = out.len() - back;
                for k in 0..(state >> 40) as usize % 300 {
                    out.push(out[from + k]);
                }
            } else {
                out.push((state >> 24) as u8 % 40);
            }
        }
        out.truncate(len);
        out
    }

    #[test]
    fn same_input_same_bytes_and_a_readable_layer() {
        let a = gz("/usr/local/bin/app", b"binary", 0);
        let b = gz("usr/local/bin/app", b"binary", 0);
        assert_eq!(a, b);
        assert_ne!(a, gz("/usr/local/bin/app", b"binary", 1));
        let (_, tar) = decompress(&a[..]).unwrap();
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
        assert!(pack_file("/usr/../x", b"", 0o755, 0, Compression::Gzip, 1).is_err());
    }

    /// The pieces join into what the tar crate writes with the contents in
    /// place, and any range of them reads the same as the joined bytes.
    #[test]
    fn the_pieces_are_the_tar_crates_tar() {
        let long = format!("/opt/{}app", "deep/".repeat(30));
        let content = binary_like(1500);
        let tar = Tar::of(&long, &content, 0o755, 9).unwrap();
        let joined = tar.pieces.concat();
        assert_eq!(joined.len(), tar.len);
        let mut expected = tar::Builder::new(Vec::new());
        let path = long.trim_start_matches('/');
        let parts: Vec<&str> = path.split('/').collect();
        for depth in 1..parts.len() {
            let dir = format!("{}/", parts[..depth].join("/"));
            let mut h = header(tar::EntryType::Directory, 0o755, 0, 9);
            expected.append_data(&mut h, &dir, io::empty()).unwrap();
        }
        let size = content.len() as u64;
        let mut h = header(tar::EntryType::Regular, 0o755, size, 9);
        expected.append_data(&mut h, path, &content[..]).unwrap();
        assert!(joined == expected.into_inner().unwrap());
        for (start, end) in [(0, 10), (0, tar.len), (500, 4000), (tar.len - 1, tar.len)] {
            assert!(
                tar.range(start, end)[..] == joined[start..end],
                "{start}..{end}"
            );
        }
    }

    #[test]
    fn gzip_bytes_do_not_depend_on_the_thread_count_and_decode_to_the_tar() {
        // A real binary: this test's own.
        let exe = std::fs::read(std::env::current_exe().unwrap()).unwrap();
        let content: Vec<u8> = exe
            .iter()
            .copied()
            .cycle()
            .take(GZIP_BLOCK * 5 + 12_345)
            .collect();
        let layer = |threads| {
            pack_file("/bin/app", &content, 0o755, 0, Compression::Gzip, threads).unwrap()
        };
        let one = layer(1);
        for threads in [2, 3, 8] {
            assert!(layer(threads).blob == one.blob, "{threads} threads");
        }
        let mut tar = Vec::new();
        flate2::read::MultiGzDecoder::new(&one.blob[..])
            .read_to_end(&mut tar)
            .unwrap();
        assert_eq!(
            one.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&tar)))
        );
        assert_eq!(&tar[1024..1024 + content.len()], &content[..]);
        // One member per MiB: a single-member decoder stops after the first.
        let mut first = Vec::new();
        flate2::read::GzDecoder::new(&one.blob[..])
            .read_to_end(&mut first)
            .unwrap();
        assert_eq!(first, tar[..GZIP_BLOCK]);
        // The cuts cost little: within 1 % of one member for the whole tar.
        let mut whole = Compressor::new(CompressionLvl::new(GZIP_LEVEL).unwrap());
        let mut out = vec![0; whole.gzip_compress_bound(tar.len())];
        let whole = whole.gzip_compress(&tar, &mut out).unwrap();
        assert!(
            one.blob.len() * 100 < whole * 101,
            "{} vs {whole}",
            one.blob.len()
        );
        // GNU gzip agrees.
        let mut gzip = std::process::Command::new("gzip")
            .args(["-t", "-"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .expect("gzip");
        std::io::Write::write_all(gzip.stdin.as_mut().unwrap(), &one.blob).unwrap();
        drop(gzip.stdin.take());
        assert!(gzip.wait().unwrap().success());
    }

    #[test]
    fn zstd_bytes_do_not_depend_on_the_thread_count_and_decode_to_the_tar() {
        let content = binary_like(9 << 20);
        let layer = |threads| {
            pack_file("/bin/app", &content, 0o755, 0, Compression::Zstd, threads).unwrap()
        };
        let one = layer(1);
        assert_eq!(
            one.media_type,
            "application/vnd.oci.image.layer.v1.tar+zstd"
        );
        for threads in [2, 5] {
            assert!(layer(threads).blob == one.blob, "{threads} threads");
        }
        let (_, mut tar) = decompress(&one.blob[..]).unwrap();
        let mut bytes = Vec::new();
        tar.read_to_end(&mut bytes).unwrap();
        assert_eq!(
            one.diff_id,
            format!("sha256:{}", hex::encode(Sha256::digest(&bytes)))
        );
        assert_eq!(&bytes[1024..1024 + content.len()], &content[..]);
    }
}
