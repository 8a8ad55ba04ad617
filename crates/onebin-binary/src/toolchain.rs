//! What a compiled binary records about how it was built, beyond Go's build
//! information: the compilers that left their stamp in `.comment` (GCC,
//! clang, rustc), the DWARF producers (compiler and flags, `-g` builds),
//! static-pie linking (Rust's `crt-static`, `gcc -static-pie`),
//! cargo-auditable's dependency list (`.dep-v0`), the build directories
//! embedded in strings and debug info, and dates and times in read-only
//! data (`__DATE__`, `__TIME__`). `explain` turns these into verdicts for
//! Rust and C programs, which carry no build information of their own.

use std::collections::BTreeSet;
use std::io::Read;

use object::elf;
use object::read::elf::{Dyn, FileHeader, ProgramHeader};
use object::{Endianness, Object, ObjectSection};
use serde::Serialize;

/// The source language as the compiler stamps tell it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    Go,
    Rust,
    C,
    /// No compiler stamp (a stripped `.comment`, or an unknown toolchain).
    Unknown,
}

#[derive(Clone, Debug, Serialize)]
pub struct Toolchain {
    pub language: Language,
    /// `.comment` entries, sorted: `GCC: (Debian 12.2.0-14) 12.2.0`,
    /// `rustc version 1.95.0 (59807616e 2026-04-14)`, `clang version 16.0.6`.
    pub compilers: Vec<String>,
    /// DWARF producers, sorted: `GNU C17 12.2.0 -mtune=generic -O2 -g`.
    pub producers: Vec<String>,
    /// Position-independent and without an interpreter: relocates itself.
    pub static_pie: bool,
    /// cargo-auditable's list (`.dep-v0`): `name version (source)`, sorted;
    /// `None` when the binary has no such section.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rust_deps: Option<Vec<String>>,
    /// Directories of the build machine found in strings and debug info:
    /// the project's directory, Cargo's registry (`~/.cargo/registry`),
    /// DWARF's compilation directories. Sorted, at most `MAX_PATHS`.
    pub paths: Vec<String>,
    /// Dates and times in read-only data (`Dec  2 2026`, `15:12:01`): what
    /// `__DATE__` and `__TIME__` leave, so the build's clock is in the binary.
    pub timestamps: Vec<String>,
}

const MAX_PATHS: usize = 32;
/// `DT_FLAGS_1`'s PIE bit (ELF gABI).
const DF_1_PIE: u64 = 0x0800_0000;
const MAX_TIMESTAMPS: usize = 16;
/// The most a `.dep-v0` may inflate to: cargo-auditable's own limit is 8 MiB.
const MAX_DEP_JSON: u64 = 8 << 20;

/// Sections whose strings are searched for build paths and times.
const STRING_SECTIONS: &[&str] = &[
    ".rodata",
    ".debug_str",
    ".debug_line_str",
    ".debug_line",
    "__cstring",
    "__const",
    ".rdata",
];
/// Go keeps its source file names in the pc-line table; its read-only data
/// (often megabytes of embedded assets) is left alone.
const GO_STRING_SECTIONS: &[&str] = &[".gopclntab", "__gopclntab"];

pub fn read(file: &object::File, data: &[u8], is_go: bool) -> Toolchain {
    let comment = section_bytes(file, ".comment");
    let compilers: Vec<String> = strings(&comment, 4)
        .into_iter()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let debug_str = section_bytes(file, ".debug_str");
    let producers: Vec<String> = strings(&debug_str, 6)
        .into_iter()
        .filter(|s| is_producer(s))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let language = if is_go {
        Language::Go
    } else if compilers
        .iter()
        .chain(&producers)
        .any(|c| c.contains("rustc version"))
    {
        Language::Rust
    } else if compilers
        .iter()
        .chain(&producers)
        .any(|c| c.starts_with("GCC:") || c.starts_with("GNU C") || c.contains("clang"))
    {
        Language::C
    } else {
        Language::Unknown
    };
    let mut paths = BTreeSet::new();
    let mut timestamps = BTreeSet::new();
    let sections = if is_go {
        GO_STRING_SECTIONS
    } else {
        STRING_SECTIONS
    };
    for name in sections {
        let bytes = section_bytes(file, name);
        for s in strings(&bytes, 4) {
            paths.extend(path_roots(&s));
            if (*name == ".rodata" || *name == "__cstring" || *name == ".rdata") && is_timestamp(&s)
            {
                timestamps.insert(s);
            }
        }
    }
    Toolchain {
        language,
        compilers,
        producers,
        static_pie: static_pie(file, data),
        rust_deps: rust_deps(file),
        paths: paths.into_iter().take(MAX_PATHS).collect(),
        timestamps: timestamps.into_iter().take(MAX_TIMESTAMPS).collect(),
    }
}

fn section_bytes(file: &object::File, name: &str) -> Vec<u8> {
    file.section_by_name(name)
        .and_then(|s| s.uncompressed_data().ok())
        .map(|d| d.into_owned())
        .unwrap_or_default()
}

/// NUL- or control-separated printable runs of at least `min` bytes.
fn strings(bytes: &[u8], min: usize) -> Vec<String> {
    bytes
        .split(|b| !(b' '..=b'~').contains(b) && *b != b'\t')
        .filter(|s| s.len() >= min)
        .map(|s| String::from_utf8_lossy(s).into_owned())
        .collect()
}

/// DW_AT_producer strings as GCC, clang and rustc write them.
fn is_producer(s: &str) -> bool {
    let mut words = s.split_whitespace();
    words.next() == Some("GNU")
        && words
            .take(2)
            .any(|w| w.starts_with(|c: char| c.is_ascii_digit()) && w.contains('.'))
        || s.starts_with("clang version ")
        || s.starts_with("clang LLVM (rustc version ")
}

/// Where a build-machine path can start inside a longer string: Rust
/// concatenates its string constants without separators, so a panic
/// location's file name follows the message before it.
const PATH_STARTS: &[&str] = &[
    "/home/",
    "/root/",
    "/tmp/",
    "/build/",
    "/builds/",
    "/work/",
    "/workspace/",
    "/Users/",
    "/github/",
    "/runner/",
    "/mnt/",
    "/srv/",
];

/// The build-machine directories the absolute paths in `s` reveal: paths
/// start at the string's start, after a separator, or (inside a word) at a
/// well-known root such as `/home/`.
fn path_roots(s: &str) -> Vec<String> {
    let bytes = s.as_bytes();
    let mut roots = Vec::new();
    let mut at = 0;
    while let Some(found) = s[at..].find('/') {
        let start = at + found;
        let boundary = start == 0
            || !(bytes[start - 1].is_ascii_alphanumeric()
                || b"._-+@~/".contains(&bytes[start - 1]));
        let rest = &s[start..];
        let end = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || "/._-+@~".contains(c)))
            .unwrap_or(rest.len());
        if boundary || PATH_STARTS.iter().any(|p| rest.starts_with(p)) {
            if let Some(root) = path_root(&rest[..end]) {
                if !roots.contains(&root) {
                    roots.push(root);
                }
            }
            at = start + end.max(1);
        } else {
            at = start + 1;
        }
    }
    roots
}

/// The build-machine directory an absolute path reveals, or `None` for
/// paths that belong to the toolchain or the system (`/usr/include`,
/// `/rustc/HASH/library`), which the compiler version already covers.
fn path_root(path: &str) -> Option<String> {
    if path.len() < 6
        || path.contains("//")
        || path.contains("/../")
        || path.contains("/./")
        || path.matches('/').count() < 2
    {
        return None;
    }
    const SYSTEM: &[&str] = &[
        "/usr/",
        "/lib/",
        "/lib64/",
        "/etc/",
        "/proc/",
        "/sys/",
        "/dev/",
        "/bin/",
        "/sbin/",
        "/rustc/",
        "/var/",
        "/run/",
        "/opt/",
        "/nix/store/",
        // Where the Rust project builds its releases (std's own dependencies).
        "/rust/deps/",
        "/checkout/",
    ];
    if SYSTEM.iter().any(|p| path.starts_with(p)) {
        return None;
    }
    // Cargo's registry: the home it sits in is the build machine's.
    for marker in ["/.cargo/registry", "/.cargo/git", "/pkg/mod"] {
        if let Some(at) = path.find(&format!("{marker}/")) {
            return Some(path[..at + marker.len()].to_string());
        }
    }
    // A source file: the project's directory is where its `src/` starts.
    if let Some(at) = path.rfind("/src/") {
        if at > 0 {
            return Some(path[..at].to_string());
        }
    }
    let is_source = [".rs", ".c", ".h", ".cc", ".cpp", ".go", ".S", ".s"]
        .iter()
        .any(|ext| path.ends_with(ext));
    if is_source {
        return path
            .rsplit_once('/')
            .map(|(dir, _)| dir.to_string())
            .filter(|dir| dir.matches('/').count() >= 2);
    }
    // A directory (DWARF's DW_AT_comp_dir), kept whole.
    (!path.ends_with('/')).then(|| path.to_string())
}

/// `__DATE__` (`Dec  2 2026`), `__TIME__` (`15:12:01`), `__TIMESTAMP__`
/// (`Wed Dec  2 15:12:01 2026`) and ISO dates (`2026-12-02`), alone in
/// their string or at its start or end.
fn is_timestamp(s: &str) -> bool {
    const MONTHS: &[&str] = &[
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let words: Vec<&str> = s.split_whitespace().collect();
    let is_time = |w: &str| {
        let b = w.as_bytes();
        b.len() == 8
            && b[2] == b':'
            && b[5] == b':'
            && [0, 1, 3, 4, 6, 7].iter().all(|i| b[*i].is_ascii_digit())
    };
    let is_year = |w: &str| {
        w.len() == 4 && w.bytes().all(|b| b.is_ascii_digit()) && w.starts_with(['1', '2'])
    };
    let is_day = |w: &str| (1..=2).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_digit());
    let is_iso = |w: &str| {
        let b = w.as_bytes();
        b.len() >= 10
            && b[4] == b'-'
            && b[7] == b'-'
            && [0, 1, 2, 3, 5, 6, 8, 9]
                .iter()
                .all(|i| b[*i].is_ascii_digit())
    };
    words.iter().any(|w| is_time(w))
        || words
            .windows(3)
            .any(|w| MONTHS.contains(&w[0]) && is_day(w[1]) && is_year(w[2]))
        || words.iter().any(|w| is_iso(w))
}

/// ET_DYN without PT_INTERP: a static-pie executable (Rust's `crt-static`,
/// `gcc -static-pie`), which relocates itself at start.
fn static_pie(file: &object::File, data: &[u8]) -> bool {
    if file.format() != object::BinaryFormat::Elf {
        return false;
    }
    if file.is_64() {
        elf_static_pie::<elf::FileHeader64<Endianness>>(data)
    } else {
        elf_static_pie::<elf::FileHeader32<Endianness>>(data)
    }
    .unwrap_or(false)
}

fn elf_static_pie<H: FileHeader<Endian = Endianness>>(data: &[u8]) -> Option<bool> {
    let header = H::parse(data).ok()?;
    let endian = header.endian().ok()?;
    if header.e_type(endian) != elf::ET_DYN {
        return Some(false);
    }
    let segments = header.program_headers(endian, data).ok()?;
    if segments.iter().any(|s| s.p_type(endian) == elf::PT_INTERP) {
        return Some(false);
    }
    // A shared library is ET_DYN without an interpreter too; an executable
    // says so in DT_FLAGS_1 (PIE), as glibc's and musl's static-pie start files do.
    let sections = header.sections(endian, data).ok()?;
    let (entries, _) = sections.dynamic(endian, data).ok()??;
    Some(entries.iter().any(|d| {
        d.tag(endian) == elf::DT_FLAGS_1 && Into::<u64>::into(d.val(endian)) & DF_1_PIE != 0
    }))
}

/// cargo-auditable's `.dep-v0`: zlib-compressed JSON,
/// `{"packages":[{"name","version","source","kind"?,"dependencies"?,"root"?}]}`.
fn rust_deps(file: &object::File) -> Option<Vec<String>> {
    let section = file
        .sections()
        .find(|s| matches!(s.name(), Ok(".dep-v0") | Ok("__dep_v0") | Ok(".dep-v0\0")))?;
    let compressed = section.data().ok()?;
    let mut json = Vec::new();
    flate2::read::ZlibDecoder::new(compressed)
        .take(MAX_DEP_JSON)
        .read_to_end(&mut json)
        .ok()?;
    let value: serde_json::Value = serde_json::from_slice(&json).ok()?;
    let mut deps: Vec<String> = value
        .get("packages")?
        .as_array()?
        .iter()
        .filter_map(|p| {
            let name = p.get("name")?.as_str()?;
            let version = p.get("version")?.as_str()?;
            let source = p.get("source").and_then(|s| s.as_str()).unwrap_or("?");
            let root = if p.get("root").and_then(|r| r.as_bool()) == Some(true) {
                ", root"
            } else {
                ""
            };
            Some(format!("{name} {version} ({source}{root})"))
        })
        .collect();
    deps.sort();
    deps.dedup();
    Some(deps)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_roots_name_the_build_machine_not_the_toolchain() {
        assert_eq!(
            path_root("/home/ci/.cargo/registry/src/index.crates.io-1949cf8c6b5b557f/serde-1.0.0/src/de.rs").as_deref(),
            Some("/home/ci/.cargo/registry")
        );
        assert_eq!(
            path_root("/tmp/build.x1/app/src/main.rs").as_deref(),
            Some("/tmp/build.x1/app")
        );
        assert_eq!(path_root("/tmp/b/hello.c").as_deref(), Some("/tmp/b"));
        assert_eq!(path_root("/work/b1/proj").as_deref(), Some("/work/b1/proj"));
        assert_eq!(path_root("/rustc/59807616e/library/core/src/fmt.rs"), None);
        assert_eq!(path_root("/usr/include/stdio.h"), None);
        assert_eq!(path_root("a/b"), None);
        assert_eq!(path_roots("http://x/y"), Vec::<String>::new());
        assert_eq!(
            path_roots("runtime/internal/atomic.Uint64"),
            Vec::<String>::new()
        );
        assert_eq!(
            path_roots("on a `None` value/home/u/app/src/main.rs"),
            ["/home/u/app"]
        );
    }

    #[test]
    fn timestamps_are_what_date_and_time_macros_write() {
        assert!(is_timestamp("Dec  2 2026"));
        assert!(is_timestamp("built Dec  2 2026 15:12:01"));
        assert!(is_timestamp("15:12:01"));
        assert!(is_timestamp("2026-12-02"));
        assert!(!is_timestamp("hello world"));
        assert!(!is_timestamp("1.2.3 12:34"));
    }
}
