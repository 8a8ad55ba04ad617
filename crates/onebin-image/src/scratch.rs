//! Temporary files and directories named after the process that made them
//! (`.onebin-PID-…` beside outputs, `onebin-PID-…` in `$TMPDIR`), so that what
//! a killed run (`kill -9`, an OOM kill) leaves behind is recognised and
//! removed by the next run: an entry whose process is gone is stale.

use std::io;
use std::path::Path;

use tempfile::{NamedTempFile, TempDir};

/// `.onebin-PID-` (hidden, beside outputs) or `onebin-PID-` (in `$TMPDIR`).
fn prefix(hidden: bool) -> String {
    let dot = if hidden { "." } else { "" };
    format!("{dot}onebin-{}-", std::process::id())
}

/// The process id in a name this module made, if it is one.
fn owner(name: &str) -> Option<u32> {
    let rest = name
        .strip_prefix('.')
        .unwrap_or(name)
        .strip_prefix("onebin-")?;
    let (pid, _) = rest.split_once('-')?;
    pid.parse().ok()
}

/// Removes the temporary entries in `dir` whose process no longer runs; never
/// anything else (a live process, even an unrelated one that took the id, keeps
/// its entries).
pub fn remove_stale(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name.to_str().and_then(owner) else {
            continue;
        };
        if pid == std::process::id() || Path::new(&format!("/proc/{pid}")).exists() {
            continue;
        }
        let path = entry.path();
        let _ = match entry.file_type() {
            Ok(t) if t.is_dir() => std::fs::remove_dir_all(&path),
            _ => std::fs::remove_file(&path),
        };
    }
}

/// A hidden `.part` file in `dir` (an output's directory), renamed into place later.
pub fn part_file_in(dir: &Path) -> io::Result<NamedTempFile> {
    tempfile::Builder::new()
        .prefix(&prefix(true))
        .suffix(".part")
        .tempfile_in(dir)
}

/// A hidden staging directory in `dir`.
pub fn dir_in(dir: &Path) -> io::Result<TempDir> {
    tempfile::Builder::new()
        .prefix(&prefix(true))
        .tempdir_in(dir)
}

/// A directory in `$TMPDIR`, after removing the stale ones of earlier runs.
pub fn temp_dir() -> io::Result<TempDir> {
    let tmp = std::env::temp_dir();
    remove_stale(&tmp);
    tempfile::Builder::new()
        .prefix(&prefix(false))
        .tempdir_in(tmp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_process_id() {
        assert_eq!(owner(".onebin-42-abc.part"), Some(42));
        assert_eq!(owner("onebin-7-x"), Some(7));
        assert_eq!(owner(".onebin-layout-x"), None);
        assert_eq!(owner("app_linux_amd64"), None);
    }
}
