//! `onebin.toml`: what `onebin release` makes, in one file. Parsed by the
//! `toml` crate into typed values that keep their spans, so every error names
//! the file and the line (`onebin.toml:12: …`). The JSON Schema of the same
//! shape is `schemas/onebin.schema.json`.

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use onebin_image::Platform;
use onebin_layers::pack::Compression;
use serde::Deserialize;
use toml::Spanned;

use crate::flags::parse_mode;

/// The config file as written.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `{project}` in names; default: the first binary's name.
    pub project: Option<Spanned<String>>,
    /// `{version}` in names and destinations; `--version` overrides it.
    pub version: Option<Spanned<String>>,
    #[serde(default)]
    pub binaries: Vec<BinaryConfig>,
    #[serde(default)]
    pub image: ImageConfig,
    /// Where the image goes: any number of `oci:`, `oci-archive:`,
    /// `docker-archive:`, `docker-daemon:` and `docker://` references.
    #[serde(default)]
    pub destinations: Vec<Spanned<String>>,
    #[serde(default)]
    pub assets: AssetsConfig,
}

/// One binary of the image, with its file per platform.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BinaryConfig {
    /// `{name}` in asset names; default: the last part of `path`.
    pub name: Option<Spanned<String>>,
    /// Where it goes in the image.
    pub path: Spanned<String>,
    /// Its file mode in the image, in octal.
    pub mode: Option<Spanned<String>>,
    /// `"linux/amd64" = "dist/app_linux_amd64"`; paths are relative to the
    /// directory onebin runs in, as GoReleaser's are (the project's root).
    /// With `--from-goreleaser`, GoReleaser's artifacts give them instead.
    pub platforms: Option<Spanned<BTreeMap<String, Spanned<String>>>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    /// The image to build on (any transport), or `scratch` (the default).
    pub base: Option<Spanned<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub cmd: Option<Vec<String>>,
    #[serde(default)]
    pub env: BTreeMap<String, String>,
    pub user: Option<String>,
    pub workdir: Option<String>,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub annotations: BTreeMap<String, String>,
    /// Layer compression: `gzip` (the default; every runtime reads it) or
    /// `zstd` (smaller and faster; not Docker 20.10).
    pub compression: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AssetsConfig {
    /// Where assets and the checksums file are written (default `dist`).
    #[serde(default = "default_dir")]
    pub dir: String,
    /// `tar.gz` (the default, as GoReleaser), `zip`, `binary` (raw files), or
    /// `none` (no assets: the image only).
    #[serde(default = "default_format")]
    pub format: Spanned<String>,
    /// Asset name without extension: `{project}` `{version}` `{name}` `{os}`
    /// `{arch}` `{variant}` `{_variant}` `{ext}`. Default: GoReleaser's.
    pub name: Option<Spanned<String>>,
    /// Extra files in each archive (LICENSE, README.md).
    #[serde(default)]
    pub files: Vec<Spanned<String>>,
    /// The checksums file's name (default GoReleaser's, `{project}_{version}_checksums.txt`).
    pub checksums: Option<Spanned<String>>,
}

impl Default for AssetsConfig {
    fn default() -> Self {
        AssetsConfig {
            dir: default_dir(),
            format: default_format(),
            name: None,
            files: Vec::new(),
            checksums: None,
        }
    }
}

fn default_dir() -> String {
    "dist".to_string()
}

fn default_format() -> Spanned<String> {
    Spanned::new(0..0, "tar.gz".to_string())
}

/// How release assets are packed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AssetFormat {
    Binary,
    TarGz,
    Zip,
    None,
}

impl AssetFormat {
    /// The archive's extension; raw binaries have none of their own.
    pub fn extension(self) -> &'static str {
        match self {
            AssetFormat::TarGz => ".tar.gz",
            AssetFormat::Zip => ".zip",
            AssetFormat::Binary | AssetFormat::None => "",
        }
    }
}

/// GoReleaser's default archive name: `app_1.2.0_linux_arm64`, `_armv7`, `_amd64v3`.
pub const ARCHIVE_NAME: &str = "{project}_{version}_{os}_{arch}{variant}";
/// GoReleaser's default name for raw binaries (`format: binary`).
pub const BINARY_NAME: &str = "{name}_{version}_{os}_{arch}{variant}{ext}";
/// GoReleaser's default checksums file name.
pub const CHECKSUMS_NAME: &str = "{project}_{version}_checksums.txt";

/// A config file read from disk, with its text for line numbers.
pub struct Loaded {
    pub file: PathBuf,
    text: String,
    pub config: Config,
}

impl Loaded {
    /// Reads and parses `file`; a syntax error or an unknown key names its line.
    pub fn read(file: &Path) -> Result<Loaded> {
        let text =
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?;
        let config: Config = toml::from_str(&text).map_err(|e| {
            let line = e.span().map(|s| line_of(&text, s.start)).unwrap_or(1);
            anyhow!("{}:{line}: {}", file.display(), e.message().trim_end())
        })?;
        Ok(Loaded {
            file: file.to_path_buf(),
            text,
            config,
        })
    }

    /// `onebin.toml:LINE: message` for a value at `span`.
    pub fn error(&self, span: Range<usize>, message: impl std::fmt::Display) -> anyhow::Error {
        anyhow!(
            "{}:{}: {message}",
            self.file.display(),
            line_of(&self.text, span.start)
        )
    }

    /// Each binary's platforms, parsed; a bad platform or mode names its line.
    pub fn binaries(&self) -> Result<Vec<Binary>> {
        let mut out = Vec::new();
        for binary in &self.config.binaries {
            let path = binary.path.get_ref().clone();
            let name = match &binary.name {
                Some(n) => n.get_ref().clone(),
                None => path
                    .trim_end_matches('/')
                    .rsplit('/')
                    .next()
                    .unwrap_or_default()
                    .to_string(),
            };
            if name.is_empty() {
                return Err(self.error(binary.path.span(), format!("path '{path}' names no file")));
            }
            let mode = match &binary.mode {
                Some(m) => parse_mode(m.get_ref()).map_err(|e| self.error(m.span(), e))?,
                None => 0o755,
            };
            let mut files = Vec::new();
            for (platform, file) in binary.platforms.iter().flat_map(|p| p.get_ref()) {
                let parsed: Platform = platform
                    .parse()
                    .map_err(|e| self.error(file.span(), format!("'{platform}': {e}")))?;
                files.push((parsed, PathBuf::from(file.get_ref()), file.span()));
            }
            out.push(Binary {
                span: binary.path.span(),
                name,
                path,
                mode,
                files,
            });
        }
        Ok(out)
    }

    /// The image's layer compression, checked; gzip unless the config says.
    pub fn compression(&self) -> Result<Compression> {
        match &self.config.image.compression {
            None => Ok(Compression::Gzip),
            Some(c) => c
                .get_ref()
                .parse()
                .map_err(|e| self.error(c.span(), format!("image.compression: {e}"))),
        }
    }

    /// The asset format, checked.
    pub fn format(&self) -> Result<AssetFormat> {
        let format = &self.config.assets.format;
        Ok(match format.get_ref().as_str() {
            "tar.gz" | "tgz" => AssetFormat::TarGz,
            "zip" => AssetFormat::Zip,
            "binary" => AssetFormat::Binary,
            "none" => AssetFormat::None,
            other => {
                return Err(self.error(
                    format.span(),
                    format!("assets.format '{other}': one of tar.gz, zip, binary, none"),
                ))
            }
        })
    }
}

/// A binary of the config, its platforms parsed.
pub struct Binary {
    /// Where the config names it.
    pub span: Range<usize>,
    pub name: String,
    pub path: String,
    pub mode: u32,
    /// Platform, file, and where the config says so.
    pub files: Vec<(Platform, PathBuf, Range<usize>)>,
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Replaces `{project}` and `{version}`; a template that needs a version
/// nobody gave is an error.
pub fn fill_release(template: &str, project: &str, version: Option<&str>) -> Result<String> {
    if template.contains("{version}") && version.is_none() {
        bail!("'{template}' uses {{version}}, but no version is set (version in the config, or --version)");
    }
    Ok(template
        .replace("{project}", project)
        .replace("{version}", version.unwrap_or_default()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str) -> Result<Loaded> {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("onebin.toml");
        std::fs::write(&file, text).unwrap();
        Loaded::read(&file)
    }

    #[test]
    fn errors_name_the_line() {
        let err = load("version = \"1\"\n\n[image]\nbase = \"scratch\"\nnope = 1\n")
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("onebin.toml:5:"), "{err}");
        assert!(err.contains("nope"), "{err}");

        let loaded = load(
            "[[binaries]]\npath = \"/usr/local/bin/app\"\n[binaries.platforms]\n\"linux/amd64\" = \"a\"\n\"plan9\" = \"b\"\n",
        )
        .unwrap();
        let err = loaded.binaries().err().unwrap().to_string();
        assert!(err.contains("onebin.toml:5:"), "{err}");

        let loaded = load("[assets]\n\nformat = \"rar\"\n").unwrap();
        let err = loaded.format().err().unwrap().to_string();
        assert!(
            err.contains("onebin.toml:3:") && err.contains("rar"),
            "{err}"
        );

        let err = load("version = [\n").err().unwrap().to_string();
        assert!(err.contains("onebin.toml:"), "{err}");
    }

    #[test]
    fn binaries_default_their_name_and_mode() {
        let loaded = load(
            "[[binaries]]\npath = \"/usr/local/bin/app\"\nplatforms = { \"linux/arm64\" = \"dist/app\" }\n",
        )
        .unwrap();
        let binaries = loaded.binaries().unwrap();
        assert_eq!(binaries[0].name, "app");
        assert_eq!(binaries[0].mode, 0o755);
        assert_eq!(binaries[0].files[0].0.to_string(), "linux/arm64");
        assert!(binaries[0].files[0].1.ends_with("dist/app"));
    }

    #[test]
    fn compression_is_gzip_unless_the_image_says() {
        assert_eq!(load("").unwrap().compression().unwrap(), Compression::Gzip);
        let loaded = load("[image]\ncompression = \"zstd\"\n").unwrap();
        assert_eq!(loaded.compression().unwrap(), Compression::Zstd);
        let loaded = load("[image]\n\ncompression = \"xz\"\n").unwrap();
        let err = loaded.compression().err().unwrap().to_string();
        assert!(
            err.contains("onebin.toml:3:") && err.contains("gzip or zstd"),
            "{err}"
        );
    }

    #[test]
    fn version_is_required_where_a_template_uses_it() {
        assert_eq!(
            fill_release(CHECKSUMS_NAME, "app", Some("1.2.0")).unwrap(),
            "app_1.2.0_checksums.txt"
        );
        assert!(fill_release(CHECKSUMS_NAME, "app", None).is_err());
        assert_eq!(fill_release("{project}", "app", None).unwrap(), "app");
    }
}

#[cfg(test)]
mod schema {
    use serde_json::Value;

    use super::Config;

    fn schema() -> Value {
        let text = include_str!("../../../schemas/onebin.schema.json");
        serde_json::from_str(text).expect("the schema is JSON")
    }

    /// A TOML value of the type the schema gives a property.
    fn sample(property: &Value) -> &'static str {
        match property["type"].as_str() {
            Some("array") => "[]",
            Some("object") => "{}",
            _ => "\"x\"",
        }
    }

    /// Every property the schema names is one the parser takes, in its
    /// section; the parser refuses what the schema does not name.
    #[test]
    fn the_schema_and_the_parser_agree() {
        let schema = schema();
        let top = &schema["properties"];
        let sections: [(&str, &Value); 4] = [
            ("", top),
            (
                "[[binaries]]\npath = \"/x\"\n",
                &top["binaries"]["items"]["properties"],
            ),
            ("[image]\n", &top["image"]["properties"]),
            ("[assets]\n", &top["assets"]["properties"]),
        ];
        for (header, properties) in sections {
            let properties = properties.as_object().unwrap();
            assert!(!properties.is_empty());
            for (key, property) in properties {
                if header.is_empty() && ["binaries", "image", "assets"].contains(&key.as_str()) {
                    continue;
                }
                // `path` is required in [[binaries]]: the header gives it.
                let header = if key == "path" {
                    header.replace("path = \"/x\"\n", "")
                } else {
                    header.to_string()
                };
                let doc = format!("{header}{key} = {}\n", sample(property));
                if let Err(e) = toml::from_str::<Config>(&doc) {
                    panic!("the schema names {key:?}, the parser refuses it: {e}\n{doc}");
                }
            }
            let doc = format!("{header}not_in_the_schema = 1\n");
            assert!(toml::from_str::<Config>(&doc).is_err(), "{doc}");
        }
    }
}
