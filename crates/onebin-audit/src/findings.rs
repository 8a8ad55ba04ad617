//! Findings: stable ids, a place, a severity, and a message that says why it
//! matters for "one binary, one hash".

use serde::Serialize;

use crate::model::{
    Artifact, Build, DockerfileFacts, ImageBuild, Language, Libc, PlaceKind, Unread,
};

pub const DOUBLE_BUILD: &str = "double-build";
pub const LIBC_MISMATCH: &str = "libc-mismatch";
pub const TOOLCHAIN_MISMATCH: &str = "toolchain-mismatch";
pub const TRIMPATH_MISSING: &str = "trimpath-missing";
pub const FLAGS_MISMATCH: &str = "flags-mismatch";
pub const CGO_IMPLICIT: &str = "cgo-implicit";
pub const UNPINNED_TOOLCHAIN: &str = "unpinned-toolchain";
pub const MULTIARCH_GAP: &str = "multiarch-gap";
pub const UNREAD_BUILD: &str = "unread-build";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
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

/// What the rules read: the builds by where they ship, each image build
/// paired with the release build it repeats, and the images.
struct Subject<'a> {
    builds: &'a [Build],
    images: &'a [ImageBuild],
    dockerfiles: &'a [DockerfileFacts],
    unread: &'a [Unread],
    /// An ADR chose Option C: the double build is accepted.
    accepted_c: bool,
    release: Vec<&'a Build>,
    image: Vec<&'a Build>,
    /// (image build, its release counterpart), in image build order.
    pairs: Vec<(&'a Build, &'a Build)>,
}

impl<'a> Subject<'a> {
    fn new(
        builds: &'a [Build],
        images: &'a [ImageBuild],
        dockerfiles: &'a [DockerfileFacts],
        unread: &'a [Unread],
        accepted_c: bool,
    ) -> Subject<'a> {
        let release = release_builds(builds);
        let image = image_builds(builds);
        let pairs = image
            .iter()
            .filter_map(|ib| counterpart(ib, &release).map(|rb| (*ib, rb)))
            .collect();
        Subject {
            builds,
            images,
            dockerfiles,
            unread,
            accepted_c,
            release,
            image,
            pairs,
        }
    }

    /// Builds that ship (release, image or both).
    fn shipped(&self) -> impl Iterator<Item = &'a Build> {
        self.builds.iter().filter(|b| b.artifact != Artifact::None)
    }
}

/// A rule: the findings of one id.
type Rule = fn(&Subject) -> Vec<Finding>;

/// Every rule, by the id it reports.
const RULES: &[(&str, Rule)] = &[
    (DOUBLE_BUILD, double_build),
    (LIBC_MISMATCH, libc_mismatch),
    (TOOLCHAIN_MISMATCH, toolchain_mismatch),
    (FLAGS_MISMATCH, flags_mismatch),
    (TRIMPATH_MISSING, trimpath_missing),
    (CGO_IMPLICIT, cgo_implicit),
    (UNPINNED_TOOLCHAIN, unpinned_toolchain),
    (MULTIARCH_GAP, multiarch_gap),
    (UNREAD_BUILD, unread_build),
];

/// Every rule's findings, each once, most severe first, then by place.
pub fn find(
    builds: &[Build],
    images: &[ImageBuild],
    dockerfiles: &[DockerfileFacts],
    unread: &[Unread],
    accepted_c: bool,
) -> Vec<Finding> {
    let subject = Subject::new(builds, images, dockerfiles, unread, accepted_c);
    let mut out: Vec<Finding> = Vec::new();
    let mut seen = std::collections::HashSet::new();
    for (_, rule) in RULES {
        for f in rule(&subject) {
            if seen.insert(f.clone()) {
                out.push(f);
            }
        }
    }
    out.sort_by(|a, b| {
        (a.severity, &a.file, a.line, a.id).cmp(&(b.severity, &b.file, b.line, b.id))
    });
    out
}

fn finding(
    id: &'static str,
    severity: Severity,
    file: &str,
    line: usize,
    message: String,
) -> Finding {
    Finding {
        id,
        severity,
        file: file.to_string(),
        line,
        message,
    }
}

/// A build tool, action or file the audit does not read: what it builds is
/// missing from the report, and the finding says so rather than guessing.
fn unread_build(s: &Subject) -> Vec<Finding> {
    s.unread
        .iter()
        .map(|u| {
            finding(
                UNREAD_BUILD,
                Severity::Warning,
                &u.place.file,
                u.place.line,
                format!(
                    "{} builds here and audit does not read it: what it builds (release or image) is not in this report",
                    u.tool
                ),
            )
        })
        .collect()
}

/// The image build compiles what the release build already compiled.
fn double_build(s: &Subject) -> Vec<Finding> {
    s.pairs
        .iter()
        .map(|(ib, rb)| {
            let what = rb
                .program
                .clone()
                .or(ib.program.clone())
                .unwrap_or_else(|| "the binary".into());
            finding(
                DOUBLE_BUILD,
                if s.accepted_c {
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
                    if s.accepted_c {
                        " (accepted: the ADR chose Option C)"
                    } else {
                        ""
                    }
                ),
            )
        })
        .collect()
}

/// The two builds link different C libraries.
fn libc_mismatch(s: &Subject) -> Vec<Finding> {
    s.pairs
        .iter()
        .filter(|(ib, rb)| rb.linked_libc() != ib.linked_libc())
        .map(|(ib, rb)| {
            finding(
                LIBC_MISMATCH,
                Severity::Error,
                &ib.place.file,
                ib.place.line,
                format!(
                    "the release binary links {} ({}), the image's links {} ({}): they cannot have one hash",
                    libc_name(rb.linked_libc()),
                    rb.toolchain.source,
                    libc_name(ib.linked_libc()),
                    ib.toolchain.source
                ),
            )
        })
        .collect()
}

/// The two builds use different compiler versions.
fn toolchain_mismatch(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for (ib, rb) in &s.pairs {
        if let (Some(rv), Some(iv)) = (&rb.toolchain.version, &ib.toolchain.version) {
            if versions_differ(rv, iv) {
                out.push(finding(
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
                ));
            }
        }
    }
    out
}

/// The two builds differ in flags that change the binary.
fn flags_mismatch(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    for (ib, rb) in &s.pairs {
        let diffs = flag_differences(rb, ib);
        if !diffs.is_empty() {
            out.push(finding(
                FLAGS_MISMATCH,
                Severity::Warning,
                &ib.place.file,
                ib.place.line,
                format!(
                    "release and image builds differ in {} (release vs image)",
                    diffs.join(", ")
                ),
            ));
        }
    }
    out
}

/// `-trimpath 'true' vs 'false'` and the like, release first.
fn flag_differences(rb: &Build, ib: &Build) -> Vec<String> {
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
    diffs
}

/// A shipped Go build records its build directory.
fn trimpath_missing(s: &Subject) -> Vec<Finding> {
    s.shipped()
        .filter(|b| b.language == Language::Go && !b.flags.trimpath)
        .map(|b| {
            finding(
                TRIMPATH_MISSING,
                Severity::Warning,
                &b.place.file,
                b.place.line,
                format!(
                    "{} builds without -trimpath: the binary records the build directory, so it differs by where it was built",
                    b.describe()
                ),
            )
        })
        .collect()
}

/// A shipped Go build gets cgo (and a libc) from its toolchain's C
/// compiler, not from a decision.
fn cgo_implicit(s: &Subject) -> Vec<Finding> {
    s.shipped()
        .filter(|b| {
            b.language == Language::Go
                && b.flags.cgo_enabled.is_none()
                && b.toolchain.c_compiler
        })
        .map(|b| {
            finding(
                CGO_IMPLICIT,
                Severity::Warning,
                &b.place.file,
                b.place.line,
                format!(
                    "CGO_ENABLED is unset and {} has a C compiler: cgo is on, and the binary links {}; say CGO_ENABLED=0 (or 1) explicitly",
                    b.toolchain.source,
                    libc_name(b.toolchain.libc)
                ),
            )
        })
        .collect()
}

/// A shipped build's toolchain floats; reported once per place it is named.
fn unpinned_toolchain(s: &Subject) -> Vec<Finding> {
    let mut out = Vec::new();
    let mut seen_toolchains: Vec<(String, usize)> = Vec::new();
    for b in s.shipped() {
        let key = (b.toolchain.file.clone(), b.toolchain.line);
        if b.toolchain.pinned || seen_toolchains.contains(&key) {
            continue;
        }
        seen_toolchains.push(key);
        let why = match &b.toolchain.version {
            Some(v) => format!("{} is not an exact version or digest", v),
            None => "no version at all".into(),
        };
        out.push(finding(
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
        ));
    }
    out
}

/// The image's platforms against the release's Linux platforms.
fn multiarch_gap(s: &Subject) -> Vec<Finding> {
    let release_linux: Vec<String> = s
        .release
        .iter()
        .flat_map(|b| b.platforms.iter())
        .filter(|p| p.starts_with("linux/"))
        .cloned()
        .collect();
    let shipped_images: Vec<&ImageBuild> = s
        .images
        .iter()
        .filter(|i| {
            s.dockerfiles
                .iter()
                .any(|d| d.file == i.dockerfile && (d.builds || d.packages_prebuilt))
        })
        .collect();
    let builds_image = s.builds.iter().any(|b| b.place.kind == PlaceKind::Ko);
    if release_linux.is_empty() || (shipped_images.is_empty() && !builds_image) {
        return Vec::new();
    }
    let mut image_platforms: Vec<String> = shipped_images
        .iter()
        .flat_map(|i| i.platforms.clone())
        .collect();
    image_platforms.extend(
        s.image
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
    if only_image.is_empty() && only_release.is_empty() {
        return Vec::new();
    }
    let (file, line) = shipped_images
        .first()
        .map(|i| (i.place.file.clone(), i.place.line))
        .or_else(|| {
            s.image
                .first()
                .map(|b| (b.place.file.clone(), b.place.line))
        })
        .unwrap_or_default();
    let list = |v: &[&String]| {
        if v.is_empty() {
            "nothing".to_string()
        } else {
            v.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")
        }
    };
    vec![finding(
        MULTIARCH_GAP,
        Severity::Warning,
        &file,
        line,
        format!(
            "the image covers other platforms than the release: only in the image {}; only in the release {}",
            list(&only_image),
            list(&only_release)
        ),
    )]
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{toolchain_from_image, Flags, Place};

    /// A static, reproducible Go build of `app` for linux/amd64.
    fn go_build(kind: PlaceKind, file: &str, image: &str, artifact: Artifact) -> Build {
        Build {
            language: Language::Go,
            program: Some("app".into()),
            place: Place {
                kind,
                name: "build".into(),
                file: file.into(),
                line: 5,
            },
            toolchain: toolchain_from_image(image, file, 1),
            flags: Flags {
                trimpath: true,
                cgo_enabled: Some("0".into()),
                ..Flags::default()
            },
            platforms: vec!["linux/amd64".into()],
            artifact,
            command: "go build".into(),
            why: String::new(),
        }
    }

    fn release(image: &str) -> Build {
        go_build(PlaceKind::CiJob, ".gitlab-ci.yml", image, Artifact::Release)
    }

    fn in_image(image: &str) -> Build {
        go_build(PlaceKind::DockerStage, "Dockerfile", image, Artifact::Image)
    }

    fn image_of(file: &str, platforms: &[&str]) -> (ImageBuild, DockerfileFacts) {
        let image = ImageBuild {
            dockerfile: file.into(),
            context: ".".into(),
            platforms: platforms.iter().map(|p| p.to_string()).collect(),
            tags: Vec::new(),
            target: None,
            place: Place {
                kind: PlaceKind::CiJob,
                name: "image".into(),
                file: ".gitlab-ci.yml".into(),
                line: 9,
            },
            ships: true,
            why: String::new(),
        };
        let facts = DockerfileFacts {
            file: file.into(),
            target: None,
            base: "scratch".into(),
            line: 4,
            binary_path: Some("/app".into()),
            packages_prebuilt: false,
            builds: true,
            platforms: image.platforms.clone(),
        };
        (image, facts)
    }

    fn run(rule: Rule, builds: &[Build]) -> Vec<Finding> {
        rule(&Subject::new(builds, &[], &[], &[], false))
    }

    #[test]
    fn every_rule_reports_its_own_id() {
        let mut r = release("golang:1.22");
        r.flags = Flags::default();
        r.platforms.push("linux/arm64".into());
        let i = in_image("golang:1.21-alpine");
        let builds = [r, i];
        let (image, facts) = image_of("Dockerfile", &["linux/amd64"]);
        let (images, dockerfiles) = ([image], [facts]);
        let unread = [Unread {
            tool: "promu".into(),
            place: builds[0].place.clone(),
        }];
        let subject = Subject::new(&builds, &images, &dockerfiles, &unread, false);
        for (id, rule) in RULES {
            let found = rule(&subject);
            assert!(!found.is_empty(), "{id} found nothing");
            assert!(found.iter().all(|f| f.id == *id), "{id}: {found:?}");
        }
    }

    #[test]
    fn a_faithful_double_build_is_only_that() {
        let builds = [release("golang:1.22.5"), in_image("golang:1.22.5")];
        let found = find(&builds, &[], &[], &[], false);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].id, found[0].severity),
            (DOUBLE_BUILD, Severity::Error)
        );
        assert_eq!((found[0].file.as_str(), found[0].line), ("Dockerfile", 5));
        // An image build with no release counterpart repeats nothing.
        assert!(run(double_build, &builds[1..]).is_empty());
    }

    #[test]
    fn option_c_accepts_the_double_build() {
        let builds = [release("golang:1.22.5"), in_image("golang:1.22.5")];
        let found = double_build(&Subject::new(&builds, &[], &[], &[], true));
        assert_eq!(found[0].severity, Severity::Info);
        assert!(found[0]
            .message
            .ends_with("(accepted: the ADR chose Option C)"));
    }

    #[test]
    fn libc_and_toolchain_differences() {
        let mut r = release("golang:1.22.5");
        let mut i = in_image("golang:1.23.1-alpine");
        r.flags.cgo_enabled = Some("1".into());
        i.flags.cgo_enabled = Some("1".into());
        let found = run(libc_mismatch, &[r.clone(), i.clone()]);
        assert!(
            found[0].message.starts_with(
                "the release binary links glibc (dynamic) (golang:1.22.5), the image's links musl"
            ),
            "{found:?}"
        );
        let found = run(toolchain_mismatch, &[r.clone(), i.clone()]);
        assert_eq!(
            found[0].message,
            "Go 1.22.5 builds the release (golang:1.22.5), Go 1.23.1 builds the image (golang:1.23.1-alpine)"
        );
        // `1.22` against `1.22.5` is unpinned, not a mismatch.
        i.toolchain.version = Some("1.22".into());
        assert!(run(toolchain_mismatch, &[r, i]).is_empty());
    }

    #[test]
    fn flags_that_differ_are_listed_release_first() {
        let r = release("golang:1.22.5");
        let mut i = in_image("golang:1.22.5");
        i.flags.trimpath = false;
        i.flags.ldflags = Some("-s -w".into());
        i.flags.cgo_enabled = None;
        let found = run(flags_mismatch, &[r, i]);
        assert_eq!(
            found[0].message,
            "release and image builds differ in -trimpath true vs false, -ldflags \"\" vs \"-s -w\", CGO_ENABLED 0 vs unset (release vs image)"
        );
    }

    #[test]
    fn go_builds_that_ship_need_trimpath_and_an_explicit_cgo() {
        let mut r = release("golang:1.22.5");
        r.flags = Flags::default();
        let mut test = r.clone();
        test.artifact = Artifact::None;
        test.place.line = 7;
        let builds = [r, test];
        let trimpath = run(trimpath_missing, &builds);
        let cgo = run(cgo_implicit, &builds);
        assert_eq!(trimpath.len(), 1, "a test build ships nothing");
        assert_eq!(cgo.len(), 1);
        assert!(cgo[0].message.contains("links glibc (dynamic)"));
        let mut alpine = release("golang:1.22.5-alpine");
        alpine.flags.cgo_enabled = None;
        assert!(run(cgo_implicit, &[alpine]).is_empty(), "no C compiler");
    }

    #[test]
    fn an_unpinned_toolchain_is_reported_once_where_it_is_named() {
        let a = release("golang:1.22");
        let mut b = a.clone();
        b.place.line = 8;
        let found = run(unpinned_toolchain, &[a, b, in_image("golang:1.22.5")]);
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(
            (found[0].file.as_str(), found[0].line),
            (".gitlab-ci.yml", 1)
        );
        assert!(found[0]
            .message
            .contains("1.22 is not an exact version or digest"));
    }

    #[test]
    fn multiarch_gap_names_both_sides() {
        let mut r = release("golang:1.22.5");
        r.platforms = vec![
            "linux/amd64".into(),
            "linux/arm64".into(),
            "darwin/arm64".into(),
        ];
        let (image, facts) = image_of("Dockerfile", &["linux/amd64", "linux/s390x"]);
        let builds = [r];
        let found = multiarch_gap(&Subject::new(
            &builds,
            std::slice::from_ref(&image),
            std::slice::from_ref(&facts),
            &[],
            false,
        ));
        assert_eq!(
            found[0].message,
            "the image covers other platforms than the release: only in the image linux/s390x; only in the release linux/arm64"
        );
        assert_eq!(
            (found[0].file.as_str(), found[0].line),
            (".gitlab-ci.yml", 9)
        );
        // An image whose Dockerfile neither builds nor packages ships nothing.
        let idle = DockerfileFacts {
            builds: false,
            ..facts
        };
        assert!(multiarch_gap(&Subject::new(&builds, &[image], &[idle], &[], false)).is_empty());
    }
}
