//! onebin-audit: finds where a project builds its binary (CI jobs, Dockerfile
//! stages, GoReleaser, Makefiles and scripts one step deep), reports double
//! builds and the differences between them, recommends Option A, B or C, and
//! writes that decision down as an ADR.
//!
//! Nothing here runs a tool or touches the network: it reads files, and bad
//! ones become warnings with a line while the rest is still audited.

pub mod adr;
pub mod ci;
pub mod dockerfile;
pub mod findings;
pub mod goreleaser;
pub mod make;
pub mod model;
pub mod recommend;
pub mod shell;
pub mod yaml;

use std::path::{Path, PathBuf};

use serde::Serialize;

use ci::{Dialect, Job, JobStep};
use findings::Finding;
use model::{
    rust_target_platform, toolchain_from_image, Artifact, Build, Flags, ImageBuild, Language,
    OnebinStep, Place, PlaceKind, Toolchain, Warning,
};
use recommend::Recommendation;
use shell::{Action, Env};

#[derive(Debug, thiserror::Error)]
pub enum AuditError {
    #[error("{0}: not a directory")]
    NotADirectory(PathBuf),
}

/// What the final stage of a Dockerfile does with the binary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DockerfileFacts {
    pub file: String,
    pub target: Option<String>,
    /// The final stage's base image.
    pub base: String,
    pub line: usize,
    /// Where the binary lands in the image, when a COPY or ENTRYPOINT says.
    pub binary_path: Option<String>,
    /// The final stage copies a prebuilt file from the build context.
    pub packages_prebuilt: bool,
    /// A shipped stage compiles the binary.
    pub builds: bool,
    pub platforms: Vec<String>,
}

/// Everything `onebin audit` found.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub builds: Vec<Build>,
    pub findings: Vec<Finding>,
    pub recommendation: Recommendation,
    pub images: Vec<ImageBuild>,
    pub dockerfiles: Vec<DockerfileFacts>,
    pub onebin: Vec<OnebinStep>,
    pub warnings: Vec<Warning>,
    pub dialect: Dialect,
}

impl Report {
    pub fn has_double_build(&self) -> bool {
        self.findings
            .iter()
            .any(|f| f.id == findings::DOUBLE_BUILD && f.severity == findings::Severity::Error)
    }
}

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

fn normalize(path: &str) -> String {
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
fn program_name(p: &str) -> String {
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

fn basename(p: &str) -> String {
    p.trim_end_matches('/')
        .rsplit('/')
        .next()
        .unwrap_or(p)
        .to_string()
}

/// Where and how lines run: in a CI job, or a Dockerfile stage.
struct RunCtx {
    kind: PlaceKind,
    name: String,
    artifact: Artifact,
    /// Directory that relative paths (Makefiles, scripts) are found in.
    dir: String,
    /// The platform a build without GOOS/GOARCH targets (the CI runner's);
    /// `None` in a Dockerfile, where it is the image's.
    host: Option<String>,
}

struct Collector<'a> {
    root: &'a Path,
    builds: Vec<Build>,
    images: Vec<ImageBuild>,
    onebin: Vec<OnebinStep>,
    warnings: Vec<Warning>,
    goreleaser_runs: Vec<(Place, Toolchain)>,
    publishes: bool,
}

impl Collector<'_> {
    fn run_lines(
        &mut self,
        ctx: &RunCtx,
        file: &str,
        tc: &mut Toolchain,
        env: &mut Env,
        lines: &[(String, usize)],
        depth: usize,
    ) {
        for step in shell::analyze(lines, env) {
            let place = Place {
                kind: ctx.kind,
                name: ctx.name.clone(),
                file: file.to_string(),
                line: step.line,
            };
            let concrete = |s: &Option<String>| {
                s.as_ref()
                    .filter(|v| !v.contains('$') && !v.is_empty())
                    .cloned()
            };
            let host = |os: Option<String>, arch: Option<String>| -> Vec<String> {
                match (os, arch, &ctx.host) {
                    (Some(o), Some(a), _) => vec![format!("{o}/{a}")],
                    (None, Some(a), Some(_)) => vec![format!("linux/{a}")],
                    (Some(o), None, Some(_)) => vec![format!("{o}/amd64")],
                    (None, None, Some(h)) => vec![h.clone()],
                    _ => Vec::new(),
                }
            };
            let build =
                |language, program: Option<String>, flags: Flags, platforms: Vec<String>| Build {
                    language,
                    program,
                    place: place.clone(),
                    toolchain: tc.clone(),
                    flags,
                    platforms,
                    artifact: ctx.artifact,
                    command: step.command.clone(),
                };
            match step.action {
                Action::Go {
                    flags,
                    goos,
                    goarch,
                    output,
                } => {
                    let platforms = host(concrete(&goos), concrete(&goarch));
                    let program = output
                        .map(|o| program_name(&o))
                        .filter(|o| !o.contains('$') && !o.is_empty());
                    let b = build(Language::Go, program, flags, platforms);
                    self.builds.push(b);
                }
                Action::Cargo { flags, package } => {
                    let platforms = match flags.target.as_deref().and_then(rust_target_platform) {
                        Some(p) => vec![p],
                        None => host(None, None),
                    };
                    let b = build(Language::Rust, package, flags, platforms);
                    self.builds.push(b);
                }
                Action::C { output, .. } => {
                    let b = build(
                        Language::C,
                        output.map(|o| basename(&o)),
                        Flags::default(),
                        host(None, None),
                    );
                    self.builds.push(b);
                }
                Action::Make {
                    target,
                    dir,
                    file: mkfile,
                    vars,
                } => {
                    let base = normalize(&format!("{}/{}", ctx.dir, dir.unwrap_or_default()));
                    let candidates: Vec<String> = match mkfile {
                        Some(f) => vec![normalize(&format!("{base}/{f}"))],
                        None => ["GNUmakefile", "makefile", "Makefile"]
                            .iter()
                            .map(|f| normalize(&format!("{base}/{f}")))
                            .collect(),
                    };
                    let found = candidates.into_iter().find(|c| self.root.join(c).is_file());
                    match found {
                        Some(mk) if depth == 0 => {
                            let Some(text) = read_text(self.root, &mk, &mut self.warnings) else {
                                continue;
                            };
                            let recipe = make::parse(&text).recipe(target.as_deref(), &vars);
                            let mut menv = env.clone();
                            self.run_lines(ctx, &mk, tc, &mut menv, &recipe, depth + 1);
                        }
                        Some(_) => {}
                        None => {
                            let t = target.clone().unwrap_or_default();
                            let check = [
                                "test",
                                "lint",
                                "clean",
                                "check",
                                "fmt",
                                "vet",
                                "install-deps",
                                "deps",
                            ];
                            if !check.contains(&t.as_str()) {
                                let b =
                                    build(Language::C, None, Flags::default(), host(None, None));
                                self.builds.push(b);
                            }
                        }
                    }
                }
                Action::Script { path } => {
                    let rel = normalize(&format!("{}/{}", ctx.dir, path));
                    if depth == 0 && self.root.join(&rel).is_file() {
                        if let Some(text) = read_text(self.root, &rel, &mut self.warnings) {
                            let lines = shell::logical_lines(&text, 1);
                            let mut senv = env.clone();
                            self.run_lines(ctx, &rel, tc, &mut senv, &lines, depth + 1);
                        }
                    }
                }
                Action::Docker {
                    file: dfile,
                    context,
                    platforms,
                    tags,
                    target,
                } => {
                    let context = normalize(&format!(
                        "{}/{}",
                        ctx.dir,
                        context.unwrap_or_else(|| ".".into())
                    ));
                    let dockerfile = match dfile {
                        Some(f) => normalize(&format!("{}/{}", ctx.dir, f)),
                        None => normalize(&format!("{context}/Dockerfile")),
                    };
                    self.images.push(ImageBuild {
                        dockerfile,
                        context,
                        platforms,
                        tags,
                        target,
                        place,
                    });
                }
                Action::Goreleaser => self.goreleaser_runs.push((place, tc.clone())),
                Action::Ko => {
                    let flags = Flags {
                        trimpath: true,
                        cgo_enabled: Some("0".into()),
                        ..Flags::default()
                    };
                    let mut b = build(Language::Go, None, flags, vec!["linux/amd64".into()]);
                    b.place.kind = PlaceKind::Ko;
                    b.artifact = Artifact::Image;
                    self.builds.push(b);
                }
                Action::Onebin { verb } => self.onebin.push(OnebinStep { verb, place }),
                Action::InstallsC => tc.c_compiler = true,
                Action::Releases => self.publishes = true,
            }
        }
    }

    fn run_job(&mut self, job: &Job) {
        let combos = if job.matrix.is_empty() {
            vec![Vec::new()]
        } else {
            job.matrix.clone()
        };
        let first = self.builds.len();
        self.publishes = job.publishes;
        let ctx = RunCtx {
            kind: PlaceKind::CiJob,
            name: job.name.clone(),
            artifact: if job.is_check() {
                Artifact::None
            } else {
                Artifact::Release
            },
            dir: String::new(),
            host: Some("linux/amd64".into()),
        };
        for combo in combos {
            let mut env = Env(job.env.iter().chain(&combo).cloned().collect());
            let mut tc = job.toolchain.clone();
            for step in &job.steps {
                match step {
                    JobStep::Script { lines, env: senv } => {
                        let mut e = env.clone();
                        e.0.extend(senv.iter().cloned());
                        let lines = shell::split_script(lines);
                        self.run_lines(&ctx, &job.file, &mut tc, &mut e, &lines, 0);
                        if job.stage.is_some() || job.file.ends_with(".gitlab-ci.yml") {
                            // GitLab runs a job's script in one shell: exports carry on.
                            env = e;
                        }
                    }
                    JobStep::Toolchain(t) => tc = t.clone(),
                    JobStep::Docker {
                        file,
                        context,
                        platforms,
                        tags,
                        target,
                        line,
                    } => {
                        let context = normalize(&env.expand(context.as_deref().unwrap_or(".")));
                        let dockerfile = match file {
                            Some(f) => normalize(&env.expand(f)),
                            None => normalize(&format!("{context}/Dockerfile")),
                        };
                        self.images.push(ImageBuild {
                            dockerfile,
                            context,
                            platforms: platforms.iter().map(|p| env.expand(p)).collect(),
                            tags: tags.clone(),
                            target: target.clone(),
                            place: job.place(PlaceKind::CiJob, *line),
                        });
                    }
                    JobStep::Goreleaser { line } => self
                        .goreleaser_runs
                        .push((job.place(PlaceKind::CiJob, *line), tc.clone())),
                    JobStep::Onebin { verb, line } => self.onebin.push(OnebinStep {
                        verb: verb.clone(),
                        place: job.place(PlaceKind::CiJob, *line),
                    }),
                    JobStep::Publishes => {}
                }
            }
        }
        if self.publishes {
            for b in &mut self.builds[first..] {
                if b.artifact == Artifact::None {
                    b.artifact = Artifact::Release;
                }
            }
        }
    }

    fn run_goreleaser(&mut self) -> Vec<(String, Vec<String>, Vec<String>, Place)> {
        let mut dockers = Vec::new();
        let Some(file) = goreleaser::find(self.root) else {
            return dockers;
        };
        let mut runs = std::mem::take(&mut self.goreleaser_runs);
        if runs.is_empty() && self.images.is_empty() && self.builds.is_empty() {
            // No CI that we read runs it; audit the config as a local release would.
            runs.push((
                Place {
                    kind: PlaceKind::CiJob,
                    name: "goreleaser".into(),
                    file: file.clone(),
                    line: 1,
                },
                model::runner_toolchain("the local machine", &file, 1),
            ));
        }
        let Some((run, tc)) = runs.first().cloned() else {
            return dockers;
        };
        let Some(cfg) = goreleaser::parse(self.root, &file, &mut self.warnings) else {
            return dockers;
        };
        for b in &cfg.builds {
            let language = match b.builder.as_str() {
                "rust" => Language::Rust,
                "go" | "" => Language::Go,
                _ => Language::C,
            };
            self.builds.push(Build {
                language,
                program: Some(b.binary.clone()),
                place: Place {
                    kind: PlaceKind::Goreleaser,
                    name: format!("{} (run by {})", b.id, run.name),
                    file: cfg.file.clone(),
                    line: b.line,
                },
                toolchain: tc.clone(),
                flags: b.flags.clone(),
                platforms: b.platforms.clone(),
                artifact: Artifact::Release,
                command: "goreleaser release".into(),
            });
        }
        for k in &cfg.kos {
            self.builds.push(Build {
                language: Language::Go,
                program: Some(k.binary.clone()),
                place: Place {
                    kind: PlaceKind::Ko,
                    name: format!("kos {} (run by {})", k.id, run.name),
                    file: cfg.file.clone(),
                    line: k.line,
                },
                toolchain: tc.clone(),
                flags: k.flags.clone(),
                platforms: k.platforms.clone(),
                artifact: Artifact::Image,
                command: "ko build (GoReleaser kos)".into(),
            });
        }
        for d in &cfg.dockers {
            dockers.push((
                normalize(&d.dockerfile),
                d.platforms.clone(),
                d.tags.clone(),
                Place {
                    kind: PlaceKind::Goreleaser,
                    name: format!("dockers (run by {})", run.name),
                    file: cfg.file.clone(),
                    line: d.line,
                },
            ));
        }
        dockers
    }

    /// Reads one Dockerfile for one target, adding the builds its stages run.
    fn run_dockerfile(
        &mut self,
        file: &str,
        context: &str,
        target: Option<&str>,
        platforms: &[String],
    ) -> Option<DockerfileFacts> {
        let text = read_text(self.root, file, &mut self.warnings)?;
        let df = dockerfile::parse(&text);
        for (line, message) in &df.warnings {
            self.warnings.push(Warning {
                file: file.to_string(),
                line: *line,
                message: message.clone(),
            });
        }
        if df.stages.is_empty() {
            self.warnings.push(Warning {
                file: file.to_string(),
                line: 1,
                message: "no FROM: not a Dockerfile".into(),
            });
            return None;
        }
        let shipped = df.shipped_stages(target);
        let mut stage_state: Vec<(Toolchain, Env)> = Vec::new();
        let first_build = self.builds.len();
        for stage in &df.stages {
            let mut env = Env(df.global_args.clone());
            // BuildKit's automatic platform ARGs stay symbolic: the image's platforms decide.
            let (mut tc, base_env) = match df
                .stage_by_ref(&stage.base)
                .filter(|s| s.index < stage.index)
            {
                Some(b) => stage_state.get(b.index).cloned().unwrap_or_else(|| {
                    (
                        toolchain_from_image(&stage.base, file, stage.line),
                        Env::default(),
                    )
                }),
                None => (
                    toolchain_from_image(&stage.base, file, stage.line),
                    Env::default(),
                ),
            };
            env.0.extend(base_env.0);
            let ctx = RunCtx {
                kind: PlaceKind::DockerStage,
                name: stage
                    .name
                    .clone()
                    .unwrap_or_else(|| format!("#{}", stage.index)),
                artifact: if shipped.contains(&stage.index) {
                    Artifact::Image
                } else {
                    Artifact::None
                },
                dir: context.to_string(),
                host: None,
            };
            for ins in &stage.instructions {
                match ins.keyword.as_str() {
                    "ARG" => {
                        for (k, v) in dockerfile::arg_pairs(ins) {
                            if !v.is_empty() {
                                env.set(&k, &v);
                            } else if let Some((_, g)) =
                                df.global_args.iter().rev().find(|(gk, _)| *gk == k)
                            {
                                env.set(&k, &g.clone());
                            }
                        }
                    }
                    "ENV" => {
                        for (k, v) in dockerfile::arg_pairs(ins) {
                            let v = env.expand(&v);
                            env.set(&k, &v);
                        }
                    }
                    "RUN" => {
                        let lines = ins.script();
                        let mut e = env.clone();
                        self.run_lines(&ctx, file, &mut tc, &mut e, &lines, 0);
                    }
                    _ => {}
                }
            }
            stage_state.push((tc, env));
        }
        // Builds in the image with no platform of their own get the image's.
        for b in &mut self.builds[first_build..] {
            if b.platforms.is_empty() {
                b.platforms = platforms.to_vec();
            }
        }
        let last = match target.and_then(|t| df.stage_by_ref(t)) {
            Some(s) => s,
            None => df.stages.last()?,
        };
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
        let builds = self.builds[first_build..]
            .iter()
            .any(|b| b.artifact == Artifact::Image);
        Some(DockerfileFacts {
            file: file.to_string(),
            target: target.map(str::to_string),
            base: df.root_image(last).0.to_string(),
            line: last.line,
            binary_path,
            packages_prebuilt: packages_prebuilt && !builds,
            builds,
            platforms: platforms.to_vec(),
        })
    }
}

/// Dockerfiles at the top of the project, for when no config names one.
fn dockerfiles_in(root: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(root)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
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

/// Audits the project in `root`.
pub fn audit(root: &Path) -> Result<Report, AuditError> {
    if !root.is_dir() {
        return Err(AuditError::NotADirectory(root.to_path_buf()));
    }
    let mut c = Collector {
        root,
        builds: Vec::new(),
        images: Vec::new(),
        onebin: Vec::new(),
        warnings: Vec::new(),
        goreleaser_runs: Vec::new(),
        publishes: false,
    };
    let mut dialect = Dialect::None;
    let mut jobs = Vec::new();
    if let Some(j) = ci::gitlab::jobs(root, &mut c.warnings) {
        dialect = Dialect::Gitlab;
        jobs.extend(j);
    }
    if let Some(j) = ci::github::jobs(root, &mut c.warnings) {
        if dialect == Dialect::None || !j.is_empty() && jobs.is_empty() {
            dialect = Dialect::Github;
        }
        jobs.extend(j);
    }
    for job in &jobs {
        c.run_job(job);
    }
    let gr_dockers = c.run_goreleaser();
    // Which Dockerfiles to read, for which target, on which platforms.
    type Wanted = Vec<(String, String, Option<String>, Vec<String>)>;
    let mut wanted: Wanted = Vec::new();
    fn add(
        wanted: &mut Wanted,
        file: String,
        context: String,
        target: Option<String>,
        platforms: &[String],
    ) {
        match wanted
            .iter_mut()
            .find(|(f, _, t, _)| *f == file && *t == target)
        {
            Some((_, _, _, p)) => {
                for x in platforms {
                    if !p.contains(x) {
                        p.push(x.clone());
                    }
                }
            }
            None => wanted.push((file, context, target, platforms.to_vec())),
        }
    }
    for img in &mut c.images {
        if img.platforms.is_empty() {
            img.platforms = vec!["linux/amd64".into()];
        }
        add(
            &mut wanted,
            img.dockerfile.clone(),
            img.context.clone(),
            img.target.clone(),
            &img.platforms,
        );
    }
    for (file, platforms, tags, place) in &gr_dockers {
        add(&mut wanted, file.clone(), String::new(), None, platforms);
        c.images.push(ImageBuild {
            dockerfile: file.clone(),
            context: "dist".into(),
            platforms: platforms.clone(),
            tags: tags.clone(),
            target: None,
            place: place.clone(),
        });
    }
    let named: Vec<String> = wanted.iter().map(|w| w.0.clone()).collect();
    for f in dockerfiles_in(root) {
        if !named.contains(&f) && (named.is_empty() || jobs.is_empty()) {
            add(
                &mut wanted,
                f,
                String::new(),
                None,
                &["linux/amd64".to_string()],
            );
        }
    }
    let mut dockerfiles = Vec::new();
    for (file, context, target, platforms) in &wanted {
        if !root.join(file).is_file() {
            c.warnings.push(Warning {
                file: file.clone(),
                line: 0,
                message: "named by the CI configuration, but not found".into(),
            });
            continue;
        }
        if let Some(f) = c.run_dockerfile(file, context, target.as_deref(), platforms) {
            dockerfiles.push(f);
        }
    }
    // Option B's shape: CI's output goes into the image as it is.
    let packaged = dockerfiles.iter().any(|d| d.packages_prebuilt)
        || c.onebin.iter().any(|o| o.verb == "package");
    if packaged {
        for b in &mut c.builds {
            if b.artifact == Artifact::Release && b.place.kind != PlaceKind::DockerStage {
                b.artifact = Artifact::ReleaseAndImage;
            }
        }
    }
    let builds = merge_builds(c.builds);
    let accepted_c = recommend::accepted_option_c(root);
    let findings = findings::find(&builds, &c.images, &dockerfiles, accepted_c);
    let recommendation = recommend::recommend(&recommend::Input {
        builds: &builds,
        images: &c.images,
        dockerfiles: &dockerfiles,
        onebin: &c.onebin,
        findings: &findings,
        dialect,
        accepted_c,
    });
    Ok(Report {
        builds,
        findings,
        recommendation,
        images: c.images,
        dockerfiles,
        onebin: c.onebin,
        warnings: c.warnings,
        dialect,
    })
}

/// One build per place: matrix runs of the same line become one build with
/// all their platforms.
fn merge_builds(builds: Vec<Build>) -> Vec<Build> {
    let mut out: Vec<Build> = Vec::new();
    for b in builds {
        match out.iter_mut().find(|o| {
            o.place == b.place
                && o.language == b.language
                && o.flags == b.flags
                && o.toolchain == b.toolchain
        }) {
            Some(o) => {
                for p in b.platforms {
                    if !o.platforms.contains(&p) {
                        o.platforms.push(p);
                    }
                }
            }
            None => out.push(b),
        }
    }
    out
}
