//! Dockerfiles into the model: which ones the project builds (for which
//! target, on which platforms), the builds their stages run, and what the
//! final stage does with the binary.

use super::{arg_pairs, parse, Dockerfile, Instruction, Stage};
use crate::collect::{Collector, RunCtx};
use crate::files::{basename, read_text};
use crate::model::{
    toolchain_from_image, Artifact, DockerfileFacts, ImageBuild, PlaceKind, Toolchain, Warning,
};
use crate::reader::Reader;
use crate::shell::Env;

/// The Dockerfiles that CI and GoReleaser build, or, when no CI names one,
/// those at the top of the project.
pub struct Dockerfiles;

impl Reader for Dockerfiles {
    fn read(&self, collector: &mut Collector) {
        for w in wanted(collector) {
            if !collector.root.join(&w.file).is_file() {
                collector.warnings.push(Warning::new(
                    w.file.clone(),
                    0,
                    "named by the CI configuration, but not found".into(),
                ));
                continue;
            }
            if let Some(facts) = read_one(collector, &w) {
                collector.dockerfiles.push(facts);
            }
        }
    }
}

/// A Dockerfile to read: for which target, from which context, on which
/// platforms (every image build of it, together).
#[derive(Debug, Clone, PartialEq)]
struct Wanted {
    file: String,
    context: String,
    target: Option<String>,
    platforms: Vec<String>,
    /// Some image build of it is published; else only tests build it.
    ships: bool,
    why: String,
}

fn add(wanted: &mut Vec<Wanted>, w: Wanted) {
    match wanted
        .iter_mut()
        .find(|x| x.file == w.file && x.target == w.target)
    {
        Some(x) => {
            if w.ships && !x.ships {
                x.ships = true;
                x.why = w.why;
            }
            for p in w.platforms {
                if !x.platforms.contains(&p) {
                    x.platforms.push(p);
                }
            }
        }
        None => wanted.push(w),
    }
}

/// CI's image builds (an image without platforms is `linux/amd64`), then
/// GoReleaser's (which join the images from here on), then the project's
/// own Dockerfiles when nothing names them or no CI runs.
fn wanted(collector: &mut Collector) -> Vec<Wanted> {
    let mut wanted = Vec::new();
    for img in &mut collector.images {
        if img.platforms.is_empty() {
            img.platforms = vec!["linux/amd64".into()];
        }
        add(&mut wanted, from_image(img, &img.context));
    }
    // GoReleaser's context is its `dist`; the Dockerfile is read from the top.
    for img in &collector.goreleaser_images {
        add(&mut wanted, from_image(img, ""));
    }
    collector.images.append(&mut collector.goreleaser_images);
    let named: Vec<String> = wanted.iter().map(|w| w.file.clone()).collect();
    for file in dockerfiles_in(collector.root) {
        if !named.contains(&file) && (named.is_empty() || collector.jobs.is_empty()) {
            add(
                &mut wanted,
                Wanted {
                    file,
                    context: String::new(),
                    target: None,
                    platforms: vec!["linux/amd64".to_string()],
                    ships: true,
                    why: "no CI step names it: taken as the project's image".into(),
                },
            );
        }
    }
    wanted
}

fn from_image(img: &ImageBuild, context: &str) -> Wanted {
    Wanted {
        file: img.dockerfile.clone(),
        context: context.to_string(),
        target: img.target.clone(),
        platforms: img.platforms.clone(),
        ships: img.ships,
        why: img.why.clone(),
    }
}

/// Dockerfiles at the top of the project, for when no config names one. A
/// symbolic link is taken too: reading it refuses one that leaves the project.
fn dockerfiles_in(root: &std::path::Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file() || t.is_symlink()))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| {
            n == "Dockerfile"
                || n == "Containerfile"
                || n.starts_with("Dockerfile.")
                || n.ends_with(".Dockerfile")
        })
        .collect();
    out.sort();
    out
}

/// Reads one Dockerfile for one target, adding the builds its stages run.
fn read_one(collector: &mut Collector, w: &Wanted) -> Option<DockerfileFacts> {
    let df = parse_file(collector, &w.file)?;
    let first_build = collector.builds.len();
    run_stages(collector, &df, w);
    // Builds in the image with no platform of their own get the image's.
    for b in &mut collector.builds[first_build..] {
        if b.platforms.is_empty() {
            b.platforms = w.platforms.clone();
        }
    }
    let last = match w.target.as_deref().and_then(|t| df.stage_by_ref(t)) {
        Some(s) => s,
        None => df.stages.last()?,
    };
    let (binary_path, packages_prebuilt) = binary_in_final_stage(&df, last);
    let builds = collector.builds[first_build..]
        .iter()
        .any(|b| b.artifact == Artifact::Image);
    Some(DockerfileFacts {
        file: w.file.clone(),
        target: w.target.clone(),
        base: df.root_image(last).0.to_string(),
        line: last.line,
        binary_path,
        packages_prebuilt: packages_prebuilt && !builds,
        builds,
        platforms: w.platforms.clone(),
    })
}

/// The parsed file, its syntax errors as warnings; `None` when it cannot
/// be read or has no stage.
fn parse_file(collector: &mut Collector, file: &str) -> Option<Dockerfile> {
    let text = read_text(collector.root, file, &mut collector.warnings)?;
    let df = parse(&text);
    for (line, message) in &df.warnings {
        collector
            .warnings
            .push(Warning::new(file.to_string(), *line, message.clone()));
    }
    if df.stages.is_empty() {
        collector.warnings.push(Warning::new(
            file.to_string(),
            1,
            "no FROM: not a Dockerfile".into(),
        ));
        return None;
    }
    Some(df)
}

/// Every stage's `ARG`, `ENV` and `RUN` in order; a stage built on an
/// earlier one starts with that one's toolchain and variables.
fn run_stages(collector: &mut Collector, df: &Dockerfile, w: &Wanted) {
    let shipped = df.shipped_stages(w.target.as_deref());
    let mut stage_state: Vec<(Toolchain, Env)> = Vec::new();
    for stage in &df.stages {
        let (mut tc, mut env) = stage_start(df, stage, &stage_state, &w.file);
        let ctx = RunCtx {
            kind: PlaceKind::DockerStage,
            name: stage
                .name
                .clone()
                .unwrap_or_else(|| format!("#{}", stage.index)),
            artifact: if w.ships && shipped.contains(&stage.index) {
                Artifact::Image
            } else {
                Artifact::None
            },
            dir: w.context.clone(),
            host: None,
            why: if w.ships {
                format!(
                    "a stage of {} that the image is built from: {}",
                    w.file, w.why
                )
            } else {
                format!("only a check builds {}: {}", w.file, w.why)
            },
        };
        for ins in &stage.instructions {
            run_instruction(collector, &ctx, &w.file, df, ins, &mut tc, &mut env);
        }
        stage_state.push((tc, env));
    }
}

/// A stage's toolchain and variables before its first instruction.
/// BuildKit's automatic platform ARGs stay symbolic: the image's platforms
/// decide.
fn stage_start(
    df: &Dockerfile,
    stage: &Stage,
    earlier: &[(Toolchain, Env)],
    file: &str,
) -> (Toolchain, Env) {
    let from_image = || {
        (
            toolchain_from_image(&stage.base, file, stage.line),
            Env::default(),
        )
    };
    let (tc, base_env) = match df
        .stage_by_ref(&stage.base)
        .filter(|s| s.index < stage.index)
    {
        Some(b) => earlier.get(b.index).cloned().unwrap_or_else(from_image),
        None => from_image(),
    };
    let mut env = Env(df.global_args.clone());
    env.0.extend(base_env.0);
    (tc, env)
}

fn run_instruction(
    collector: &mut Collector,
    ctx: &RunCtx,
    file: &str,
    df: &Dockerfile,
    ins: &Instruction,
    tc: &mut Toolchain,
    env: &mut Env,
) {
    match ins.keyword.as_str() {
        "ARG" => {
            for (k, v) in arg_pairs(ins) {
                if !v.is_empty() {
                    env.set(&k, &v);
                } else if let Some((_, g)) = df.global_args.iter().rev().find(|(gk, _)| *gk == k) {
                    env.set(&k, &g.clone());
                }
            }
        }
        "ENV" => {
            for (k, v) in arg_pairs(ins) {
                let v = env.expand(&v);
                env.set(&k, &v);
            }
        }
        "RUN" => {
            let lines = ins.script();
            let mut e = env.clone();
            collector.run_lines(ctx, file, tc, &mut e, &lines, 0);
        }
        _ => {}
    }
}

/// Where the final stage puts the binary (a `COPY --from` of a stage, a
/// prebuilt file from the context, the `ENTRYPOINT`), and whether it copies
/// a prebuilt file from the context.
fn binary_in_final_stage(df: &Dockerfile, last: &Stage) -> (Option<String>, bool) {
    let mut binary_path = None;
    let mut packages_prebuilt = false;
    for ins in last
        .instructions
        .iter()
        .filter(|i| i.keyword == "COPY" || i.keyword == "ADD")
    {
        let words: Vec<String> = if ins.json {
            ins.args.clone()
        } else {
            ins.args
                .join(" ")
                .split_whitespace()
                .map(str::to_string)
                .collect()
        };
        let (Some(dest), true) = (words.last(), words.len() >= 2) else {
            continue;
        };
        let src = &words[0];
        if not_a_binary(src) {
            continue;
        }
        let path = if dest.ends_with('/') {
            format!("{dest}{}", basename(src))
        } else {
            dest.clone()
        };
        match ins.flag("--from") {
            Some(from) if df.stage_by_ref(from).is_some() => binary_path = Some(path),
            Some(_) => {}
            None if src != "." && !src.ends_with('/') && ins.heredocs.is_empty() => {
                packages_prebuilt = true;
                binary_path.get_or_insert(path);
            }
            None => {}
        }
    }
    if let Some(ep) = last
        .instructions
        .iter()
        .rev()
        .find(|i| i.keyword == "ENTRYPOINT" && i.json)
        .and_then(|i| i.args.first())
    {
        if binary_path.is_none() || !ep.starts_with('/') {
            binary_path.get_or_insert(ep.clone());
        } else {
            binary_path = Some(ep.clone());
        }
    }
    (binary_path, packages_prebuilt)
}

/// A CA bundle, a script, a configuration or a library: copied beside the
/// binary, never the binary itself.
fn not_a_binary(src: &str) -> bool {
    let name = basename(src);
    let data = [
        ".crt", ".pem", ".sh", ".conf", ".cfg", ".json", ".yaml", ".yml", ".toml", ".txt", ".md",
        ".html", ".so", ".ini",
    ];
    src.starts_with("/etc/")
        || name.starts_with("ca-certificates")
        || data.iter().any(|ext| name.ends_with(ext))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_bundle_or_a_script_is_not_the_binary() {
        let df = parse("FROM golang:1.22 AS build\nRUN go build -o /out/app .\nFROM scratch\nCOPY --from=build /out/app /usr/local/bin/app\nCOPY --from=build /etc/ssl/certs/ca-certificates.crt /etc/ssl/certs/\nCOPY entrypoint.sh /\n");
        assert_eq!(
            binary_in_final_stage(&df, &df.stages[1]),
            (Some("/usr/local/bin/app".to_string()), false)
        );
    }

    #[test]
    fn the_final_stage_says_where_the_binary_goes() {
        let df = parse("FROM golang:1.22 AS build\nRUN go build -o /out/app .\nFROM scratch\nCOPY --from=build /out/app /usr/local/bin/\nENTRYPOINT [\"app\"]\n");
        let last = &df.stages[1];
        assert_eq!(
            binary_in_final_stage(&df, last),
            (Some("/usr/local/bin/app".to_string()), false)
        );
        let df = parse(
            "FROM alpine\nCOPY . /src\nCOPY dist/app_linux_amd64 /app\nENTRYPOINT [\"/bin/app\"]\n",
        );
        assert_eq!(
            binary_in_final_stage(&df, &df.stages[0]),
            (Some("/bin/app".to_string()), true)
        );
    }

    #[test]
    fn a_stage_starts_from_its_base_stage() {
        let df =
            parse("ARG V=1\nFROM golang:1.22-alpine AS base\nFROM base AS build\nFROM debian:12\n");
        let file = "Dockerfile";
        let base = stage_start(&df, &df.stages[0], &[], file);
        assert_eq!(base.1 .0, vec![("V".to_string(), "1".to_string())]);
        let mut earlier = base.clone();
        earlier.1.set("CGO_ENABLED", "0");
        let build = stage_start(&df, &df.stages[1], &[earlier], file);
        assert_eq!(build.0.source, "golang:1.22-alpine");
        assert_eq!(build.1.get("CGO_ENABLED"), Some("0"));
        let other = stage_start(&df, &df.stages[2], &[base.clone(), base], file);
        assert_eq!((other.0.source.as_str(), other.0.line), ("debian:12", 4));
    }

    #[test]
    fn image_builds_of_one_dockerfile_share_one_read() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(dir.path().join("Dockerfile"), "FROM scratch\n").expect("write");
        std::fs::write(dir.path().join("Containerfile"), "FROM scratch\n").expect("write");
        let image = |platforms: &[&str]| ImageBuild {
            dockerfile: "Dockerfile".into(),
            context: "ctx".into(),
            platforms: platforms.iter().map(|p| p.to_string()).collect(),
            tags: Vec::new(),
            target: None,
            place: crate::model::Place {
                kind: PlaceKind::CiJob,
                name: "image".into(),
                file: ".gitlab-ci.yml".into(),
                line: 3,
            },
            ships: true,
            why: String::new(),
        };
        let mut c = Collector::new(dir.path());
        c.images = vec![image(&[]), image(&["linux/arm64"])];
        let mut gr = image(&["linux/s390x"]);
        gr.dockerfile = "Dockerfile.gr".into();
        c.goreleaser_images.push(gr);
        let w = wanted(&mut c);
        let got: Vec<(&str, &str, Vec<String>)> = w
            .iter()
            .map(|w| (w.file.as_str(), w.context.as_str(), w.platforms.clone()))
            .collect();
        // No CI jobs: the project's own Containerfile is read too.
        assert_eq!(
            got,
            vec![
                (
                    "Dockerfile",
                    "ctx",
                    vec!["linux/amd64".into(), "linux/arm64".into()]
                ),
                ("Dockerfile.gr", "", vec!["linux/s390x".into()]),
                ("Containerfile", "", vec!["linux/amd64".into()]),
            ]
        );
        assert_eq!(c.images.len(), 3);
        assert!(c.goreleaser_images.is_empty());
    }
}
