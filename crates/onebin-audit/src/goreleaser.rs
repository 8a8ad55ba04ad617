//! `.goreleaser.y(a)ml`: `builds` (release assets), `dockers` and
//! `dockers_v2` (images that package those builds), `kos` (ko builds the
//! image again from source).

use std::path::Path;

use crate::collect::Collector;
use crate::files::normalize;
use crate::model::{
    runner_toolchain, Artifact, Build, Flags, ImageBuild, Language, Place, PlaceKind, Toolchain,
    Warning,
};
use crate::reader::Reader;
use crate::yaml::Node;

/// GoReleaser's config, read as the CI job that runs it would run it.
pub struct Goreleaser;

impl Reader for Goreleaser {
    fn read(&self, collector: &mut Collector) {
        let Some(file) = find(collector.root) else {
            return;
        };
        let Some((run, tc, why)) = runner(collector, &file) else {
            return;
        };
        let Some(cfg) = parse(collector.root, &file, &mut collector.warnings) else {
            return;
        };
        for b in &cfg.builds {
            let mut release = build(&cfg, b, PlaceKind::Goreleaser, &run, &tc);
            release.why = format!("GoReleaser `builds` make the release assets; {why}");
            collector.builds.push(release);
        }
        for k in &cfg.kos {
            let mut image = build(&cfg, k, PlaceKind::Ko, &run, &tc);
            image.why = format!("GoReleaser `kos` build the image again from source; {why}");
            collector.builds.push(image);
        }
        for d in &cfg.dockers {
            let mut image = docker_image(&cfg, d, &run);
            image.why = format!("GoReleaser `dockers` publish the image; {why}");
            collector.goreleaser_images.push(image);
        }
    }
}

/// The job that runs GoReleaser (the first, when several do), and its
/// toolchain; with no CI at all, the local machine.
fn runner(collector: &mut Collector, file: &str) -> Option<(Place, Toolchain, String)> {
    let runs = collector.goreleaser_runs.clone();
    if runs.is_empty() && collector.images.is_empty() && collector.builds.is_empty() {
        // No CI that we read runs it; audit the config as a local release would.
        return Some((
            Place {
                kind: PlaceKind::CiJob,
                name: "goreleaser".into(),
                file: file.to_string(),
                line: 1,
            },
            runner_toolchain("the local machine", file, 1),
            "no CI job runs GoReleaser: a release made by hand".into(),
        ));
    }
    runs.into_iter().next()
}

/// A build GoReleaser runs: one of `builds` for the release, or of `kos`
/// (`PlaceKind::Ko`), where ko builds the image again from source.
fn build(cfg: &GrConfig, b: &GrBuild, kind: PlaceKind, run: &Place, tc: &Toolchain) -> Build {
    let language = match b.builder.as_str() {
        "rust" => Language::Rust,
        "go" | "" => Language::Go,
        _ => Language::C,
    };
    let (name, artifact, command) = match kind {
        PlaceKind::Ko => (
            format!("kos {} (run by {})", b.id, run.name),
            Artifact::Image,
            "ko build (GoReleaser kos)",
        ),
        _ => (
            format!("{} (run by {})", b.id, run.name),
            Artifact::Release,
            "goreleaser release",
        ),
    };
    Build {
        language,
        program: Some(b.binary.clone()),
        place: Place {
            kind,
            name,
            file: cfg.file.clone(),
            line: b.line,
        },
        toolchain: tc.clone(),
        flags: b.flags.clone(),
        platforms: b.platforms.clone(),
        artifact,
        command: command.into(),
        why: String::new(),
    }
}

/// `dockers`: GoReleaser builds the image in `dist`, from the binaries it
/// built.
fn docker_image(cfg: &GrConfig, d: &GrDocker, run: &Place) -> ImageBuild {
    ImageBuild {
        dockerfile: normalize(&d.dockerfile),
        context: "dist".into(),
        platforms: d.platforms.clone(),
        tags: d.tags.clone(),
        target: None,
        place: Place {
            kind: PlaceKind::Goreleaser,
            name: format!("dockers (run by {})", run.name),
            file: cfg.file.clone(),
            line: d.line,
        },
        ships: true,
        why: String::new(),
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct GrBuild {
    pub id: String,
    pub binary: String,
    pub flags: Flags,
    pub platforms: Vec<String>,
    pub line: usize,
    /// `builder: rust` / `zig` builds are not Go.
    pub builder: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GrDocker {
    pub dockerfile: String,
    pub platforms: Vec<String>,
    pub tags: Vec<String>,
    pub line: usize,
}

#[derive(Debug, Clone, PartialEq)]
pub struct GrConfig {
    pub file: String,
    pub builds: Vec<GrBuild>,
    pub dockers: Vec<GrDocker>,
    pub kos: Vec<GrBuild>,
    pub project: String,
}

fn strings(n: &Node) -> Vec<String> {
    n.strings().into_iter().map(|(s, _)| s).collect()
}

/// A build's settings; `top` is the config's top-level `env`, which every
/// build sees and its own `env` overrides.
fn flags_of(b: &Node, top: &Node) -> Flags {
    let env: Vec<(String, String)> = strings(top)
        .into_iter()
        .chain(strings(b.at("env")))
        .collect::<Vec<_>>()
        .iter()
        .filter_map(|e| {
            e.split_once('=')
                .map(|(k, v)| (k.to_string(), v.to_string()))
        })
        .collect();
    let get = |k: &str| {
        env.iter()
            .rev()
            .find(|(x, _)| x == k)
            .map(|(_, v)| v.clone())
    };
    let flags = strings(b.at("flags"));
    let ldflags = strings(b.at("ldflags"));
    let tags = strings(b.at("tags"));
    Flags {
        cgo_enabled: get("CGO_ENABLED"),
        trimpath: flags.iter().any(|f| f == "-trimpath")
            || get("GOFLAGS").is_some_and(|g| g.contains("-trimpath")),
        ldflags: (!ldflags.is_empty()).then(|| ldflags.join(" ")),
        tags: (!tags.is_empty()).then(|| tags.join(",")),
        goflags: get("GOFLAGS"),
        target: None,
        release: true,
    }
}

fn platforms(b: &Node, default_os: &[&str], default_arch: &[&str]) -> Vec<String> {
    let targets = strings(b.at("targets"));
    if !targets.is_empty() {
        return targets
            .iter()
            .map(|t| {
                let mut parts = t.split('_');
                format!(
                    "{}/{}",
                    parts.next().unwrap_or(""),
                    parts.next().unwrap_or("")
                )
            })
            .collect();
    }
    let mut os = strings(b.at("goos"));
    if os.is_empty() {
        os = default_os.iter().map(|s| s.to_string()).collect();
    }
    let mut arch = strings(b.at("goarch"));
    if arch.is_empty() {
        arch = default_arch.iter().map(|s| s.to_string()).collect();
    }
    let ignore: Vec<String> = b
        .at("ignore")
        .as_seq()
        .iter()
        .map(|i| {
            format!(
                "{}/{}",
                i.at("goos").as_str().unwrap_or(""),
                i.at("goarch").as_str().unwrap_or("")
            )
        })
        .collect();
    let mut out = Vec::new();
    for o in &os {
        for a in &arch {
            let p = format!("{o}/{a}");
            if !(ignore.contains(&p) || o == "darwin" && a == "386") {
                out.push(p);
            }
        }
    }
    out
}

pub fn find(root: &Path) -> Option<String> {
    [
        ".goreleaser.yml",
        ".goreleaser.yaml",
        "goreleaser.yml",
        "goreleaser.yaml",
    ]
    .into_iter()
    .find(|f| root.join(f).is_file())
    .map(str::to_string)
}

pub fn parse(root: &Path, file: &str, warnings: &mut Vec<Warning>) -> Option<GrConfig> {
    let doc = crate::files::read_yaml(root, file, warnings)?;
    let project = doc
        .at("project_name")
        .as_str()
        .map(str::to_string)
        .unwrap_or_else(|| {
            root.canonicalize()
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                .unwrap_or_else(|| "app".into())
        });
    let mut builds: Vec<GrBuild> = doc
        .at("builds")
        .as_seq()
        .iter()
        .filter(|b| b.at("skip").as_str() != Some("true"))
        .map(|b| GrBuild {
            id: b.at("id").as_str().unwrap_or(&project).to_string(),
            binary: b.at("binary").as_str().unwrap_or(&project).to_string(),
            flags: flags_of(b, doc.at("env")),
            platforms: platforms(
                b,
                &["linux", "darwin", "windows"],
                &["amd64", "arm64", "386"],
            ),
            line: b.line,
            builder: b.at("builder").as_str().unwrap_or("go").to_string(),
        })
        .collect();
    if doc.get("builds").is_none() {
        // GoReleaser's default: one Go build of the main package.
        builds.push(GrBuild {
            id: project.clone(),
            binary: project.clone(),
            flags: flags_of(&Node::null(1), doc.at("env")),
            platforms: platforms(
                &Node::null(1),
                &["linux", "darwin", "windows"],
                &["amd64", "arm64", "386"],
            ),
            line: 1,
            builder: "go".into(),
        });
    }
    let mut dockers = Vec::new();
    for d in doc.at("dockers").as_seq() {
        let os = d.at("goos").as_str().unwrap_or("linux");
        let arch = d.at("goarch").as_str().unwrap_or("amd64");
        dockers.push(GrDocker {
            dockerfile: d
                .at("dockerfile")
                .as_str()
                .unwrap_or("Dockerfile")
                .to_string(),
            platforms: vec![format!("{os}/{arch}")],
            tags: strings(d.at("image_templates")),
            line: d.line,
        });
    }
    for d in doc.at("dockers_v2").as_seq() {
        let mut p = strings(d.at("platforms"));
        if p.is_empty() {
            p = vec!["linux/amd64".into(), "linux/arm64".into()];
        }
        dockers.push(GrDocker {
            dockerfile: d
                .at("dockerfile")
                .as_str()
                .unwrap_or("Dockerfile")
                .to_string(),
            platforms: p,
            tags: strings(d.at("images")),
            line: d.line,
        });
    }
    let kos = doc
        .at("kos")
        .as_seq()
        .iter()
        .map(|k| {
            let mut p = strings(k.at("platforms"));
            if p.is_empty() {
                p = vec!["linux/amd64".into()];
            }
            let mut flags = flags_of(k, doc.at("env"));
            // ko builds with -trimpath and CGO_ENABLED=0 unless told otherwise.
            flags.trimpath = true;
            if flags.cgo_enabled.is_none() {
                flags.cgo_enabled = Some("0".into());
            }
            GrBuild {
                id: k.at("id").as_str().unwrap_or(&project).to_string(),
                binary: k.at("build").as_str().unwrap_or(&project).to_string(),
                flags,
                platforms: p,
                line: k.line,
                builder: "go".into(),
            }
        })
        .collect();
    Some(GrConfig {
        file: file.to_string(),
        builds,
        dockers,
        kos,
        project,
    })
}
