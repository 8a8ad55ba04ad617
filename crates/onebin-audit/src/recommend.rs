//! From findings to a decision: Option A (the image owns the build), B (CI
//! owns the build, the image only packages) or C (two builds, pinned
//! toolchains, only when the two targets are meant to differ), with the
//! change written in the project's own CI dialect.

use serde::Serialize;

use crate::ci::Dialect;
use crate::findings::{self, Finding};
use crate::model::{Artifact, Build, DockerfileFacts, ImageBuild, Language, OnebinStep, PlaceKind};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum OptionKind {
    A,
    B,
    C,
}

impl std::fmt::Display for OptionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            OptionKind::A => "A",
            OptionKind::B => "B",
            OptionKind::C => "C",
        })
    }
}

impl std::str::FromStr for OptionKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s.trim().to_ascii_uppercase().as_str() {
            "A" => Ok(OptionKind::A),
            "B" => Ok(OptionKind::B),
            "C" => Ok(OptionKind::C),
            _ => Err(format!("'{s}' is not an option: A, B or C")),
        }
    }
}

impl OptionKind {
    pub fn title(self) -> &'static str {
        match self {
            OptionKind::A => "the image owns the build",
            OptionKind::B => "CI owns the build, the image only packages",
            OptionKind::C => "two builds, pinned toolchains",
        }
    }
}

/// One concrete edit: which file, what to do, and the text.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Change {
    pub file: String,
    /// `add`, `replace` or `remove`.
    pub action: String,
    pub description: String,
    pub content: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Recommendation {
    pub option: OptionKind,
    pub reasons: Vec<String>,
    pub changes: Vec<Change>,
    /// The binary's name, its path in the image, the platforms: the facts the
    /// changes and the ADR are written from.
    pub program: String,
    pub image_path: String,
    pub platforms: Vec<String>,
    /// How the project proves the decision holds.
    pub verify: Vec<String>,
}

pub struct Input<'a> {
    pub builds: &'a [Build],
    pub images: &'a [ImageBuild],
    pub dockerfiles: &'a [DockerfileFacts],
    pub onebin: &'a [OnebinStep],
    pub findings: &'a [Finding],
    pub dialect: Dialect,
    /// The project's ADR already chose Option C (the caller reads the ADR
    /// once, up front).
    pub accepted_c: bool,
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v.dedup();
    v
}

/// Both sides chose their C library on purpose, and chose differently.
fn meant_to_differ(release: &[&Build], image: &[&Build]) -> Option<String> {
    for r in release {
        for i in image.iter().filter(|i| i.language == r.language) {
            if r.linked_libc() == i.linked_libc() {
                continue;
            }
            let explicit = match r.language {
                Language::Go => {
                    r.flags.cgo_enabled.as_deref() == Some("1")
                        && i.flags.cgo_enabled.as_deref() == Some("1")
                }
                Language::Rust => r.flags.target.is_some() && i.flags.target.is_some(),
                Language::C => r.toolchain.pinned && i.toolchain.pinned,
            };
            if explicit {
                return Some(format!(
                    "the two targets are meant to differ: {} builds for {:?} and {} for {:?}, each chosen explicitly",
                    r.describe(),
                    r.linked_libc(),
                    i.describe(),
                    i.linked_libc()
                ));
            }
        }
    }
    None
}

pub fn recommend(input: &Input) -> Recommendation {
    let release = findings::release_builds(input.builds);
    let image = findings::image_builds(input.builds);
    let platforms = Platforms::of(input, &release, &image);
    let double: Vec<&Finding> = input
        .findings
        .iter()
        .filter(|f| f.id == findings::DOUBLE_BUILD)
        .collect();
    let mut reasons: Vec<String> = double.iter().map(|f| reason(f)).collect();
    let (option, why) = match input
        .accepted_c
        .then(|| "an ADR already accepted Option C".to_string())
        .or_else(|| meant_to_differ(&release, &image))
    {
        Some(why) => (OptionKind::C, why),
        None if !double.is_empty() => side_that_keeps_the_build(&platforms),
        None => shape_already_there(input, &release, &image),
    };
    reasons.push(why);
    reasons.extend(
        input
            .findings
            .iter()
            .filter(|f| {
                matches!(
                    f.id,
                    findings::LIBC_MISMATCH
                        | findings::TOOLCHAIN_MISMATCH
                        | findings::FLAGS_MISMATCH
                        | findings::MULTIARCH_GAP
                        // The recommendation does not see what these build.
                        | findings::UNREAD_BUILD
                )
            })
            .map(reason),
    );
    let facts = Facts::gather(
        input,
        &release,
        &image,
        option,
        &platforms.release_linux,
        &platforms.image,
    );
    // Changes only where there is something to change: a project already
    // in shape, or with no image at all, gets none.
    let changes = if double.is_empty() && option != OptionKind::C {
        Vec::new()
    } else {
        changes(input, &facts, option)
    };
    Recommendation {
        option,
        reasons,
        changes,
        program: facts.program.clone(),
        image_path: facts.path.clone(),
        platforms: facts.platforms.clone(),
        verify: facts.verify(option),
    }
}

fn reason(f: &Finding) -> String {
    format!("{} ({}:{}): {}", f.id, f.file, f.line, f.message)
}

/// The platforms each side builds, sorted.
struct Platforms {
    release: Vec<String>,
    release_linux: Vec<String>,
    /// The images' (of Dockerfiles that were read) and the image builds'.
    image: Vec<String>,
}

impl Platforms {
    fn of(input: &Input, release: &[&Build], image: &[&Build]) -> Platforms {
        let release_all = sorted(release.iter().flat_map(|b| b.platforms.clone()).collect());
        let release_linux = release_all
            .iter()
            .filter(|p| p.starts_with("linux/"))
            .cloned()
            .collect();
        let image_platforms = sorted(
            input
                .images
                .iter()
                .filter(|i| input.dockerfiles.iter().any(|d| d.file == i.dockerfile))
                .flat_map(|i| i.platforms.clone())
                .chain(image.iter().flat_map(|b| b.platforms.clone()))
                .collect(),
        );
        Platforms {
            release: release_all,
            release_linux,
            image: image_platforms,
        }
    }
}

/// With a double build: the side that covers the other's platforms keeps
/// the build (a multi-arch image, or CI); non-Linux releases keep it in CI.
fn side_that_keeps_the_build(p: &Platforms) -> (OptionKind, String) {
    let covers = |a: &[String], b: &[String]| b.iter().all(|x| a.contains(x));
    let non_linux: Vec<&str> = p
        .release
        .iter()
        .filter(|x| !x.starts_with("linux/"))
        .map(String::as_str)
        .collect();
    if !non_linux.is_empty() {
        (OptionKind::B, format!(
            "the release also offers {}, which no Linux image can carry: CI must keep building those, so it should build the Linux ones too",
            non_linux.join(", ")
        ))
    } else if p.image.len() > 1 && covers(&p.image, &p.release_linux) {
        (OptionKind::A, format!(
            "a multi-arch image build already produces every release platform ({}): take the release assets out of it",
            p.image.join(", ")
        ))
    } else if covers(&p.release, &p.image) {
        (OptionKind::B, format!(
            "CI already builds every platform the image needs ({}): the image only has to package those binaries",
            p.image.join(", ")
        ))
    } else if covers(&p.image, &p.release_linux) {
        (
            OptionKind::A,
            format!(
                "the image build covers every release platform ({})",
                p.image.join(", ")
            ),
        )
    } else {
        (OptionKind::B, format!(
            "neither side builds every platform (release: {}; image: {}): CI is the easier one to extend",
            p.release.join(", "),
            p.image.join(", ")
        ))
    }
}

/// With no double build: the option the project already follows.
fn shape_already_there(
    input: &Input,
    release: &[&Build],
    image: &[&Build],
) -> (OptionKind, String) {
    if input.onebin.iter().any(|o| o.verb == "extract") {
        (OptionKind::A, "no double build: the release assets are already extracted from the image with onebin extract".into())
    } else if input.onebin.iter().any(|o| o.verb == "package")
        || input.dockerfiles.iter().any(|d| d.packages_prebuilt)
    {
        (
            OptionKind::B,
            "no double build: the image already packages the binaries CI built".into(),
        )
    } else if image.is_empty() && input.images.is_empty() && input.dockerfiles.is_empty() {
        (
            OptionKind::B,
            "no container image is built: release binaries only, nothing to change".into(),
        )
    } else if !image.is_empty() && release.is_empty() {
        (
            OptionKind::A,
            "no double build: only the image builds the binary".into(),
        )
    } else {
        (
            OptionKind::B,
            "no double build: only CI builds the binary".into(),
        )
    }
}

struct Facts {
    program: String,
    path: String,
    platforms: Vec<String>,
    base: String,
    dockerfile: String,
    release_job: Option<String>,
    image_job: Option<(String, String, usize)>,
    toolchain_fixes: Vec<(String, usize, String)>,
}

impl Facts {
    fn gather(
        input: &Input,
        release: &[&Build],
        image: &[&Build],
        option: OptionKind,
        release_linux: &[String],
        image_platforms: &[String],
    ) -> Facts {
        let shipped = input
            .dockerfiles
            .iter()
            .find(|d| d.builds || d.packages_prebuilt);
        let path = shipped.and_then(|d| d.binary_path.clone());
        let program = release
            .iter()
            .chain(image)
            .find_map(|b| b.program.clone())
            .or_else(|| path.as_deref().map(crate::files::basename))
            .unwrap_or_else(|| "app".into());
        let path = path.unwrap_or_else(|| format!("/usr/local/bin/{program}"));
        let platforms = match option {
            OptionKind::A if !image_platforms.is_empty() => image_platforms.to_vec(),
            _ if !release_linux.is_empty() => release_linux.to_vec(),
            _ if !image_platforms.is_empty() => image_platforms.to_vec(),
            _ => vec!["linux/amd64".to_string()],
        };
        let base = shipped
            .map(|d| d.base.clone())
            .unwrap_or_else(|| "scratch".into());
        let image_job = input
            .images
            .iter()
            .find(|i| shipped.is_some_and(|d| d.file == i.dockerfile))
            .map(|i| (i.place.name.clone(), i.place.file.clone(), i.place.line));
        let mut toolchain_fixes = Vec::new();
        for b in release.iter().chain(image).filter(|b| !b.toolchain.pinned) {
            let fix = (
                b.toolchain.file.clone(),
                b.toolchain.line,
                b.toolchain.source.clone(),
            );
            if !toolchain_fixes.contains(&fix) {
                toolchain_fixes.push(fix);
            }
        }
        Facts {
            program,
            path,
            platforms,
            base,
            dockerfile: shipped
                .map(|d| d.file.clone())
                .unwrap_or_else(|| "Dockerfile".into()),
            release_job: release
                .iter()
                .find(|b| b.place.kind == PlaceKind::CiJob)
                .map(|b| b.place.name.clone()),
            image_job,
            toolchain_fixes,
        }
    }

    /// The release build's command per platform, in its own language, with
    /// its own -ldflags and -tags kept.
    fn build_lines(&self, builds: &[Build]) -> String {
        let release = builds
            .iter()
            .find(|b| matches!(b.artifact, Artifact::Release | Artifact::ReleaseAndImage));
        let mut out = String::new();
        for p in &self.platforms {
            let (os, arch) = p.split_once('/').unwrap_or((p, ""));
            let language = release.map_or(Language::Go, |b| b.language);
            let line = match (language, release) {
                (Language::Go, _) => {
                    let mut l = format!("CGO_ENABLED=0 GOOS={os} GOARCH={arch} go build -trimpath");
                    if let Some(ld) = release.and_then(|b| b.flags.ldflags.as_ref()) {
                        l.push_str(&format!(" -ldflags \"{ld}\""));
                    }
                    if let Some(t) = release.and_then(|b| b.flags.tags.as_ref()) {
                        l.push_str(&format!(" -tags {t}"));
                    }
                    format!("{l} -o {} .", self.asset(p))
                }
                (Language::Rust, _) => {
                    let triple = match arch {
                        "arm64" => "aarch64-unknown-linux-musl",
                        _ => "x86_64-unknown-linux-musl",
                    };
                    format!(
                        "cargo build --release --locked --target {triple} && cp target/{triple}/release/{} {}",
                        self.program,
                        self.asset(p)
                    )
                }
                _ => format!(
                    "make && cp {} {}   # for {p}, linked for the image's base",
                    self.program,
                    self.asset(p)
                ),
            };
            out.push_str(&line);
            out.push('\n');
        }
        out
    }

    fn asset(&self, platform: &str) -> String {
        format!("dist/{}_{}", self.program, platform.replace('/', "_"))
    }

    fn binaries(&self) -> String {
        self.platforms
            .iter()
            .map(|p| format!("{p}={}", self.asset(p)))
            .collect::<Vec<_>>()
            .join(" ")
    }

    fn verify(&self, option: OptionKind) -> Vec<String> {
        match option {
            OptionKind::A => vec![format!(
                "onebin verify oci-archive:image.tar --path {} --checksums dist/checksums.txt",
                self.path
            )],
            OptionKind::B => vec![format!(
                "onebin verify oci-archive:image.tar --path {} {}",
                self.path,
                self.platforms
                    .iter()
                    .map(|p| format!("--binary {p}={}", self.asset(p)))
                    .collect::<Vec<_>>()
                    .join(" ")
            )],
            OptionKind::C => {
                let mut v = vec![format!(
                    "onebin extract oci-archive:image.tar --path {} --out image-dist",
                    self.path
                )];
                for p in &self.platforms {
                    v.push(format!(
                        "onebin explain {} image-dist/{}_{}   # expect: same-source",
                        self.asset(p),
                        self.program,
                        p.replace('/', "_")
                    ));
                }
                v
            }
        }
    }
}

const GITLAB_INCLUDE: &str =
    "include:\n  - remote: https://raw.githubusercontent.com/onebin/onebin/main/templates/gitlab/onebin.gitlab-ci.yml\n";
const GITHUB_ACTIONS: &str = "onebin/onebin/templates/github";

/// Where the recommended CI change goes: the project's CI file in its
/// dialect, else a release script.
fn ci_file(input: &Input) -> String {
    match input.dialect {
        Dialect::Gitlab => ".gitlab-ci.yml".to_string(),
        Dialect::Github => input
            .builds
            .iter()
            .find(|b| b.place.kind == PlaceKind::CiJob && b.place.file.starts_with(".github/"))
            .map(|b| b.place.file.clone())
            .or_else(|| input.images.first().map(|i| i.place.file.clone()))
            .unwrap_or_else(|| ".github/workflows/release.yml".into()),
        Dialect::None => "scripts/release.sh".into(),
    }
}

fn changes(input: &Input, f: &Facts, option: OptionKind) -> Vec<Change> {
    let ci_file = ci_file(input);
    match option {
        OptionKind::A => extract_changes(input, f, ci_file),
        OptionKind::B => package_changes(input, f, ci_file),
        OptionKind::C => explain_changes(f, ci_file),
    }
}

/// Option B: CI builds every platform, onebin packages (and verifies) the
/// image, and a builder stage and its image build go.
fn package_changes(input: &Input, f: &Facts, ci_file: String) -> Vec<Change> {
    let mut out = Vec::new();
    let builds_in_image = input.builds.iter().any(|b| b.artifact == Artifact::Image);
    if builds_in_image {
        out.push(Change {
            file: f.dockerfile.clone(),
            action: "replace".into(),
            description: "drop the builder stage: the image only packages the binary CI built (onebin package does the same without Docker)".into(),
            content: format!(
                "FROM {base}\nARG TARGETOS TARGETARCH\nCOPY dist/{p}_${{TARGETOS}}_${{TARGETARCH}} {path}\nENTRYPOINT [\"{path}\"]\n",
                base = f.base,
                p = f.program,
                path = f.path
            ),
        });
    }
    out.push(Change {
        file: ci_file.clone(),
        action: "replace".into(),
        description: format!(
            "the CI build writes dist/{}_{{os}}_{{arch}} for every image platform ({}), statically linked where it can be, and keeps dist/ as an artifact",
            f.program,
            f.platforms.join(",")
        ),
        content: f.build_lines(input.builds),
    });
    out.push(Change {
        file: ci_file,
        action: "add".into(),
        description: "a job that runs onebin package and onebin verify on CI's binaries (replaces the docker build)".into(),
        content: package_job(input, f),
    });
    if let Some((name, file, line)) = &f.image_job {
        if builds_in_image {
            out.push(Change {
                file: file.clone(),
                action: "remove".into(),
                description: format!("the image build in `{name}` ({file}:{line}): onebin package makes the image now"),
                content: String::new(),
            });
        }
    }
    out
}

/// Option B's packaging job, in the project's CI dialect.
fn package_job(input: &Input, f: &Facts) -> String {
    let needs = f.release_job.clone().unwrap_or_else(|| "build".into());
    match input.dialect {
        Dialect::Gitlab => format!(
            "{GITLAB_INCLUDE}\npackage-image:\n  extends: .onebin-package\n  needs: [{needs}]\n  variables:\n    ONEBIN_BINARIES: \"{}\"\n    ONEBIN_PATH: {}\n    ONEBIN_BASE: {}\n    ONEBIN_PUSH: $CI_REGISTRY_IMAGE:$CI_COMMIT_REF_SLUG\n",
            f.binaries(),
            f.path,
            f.base
        ),
        Dialect::Github => format!(
            "      # in the job that built dist/, after the build:\n      - uses: {GITHUB_ACTIONS}/package@main\n        with:\n          binaries: {}\n          path: {}\n          base: {}\n          dest: oci-archive:image.tar\n          push: ghcr.io/${{{{ github.repository }}}}:${{{{ github.ref_name }}}}\n",
            f.binaries(),
            f.path,
            f.base
        ),
        Dialect::None => format!(
            "onebin package {} --path {} --dest oci-archive:image.tar\n{}\n",
            f.platforms
                .iter()
                .map(|p| format!("--binary {p}={}", f.asset(p)))
                .collect::<Vec<_>>()
                .join(" "),
            f.path,
            f.verify(OptionKind::B).join("\n")
        ),
    }
}

/// Option A: the multi-arch image is built once; the release assets are
/// extracted from it, and CI's release builds go.
fn extract_changes(input: &Input, f: &Facts, ci_file: String) -> Vec<Change> {
    let mut out = vec![Change {
        file: ci_file,
        action: "add".into(),
        description: "build the multi-arch image once, then take the release assets out of it with onebin extract and check them with onebin verify".into(),
        content: extract_job(input, f),
    }];
    for b in input.builds.iter().filter(|b| {
        matches!(b.artifact, Artifact::Release | Artifact::ReleaseAndImage)
            && b.place.kind != PlaceKind::DockerStage
    }) {
        out.push(Change {
            file: b.place.file.clone(),
            action: "remove".into(),
            description: format!(
                "the release build in {}: the release assets come from the image now",
                b.describe()
            ),
            content: b.command.clone(),
        });
    }
    out
}

/// Option A's image build and extraction, in the project's CI dialect.
fn extract_job(input: &Input, f: &Facts) -> String {
    let platforms = f.platforms.join(",");
    match input.dialect {
        Dialect::Github => format!(
            "      - uses: docker/build-push-action@v6\n        with:\n          platforms: {platforms}\n          outputs: type=oci,dest=image.tar\n      - uses: {GITHUB_ACTIONS}/extract@main\n        with:\n          image: oci-archive:image.tar\n          path: {}\n          out: dist\n",
            f.path
        ),
        Dialect::Gitlab => format!(
            "{GITLAB_INCLUDE}\nbuild-image:\n  image: docker:27\n  services: [docker:27-dind]\n  script:\n    - docker buildx create --use\n    - docker buildx build --platform {platforms} --output type=oci,dest=image.tar -f {} .\n  artifacts:\n    paths: [image.tar]\n\nrelease-assets:\n  extends: .onebin-extract\n  needs: [build-image]\n  variables:\n    ONEBIN_IMAGE: oci-archive:image.tar\n    ONEBIN_PATH: {}\n",
            f.dockerfile, f.path
        ),
        Dialect::None => format!(
            "docker buildx build --platform {platforms} --output type=oci,dest=image.tar -f {} .\nonebin extract oci-archive:image.tar --path {} --out dist\n{}\n",
            f.dockerfile,
            f.path,
            f.verify(OptionKind::A).join("\n")
        ),
    }
}

/// Option C: both builds stay, pinned, and every release proves with
/// `onebin explain` that they differ only where they must.
fn explain_changes(f: &Facts, ci_file: String) -> Vec<Change> {
    let mut out = Vec::new();
    for (file, line, source) in &f.toolchain_fixes {
        out.push(Change {
            file: file.clone(),
            action: "replace".into(),
            description: format!(
                "pin the toolchain `{source}` ({file}:{line}) to an exact version and digest, e.g. golang:1.22.5-alpine@sha256:…, on both sides"
            ),
            content: String::new(),
        });
    }
    out.push(Change {
        file: ci_file,
        action: "add".into(),
        description:
            "prove on every release that the two binaries come from the same source and settings"
                .into(),
        content: f.verify(OptionKind::C).join("\n") + "\n",
    });
    out
}
