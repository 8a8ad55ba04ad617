//! The file sets that image formats are stored in: a directory, a tar file, or
//! (in [`super::daemon`]) the Docker Engine's export stream. Formats are written
//! once against [`FileSet`], so `oci:` and `oci-archive:` share one reader, and
//! `docker-archive:` and `docker-daemon:` share another.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Component, Path, PathBuf};

use crate::{Error, Result};

/// Files addressed by their relative, `/`-separated names.
pub trait FileSet: Send + Sync {
    /// Where the files are, for messages.
    fn location(&self) -> String;
    /// Opens one file; a missing file is an error that names it.
    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>>;
    fn size(&self, name: &str) -> Result<u64>;
    fn exists(&self, name: &str) -> bool;
    /// Whether opening a file is cheap (no need to avoid a second look).
    fn random_access(&self) -> bool;

    /// Reads a small metadata file whole, bounded.
    fn read_small(&self, name: &str) -> Result<Vec<u8>> {
        let mut bytes = Vec::new();
        self.open(name)?
            .take(64 << 20)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("{}/{name}", self.location()), e))?;
        Ok(bytes)
    }
}

/// Normalises a name inside a file set: no `..`, no absolute names.
pub fn clean_name(name: &str) -> Option<String> {
    let mut parts = Vec::new();
    for component in Path::new(name).components() {
        match component {
            Component::Normal(p) => parts.push(p.to_str()?),
            Component::CurDir => {}
            Component::ParentDir => {
                parts.pop()?;
            }
            Component::RootDir | Component::Prefix(_) => return None,
        }
    }
    Some(parts.join("/"))
}

pub struct Directory {
    root: PathBuf,
}

impl Directory {
    pub fn open(root: &Path) -> Result<Self> {
        let meta = std::fs::metadata(root).map_err(|e| Error::io(root, e))?;
        if !meta.is_dir() {
            return Err(Error::invalid(format!(
                "{}: not a directory",
                root.display()
            )));
        }
        Ok(Directory {
            root: root.to_path_buf(),
        })
    }

    fn path(&self, name: &str) -> Result<PathBuf> {
        clean_name(name).map(|n| self.root.join(n)).ok_or_else(|| {
            Error::invalid(format!(
                "{}: '{name}' points outside the directory",
                self.root.display()
            ))
        })
    }
}

impl FileSet for Directory {
    fn location(&self) -> String {
        self.root.display().to_string()
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>> {
        let path = self.path(name)?;
        let file = File::open(&path).map_err(|e| Error::io(&path, e))?;
        Ok(Box::new(file))
    }

    fn size(&self, name: &str) -> Result<u64> {
        let path = self.path(name)?;
        Ok(std::fs::metadata(&path)
            .map_err(|e| Error::io(&path, e))?
            .len())
    }

    fn exists(&self, name: &str) -> bool {
        self.path(name).is_ok_and(|p| p.is_file())
    }

    fn random_access(&self) -> bool {
        true
    }
}

/// A tar file indexed once; members are then read in place with a seek.
pub struct TarFile {
    path: PathBuf,
    members: HashMap<String, (u64, u64)>,
}

impl TarFile {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(|e| Error::io(path, e))?;
        let not_tar = |e: std::io::Error| {
            Error::invalid(format!(
                "{}: not a readable tar archive: {e}",
                path.display()
            ))
        };
        let mut archive = tar::Archive::new(crate::HeaderLimit::new(file));
        let mut members = HashMap::new();
        let mut links = Vec::new();
        for entry in archive.entries_with_seek().map_err(not_tar)? {
            let entry = entry.map_err(not_tar)?;
            let name = entry
                .path()
                .map_err(not_tar)?
                .to_string_lossy()
                .into_owned();
            let Some(name) = clean_name(&name) else {
                continue;
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    members.insert(name, (entry.raw_file_position(), entry.size()));
                }
                // `docker save` stores a layer shared by two images once and links the other.
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    if let Some(target) = entry.link_name().map_err(not_tar)? {
                        links.push((
                            name,
                            entry.header().entry_type(),
                            target.to_string_lossy().into_owned(),
                        ));
                    }
                }
                _ => {}
            }
        }
        for (name, kind, target) in links {
            let target = if kind == tar::EntryType::Symlink {
                let dir = name.rsplit_once('/').map_or("", |(d, _)| d);
                clean_name(&format!("{dir}/{target}"))
            } else {
                clean_name(&target)
            };
            if let Some(found) = target.and_then(|t| members.get(&t).copied()) {
                members.insert(name, found);
            }
        }
        Ok(TarFile {
            path: path.to_path_buf(),
            members,
        })
    }

    fn member(&self, name: &str) -> Result<(u64, u64)> {
        clean_name(name)
            .and_then(|n| self.members.get(&n).copied())
            .ok_or_else(|| {
                Error::NotFound(format!(
                    "{}: the archive has no file '{name}'",
                    self.path.display()
                ))
            })
    }
}

impl FileSet for TarFile {
    fn location(&self) -> String {
        self.path.display().to_string()
    }

    fn open(&self, name: &str) -> Result<Box<dyn Read + Send + '_>> {
        let (offset, size) = self.member(name)?;
        let mut file = File::open(&self.path).map_err(|e| Error::io(&self.path, e))?;
        file.seek(SeekFrom::Start(offset))
            .map_err(|e| Error::io(&self.path, e))?;
        Ok(Box::new(file.take(size)))
    }

    fn size(&self, name: &str) -> Result<u64> {
        Ok(self.member(name)?.1)
    }

    fn exists(&self, name: &str) -> bool {
        self.member(name).is_ok()
    }

    fn random_access(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::clean_name;

    #[test]
    fn cleans_names() {
        assert_eq!(
            clean_name("./blobs/sha256/ab").as_deref(),
            Some("blobs/sha256/ab")
        );
        assert_eq!(clean_name("a/../b").as_deref(), Some("b"));
        assert_eq!(clean_name("../x"), None);
        assert_eq!(clean_name("/etc/passwd"), None);
    }
}
