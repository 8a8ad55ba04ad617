//! The project's files as the readers see them: text read defensively (a
//! bad file is a warning, never an error), local globs, and the path
//! arithmetic of CI configs and Dockerfiles.

use std::path::{Path, PathBuf};

use crate::model::Warning;
use crate::yaml::{self, Node};

/// Files larger than this are not configuration files: they are refused
/// before a byte of them is read.
pub const MAX_FILE: u64 = 8 << 20;

/// The bound on symbolic links followed while resolving one path, as
/// Linux's `MAXSYMLINKS`.
const MAX_LINKS: usize = 40;

/// A path of the repository that leads out of it (`..`, a symbolic link).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outside {
    /// The path as the repository names it.
    pub path: String,
    /// Where it leads.
    pub target: PathBuf,
}

impl std::fmt::Display for Outside {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: leads out of the repository (to {}); refused",
            self.path,
            self.target.display()
        )
    }
}

/// `rel` resolved inside `root`: each component in turn, symbolic links
/// followed as the kernel would, and refused as soon as the path leaves
/// `root` (as `extract` resolves a path inside an image root). Components
/// that do not exist are taken as written. Errors: `root` itself cannot be
/// resolved, or the path leaves it, or loops.
pub fn resolve_inside(root: &Path, rel: &str) -> Result<PathBuf, Outside> {
    let outside = |target: PathBuf| Outside {
        path: rel.to_string(),
        target,
    };
    let top = std::fs::canonicalize(root).map_err(|_| outside(root.to_path_buf()))?;
    let mut cur = top.clone();
    let mut pending: Vec<String> = rel.split('/').rev().map(str::to_string).collect();
    let mut links = 0;
    while let Some(part) = pending.pop() {
        match part.as_str() {
            "" | "." => continue,
            ".." => {
                if cur == top {
                    return Err(outside(top.join("..")));
                }
                cur.pop();
                continue;
            }
            _ => {}
        }
        let next = cur.join(&part);
        let link = std::fs::symlink_metadata(&next)
            .ok()
            .filter(|m| m.file_type().is_symlink())
            .and_then(|_| std::fs::read_link(&next).ok());
        let Some(target) = link else {
            cur = next;
            continue;
        };
        links += 1;
        if links > MAX_LINKS {
            return Err(outside(next));
        }
        let target_text = target.to_string_lossy().into_owned();
        if target.is_absolute() {
            // An absolute link may only point below the repository.
            let lexical = Path::new("/").join(normalize(&target_text));
            let Ok(below) = lexical.strip_prefix(&top) else {
                return Err(outside(target));
            };
            cur = top.clone();
            let below = below.to_string_lossy().into_owned();
            pending.extend(below.split('/').rev().map(str::to_string));
        } else {
            pending.extend(target_text.split('/').rev().map(str::to_string));
        }
    }
    if cur.starts_with(&top) {
        Ok(cur)
    } else {
        Err(outside(cur))
    }
}

/// Reads a project file as text; a missing, unreadable, oversized or binary
/// file is a warning and `None`. A path that leads out of the repository is
/// a warning with `outside` set, which makes the whole audit fail. The size is
/// checked before reading, and no more than the limit is ever read.
pub fn read_text(root: &Path, rel: &str, warnings: &mut Vec<Warning>) -> Option<String> {
    let warn = |warnings: &mut Vec<Warning>, line: usize, message: String| {
        warnings.push(Warning::new(rel.to_string(), line, message))
    };
    let path = match resolve_inside(root, rel) {
        Ok(p) => p,
        Err(o) => {
            warnings.push(Warning {
                file: rel.to_string(),
                line: 0,
                message: o.to_string(),
                outside: Some(o.target),
            });
            return None;
        }
    };
    let bytes = match read_capped(&path) {
        Ok(Some(b)) => b,
        Ok(None) => {
            warn(
                warnings,
                1,
                "larger than 8 MiB, or not a regular file: not a configuration file".into(),
            );
            return None;
        }
        Err(e) => {
            warn(warnings, 0, format!("cannot read: {e}"));
            return None;
        }
    };
    let text = match String::from_utf8(bytes) {
        Ok(t) => t,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let line = 1 + e.as_bytes()[..at].iter().filter(|b| **b == b'\n').count();
            warn(
                warnings,
                line,
                "not UTF-8 text (binary data?); skipped".into(),
            );
            return None;
        }
    };
    if let Some(p) = text.find('\0') {
        let line = 1 + text[..p].matches('\n').count();
        warn(
            warnings,
            line,
            "contains NUL bytes (binary data?); skipped".into(),
        );
        return None;
    }
    Some(text)
}

/// A regular file's bytes, `None` when it is larger than `MAX_FILE` (told
/// by its size, before reading; a file that grows meanwhile is cut off at
/// the limit and refused all the same) or not a regular file (a FIFO would
/// block, a device never end).
fn read_capped(path: &Path) -> std::io::Result<Option<Vec<u8>>> {
    use std::io::Read;
    let regular = |m: &std::fs::Metadata| m.is_file() && m.len() <= MAX_FILE;
    // Asked before opening: opening a FIFO blocks.
    if !regular(&std::fs::metadata(path)?) {
        return Ok(None);
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !regular(&meta) {
        return Ok(None);
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(MAX_FILE + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE).then_some(bytes))
}

/// Reads a project file as YAML; what `read_text` refuses, and invalid
/// YAML, is a warning and `None`.
pub fn read_yaml(root: &Path, rel: &str, warnings: &mut Vec<Warning>) -> Option<Node> {
    let text = read_text(root, rel, warnings)?;
    match yaml::parse(&text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            warnings.push(Warning::new(
                rel.to_string(),
                e.line,
                format!("invalid YAML: {}", e.message),
            ));
            None
        }
    }
}

/// `dir/*.yml`: a `*` in the last component only, as local includes use it.
pub fn glob_files(root: &Path, pattern: &str) -> Vec<String> {
    let pattern = pattern.trim_start_matches('/');
    let (dir, name) = match pattern.rsplit_once('/') {
        Some((d, n)) => (d.to_string(), n),
        None => (String::new(), pattern),
    };
    let Some((pre, post)) = name.split_once('*') else {
        return vec![pattern.to_string()];
    };
    let mut out: Vec<String> = std::fs::read_dir(root.join(&dir))
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(pre) && n.ends_with(post) && n.len() >= pre.len() + post.len())
        .map(|n| {
            if dir.is_empty() {
                n
            } else {
                format!("{dir}/{n}")
            }
        })
        .collect();
    out.sort();
    out
}

/// A project-relative path without `.`, `..` or doubled slashes.
pub fn normalize(path: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for p in path.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// `dist/app_linux_amd64` and `bin/app-linux-arm64.exe` are `app`.
pub fn program_name(p: &str) -> String {
    let name = basename(p);
    let name = name.strip_suffix(".exe").unwrap_or(&name);
    for os in ["linux", "darwin", "windows", "freebsd", "${", "$"] {
        for sep in ['_', '-'] {
            if let Some(i) = name.find(&format!("{sep}{os}")) {
                if i > 0 {
                    return name[..i].to_string();
                }
            }
        }
    }
    name.to_string()
}

/// The last component of a path, which may end in `/`.
pub fn basename(p: &str) -> String {
    p.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(p)
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths() {
        assert_eq!(normalize("./a//b/../c/"), "a/c");
        assert_eq!(program_name("dist/app_linux_amd64"), "app");
        assert_eq!(program_name("bin/app-linux-arm64.exe"), "app");
        assert_eq!(program_name("out/app_${GOOS}"), "app");
        assert_eq!(basename("a/b/"), "b");
    }
}
