//! Layer blobs to tar streams. The compression is read from the blob's first
//! bytes, as containerd does, so a wrong or generic media type (as in
//! `docker save` archives) cannot lead the decoder astray.

use std::io::{self, BufRead, BufReader, Read};

use sha2::{Digest as _, Sha256};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

impl Compression {
    pub fn sniff(head: &[u8]) -> Self {
        match head {
            [0x1f, 0x8b, ..] => Compression::Gzip,
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            _ => Compression::None,
        }
    }
}

const BUFFER: usize = 256 << 10;

/// Opens the uncompressed tar stream of a layer blob.
pub fn decompress<'a>(
    raw: impl Read + Send + 'a,
) -> io::Result<(Compression, Box<dyn Read + Send + 'a>)> {
    let mut buffered = BufReader::with_capacity(BUFFER, raw);
    let compression = Compression::sniff(buffered.fill_buf()?);
    let reader: Box<dyn Read + Send + 'a> = match compression {
        Compression::Gzip => Box::new(BufReader::with_capacity(
            BUFFER,
            flate2::bufread::MultiGzDecoder::new(buffered),
        )),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(buffered)?),
        Compression::None => Box::new(buffered),
    };
    Ok((compression, reader))
}

/// Hashes the uncompressed stream, to check it against the config's diff_id.
pub struct HashingReader<R> {
    inner: R,
    hasher: Option<Sha256>,
}

impl<R: Read> HashingReader<R> {
    /// `hash = false` when the blob digest already covers these very bytes.
    pub fn new(inner: R, hash: bool) -> Self {
        HashingReader {
            inner,
            hasher: hash.then(Sha256::new),
        }
    }

    /// `sha256:<hex>`, or `None` when hashing was not asked for.
    pub fn digest(self) -> Option<String> {
        self.hasher
            .map(|h| format!("sha256:{}", hex::encode(h.finalize())))
    }
}

impl<R: Read> Read for HashingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if let Some(h) = &mut self.hasher {
            h.update(&buf[..n]);
        }
        Ok(n)
    }
}
