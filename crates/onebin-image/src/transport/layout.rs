//! OCI image layouts (`oci:DIR[:TAG]`, `oci-archive:FILE[:TAG]`): `oci-layout`,
//! `index.json` and `blobs/<alg>/<hex>`.

use std::io::{BufWriter, Cursor, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use super::files::{Directory, FileSet, TarFile};
use super::{unexpected_reference, WriteReport};
use crate::digest::{ensure_supported, sha256_digest};
use crate::mutate::{canonical_json, Blob, OCI_INDEX};
use crate::options::WriteOptions;
use crate::write::WriteSet;
use crate::{Error, ImageReference, ImageSource, Options, Result};

const REF_NAME: &str = "org.opencontainers.image.ref.name";

pub struct LayoutSource<F> {
    files: F,
    name: String,
    root: Descriptor,
    /// `index.json` is not a blob, but when it is the root (several platforms
    /// listed directly in it) it is served like one, under its own digest.
    index_json: Vec<u8>,
}

impl<F: FileSet> LayoutSource<F> {
    pub fn open(files: F, tag: Option<String>, name: String) -> Result<Self> {
        let at = files.location();
        if !files.exists("oci-layout") {
            return Err(Error::invalid(format!(
                "{at}: not an OCI image layout (no oci-layout file)"
            )));
        }
        if !files.exists("index.json") {
            return Err(Error::invalid(format!(
                "{at}: OCI image layout without index.json"
            )));
        }
        let index_json = files.read_small("index.json")?;
        let index: ImageIndex = serde_json::from_slice(&index_json).map_err(|e| {
            Error::invalid(format!("{at}/index.json: not a valid image index: {e}"))
        })?;
        let root = select_root(&index, &index_json, tag.as_deref(), &at)?;
        Ok(LayoutSource {
            files,
            name,
            root,
            index_json,
        })
    }
}

fn select_root(
    index: &ImageIndex,
    index_json: &[u8],
    tag: Option<&str>,
    at: &str,
) -> Result<Descriptor> {
    let ref_name = |d: &Descriptor| {
        d.annotations()
            .as_ref()
            .and_then(|a| a.get(REF_NAME).cloned())
    };
    let entries = index.manifests();
    if let Some(tag) = tag {
        return entries
            .iter()
            .find(|d| ref_name(d).as_deref() == Some(tag))
            .cloned()
            .ok_or_else(|| {
                let tags: Vec<String> = entries.iter().filter_map(ref_name).collect();
                Error::NotFound(format!(
                    "{at}: no image tagged '{tag}' (tags: {})",
                    list_or_none(&tags)
                ))
            });
    }
    match entries.as_slice() {
        [] => Err(Error::invalid(format!("{at}/index.json lists no images"))),
        [only] => Ok(only.clone()),
        _ => {
            let tags: Vec<String> = entries.iter().filter_map(ref_name).collect();
            let mut unique = tags.clone();
            unique.sort();
            unique.dedup();
            if unique.len() > 1 {
                return Err(Error::invalid(format!(
                    "{at}: holds several images (tags: {}); name one as oci:DIR:TAG",
                    tags.join(", ")
                )));
            }
            // One image for several platforms, listed directly in index.json.
            let root = Descriptor::new(
                MediaType::ImageIndex,
                index_json.len() as u64,
                sha256_digest(index_json),
            );
            Ok(root)
        }
    }
}

fn list_or_none(items: &[String]) -> String {
    if items.is_empty() {
        "none".into()
    } else {
        items.join(", ")
    }
}

impl<F: FileSet> ImageSource for LayoutSource<F> {
    fn name(&self) -> String {
        self.name.clone()
    }

    fn root(&self) -> Result<Descriptor> {
        Ok(self.root.clone())
    }

    fn open_raw(&self, descriptor: &Descriptor) -> Result<Box<dyn Read + Send + '_>> {
        let digest = descriptor.digest();
        ensure_supported(digest)?;
        if *digest == sha256_digest(&self.index_json) {
            return Ok(Box::new(Cursor::new(self.index_json.clone())));
        }
        let path = format!("blobs/{}/{}", digest.algorithm(), digest.digest());
        if !self.files.exists(&path) {
            return Err(Error::NotFound(format!(
                "{}: blob {digest} ({}) is missing ({path})",
                self.files.location(),
                descriptor.media_type()
            )));
        }
        self.files.open(&path)
    }
}

/// `oci:DIR[:TAG]` or `oci-archive:FILE[:TAG]`.
pub(super) fn open(reference: &ImageReference, _: &Options) -> Result<Box<dyn ImageSource>> {
    let name = reference.to_string();
    match reference {
        ImageReference::OciLayout { dir, tag } => Ok(Box::new(LayoutSource::open(
            Directory::open(dir)?,
            tag.clone(),
            name,
        )?)),
        ImageReference::OciArchive { file, tag } => Ok(Box::new(LayoutSource::open(
            TarFile::open(file)?,
            tag.clone(),
            name,
        )?)),
        other => Err(unexpected_reference(other, "oci: or oci-archive:")),
    }
}

/// Writes a layout directory or archive; every platform reads back from it.
pub(super) fn write(
    reference: &ImageReference,
    set: &WriteSet,
    _: &WriteOptions,
) -> Result<WriteReport> {
    match reference {
        ImageReference::OciLayout { dir, tag } => write_dir(dir, tag.as_deref(), set)?,
        ImageReference::OciArchive { file, tag } => write_archive(file, tag.as_deref(), set)?,
        other => return Err(unexpected_reference(other, "oci: or oci-archive:")),
    }
    Ok(WriteReport {
        readback: WriteReport::every_platform(set, reference),
        push: None,
    })
}

/// Writes the set into an OCI layout directory. A new directory is built
/// beside its final name and renamed into place; into an existing layout, blobs
/// are added (each atomically) and `index.json` is replaced last, atomically.
fn write_dir(dir: &Path, tag: Option<&str>, set: &WriteSet) -> Result<()> {
    let staging = if dir.exists() {
        if !dir.join("oci-layout").is_file()
            && std::fs::read_dir(dir)
                .map_err(|e| Error::io(dir, e))?
                .next()
                .is_some()
        {
            return Err(Error::invalid(format!(
                "{}: exists and is not an OCI image layout",
                dir.display()
            )));
        }
        None
    } else {
        let parent = dir
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(parent).map_err(|e| Error::io(parent, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(".onebin-layout-")
            .tempdir_in(parent)
            .map_err(|e| Error::io(parent, e))?;
        Some(tmp)
    };
    let target: &Path = staging.as_ref().map_or(dir, |s| s.path());
    let blobs = target.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| Error::io(&blobs, e))?;
    write_file_atomic(&target.join("oci-layout"), LAYOUT_FILE.as_bytes())?;
    let missing: Vec<&Blob> = set
        .blobs()
        .into_iter()
        .filter(|b| !blobs.join(b.descriptor.digest().digest()).is_file())
        .collect();
    // A base in a registry is fetched over the network: several blobs at once, at most four.
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        let workers: Vec<_> = (0..missing.len().min(4))
            .map(|_| {
                scope.spawn(|| -> Result<()> {
                    while let Some(blob) = missing.get(next.fetch_add(1, Ordering::Relaxed)) {
                        write_blob(set, blob, &blobs)?;
                    }
                    Ok(())
                })
            })
            .collect();
        workers.into_iter().try_for_each(|w| {
            w.join()
                .unwrap_or_else(|_| Err(Error::invalid("a blob writer panicked")))
        })
    })?;
    let existing = std::fs::read(target.join("index.json")).ok();
    let index = updated_index_json(existing.as_deref(), set, tag)?;
    write_file_atomic(&target.join("index.json"), &index)?;
    if let Some(staging) = staging {
        let staged = staging.keep();
        std::fs::rename(&staged, dir).map_err(|e| {
            let _ = std::fs::remove_dir_all(&staged);
            Error::io(dir, e)
        })?;
    }
    Ok(())
}

/// Writes one blob under `blobs/sha256`, through a temporary file.
fn write_blob(set: &WriteSet, blob: &Blob, blobs: &Path) -> Result<()> {
    let path = blobs.join(blob.descriptor.digest().digest());
    let mut tmp = tempfile::NamedTempFile::new_in(blobs).map_err(|e| Error::io(blobs, e))?;
    let mut writer = BufWriter::with_capacity(1 << 20, tmp.as_file_mut());
    set.copy(blob, &mut writer)?;
    // Flushed here, not on drop, where a failed write would go unnoticed.
    writer.flush().map_err(|e| Error::io(&path, e))?;
    drop(writer);
    tmp.persist(&path).map_err(|e| Error::io(&path, e.error))?;
    Ok(())
}

/// Writes the set as an OCI layout inside a tar file (`oci-archive:`),
/// through a temporary file renamed into place.
fn write_archive(file: &Path, tag: Option<&str>, set: &WriteSet) -> Result<()> {
    let index = updated_index_json(None, set, tag)?;
    let mut members: Vec<(String, Member)> = vec![
        (
            "oci-layout".into(),
            Member::Bytes(LAYOUT_FILE.as_bytes().to_vec()),
        ),
        ("index.json".into(), Member::Bytes(index)),
    ];
    for blob in set.blobs() {
        members.push((
            format!("blobs/sha256/{}", blob.descriptor.digest().digest()),
            Member::Blob(blob),
        ));
    }
    write_tar_atomic(file, &["blobs", "blobs/sha256"], &members, set)
}

const LAYOUT_FILE: &str = r#"{"imageLayoutVersion":"1.0.0"}"#;

/// `index.json` with the set's index as the entry for `tag`, replacing the
/// entry that had that tag (or, untagged, the untagged entries).
fn updated_index_json(
    existing: Option<&[u8]>,
    set: &WriteSet,
    tag: Option<&str>,
) -> Result<Vec<u8>> {
    let mut index: serde_json::Value = match existing {
        Some(bytes) => {
            serde_json::from_slice(bytes).map_err(|e| Error::invalid(format!("index.json: {e}")))?
        }
        None => serde_json::json!({"schemaVersion": 2, "manifests": []}),
    };
    let entries = index["manifests"]
        .as_array_mut()
        .ok_or_else(|| Error::invalid("index.json has no manifests"))?;
    entries.retain(|e| e["annotations"][REF_NAME].as_str() != tag);
    let mut root = serde_json::json!({
        "mediaType": set.index.descriptor.media_type().to_string(),
        "digest": set.index.descriptor.digest().to_string(),
        "size": set.index.descriptor.size(),
    });
    if let Some(tag) = tag {
        root["annotations"] = serde_json::json!({ REF_NAME: tag });
    }
    entries.push(root);
    index["mediaType"] = serde_json::json!(OCI_INDEX);
    Ok(canonical_json(&index))
}

/// A member of an archive being written.
pub(crate) enum Member<'a> {
    Bytes(Vec<u8>),
    Blob(&'a Blob),
}

/// Writes a tar of `dirs` and `members` (in that order, with fixed owners,
/// modes and times) to a temporary file beside `file`, then renames it.
pub(crate) fn write_tar_atomic(
    file: &Path,
    dirs: &[&str],
    members: &[(String, Member)],
    set: &WriteSet,
) -> Result<()> {
    let parent = file
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".onebin-")
        .suffix(".part")
        .tempfile_in(parent)
        .map_err(|e| Error::io(parent, e))?;
    let failed = |e: std::io::Error| Error::io(file, e);
    let mut tar = tar::Builder::new(BufWriter::with_capacity(1 << 20, tmp));
    for dir in dirs {
        let mut header = fixed_header(tar::EntryType::Directory, 0o755, 0);
        tar.append_data(&mut header, dir, std::io::empty())
            .map_err(failed)?;
    }
    for (name, member) in members {
        let size = match member {
            Member::Bytes(b) => b.len() as u64,
            Member::Blob(b) => b.descriptor.size(),
        };
        let mut header = fixed_header(tar::EntryType::Regular, 0o644, size);
        header.set_path(name).map_err(failed)?;
        header.set_cksum();
        match member {
            Member::Bytes(bytes) => tar.append(&header, bytes.as_slice()).map_err(failed)?,
            Member::Blob(blob) => tar.append(&header, set.open(blob)?).map_err(failed)?,
        }
    }
    let writer = tar.into_inner().map_err(failed)?;
    let tmp = writer.into_inner().map_err(|e| failed(e.into_error()))?;
    tmp.persist(file).map_err(|e| Error::io(file, e.error))?;
    Ok(())
}

fn fixed_header(kind: tar::EntryType, mode: u32, size: u64) -> tar::Header {
    let mut header = tar::Header::new_ustar();
    header.set_entry_type(kind);
    header.set_mode(mode);
    header.set_size(size);
    header.set_mtime(0);
    header.set_uid(0);
    header.set_gid(0);
    header
}

fn write_file_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut tmp = tempfile::NamedTempFile::new_in(dir).map_err(|e| Error::io(dir, e))?;
    tmp.write_all(bytes).map_err(|e| Error::io(path, e))?;
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .map_err(|e| Error::io(path, e))?;
    tmp.persist(path).map_err(|e| Error::io(path, e.error))?;
    Ok(())
}
