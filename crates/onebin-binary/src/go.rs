//! Go build information, read the way `go version -m` reads it
//! (`debug/buildinfo`), from ELF, PE and Mach-O files of any word size and
//! byte order: Go 1.18+ stores the strings inline after the header; older
//! releases store two pointers to Go string headers in the data segment.

use std::collections::BTreeMap;

use memchr::memmem;
use object::{Object, ObjectSection, ObjectSegment, SectionKind};
use serde::Serialize;

use crate::error::GoBuildInfoError;

const MAGIC: &[u8] = b"\xff Go buildinf:";
const HEADER: usize = 32;
const FLAG_BIG_ENDIAN: u8 = 1;
const FLAG_INLINE: u8 = 2;

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Module {
    pub path: String,
    pub version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub sum: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replace: Option<Box<Module>>,
}

#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct GoBuildInfo {
    /// `go1.22.3`
    pub go_version: String,
    /// The main package's import path.
    pub path: String,
    pub main: Module,
    pub deps: Vec<Module>,
    /// `-trimpath`, `CGO_ENABLED`, `-ldflags`, `GOARCH`, `vcs.revision`…
    pub settings: BTreeMap<String, String>,
}

/// Finds and parses the build information; `Ok(None)` when the file is not a Go binary.
pub fn read(file: &object::File, data: &[u8]) -> Result<Option<GoBuildInfo>, GoBuildInfoError> {
    let Some(blob) = locate(file) else {
        return Ok(None);
    };
    if blob.len() < HEADER {
        return Err(GoBuildInfoError::HeaderCutShort);
    }
    let ptr_size = blob[14] as usize;
    let flags = blob[15];
    if flags > (FLAG_BIG_ENDIAN | FLAG_INLINE) {
        return Err(GoBuildInfoError::UnknownFlags(flags));
    }
    let (version, modinfo) = if flags & FLAG_INLINE != 0 {
        let (version, rest) =
            uvarint_string(&blob[HEADER..]).ok_or(GoBuildInfoError::VersionCutShort)?;
        let (modinfo, _) = uvarint_string(rest).ok_or(GoBuildInfoError::ModuleInfoCutShort)?;
        (version.to_vec(), modinfo.to_vec())
    } else {
        if ptr_size != 4 && ptr_size != 8 {
            return Err(GoBuildInfoError::PointerSize(ptr_size));
        }
        let big = flags & FLAG_BIG_ENDIAN != 0;
        let memory = Memory { file, data };
        let ptr = |b: &[u8]| read_uint(b, ptr_size, big);
        let version_at = ptr(&blob[16..]).ok_or(GoBuildInfoError::PointersCutShort)?;
        let modinfo_at = ptr(&blob[16 + ptr_size..]).ok_or(GoBuildInfoError::PointersCutShort)?;
        (
            memory.go_string(version_at, ptr_size, big)?,
            memory.go_string(modinfo_at, ptr_size, big)?,
        )
    };
    let version = String::from_utf8_lossy(&version).into_owned();
    // The module text is framed by two 16-byte sentinels.
    let modinfo = if modinfo.len() >= 33 && modinfo[modinfo.len() - 17] == b'\n' {
        String::from_utf8_lossy(&modinfo[16..modinfo.len() - 16]).into_owned()
    } else {
        String::new()
    };
    Ok(Some(parse_modinfo(version, &modinfo)))
}

/// Where Go puts the header: its own section (Go 1.18+ on ELF and Mach-O),
/// else 16-byte aligned in the first 64 KiB of writable data, as
/// `debug/buildinfo` searches. Read-only data is never searched: a program
/// that merely mentions the magic string is not a Go binary.
fn locate<'a>(file: &object::File<'a>) -> Option<&'a [u8]> {
    let named = file
        .sections()
        .find(|s| matches!(s.name(), Ok(".go.buildinfo") | Ok("__go_buildinfo")));
    if let Some(data) = named.and_then(|s| s.data().ok()) {
        return data.starts_with(MAGIC).then_some(data);
    }
    file.sections()
        .filter(|s| s.kind() == SectionKind::Data)
        .find_map(|section| {
            let data = section.data().ok()?;
            let window = &data[..data.len().min(64 << 10)];
            let offset = memmem::find_iter(window, MAGIC).find(|o| o % 16 == 0)?;
            Some(&data[offset..])
        })
}

fn uvarint_string(data: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut len: u64 = 0;
    for (i, byte) in data.iter().enumerate().take(10) {
        len |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            let start = i + 1;
            let end = start.checked_add(usize::try_from(len).ok()?)?;
            return (end <= data.len()).then(|| (&data[start..end], &data[end..]));
        }
    }
    None
}

fn read_uint(bytes: &[u8], size: usize, big: bool) -> Option<u64> {
    let bytes = bytes.get(..size)?;
    let fold = |acc: u64, b: &u8| (acc << 8) | u64::from(*b);
    Some(if big {
        bytes.iter().fold(0, fold)
    } else {
        bytes.iter().rev().fold(0, fold)
    })
}

/// Reads by virtual address, through the file's segments.
struct Memory<'a, 'f> {
    file: &'f object::File<'a>,
    data: &'a [u8],
}

impl Memory<'_, '_> {
    fn at(&self, address: u64, len: u64) -> Result<&[u8], GoBuildInfoError> {
        for segment in self.file.segments() {
            let (start, size) = (segment.address(), segment.size());
            let (offset, file_size) = segment.file_range();
            if address >= start
                && address.saturating_add(len) <= start.saturating_add(size.min(file_size))
            {
                let from = usize::try_from(offset + (address - start))
                    .map_err(|_| GoBuildInfoError::AddressOutOfRange)?;
                let to = from
                    .checked_add(
                        usize::try_from(len).map_err(|_| GoBuildInfoError::LengthOutOfRange)?,
                    )
                    .ok_or(GoBuildInfoError::LengthOutOfRange)?;
                return self
                    .data
                    .get(from..to)
                    .ok_or(GoBuildInfoError::BeyondFile(address));
            }
        }
        Err(GoBuildInfoError::Unmapped(address))
    }

    fn go_string(
        &self,
        address: u64,
        ptr_size: usize,
        big: bool,
    ) -> Result<Vec<u8>, GoBuildInfoError> {
        let header = self.at(address, 2 * ptr_size as u64)?;
        let data =
            read_uint(header, ptr_size, big).ok_or(GoBuildInfoError::StringHeaderCutShort)?;
        let len = read_uint(&header[ptr_size..], ptr_size, big)
            .ok_or(GoBuildInfoError::StringHeaderCutShort)?;
        if len > self.data.len() as u64 {
            return Err(GoBuildInfoError::StringTooLong {
                len,
                file_size: self.data.len(),
            });
        }
        Ok(self.at(data, len)?.to_vec())
    }
}

/// Parses `go version -m`'s lines: `path`, `mod`, `dep`, `=>` and `build`.
pub fn parse_modinfo(go_version: String, text: &str) -> GoBuildInfo {
    let mut info = GoBuildInfo {
        go_version,
        ..Default::default()
    };
    let module = |fields: &[&str]| Module {
        path: fields.first().unwrap_or(&"").to_string(),
        version: fields.get(1).unwrap_or(&"").to_string(),
        sum: fields.get(2).unwrap_or(&"").to_string(),
        replace: None,
    };
    let mut last_was_main = false;
    for line in text.lines() {
        let (kind, rest) = line.split_once('\t').unwrap_or((line, ""));
        let fields: Vec<&str> = rest.split('\t').collect();
        match kind {
            "path" => info.path = rest.to_string(),
            "mod" => {
                info.main = module(&fields);
                last_was_main = true;
                continue;
            }
            "dep" => info.deps.push(module(&fields)),
            "=>" => {
                let replacement = Some(Box::new(module(&fields)));
                match (last_was_main, info.deps.last_mut()) {
                    (true, _) => info.main.replace = replacement,
                    (false, Some(dep)) => dep.replace = replacement,
                    (false, None) => {}
                }
            }
            "build" => {
                let (key, value) = split_setting(rest);
                info.settings.insert(key, value);
            }
            _ => {}
        }
        last_was_main = false;
    }
    info
}

/// `key=value`, where either side may be a Go-quoted string.
fn split_setting(text: &str) -> (String, String) {
    let (key, rest) = if text.starts_with('"') {
        match unquote_prefix(text) {
            Some((key, rest)) => (key, rest),
            None => return (text.to_string(), String::new()),
        }
    } else {
        match text.split_once('=') {
            Some((k, v)) => (k.to_string(), format!("={v}")),
            None => return (text.to_string(), String::new()),
        }
    };
    let value = rest.strip_prefix('=').unwrap_or(&rest);
    let value = if value.starts_with('"') {
        unquote_prefix(value).map_or(value.to_string(), |(v, _)| v)
    } else {
        value.to_string()
    };
    (key, value)
}

/// Unquotes a leading Go string literal, returning it and what follows.
fn unquote_prefix(text: &str) -> Option<(String, String)> {
    let mut out = String::new();
    let mut chars = text.char_indices().skip(1);
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((out, text[i + 1..].to_string())),
            '\\' => {
                let (_, escaped) = chars.next()?;
                match escaped {
                    'n' => out.push('\n'),
                    't' => out.push('\t'),
                    'r' => out.push('\r'),
                    '\\' => out.push('\\'),
                    '"' => out.push('"'),
                    '\'' => out.push('\''),
                    'x' | 'u' | 'U' => {
                        let digits = match escaped {
                            'x' => 2,
                            'u' => 4,
                            _ => 8,
                        };
                        let hex: String = (0..digits)
                            .filter_map(|_| chars.next().map(|(_, c)| c))
                            .collect();
                        out.push(char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?);
                    }
                    other => out.push(other),
                }
            }
            c => out.push(c),
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_module_lines_and_quoted_settings() {
        let text = "path\texample.com/app\nmod\texample.com/app\t(devel)\t\n=>\t../app\t(devel)\t\ndep\tgolang.org/x/sys\tv0.1.0\th1:abc=\n=>\tgolang.org/x/sys\tv0.2.0\th1:def=\nbuild\t-ldflags=\"-s -w -X main.version=1.0\"\nbuild\tCGO_ENABLED=0\nbuild\t\"weird key\"=\"a\\tb\"\nbuild\tvcs.modified=true\n";
        let info = parse_modinfo("go1.22.0".into(), text);
        assert_eq!(info.path, "example.com/app");
        assert_eq!(info.main.replace.as_ref().unwrap().path, "../app");
        assert_eq!(info.deps[0].replace.as_ref().unwrap().version, "v0.2.0");
        assert_eq!(info.settings["-ldflags"], "-s -w -X main.version=1.0");
        assert_eq!(info.settings["CGO_ENABLED"], "0");
        assert_eq!(info.settings["weird key"], "a\tb");
        assert_eq!(info.settings["vcs.modified"], "true");
    }

    #[test]
    fn varints_never_overrun() {
        assert_eq!(uvarint_string(&[0x05, b'a']), None);
        assert_eq!(uvarint_string(&[0xff; 12]), None);
        assert_eq!(
            uvarint_string(&[0x01, b'a', b'b']),
            Some((&b"a"[..], &b"b"[..]))
        );
    }
}
