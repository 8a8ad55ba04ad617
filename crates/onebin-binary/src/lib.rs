//! Binaries and their facts, read without running them: format, machine, OS,
//! linkage, libc, build IDs, symbols, sections and Go build information.
//! `package` uses them to refuse a binary it cannot ship; `explain` compares
//! two of them and says why they differ.

pub mod error;
pub mod explain;
pub mod go;
pub mod toolchain;

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use memchr::memmem;
use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{Architecture, BinaryFormat, Endianness, Object, ObjectSection};
use onebin_image::Platform;
use serde::{Serialize, Serializer};

pub use error::{Error, GoBuildInfoError, ParseError};
pub use go::{GoBuildInfo, Module};

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Elf,
    Pe,
    MachO,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Linkage {
    Static,
    Dynamic,
}

/// The two C libraries Linux binaries are built against; `onebin-audit`
/// names a toolchain's libc with the same type.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Libc {
    Glibc,
    Musl,
}

impl Libc {
    pub fn as_str(self) -> &'static str {
        match self {
            Libc::Glibc => "glibc",
            Libc::Musl => "musl",
        }
    }
}

impl fmt::Display for Libc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a binary's headers say about its C library. Shown and serialised as
/// one word (`glibc`, `musl`, `none`, `not applicable`, `unknown`), the form
/// `explain` compares and `--json` prints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkedLibc {
    Linked(Libc),
    /// A static Go binary without cgo: no C library at all.
    None,
    /// PE and Mach-O: the question is one about Linux binaries.
    NotApplicable,
    /// ELF that names no C library onebin knows.
    Unknown,
}

impl LinkedLibc {
    pub fn as_str(self) -> &'static str {
        match self {
            LinkedLibc::Linked(libc) => libc.as_str(),
            LinkedLibc::None => "none",
            LinkedLibc::NotApplicable => "not applicable",
            LinkedLibc::Unknown => "unknown",
        }
    }
}

impl fmt::Display for LinkedLibc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Serialize for LinkedLibc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.as_str())
    }
}

#[derive(Clone, Debug, Serialize)]
pub struct BinaryFacts {
    pub format: Format,
    /// GOOS-style: linux, windows, darwin, freebsd...
    pub os: String,
    /// GOARCH-style: amd64, arm64, arm, 386...
    pub architecture: String,
    pub bits: u8,
    pub big_endian: bool,
    pub linkage: Linkage,
    /// The ELF program interpreter (`/lib/ld-musl-x86_64.so.1`); `None` when static.
    pub interpreter: Option<String>,
    /// `DT_NEEDED`: the shared libraries it loads.
    pub needed: Vec<String>,
    pub libc: LinkedLibc,
    /// `GLIBC_2.34`…: the glibc symbol versions it requires, sorted.
    pub glibc_versions: Vec<String>,
    pub gnu_build_id: Option<String>,
    pub go_build_id: Option<String>,
    /// Has a symbol table (`-s` strips it).
    pub symbols: bool,
    /// Has DWARF (`-w` strips it).
    pub debug_info: bool,
    pub sections: BTreeMap<String, u64>,
    /// sha256 of the code and read-only data sections: where `-X` values and
    /// code changes show when the build settings do not record them.
    pub content: BTreeMap<String, String>,
    pub go: Option<GoBuildInfo>,
    /// Compilers, static-pie, cargo-auditable's list, build paths, times.
    pub toolchain: toolchain::Toolchain,
}

/// Sections whose bytes are the program itself, in ELF, Mach-O and PE naming.
const CONTENT_SECTIONS: &[&str] = &[".text", ".rodata", "__text", "__rodata", ".rdata"];

impl BinaryFacts {
    pub fn read(path: &Path) -> Result<Self, Error> {
        let data = std::fs::read(path).map_err(|cause| Error::Io {
            path: path.display().to_string(),
            cause,
        })?;
        Self::parse(&data).map_err(|reason| Error::Unrecognised {
            path: path.display().to_string(),
            reason,
        })
    }

    pub fn parse(data: &[u8]) -> Result<Self, ParseError> {
        let file = object::File::parse(data)?;
        let big_endian = file.endianness() == Endianness::Big;
        let architecture = go_arch(file.architecture(), !big_endian)
            .ok_or(ParseError::UnsupportedMachine(file.architecture()))?
            .to_string();
        let (format, os) = match file.format() {
            BinaryFormat::Elf => (Format::Elf, elf_os(data[7]).to_string()),
            BinaryFormat::Pe => (Format::Pe, "windows".to_string()),
            BinaryFormat::MachO => (Format::MachO, "darwin".to_string()),
            other => return Err(ParseError::UnsupportedFormat(other)),
        };
        let dynamic = if format == Format::Elf {
            if file.is_64() {
                elf_dynamic::<elf::FileHeader64<Endianness>>(data)
            } else {
                elf_dynamic::<elf::FileHeader32<Endianness>>(data)
            }?
        } else {
            ElfDynamic::default()
        };
        let mut sections = BTreeMap::new();
        let mut content = BTreeMap::new();
        for section in file.sections() {
            if let Ok(name) = section.name() {
                if !name.is_empty() {
                    let total = sections.entry(name.to_string()).or_insert(0u64);
                    *total = total.saturating_add(section.size());
                }
                if CONTENT_SECTIONS.contains(&name) {
                    if let Ok(bytes) = section.data() {
                        content.insert(
                            name.to_string(),
                            onebin_image::sha256_digest(bytes).digest().to_string(),
                        );
                    }
                }
            }
        }
        let debug_info = sections.keys().any(|n| n.contains("debug_info"));
        let go = go::read(&file, data)?;
        let linkage =
            if dynamic.interpreter.is_some() || !dynamic.needed.is_empty() || format != Format::Elf
            {
                Linkage::Dynamic
            } else {
                Linkage::Static
            };
        let libc = libc_family(&dynamic, &sections, go.as_ref(), format == Format::Elf);
        let toolchain = toolchain::read(&file, data, go.is_some());
        Ok(BinaryFacts {
            format,
            os,
            architecture,
            bits: if file.is_64() { 64 } else { 32 },
            big_endian,
            linkage,
            interpreter: dynamic.interpreter,
            needed: dynamic.needed,
            libc,
            glibc_versions: dynamic.glibc_versions,
            gnu_build_id: file.build_id().ok().flatten().map(hex::encode),
            go_build_id: go_build_id(&file),
            symbols: file.symbols().next().is_some(),
            debug_info,
            sections,
            content,
            go,
            toolchain,
        })
    }

    /// The platform it is for (variants aside: the ELF header does not say
    /// which ARM revision or amd64 level a binary needs).
    pub fn platform(&self) -> Platform {
        Platform::new(&self.os, &self.architecture, None)
    }

    /// Whether a binary of these facts runs on `platform`.
    pub fn runs_on(&self, platform: &Platform) -> bool {
        self.os == platform.os && self.architecture == platform.architecture
    }
}

fn go_arch(arch: Architecture, little: bool) -> Option<&'static str> {
    Some(match arch {
        Architecture::X86_64 => "amd64",
        Architecture::X86_64_X32 => "amd64p32",
        Architecture::I386 => "386",
        Architecture::Aarch64 => "arm64",
        Architecture::Arm => "arm",
        Architecture::Riscv64 => "riscv64",
        Architecture::PowerPc64 if little => "ppc64le",
        Architecture::PowerPc64 => "ppc64",
        Architecture::S390x => "s390x",
        Architecture::Mips64 if little => "mips64le",
        Architecture::Mips64 => "mips64",
        Architecture::Mips if little => "mipsle",
        Architecture::Mips => "mips",
        Architecture::LoongArch64 => "loong64",
        _ => return None,
    })
}

/// ELF's OS/ABI byte; Linux toolchains (Go's included) leave it at 0 (System V).
fn elf_os(osabi: u8) -> &'static str {
    match osabi {
        2 => "netbsd",
        6 => "solaris",
        9 => "freebsd",
        12 => "openbsd",
        _ => "linux",
    }
}

#[derive(Default)]
struct ElfDynamic {
    interpreter: Option<String>,
    needed: Vec<String>,
    glibc_versions: Vec<String>,
}

fn elf_dynamic<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Result<ElfDynamic, ParseError> {
    let header = H::parse(data)?;
    let endian = header.endian()?;
    let mut out = ElfDynamic::default();
    for segment in header.program_headers(endian, data)? {
        if segment.p_type(endian) == elf::PT_INTERP {
            let bytes = segment
                .data(endian, data)
                .map_err(|()| ParseError::InterpreterOutsideFile)?;
            let path = bytes.split(|b| *b == 0).next().unwrap_or_default();
            out.interpreter = Some(String::from_utf8_lossy(path).into_owned());
        }
    }
    let sections = header.sections(endian, data)?;
    if let Ok(Some((entries, strings_index))) = sections.dynamic(endian, data) {
        if let Ok(strings) = sections.strings(endian, data, strings_index) {
            for entry in entries {
                if entry.tag(endian) == elf::DT_NEEDED {
                    if let Ok(name) = entry.string(endian, strings) {
                        out.needed.push(String::from_utf8_lossy(name).into_owned());
                    }
                }
            }
        }
    }
    if let Ok(Some((mut needs, strings_index))) = sections.gnu_verneed(endian, data) {
        if let Ok(strings) = sections.strings(endian, data, strings_index) {
            while let Ok(Some((_, mut aux))) = needs.next() {
                while let Ok(Some(version)) = aux.next() {
                    if let Ok(name) = version.name(endian, strings) {
                        let name = String::from_utf8_lossy(name).into_owned();
                        if name.starts_with("GLIBC_") && !out.glibc_versions.contains(&name) {
                            out.glibc_versions.push(name);
                        }
                    }
                }
            }
        }
    }
    out.glibc_versions.sort_by_key(|v| version_key(v));
    Ok(out)
}

/// `GLIBC_2.17` < `GLIBC_2.34`: compare the numbers, not the text.
fn version_key(version: &str) -> Vec<u64> {
    version
        .trim_start_matches("GLIBC_")
        .split('.')
        .map(|n| n.parse().unwrap_or(0))
        .collect()
}

fn libc_family(
    dynamic: &ElfDynamic,
    sections: &BTreeMap<String, u64>,
    go: Option<&GoBuildInfo>,
    is_elf: bool,
) -> LinkedLibc {
    let is_go = go.is_some();
    let cgo = go.is_some_and(|g| g.settings.get("CGO_ENABLED").is_some_and(|v| v == "1"));
    let interp = dynamic.interpreter.as_deref().unwrap_or("");
    let needs = |prefix: &str| dynamic.needed.iter().any(|n| n.starts_with(prefix));
    if interp.contains("ld-musl") || needs("libc.musl") {
        LinkedLibc::Linked(Libc::Musl)
    } else if interp.contains("ld-linux")
        || interp.contains("ld64.so")
        || needs("libc.so.6")
        || !dynamic.glibc_versions.is_empty()
    {
        LinkedLibc::Linked(Libc::Glibc)
    } else if !is_elf {
        LinkedLibc::NotApplicable
    } else if sections.contains_key(".note.ABI-tag") {
        // glibc's crt1.o brings this note into static glibc binaries.
        LinkedLibc::Linked(Libc::Glibc)
    } else if is_go && dynamic.interpreter.is_none() && !cgo {
        LinkedLibc::None
    } else if is_go && dynamic.interpreter.is_none() {
        // Static cgo without glibc's note: linked against musl (the Alpine way).
        LinkedLibc::Linked(Libc::Musl)
    } else {
        LinkedLibc::Unknown
    }
}

/// Go's own build ID: an ELF note, or a marker at the start of the text.
fn go_build_id(file: &object::File) -> Option<String> {
    if let Some(note) = file
        .section_by_name(".note.go.buildid")
        .and_then(|s| s.data().ok())
    {
        // namesz, descsz, type, then "Go\0\0" and the ID.
        let desc_size = u32::from_le_bytes(note.get(4..8)?.try_into().ok()?) as usize;
        let desc_size = if desc_size > note.len() {
            u32::from_be_bytes(note.get(4..8)?.try_into().ok()?) as usize
        } else {
            desc_size
        };
        return note
            .get(16..16usize.checked_add(desc_size)?)
            .map(|id| String::from_utf8_lossy(id).into_owned());
    }
    // PE and Mach-O: at the very start of the text, as `go tool buildid` reads it.
    const MARKER: &[u8] = b"\xff Go build ID: \"";
    let text = file
        .sections()
        .find(|s| s.kind() == object::SectionKind::Text)?
        .data()
        .ok()?;
    let head = &text[..text.len().min(32 << 10)];
    let start = memmem::find(head, MARKER)? + MARKER.len();
    let end = start + memchr::memchr(b'"', &head[start..])?;
    Some(String::from_utf8_lossy(&head[start..end]).into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_running_test_binary() {
        let me = std::env::current_exe().unwrap();
        let facts = BinaryFacts::read(&me).unwrap();
        assert_eq!(facts.format, Format::Elf);
        assert!(facts.runs_on(&Platform::host()), "{facts:?}");
        assert_eq!(facts.libc, LinkedLibc::Linked(Libc::Glibc));
        assert_eq!(facts.linkage, Linkage::Dynamic);
        assert!(
            facts.needed.iter().any(|n| n.starts_with("libc.so")),
            "{:?}",
            facts.needed
        );
        assert!(!facts.glibc_versions.is_empty());
        assert!(facts.go.is_none());
    }

    #[test]
    fn rejects_junk() {
        assert!(BinaryFacts::parse(b"").is_err());
        assert!(BinaryFacts::parse(&[0u8; 4096]).is_err());
        assert!(BinaryFacts::parse(b"\x7fELF\x02\x01\x01\x00garbage").is_err());
    }
}
