//! Findings: stable ids, a place, a severity, and a message that says why it
//! matters for "one binary, one hash".

use serde::Serialize;

use crate::model::{Artifact, Build, DockerfileFacts, ImageBuild, Language, Libc, PlaceKind};

pub const DOUBLE_BUILD: &str = "double-build";
pub const LIBC_MISMATCH: &str = "libc-mismatch";
pub const TOOLCHAIN_MISMATCH: &str = "toolchain-mismatch";
pub const TRIMPATH_MISSING: &str = "trimpath-missing";
pub const FLAGS_MISMATCH: &str = "flags-mismatch";
pub const CGO_IMPLICIT: &str = "cgo-implicit";
pub const UNPINNED_TOOLCHAIN: &str = "unpinned-toolchain";
pub const MULTIARCH_GAP: &str = "multiarch-gap";

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    pub id: &'static str,
    pub severity: Severity,
    pub file: String,
    pub line: usize,
    pub message: String,
}

fn libc_name(l: Option<Libc>) -> &'static str {
    match l {
        Some(Libc::Glibc) => "glibc (dynamic)",
        Some(Libc::Musl) => "musl",
        None => "no libc (static)",
    }
}

/// The release builds and the image builds of the same program.
pub fn release_builds(builds: &[Build]) -> Vec<&Build> {
    builds
        .iter()
        .filter(|b| matches!(b.artifact, Artifact::Release | Artifact::ReleaseAndImage))
        .collect()
}

pub fn image_builds(builds: &[Build]) -> Vec<&Build> {
    builds
        .iter()
        .filter(|b| b.artifact == Artifact::Image)
        .collect()
}

/// The release build to compare an image build with: same language, same
/// program name when both say one.
fn counterpart<'a>(image: &Build, release: &[&'a Build]) -> Option<&'a Build> {
    let same_lang: Vec<&&Build> = release
        .iter()
        .filter(|r| r.language == image.language)
        .collect();
    same_lang
        .iter()
        .find(|r| r.program.is_some() && r.program == image.program)
        .or_else(|| {
            same_lang
                .iter()
                .find(|r| r.platforms.iter().any(|p| image.platforms.contains(p)))
        })
        .or(same_lang.first())
        .map(|r| **r)
}

/// Numeric versions that disagree; `stable` or `1.22` against `1.22.5` do not
/// (unpinned-toolchain says what is wrong with those).
fn versions_differ(a: &str, b: &str) -> bool {
    let a = a.trim_start_matches(['v', 'g', 'o']);
    let b = b.trim_start_matches(['v', 'g', 'o']);
    let numeric = |v: &str| v.starts_with(|c: char| c.is_ascii_digit());
    numeric(a)
        && numeric(b)
        && !(a == b || a.starts_with(&format!("{b}.")) || b.starts_with(&format!("{a}.")))
}

pub fn find(
    builds: &[Build],
    images: &[ImageBuild],
    dockerfiles: &[DockerfileFacts],
    accepted_c: bool,
) -> Vec<Finding> {
    let mut out = Vec::new();
    let release = release_builds(builds);
    let image = image_builds(builds);
    let mut push = |id, severity, file: &str, line, message: String| {
        let f = Finding {
            id,
            severity,
            file: file.to_string(),
            line,
            message,
        };
        if !out.contains(&f) {
            out.push(f);
        }
    };
    for ib in &image {
        let Some(rb) = counterpart(ib, &release) else {
            continue;
        };
        let what = rb
            .program
            .clone()
            .or(ib.program.clone())
            .unwrap_or_else(|| "the binary".into());
        push(
            DOUBLE_BUILD,
            if accepted_c {
                Severity::Info
            } else {
                Severity::Error
            },
            &ib.place.file,
            ib.place.line,
            format!(
                "{what} is built twice: for the release in {} and for the image in {}{}",
                rb.describe(),
                ib.describe(),
                if accepted_c {
                    " (accepted: the ADR chose Option C)"
                } else {
                    ""
                }
            ),
        );
        let (rl, il) = (rb.linked_libc(), ib.linked_libc());
        if rl != il {
            push(
                LIBC_MISMATCH,
                Severity::Error,
                &ib.place.file,
                ib.place.line,
                format!(
                    "the release binary links {} ({}), the image's links {} ({}): they cannot have one hash",
                    libc_name(rl),
                    rb.toolchain.source,
                    libc_name(il),
                    ib.toolchain.source
                ),
            );
        }
        if let (Some(rv), Some(iv)) = (&rb.toolchain.version, &ib.toolchain.version) {
            if versions_differ(rv, iv) {
                push(
                    TOOLCHAIN_MISMATCH,
                    Severity::Error,
                    &ib.place.file,
                    ib.place.line,
                    format!(
                        "{} {rv} builds the release ({}), {} {iv} builds the image ({})",
                        lang(rb.language),
                        rb.toolchain.source,
                        lang(ib.language),
                        ib.toolchain.source
                    ),
                );
            }
        }
        let mut diffs = Vec::new();
        if rb.flags.trimpath != ib.flags.trimpath {
            diffs.push(format!(
                "-trimpath {} vs {}",
                rb.flags.trimpath, ib.flags.trimpath
            ));
        }
        if rb.flags.ldflags != ib.flags.ldflags {
            diffs.push(format!(
                "-ldflags {:?} vs {:?}",
                rb.flags.ldflags.as_deref().unwrap_or(""),
                ib.flags.ldflags.as_deref().unwrap_or("")
            ));
        }
        if rb.flags.tags != ib.flags.tags {
            diffs.push(format!(
                "-tags {:?} vs {:?}",
                rb.flags.tags.as_deref().unwrap_or(""),
                ib.flags.tags.as_deref().unwrap_or("")
            ));
        }
        if rb.language == Language::Go && rb.flags.cgo_enabled != ib.flags.cgo_enabled {
            diffs.push(format!(
                "CGO_ENABLED {} vs {}",
                rb.flags.cgo_enabled.as_deref().unwrap_or("unset"),
                ib.flags.cgo_enabled.as_deref().unwrap_or("unset")
            ));
        }
        if rb.language == Language::Rust && rb.flags.release != ib.flags.release {
            diffs.push(format!(
                "--release {} vs {}",
                rb.flags.release, ib.flags.release
            ));
        }
        if !diffs.is_empty() {
            push(
                FLAGS_MISMATCH,
                Severity::Warning,
                &ib.place.file,
                ib.place.line,
                format!(
                    "release and image builds differ in {} (release vs image)",
                    diffs.join(", ")
                ),
            );
        }
    }
    for b in builds.iter().filter(|b| b.artifact != Artifact::None) {
        if b.language != Language::Go {
            continue;
        }
        if !b.flags.trimpath {
            push(
                TRIMPATH_MISSING,
                Severity::Warning,
                &b.place.file,
                b.place.line,
                format!(
                    "{} builds without -trimpath: the binary records the build directory, so it differs by where it was built",
                    b.describe()
                ),
            );
        }
        if b.flags.cgo_enabled.is_none() && b.toolchain.c_compiler {
            push(
                CGO_IMPLICIT,
                Severity::Warning,
                &b.place.file,
                b.place.line,
                format!(
                    "CGO_ENABLED is unset and {} has a C compiler: cgo is on, and the binary links {}; say CGO_ENABLED=0 (or 1) explicitly",
                    b.toolchain.source,
                    libc_name(b.toolchain.libc)
                ),
            );
        }
    }
    let mut seen_toolchains: Vec<(String, usize)> = Vec::new();
    for b in builds.iter().filter(|b| b.artifact != Artifact::None) {
        let key = (b.toolchain.file.clone(), b.toolchain.line);
        if b.toolchain.pinned || seen_toolchains.contains(&key) {
            continue;
        }
        seen_toolchains.push(key);
        let why = match &b.toolchain.version {
            Some(v) => format!("{} is not an exact version or digest", v),
            None => "no version at all".into(),
        };
        push(
            UNPINNED_TOOLCHAIN,
            Severity::Warning,
            &b.toolchain.file,
            b.toolchain.line,
            format!(
                "{} toolchain {} for {}: {why}; the next build may use another compiler",
                lang(b.language),
                b.toolchain.source,
                b.describe()
            ),
        );
    }
    // The image's platforms against the release's Linux platforms.
    let release_linux: Vec<String> = release
        .iter()
        .flat_map(|b| b.platforms.iter())
        .filter(|p| p.starts_with("linux/"))
        .cloned()
        .collect();
    let shipped_images: Vec<&ImageBuild> = images
        .iter()
        .filter(|i| {
            dockerfiles
                .iter()
                .any(|d| d.file == i.dockerfile && (d.builds || d.packages_prebuilt))
        })
        .collect();
    let builds_image = builds.iter().any(|b| b.place.kind == PlaceKind::Ko);
    if !release_linux.is_empty() && (!shipped_images.is_empty() || builds_image) {
        let mut image_platforms: Vec<String> = shipped_images
            .iter()
            .flat_map(|i| i.platforms.clone())
            .collect();
        image_platforms.extend(
            image
                .iter()
                .filter(|b| b.place.kind == PlaceKind::Ko)
                .flat_map(|b| b.platforms.clone()),
        );
        let only_image: Vec<&String> = dedup(&image_platforms)
            .into_iter()
            .filter(|p| !release_linux.contains(p))
            .collect();
        let only_release: Vec<&String> = dedup(&release_linux)
            .into_iter()
            .filter(|p| !image_platforms.contains(p))
            .collect();
        if !only_image.is_empty() || !only_release.is_empty() {
            let (file, line) = shipped_images
                .first()
                .map(|i| (i.place.file.clone(), i.place.line))
                .or_else(|| image.first().map(|b| (b.place.file.clone(), b.place.line)))
                .unwrap_or_default();
            let list = |v: &[&String]| {
                if v.is_empty() {
                    "nothing".to_string()
                } else {
                    v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
                }
            };
            push(
                MULTIARCH_GAP,
                Severity::Warning,
                &file,
                line,
                format!(
                    "the image covers other platforms than the release: only in the image {}; only in the release {}",
                    list(&only_image),
                    list(&only_release)
                ),
            );
        }
    }
    out.sort_by(|a, b| {
        (a.severity, &a.file, a.line, a.id).cmp(&(b.severity, &b.file, b.line, b.id))
    });
    out
}

fn dedup(v: &[String]) -> Vec<&String> {
    let mut out: Vec<&String> = Vec::new();
    for x in v {
        if !out.contains(&x) {
            out.push(x);
        }
    }
    out
}

fn lang(l: Language) -> &'static str {
    match l {
        Language::Go => "Go",
        Language::Rust => "Rust",
        Language::C => "C",
    }
}
