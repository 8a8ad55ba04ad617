//! Digests and the reader that checks them.
//!
//! A blob is only trusted once every byte has been read and hashed: the
//! [`VerifyingReader`] fails the read that reaches the end of a blob whose size or
//! digest is wrong, so a consumer that reads to EOF can never take a bad blob for
//! a good one.

use std::io::{self, Read, Write};

use oci_spec::image::{Digest, DigestAlgorithm};
use sha2::{Digest as _, Sha256};

use crate::{Error, Result};

/// `sha256:<hex>` of a byte slice.
pub fn sha256_digest(bytes: &[u8]) -> Digest {
    digest_from_hasher(Sha256::new_with_prefix(bytes))
}

fn digest_from_hasher(hasher: Sha256) -> Digest {
    let hex = hex::encode(hasher.finalize());
    format!("sha256:{hex}")
        .parse()
        .expect("a sha256 digest is always valid")
}

/// Checks that onebin can verify blobs with this digest's algorithm.
pub fn ensure_supported(digest: &Digest) -> Result<()> {
    match digest.algorithm() {
        DigestAlgorithm::Sha256 => Ok(()),
        other => Err(Error::Blob {
            digest: digest.to_string(),
            reason: format!("digest algorithm '{other}' is not supported (only sha256)"),
        }),
    }
}

/// Wraps a blob stream; at EOF it compares size and sha256 with the descriptor's
/// and turns a mismatch into an `InvalidData` error instead of a clean EOF.
pub struct VerifyingReader<R> {
    inner: R,
    expected: Digest,
    expected_size: Option<u64>,
    hasher: Sha256,
    read: u64,
    done: bool,
}

impl<R: Read> VerifyingReader<R> {
    pub fn new(inner: R, expected: Digest, expected_size: Option<u64>) -> Result<Self> {
        ensure_supported(&expected)?;
        Ok(Self {
            inner,
            expected,
            expected_size,
            hasher: Sha256::new(),
            read: 0,
            done: false,
        })
    }

    fn mismatch(&self, reason: String) -> io::Error {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!("blob {}: {reason}", self.expected),
        )
    }
}

impl<R: Read> Read for VerifyingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.done {
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.hasher.update(&buf[..n]);
        self.read += n as u64;
        if let Some(size) = self.expected_size {
            if self.read > size {
                return Err(self.mismatch(format!("longer than its descriptor's size {size}")));
            }
        }
        if n == 0 && !buf.is_empty() {
            self.done = true;
            if let Some(size) = self.expected_size {
                if self.read != size {
                    return Err(self.mismatch(format!(
                        "truncated: {} bytes read, descriptor says {size}",
                        self.read
                    )));
                }
            }
            let actual = digest_from_hasher(std::mem::take(&mut self.hasher));
            if actual != self.expected {
                return Err(
                    self.mismatch(format!("content does not match its digest (got {actual})"))
                );
            }
        }
        Ok(n)
    }
}

/// A writer that hashes what passes through it, for outputs whose digest is
/// reported (release assets, checksums).
pub struct DigestWriter<W> {
    inner: W,
    hasher: Sha256,
    written: u64,
}

impl<W: Write> DigestWriter<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            hasher: Sha256::new(),
            written: 0,
        }
    }

    /// The inner writer, the lowercase hex sha256 and the byte count.
    pub fn finish(self) -> (W, String, u64) {
        (
            self.inner,
            hex::encode(self.hasher.finalize()),
            self.written,
        )
    }
}

impl<W: Write> Write for DigestWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

/// Reads a whole (small) blob: manifests, indexes and configs, bounded so that a
/// hostile descriptor cannot make us allocate without limit.
pub fn read_small_blob(mut reader: impl Read, digest: &Digest) -> Result<Vec<u8>> {
    const LIMIT: u64 = 64 << 20;
    let mut bytes = Vec::new();
    (&mut reader)
        .take(LIMIT + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| Error::Blob {
            digest: digest.to_string(),
            reason: e.to_string(),
        })?;
    if bytes.len() as u64 > LIMIT {
        return Err(Error::Blob {
            digest: digest.to_string(),
            reason: "larger than 64 MiB".into(),
        });
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_matching_blob() {
        let data = b"hello";
        let mut r = VerifyingReader::new(&data[..], sha256_digest(data), Some(5)).unwrap();
        let mut out = Vec::new();
        r.read_to_end(&mut out).unwrap();
        assert_eq!(out, data);
    }

    #[test]
    fn rejects_wrong_content_and_truncation() {
        let digest = sha256_digest(b"hello");
        let mut r = VerifyingReader::new(&b"hellp"[..], digest.clone(), Some(5)).unwrap();
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(
            err.to_string().contains("does not match its digest"),
            "{err}"
        );
        let mut r = VerifyingReader::new(&b"hel"[..], digest, Some(5)).unwrap();
        let err = r.read_to_end(&mut Vec::new()).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
    }
}
