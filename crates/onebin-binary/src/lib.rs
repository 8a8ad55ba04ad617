//! Binaries and their facts, read without running them: the format, the
//! machine and OS a binary is for, and how it is linked. `package` uses them to
//! refuse a binary given for the wrong platform or a base it cannot start on.

use std::path::Path;

use object::elf;
use object::read::elf::{FileHeader, ProgramHeader};
use object::{Architecture, BinaryFormat, Endianness, Object};
use onebin_image::Platform;
use serde::Serialize;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{path}: not an executable onebin can read (ELF, PE or Mach-O): {reason}")]
    Unrecognised { path: String, reason: String },
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    Elf,
    Pe,
    MachO,
}

#[derive(Clone, Debug, Serialize)]
pub struct BinaryFacts {
    pub format: Format,
    /// GOOS-style: linux, windows, darwin, freebsd...
    pub os: String,
    /// GOARCH-style: amd64, arm64, arm, 386...
    pub architecture: String,
    /// The ELF program interpreter (`/lib/ld-musl-x86_64.so.1`); `None` when static.
    pub interpreter: Option<String>,
}

impl BinaryFacts {
    pub fn read(path: &Path) -> Result<Self, Error> {
        let data = std::fs::read(path).map_err(|source| Error::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::parse(&data).map_err(|reason| Error::Unrecognised {
            path: path.display().to_string(),
            reason,
        })
    }

    pub fn parse(data: &[u8]) -> Result<Self, String> {
        let file = object::File::parse(data).map_err(|e| e.to_string())?;
        let little = file.endianness() == Endianness::Little;
        let architecture = go_arch(file.architecture(), little)
            .ok_or_else(|| format!("unsupported machine {:?}", file.architecture()))?
            .to_string();
        let (format, os, interpreter) = match file.format() {
            BinaryFormat::Elf => {
                let os = elf_os(data[7]).to_string();
                let interpreter = if file.is_64() {
                    elf_interpreter::<elf::FileHeader64<Endianness>>(data)
                } else {
                    elf_interpreter::<elf::FileHeader32<Endianness>>(data)
                }?;
                (Format::Elf, os, interpreter)
            }
            BinaryFormat::Pe => (Format::Pe, "windows".to_string(), None),
            BinaryFormat::MachO => (Format::MachO, "darwin".to_string(), None),
            other => {
                return Err(format!(
                    "{other:?} files are not executables onebin packages"
                ))
            }
        };
        Ok(BinaryFacts {
            format,
            os,
            architecture,
            interpreter,
        })
    }

    /// Whether a binary of these facts runs on `platform` (variants aside:
    /// the ELF header does not say which ARM revision a binary needs).
    pub fn runs_on(&self, platform: &Platform) -> bool {
        self.os == platform.os && self.architecture == platform.architecture
    }

    /// The C library the interpreter belongs to, for messages.
    pub fn libc(&self) -> Option<&'static str> {
        let interp = self.interpreter.as_deref()?;
        Some(if interp.contains("ld-musl") {
            "musl"
        } else if interp.contains("ld-linux") || interp.contains("ld64.so") {
            "glibc"
        } else {
            "an unknown libc"
        })
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

fn elf_interpreter<H: FileHeader<Endian = Endianness>>(
    data: &[u8],
) -> Result<Option<String>, String> {
    let header = H::parse(data).map_err(|e| e.to_string())?;
    let endian = header.endian().map_err(|e| e.to_string())?;
    for segment in header
        .program_headers(endian, data)
        .map_err(|e| e.to_string())?
    {
        if segment.p_type(endian) == elf::PT_INTERP {
            let bytes = segment
                .data(endian, data)
                .map_err(|_| "PT_INTERP outside the file".to_string())?;
            let path = bytes.split(|b| *b == 0).next().unwrap_or_default();
            return Ok(Some(String::from_utf8_lossy(path).into_owned()));
        }
    }
    Ok(None)
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
        assert_eq!(facts.libc(), Some("glibc"));
    }

    #[test]
    fn rejects_junk() {
        assert!(BinaryFacts::parse(b"").is_err());
        assert!(BinaryFacts::parse(&[0u8; 4096]).is_err());
        assert!(BinaryFacts::parse(b"\x7fELF\x02\x01\x01\x00garbage").is_err());
    }
}
