//! A cap on tar header records (GNU long names and links, PAX headers).
//!
//! The `tar` crate reads these records whole into memory, however large the
//! header says they are: a 1.6 MB gzip layer can announce a 1.5 GiB long name.
//! [`HeaderLimit`] sits between the stream and `tar::Archive`, follows the
//! archive's framing exactly as the `tar` crate does (header blocks, PAX `size`
//! overrides, GNU sparse extension blocks, the end marker) and fails the read
//! that delivers a header announcing a record over [`MAX_HEADER_RECORD`], as Go's
//! `archive/tar` does (`ErrFieldTooLong`), before a byte of it is buffered.

use std::io::{self, Read, Seek, SeekFrom};

/// The largest GNU long name, long link or PAX record accepted: 1 MiB, Go's
/// `archive/tar` limit.
pub const MAX_HEADER_RECORD: u64 = 1 << 20;

const BLOCK: usize = 512;

enum State {
    /// Filling a header block.
    Header { filled: usize },
    /// GNU sparse extension blocks, then a body of `body` bytes.
    SparseExt { filled: usize, body: u64 },
    /// Inside an entry's data (padded to a block); PAX records (`size` bytes)
    /// are kept to learn the next entry's `size`.
    Body {
        left: u64,
        size: u64,
        pax: Option<Vec<u8>>,
    },
    /// After the end marker or a header the `tar` crate itself rejects.
    Done,
}

/// Passes a tar stream through unchanged, failing on an oversized header record.
pub struct HeaderLimit<R> {
    inner: R,
    block: Box<[u8; BLOCK]>,
    state: State,
    pax_size: Option<u64>,
}

impl<R: Read> HeaderLimit<R> {
    pub fn new(inner: R) -> Self {
        HeaderLimit {
            inner,
            block: Box::new([0; BLOCK]),
            state: State::Header { filled: 0 },
            pax_size: None,
        }
    }

    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match &mut self.state {
                State::Done => return Ok(()),
                State::Header { filled } | State::SparseExt { filled, .. } => {
                    let take = (BLOCK - *filled).min(bytes.len());
                    self.block[*filled..*filled + take].copy_from_slice(&bytes[..take]);
                    *filled += take;
                    bytes = &bytes[take..];
                    if *filled == BLOCK {
                        self.state = self.next_state()?;
                    }
                }
                State::Body { left, size, pax } => {
                    let take = (*left).min(bytes.len() as u64) as usize;
                    if let Some(pax) = pax {
                        let want = (*size as usize).saturating_sub(pax.len()).min(take);
                        pax.extend_from_slice(&bytes[..want]);
                    }
                    *left -= take as u64;
                    bytes = &bytes[take..];
                    if *left == 0 {
                        if let Some(pax) = pax.take() {
                            self.pax_size = pax_size(&pax);
                        }
                        self.state = State::Header { filled: 0 };
                    }
                }
            }
        }
        Ok(())
    }

    /// A block is complete: decides what follows it.
    fn next_state(&mut self) -> io::Result<State> {
        if let State::SparseExt { body, .. } = self.state {
            // `isextended` of a GNU sparse extension block.
            return Ok(if self.block[504] != 0 {
                State::SparseExt { filled: 0, body }
            } else {
                body_state(body, false)
            });
        }
        if self.block.iter().all(|b| *b == 0) {
            return Ok(State::Done);
        }
        let header = tar::Header::from_byte_slice(&self.block[..]);
        let sum: u32 = self.block[..148]
            .iter()
            .chain(&self.block[156..])
            .map(|b| u32::from(*b))
            .sum::<u32>()
            + 8 * 32;
        let Ok(size) = header.entry_size() else {
            return Ok(State::Done);
        };
        if header.cksum().ok() != Some(sum) {
            return Ok(State::Done);
        }
        let kind = header.entry_type();
        let recognized = header.as_gnu().is_some() || header.as_ustar().is_some();
        let record = kind.is_gnu_longname()
            || kind.is_gnu_longlink()
            || kind.is_pax_local_extensions()
            || kind.is_pax_global_extensions();
        if record && size > MAX_HEADER_RECORD {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "tar header record ({}) of {size} bytes exceeds the {} MiB limit",
                    record_name(kind),
                    MAX_HEADER_RECORD >> 20
                ),
            ));
        }
        let size = match self.pax_size {
            Some(pax) if !record => pax,
            _ => size,
        };
        // The `tar` crate keeps PAX values across long-name records only.
        let continues = recognized
            && (kind.is_gnu_longname() || kind.is_gnu_longlink() || kind.is_pax_local_extensions());
        if !continues {
            self.pax_size = None;
        }
        let keep_pax = recognized && kind.is_pax_local_extensions();
        if kind.is_gnu_sparse() && header.as_gnu().is_some_and(|g| g.is_extended()) {
            return Ok(State::SparseExt {
                filled: 0,
                body: size,
            });
        }
        Ok(body_state(size, keep_pax))
    }
}

fn body_state(size: u64, keep_pax: bool) -> State {
    let padded = size.div_ceil(BLOCK as u64) * BLOCK as u64;
    if padded == 0 {
        return State::Header { filled: 0 };
    }
    State::Body {
        left: padded,
        size,
        pax: keep_pax.then(Vec::new),
    }
}

fn record_name(kind: tar::EntryType) -> &'static str {
    if kind.is_gnu_longname() {
        "GNU long name"
    } else if kind.is_gnu_longlink() {
        "GNU long link"
    } else {
        "PAX header"
    }
}

/// The PAX `size` record, read as the `tar` crate reads it (the first one,
/// `None` when the records do not parse).
fn pax_size(records: &[u8]) -> Option<u64> {
    for record in tar::PaxExtensions::new(records) {
        let record = record.ok()?;
        if record.key() == Ok("size") {
            return record.value().ok()?.parse().ok();
        }
    }
    None
}

impl<R: Read> Read for HeaderLimit<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

/// `tar::Archive::entries_with_seek` skips the data of entries nobody reads
/// with a forward seek inside that data; any other seek would lose the framing.
impl<R: Read + Seek> Seek for HeaderLimit<R> {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        match (pos, &mut self.state) {
            (SeekFrom::Current(0), _) | (_, State::Done) => {}
            (SeekFrom::Current(n), State::Body { left, pax, .. }) if n > 0 && n as u64 <= *left => {
                *left -= n as u64;
                if *left == 0 {
                    if let Some(pax) = pax.take() {
                        self.pax_size = pax_size(&pax);
                    }
                    self.state = State::Header { filled: 0 };
                }
            }
            _ => {
                return Err(io::Error::new(
                    io::ErrorKind::InvalidData,
                    "tar stream: a seek outside the current entry's data",
                ))
            }
        }
        self.inner.seek(pos)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: tar::EntryType, name: &str, size: u64) -> tar::Header {
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(kind);
        h.set_path(name).unwrap();
        h.set_size(size);
        h.set_mode(0o644);
        h.set_cksum();
        h
    }

    fn read_all(bytes: &[u8]) -> io::Result<Vec<String>> {
        let mut archive = tar::Archive::new(HeaderLimit::new(bytes));
        let mut names = Vec::new();
        for entry in archive.entries()? {
            names.push(entry?.path()?.to_string_lossy().into_owned());
        }
        Ok(names)
    }

    #[test]
    fn refuses_oversized_long_name_before_reading_it() {
        let mut tar = header(tar::EntryType::GNULongName, "././@LongLink", 1 << 30)
            .as_bytes()
            .to_vec();
        tar.extend_from_slice(&[b'a'; 4096]);
        let err = read_all(&tar).unwrap_err().to_string();
        assert!(
            err.contains("GNU long name") && err.contains("1 MiB"),
            "{err}"
        );
    }

    #[test]
    fn follows_pax_sizes_long_names_and_the_end_marker() {
        let mut builder = tar::Builder::new(Vec::new());
        let long = format!("dir/{}", "n".repeat(300));
        let mut h = tar::Header::new_gnu();
        h.set_size(3);
        h.set_mode(0o644);
        builder.append_data(&mut h, &long, &b"abc"[..]).unwrap();
        // A PAX record whose `size` overrides the header's, as writers do for large files.
        let pax = b"12 size=700\n";
        let mut x = header(tar::EntryType::XHeader, "pax", pax.len() as u64);
        builder.append(&x, &pax[..]).unwrap();
        x = header(tar::EntryType::Regular, "big", 0);
        builder.append(&x, &[7u8; 700][..]).unwrap();
        builder
            .append(&header(tar::EntryType::Regular, "last", 1), &b"z"[..])
            .unwrap();
        let mut tar = builder.into_inner().unwrap();
        tar.extend_from_slice(&[0xff; 100]);
        assert_eq!(
            read_all(&tar).unwrap(),
            vec![long, "big".into(), "last".into()]
        );
    }
}
