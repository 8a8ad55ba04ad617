//! Writing results so that a failed run leaves nothing behind: every output is
//! first a temporary file in the destination directory, renamed into place only
//! once the whole run has succeeded.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use onebin_image::Platform;

/// Renders an output file name: `{name}`, `{os}`, `{arch}`, `{variant}`,
/// `{_variant}` (`_v7`, or nothing) and `{ext}` (`.exe` on Windows).
pub fn render_name(template: &str, name: &str, platform: &Platform) -> Result<String> {
    let variant = match (&platform.variant, platform.architecture.as_str()) {
        // arm64's only variant is implied, as in GoReleaser's names.
        (Some(v), "arm64") if v == "v8" => None,
        (v, _) => v.clone(),
    };
    let mut out = String::new();
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let Some(len) = rest[start..].find('}') else {
            bail!("--name '{template}': '{{' without '}}'")
        };
        let key = &rest[start + 1..start + len];
        match key {
            "name" => out.push_str(name),
            "os" => out.push_str(&platform.os),
            "arch" => out.push_str(&platform.architecture),
            "variant" => out.push_str(variant.as_deref().unwrap_or("")),
            "_variant" => out.push_str(&variant.as_ref().map(|v| format!("_{v}")).unwrap_or_default()),
            "ext" => out.push_str(if platform.os == "windows" { ".exe" } else { "" }),
            other => bail!(
                "--name '{template}': unknown placeholder '{{{other}}}' (known: {{name}} {{os}} {{arch}} {{variant}} {{_variant}} {{ext}})"
            ),
        }
        rest = &rest[start + len + 1..];
    }
    out.push_str(rest);
    if out.is_empty()
        || out == "."
        || out == ".."
        || out.contains('/')
        || out.contains(char::is_control)
    {
        bail!("--name '{template}' gives '{out}' for {platform}, which is not a plain file name");
    }
    Ok(out)
}

/// Creates the output directory, remembering whether it was new so that a
/// failed run can take it away again.
pub struct OutputDir {
    pub path: PathBuf,
    created: bool,
    committed: bool,
}

impl OutputDir {
    pub fn create(path: &Path) -> Result<Self> {
        let created = !path.exists();
        fs::create_dir_all(path)
            .with_context(|| format!("creating output directory {}", path.display()))?;
        onebin_image::scratch::remove_stale(path);
        Ok(OutputDir {
            path: path.to_path_buf(),
            created,
            committed: false,
        })
    }

    /// Marks the run as done: the directory stays.
    pub fn commit(mut self) {
        self.committed = true;
    }
}

impl Drop for OutputDir {
    fn drop(&mut self) {
        if self.created && !self.committed {
            // Only succeeds when empty: never removes anything but our own directory.
            let _ = fs::remove_dir(&self.path);
        }
    }
}

/// A checksums file in the format of `sha256sum` and GoReleaser:
/// `<hex>  <name>` per line, sorted by name.
pub fn write_checksums(path: &Path, entries: &[(String, String)]) -> Result<()> {
    let mut lines: BTreeMap<String, String> = BTreeMap::new();
    // Keep what an earlier run wrote for other files, so several extracts can
    // share one checksums file.
    if let Ok(existing) = fs::read_to_string(path) {
        for line in existing.lines() {
            if let Some((hash, name)) = line.split_once("  ") {
                lines.insert(name.to_string(), hash.to_string());
            }
        }
    }
    for (name, hash) in entries {
        lines.insert(name.clone(), hash.clone());
    }
    let text: String = lines
        .iter()
        .map(|(name, hash)| format!("{hash}  {name}\n"))
        .collect();
    write_atomic(path, text.as_bytes())
}

/// Writes a whole file through a temporary file and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let mut tmp = onebin_image::scratch::part_file_in(dir)
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.write_all(bytes)
        .with_context(|| format!("writing {}", path.display()))?;
    // tempfile creates 0600; an output is for everyone to read, as `>` would make it.
    tmp.as_file()
        .set_permissions(std::fs::Permissions::from_mode(0o644))
        .with_context(|| format!("writing {}", path.display()))?;
    tmp.persist(path)
        .with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_goreleaser_like_names() {
        let p = |s: &str| s.parse::<Platform>().unwrap();
        let t = "{name}_{os}_{arch}{_variant}";
        assert_eq!(
            render_name(t, "app", &p("linux/amd64")).unwrap(),
            "app_linux_amd64"
        );
        assert_eq!(
            render_name(t, "app", &p("linux/arm64")).unwrap(),
            "app_linux_arm64"
        );
        assert_eq!(
            render_name(t, "app", &p("linux/arm/v7")).unwrap(),
            "app_linux_arm_v7"
        );
        assert_eq!(
            render_name("{name}{ext}", "app", &p("windows/amd64")).unwrap(),
            "app.exe"
        );
        assert!(render_name("{nope}", "app", &p("linux/amd64")).is_err());
        assert!(render_name("../{name}", "app", &p("linux/amd64")).is_err());
        assert!(render_name("{name", "app", &p("linux/amd64")).is_err());
    }
}
