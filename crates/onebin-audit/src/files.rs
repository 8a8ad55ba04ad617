//! The project's files as the readers see them: text read defensively (a
//! bad file is a warning, never an error), local globs, and the path
//! arithmetic of CI configs and Dockerfiles.

use std::path::Path;

use crate::model::Warning;
use crate::yaml::{self, Node};

/// Reads a project file as text; a missing, unreadable or binary file is a
/// warning and `None`.
pub fn read_text(root: &Path, rel: &str, warnings: &mut Vec<Warning>) -> Option<String> {
    let warn = |warnings: &mut Vec<Warning>, line: usize, message: String| {
        warnings.push(Warning {
            file: rel.to_string(),
            line,
            message,
        })
    };
    let bytes = match std::fs::read(root.join(rel)) {
        Ok(b) => b,
        Err(e) => {
            warn(warnings, 0, format!("cannot read: {e}"));
            return None;
        }
    };
    if bytes.len() > 8 << 20 {
        warn(
            warnings,
            1,
            "larger than 8 MiB: not a configuration file".into(),
        );
        return None;
    }
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

/// Reads a project file as YAML; what `read_text` refuses, and invalid
/// YAML, is a warning and `None`.
pub fn read_yaml(root: &Path, rel: &str, warnings: &mut Vec<Warning>) -> Option<Node> {
    let text = read_text(root, rel, warnings)?;
    match yaml::parse(&text) {
        Ok(doc) => Some(doc),
        Err(e) => {
            warnings.push(Warning {
                file: rel.to_string(),
                line: e.line,
                message: format!("invalid YAML: {}", e.message),
            });
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
