//! The audit in progress: the model the readers fill (builds, images,
//! onebin steps, warnings), the CI jobs they found, and the shell steps
//! that every reader hands its commands to. A command that hands over to a
//! Makefile or a script is followed one step deep.

use std::path::Path;

use crate::ci::{Dialect, DockerStep, Job, JobStep};
use crate::files::{basename, normalize, program_name, read_text};
use crate::findings;
use crate::make;
use crate::model::{
    rust_target_platform, Artifact, Build, DockerfileFacts, Flags, ImageBuild, Language,
    OnebinStep, Place, PlaceKind, Toolchain, Warning,
};
use crate::recommend;
use crate::shell::{self, Action, Env};
use crate::Report;

/// How deep `make` and scripts are followed: a job's script that runs
/// `make -f` is two steps (a bound, as each step may call the next).
const FOLLOW_DEPTH: usize = 2;

/// Where and how lines run: in a CI job, or a Dockerfile stage.
pub(crate) struct RunCtx {
    pub kind: PlaceKind,
    pub name: String,
    pub artifact: Artifact,
    /// Directory that relative paths (Makefiles, scripts) are found in.
    pub dir: String,
    /// The platform a build without GOOS/GOARCH targets (the CI runner's);
    /// `None` in a Dockerfile, where it is the image's.
    pub host: Option<String>,
    /// Why what runs here ships or not (a job's judgement).
    pub why: String,
}

impl RunCtx {
    fn for_job(job: &Job, env: &Env) -> RunCtx {
        let (ships, why) = job.judgement();
        RunCtx {
            kind: PlaceKind::CiJob,
            name: job.name.clone(),
            artifact: if ships {
                Artifact::Release
            } else {
                Artifact::None
            },
            dir: String::new(),
            host: Some(job.host(env)),
            why,
        }
    }

    fn place(&self, file: &str, line: usize) -> Place {
        Place {
            kind: self.kind,
            name: self.name.clone(),
            file: file.to_string(),
            line,
        }
    }

    /// The platforms a build targets: what GOOS and GOARCH say, the rest
    /// from the runner; none in a Dockerfile, whose image's platforms are
    /// filled in later.
    fn platforms(&self, os: Option<String>, arch: Option<String>) -> Vec<String> {
        match (os, arch, &self.host) {
            (Some(o), Some(a), _) => vec![format!("{o}/{a}")],
            (None, Some(a), Some(_)) => vec![format!("linux/{a}")],
            (Some(o), None, Some(_)) => vec![format!("{o}/amd64")],
            (None, None, Some(h)) => vec![h.clone()],
            _ => Vec::new(),
        }
    }

    fn host_platforms(&self) -> Vec<String> {
        self.platforms(None, None)
    }

    /// A directory named relative to where the lines run.
    fn path(&self, rel: &str) -> String {
        normalize(&format!("{}/{rel}", self.dir))
    }
}

/// One shell step: where it runs, and its command as written.
struct BuildStep<'s> {
    ctx: &'s RunCtx,
    place: Place,
    command: String,
}

impl BuildStep<'_> {
    fn build(
        &self,
        toolchain: &Toolchain,
        language: Language,
        program: Option<String>,
        flags: Flags,
        platforms: Vec<String>,
    ) -> Build {
        Build {
            language,
            program,
            place: self.place.clone(),
            toolchain: toolchain.clone(),
            flags,
            platforms,
            artifact: self.ctx.artifact,
            command: self.command.clone(),
            // A job's builds get its judgement once all its steps ran.
            why: if self.ctx.kind == PlaceKind::CiJob {
                String::new()
            } else {
                self.ctx.why.clone()
            },
        }
    }

    fn go(
        &self,
        toolchain: &Toolchain,
        flags: Flags,
        goos: Option<String>,
        goarch: Option<String>,
        output: Option<String>,
    ) -> Build {
        let concrete = |s: Option<String>| s.filter(|v| !v.contains('$') && !v.is_empty());
        let platforms = self.ctx.platforms(concrete(goos), concrete(goarch));
        let program = output
            .map(|o| program_name(&o))
            .filter(|o| !o.contains('$') && !o.is_empty());
        self.build(toolchain, Language::Go, program, flags, platforms)
    }

    fn cargo(&self, toolchain: &Toolchain, flags: Flags, package: Option<String>) -> Build {
        let platforms = match flags.target.as_deref().and_then(rust_target_platform) {
            Some(p) => vec![p],
            None => self.ctx.host_platforms(),
        };
        self.build(toolchain, Language::Rust, package, flags, platforms)
    }

    /// A C compiler's or a Makefile's build, for the host.
    fn c(&self, toolchain: &Toolchain, output: Option<String>) -> Build {
        self.build(
            toolchain,
            Language::C,
            output.map(|o| basename(&o)),
            Flags::default(),
            self.ctx.host_platforms(),
        )
    }

    /// `ko build`: the image, from source, with ko's own defaults.
    fn ko(&self, toolchain: &Toolchain) -> Build {
        let flags = Flags {
            trimpath: true,
            cgo_enabled: Some("0".into()),
            ..Flags::default()
        };
        let mut b = self.build(
            toolchain,
            Language::Go,
            None,
            flags,
            vec!["linux/amd64".into()],
        );
        b.place.kind = PlaceKind::Ko;
        // ko publishes the image it builds, unless a check runs it.
        if self.ctx.artifact != Artifact::None {
            b.artifact = Artifact::Image;
        }
        b
    }
}

/// Everything the readers found so far.
pub(crate) struct Collector<'a> {
    pub root: &'a Path,
    pub builds: Vec<Build>,
    /// Images CI builds, then (once the Dockerfiles are chosen) GoReleaser's.
    pub images: Vec<ImageBuild>,
    /// GoReleaser's `dockers`, kept apart until the Dockerfiles are chosen:
    /// theirs are read from the project's top, not from GoReleaser's `dist`.
    pub goreleaser_images: Vec<ImageBuild>,
    pub dockerfiles: Vec<DockerfileFacts>,
    pub onebin: Vec<OnebinStep>,
    pub warnings: Vec<Warning>,
    /// The CI systems' jobs, all read before any is run.
    pub jobs: Vec<Job>,
    pub dialect: Dialect,
    /// The CI jobs that run GoReleaser for a release, with their
    /// toolchains and the job's judgement.
    pub goreleaser_runs: Vec<(Place, Toolchain, String)>,
    /// How the job being run publishes what it builds, once a command says.
    publishes: Option<String>,
    /// Build tools and actions found but not read.
    pub unread: Vec<crate::model::Unread>,
}

impl<'a> Collector<'a> {
    pub fn new(root: &'a Path) -> Collector<'a> {
        Collector {
            root,
            builds: Vec::new(),
            images: Vec::new(),
            goreleaser_images: Vec::new(),
            dockerfiles: Vec::new(),
            onebin: Vec::new(),
            warnings: Vec::new(),
            jobs: Vec::new(),
            dialect: Dialect::None,
            goreleaser_runs: Vec::new(),
            publishes: None,
            unread: Vec::new(),
        }
    }

    /// A CI system's jobs. The project's dialect is the first system found,
    /// unless it has no jobs and a later one has.
    pub fn add_ci(&mut self, dialect: Dialect, jobs: Vec<Job>) {
        if self.dialect == Dialect::None || !jobs.is_empty() && self.jobs.is_empty() {
            self.dialect = dialect;
        }
        self.jobs.extend(jobs);
    }

    /// Runs every CI job's steps, in the order the CI systems were read.
    pub fn run_jobs(&mut self) {
        let jobs = std::mem::take(&mut self.jobs);
        for job in &jobs {
            self.run_job(job);
        }
        self.jobs = jobs;
    }

    fn run_job(&mut self, job: &Job) {
        let first = self.builds.len();
        self.publishes = None;
        if job.matrix.is_empty() {
            self.run_job_once(job, &[]);
        }
        for combo in &job.matrix {
            self.run_job_once(job, combo);
        }
        // A job whose commands upload or release its output ships it.
        let (ships, why) = match &self.publishes {
            Some(how) if job.publishes.is_none() => {
                let mut j = job.clone();
                j.publishes = Some(how.clone());
                j.judgement()
            }
            _ => job.judgement(),
        };
        for b in &mut self.builds[first..] {
            if ships && b.artifact == Artifact::None {
                b.artifact = Artifact::Release;
            }
            if b.why.is_empty() {
                b.why = why.clone();
            }
        }
    }

    /// One run of a job: for one matrix combination, or the only one.
    fn run_job_once(&mut self, job: &Job, combo: &[(String, String)]) {
        let mut env = Env(job.env.iter().chain(combo).cloned().collect());
        let ctx = &RunCtx::for_job(job, &env);
        let mut tc = job.toolchain.clone();
        for step in &job.steps {
            match step {
                JobStep::Script { lines, env: senv } => {
                    let mut e = env.clone();
                    e.0.extend(senv.iter().cloned());
                    let lines = shell::split_script(lines);
                    self.run_lines(ctx, &job.file, &mut tc, &mut e, &lines, 0);
                    if job.stage.is_some() || job.file.ends_with(".gitlab-ci.yml") {
                        // GitLab runs a job's script in one shell: exports carry on.
                        env = e;
                    }
                }
                JobStep::Toolchain(t) => tc = t.clone(),
                JobStep::Goreleaser { line } => {
                    if ctx.artifact != Artifact::None {
                        self.goreleaser_runs.push((
                            job.place(PlaceKind::CiJob, *line),
                            tc.clone(),
                            ctx.why.clone(),
                        ))
                    }
                }
                JobStep::Docker(d) => self.images.push(docker_step_image(job, &env, d, ctx)),
                JobStep::Onebin { verb, line } => self.onebin.push(OnebinStep {
                    verb: verb.clone(),
                    place: job.place(PlaceKind::CiJob, *line),
                }),
                JobStep::Publishes(_) => {}
                // What a check runs does not ship: no finding for it. A job
                // that a release may run (called, by hand) is reported.
                JobStep::Unread { tool, line }
                    if ctx.artifact != Artifact::None
                        || job.on_release.is_some() && job.check_word().is_none() =>
                {
                    self.add_unread(tool, job.place(PlaceKind::CiJob, *line))
                }
                JobStep::Unread { .. } => {}
                JobStep::GoRelease(g) => {
                    let b = go_release_action(job, &env, &tc, g, ctx);
                    self.builds.push(b);
                    self.publishes = Some(format!(
                        "uploads to a release (go-release-action, {}:{})",
                        job.file, g.line
                    ));
                }
            }
        }
    }

    /// Shell lines of a CI job, a Dockerfile `RUN`, a Makefile recipe or a
    /// script, read into builds, images and onebin steps. `depth` 0 follows
    /// `make` and scripts into their files; what they run is not followed.
    pub fn run_lines(
        &mut self,
        ctx: &RunCtx,
        file: &str,
        tc: &mut Toolchain,
        env: &mut Env,
        lines: &[(String, usize)],
        depth: usize,
    ) {
        for step in shell::analyze(lines, env) {
            let at = BuildStep {
                ctx,
                place: ctx.place(file, step.line),
                command: step.command,
            };
            match step.action {
                Action::Go {
                    flags,
                    goos,
                    goarch,
                    output,
                } => self.builds.push(at.go(tc, flags, goos, goarch, output)),
                Action::Cargo { flags, package } => {
                    let package = package.or_else(|| self.crate_binary(&ctx.dir));
                    let pinned = match ctx.kind {
                        PlaceKind::CiJob if !tc.pinned => self.rust_toolchain_file(tc),
                        _ => None,
                    };
                    self.builds
                        .push(at.cargo(pinned.as_ref().unwrap_or(tc), flags, package))
                }
                Action::C { output, .. } => self.builds.push(at.c(tc, output)),
                Action::Make {
                    target,
                    dir,
                    file: makefile,
                    vars,
                } => {
                    let call = make::Call {
                        dir: ctx.path(&dir.unwrap_or_default()),
                        file: makefile,
                        target,
                        vars,
                    };
                    // With no Makefile to read, a target that is not a
                    // check is taken for a (C) build.
                    if !self.follow_make(ctx, tc, env, &call, depth) && !call.is_check() {
                        self.builds.push(at.c(tc, None));
                    }
                }
                Action::Script { path } => self.follow_script(ctx, tc, env, &path, depth),
                Action::Docker {
                    file,
                    context,
                    platforms,
                    tags,
                    target,
                } => {
                    let context = ctx.path(&context.unwrap_or_else(|| ".".into()));
                    let dockerfile = match file {
                        Some(f) => ctx.path(&f),
                        None => normalize(&format!("{context}/Dockerfile")),
                    };
                    self.images.push(ImageBuild {
                        dockerfile,
                        context,
                        platforms,
                        tags,
                        target,
                        place: at.place,
                        ships: ctx.artifact != Artifact::None,
                        why: ctx.why.clone(),
                    });
                }
                Action::Goreleaser => {
                    let snapshot = at.command.contains("--snapshot");
                    if ctx.kind == PlaceKind::CiJob && ctx.artifact != Artifact::None && !snapshot {
                        self.goreleaser_runs
                            .push((at.place, tc.clone(), ctx.why.clone()));
                    }
                }
                Action::Ko => self.builds.push(at.ko(tc)),
                Action::Onebin { verb } => self.onebin.push(OnebinStep {
                    verb,
                    place: at.place,
                }),
                Action::InstallsC => tc.c_compiler = true,
                Action::Releases => {
                    self.publishes = Some(format!(
                        "publishes a release (`{}`, {file}:{})",
                        at.command, at.place.line
                    ))
                }
                Action::Unread { tool } if ctx.artifact != Artifact::None => {
                    self.add_unread(&tool, at.place)
                }
                Action::Unread { .. } => {}
            }
        }
    }

    /// The binary a bare `cargo build` in `dir` makes: the first `[[bin]]`
    /// target's name, else the package's (never a placeholder).
    fn crate_binary(&mut self, dir: &str) -> Option<String> {
        let manifest = normalize(&format!("{dir}/Cargo.toml"));
        if !self.root.join(&manifest).is_file() {
            return None;
        }
        let text = read_text(self.root, &manifest, &mut self.warnings)?;
        let mut section = "";
        let (mut bin, mut package) = (None, None);
        for line in text.lines().map(str::trim) {
            if line.starts_with('[') {
                section = line;
                continue;
            }
            let Some((key, value)) = line.split_once('=') else {
                continue;
            };
            let value = value.trim().trim_matches('"').to_string();
            match (section, key.trim()) {
                ("[[bin]]", "name") if bin.is_none() => bin = Some(value),
                ("[package]", "name") => package = Some(value),
                _ => {}
            }
        }
        bin.or(package)
    }

    /// The toolchain rustup takes from `rust-toolchain.toml` (or the older
    /// `rust-toolchain`) over a runner's or a floating default.
    fn rust_toolchain_file(&mut self, tc: &Toolchain) -> Option<Toolchain> {
        let file = ["rust-toolchain.toml", "rust-toolchain"]
            .into_iter()
            .find(|f| self.root.join(f).is_file())?;
        let text = read_text(self.root, file, &mut self.warnings)?;
        let (line, channel) = text.lines().enumerate().find_map(|(i, l)| {
            let l = l.trim();
            let value = match l.split_once('=') {
                Some((k, v)) if k.trim() == "channel" => v.trim().trim_matches('"'),
                Some(_) => return None,
                None if !l.is_empty() && !l.starts_with('[') && !l.starts_with('#') => l,
                None => return None,
            };
            Some((i + 1, value.to_string()))
        })?;
        Some(Toolchain {
            source: format!("{file} {channel}"),
            pinned: crate::model::is_exact_version(&channel),
            version: Some(channel),
            file: file.to_string(),
            line,
            ..tc.clone()
        })
    }

    /// A tool not read, once per file: a matrix of runs is one finding.
    pub fn add_unread(&mut self, tool: &str, place: Place) {
        if !self
            .unread
            .iter()
            .any(|u| u.tool == tool && u.place.file == place.file)
        {
            self.unread.push(crate::model::Unread {
                tool: tool.to_string(),
                place,
            });
        }
    }

    /// `make`: the recipe it runs, read from the Makefile. False when the
    /// project has no Makefile there.
    fn follow_make(
        &mut self,
        ctx: &RunCtx,
        tc: &mut Toolchain,
        env: &Env,
        call: &make::Call,
        depth: usize,
    ) -> bool {
        let Some(mk) = make::find(self.root, call) else {
            return false;
        };
        if depth < FOLLOW_DEPTH {
            if let Some(text) = read_text(self.root, &mk, &mut self.warnings) {
                let recipe = make::parse(&text).recipe(call.target.as_deref(), &call.vars);
                let mut menv = env.clone();
                self.run_lines(ctx, &mk, tc, &mut menv, &recipe, depth + 1);
            }
        }
        true
    }

    /// `./build.sh`: its lines, when it is a file of the project.
    fn follow_script(
        &mut self,
        ctx: &RunCtx,
        tc: &mut Toolchain,
        env: &Env,
        path: &str,
        depth: usize,
    ) {
        let rel = ctx.path(path);
        if depth < FOLLOW_DEPTH && self.root.join(&rel).is_file() {
            if let Some(text) = read_text(self.root, &rel, &mut self.warnings) {
                let lines = shell::logical_lines(&text, 1);
                let mut senv = env.clone();
                self.run_lines(ctx, &rel, tc, &mut senv, &lines, depth + 1);
            }
        }
    }

    /// Option B's shape: when the image packages CI's output as it is, CI's
    /// release builds make the image too.
    pub fn mark_packaged(&mut self) {
        let packaged = self.dockerfiles.iter().any(|d| d.packages_prebuilt)
            || self.onebin.iter().any(|o| o.verb == "package");
        if packaged {
            for b in &mut self.builds {
                if b.artifact == Artifact::Release && b.place.kind != PlaceKind::DockerStage {
                    b.artifact = Artifact::ReleaseAndImage;
                }
            }
        }
    }

    /// The findings and the recommendation over what was collected.
    pub fn into_report(mut self, accepted_c: bool) -> Report {
        let builds = merge_builds(self.builds);
        // Where several CI systems run, the one that ships is the dialect
        // of the changes (a GitLab CI that only scans, beside GitHub Actions
        // that release).
        let ships_from = |prefix: &str| {
            builds
                .iter()
                .any(|b| b.artifact != Artifact::None && b.place.file.starts_with(prefix))
                || self
                    .images
                    .iter()
                    .any(|i| i.ships && i.place.file.starts_with(prefix))
                || self
                    .goreleaser_runs
                    .iter()
                    .any(|(p, _, _)| p.file.starts_with(prefix))
        };
        if self.dialect == Dialect::Gitlab && !ships_from(".gitlab-ci") && ships_from(".github/") {
            self.dialect = Dialect::Github;
        }
        let findings = findings::find(
            &builds,
            &self.images,
            &self.dockerfiles,
            &self.unread,
            accepted_c,
        );
        let recommendation = recommend::recommend(&recommend::Input {
            builds: &builds,
            images: &self.images,
            dockerfiles: &self.dockerfiles,
            onebin: &self.onebin,
            findings: &findings,
            dialect: self.dialect,
            accepted_c,
        });
        Report {
            builds,
            findings,
            recommendation,
            images: self.images,
            dockerfiles: self.dockerfiles,
            onebin: self.onebin,
            warnings: self.warnings,
            dialect: self.dialect,
        }
    }
}

/// A CI step's image build (`docker/build-push-action`), its paths and
/// platforms expanded with the job's variables.
fn docker_step_image(job: &Job, env: &Env, d: &DockerStep, ctx: &RunCtx) -> ImageBuild {
    let context = normalize(&env.expand(d.context.as_deref().unwrap_or(".")));
    let dockerfile = match &d.file {
        Some(f) => normalize(&env.expand(f)),
        None => normalize(&format!("{context}/Dockerfile")),
    };
    ImageBuild {
        dockerfile,
        context,
        platforms: d.platforms.iter().map(|p| env.expand(p)).collect(),
        tags: d.tags.clone(),
        target: d.target.clone(),
        place: job.place(PlaceKind::CiJob, d.line),
        ships: ctx.artifact != Artifact::None,
        why: ctx.why.clone(),
    }
}

/// `wangyoucao577/go-release-action`: a Go build of `project_path` (the
/// top by default) for `goos`/`goarch`, with the Go of `goversion`, in the
/// action's container (Debian, with gcc), uploaded to the release.
fn go_release_action(
    job: &Job,
    env: &Env,
    tc: &Toolchain,
    g: &crate::ci::GoRelease,
    ctx: &RunCtx,
) -> Build {
    let get = |v: &Option<String>| {
        v.as_deref()
            .map(|s| env.expand(s))
            .filter(|s| !s.is_empty())
    };
    let version = get(&g.goversion);
    let toolchain = Toolchain {
        source: format!(
            "go-release-action goversion {}",
            version.as_deref().unwrap_or("(latest)")
        ),
        pinned: version
            .as_deref()
            .is_some_and(crate::model::is_exact_version),
        version,
        file: job.file.clone(),
        line: g.line,
        ..tc.clone()
    };
    let os = get(&g.goos).unwrap_or_else(|| "linux".into());
    let arch = get(&g.goarch).unwrap_or_else(|| "amd64".into());
    Build {
        language: Language::Go,
        program: get(&g.binary_name),
        place: job.place(PlaceKind::CiJob, g.line),
        toolchain,
        flags: Flags {
            ldflags: get(&g.ldflags),
            release: true,
            ..Flags::default()
        },
        platforms: vec![format!("{os}/{arch}")],
        artifact: Artifact::Release,
        command: format!(
            "go build {}",
            get(&g.project_path).unwrap_or_else(|| ".".into())
        ),
        why: format!("go-release-action uploads to a release; {}", ctx.why),
    }
}

/// One build per place: matrix runs of the same line become one build with
/// all their platforms. Builds are looked up by place, so this stays linear
/// in the number of build commands.
fn merge_builds(builds: Vec<Build>) -> Vec<Build> {
    let mut out: Vec<Build> = Vec::new();
    let mut by_place: std::collections::HashMap<(String, usize, String), Vec<usize>> =
        std::collections::HashMap::new();
    for b in builds {
        let key = (b.place.file.clone(), b.place.line, b.place.name.clone());
        let same = by_place.entry(key).or_default();
        let found = same.iter().copied().find(|&i| {
            let o = &out[i];
            o.place == b.place
                && o.language == b.language
                && o.flags == b.flags
                && o.toolchain == b.toolchain
        });
        match found {
            Some(i) => {
                let o = &mut out[i];
                for p in b.platforms {
                    if !o.platforms.contains(&p) {
                        o.platforms.push(p);
                    }
                }
            }
            None => {
                same.push(out.len());
                out.push(b);
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{runner_toolchain, toolchain_from_image};

    fn job(name: &str, file: &str, lines: &[&str]) -> Job {
        Job {
            name: name.into(),
            stage: None,
            file: file.into(),
            line: 1,
            toolchain: toolchain_from_image("golang:1.22.5-alpine", file, 1),
            env: Vec::new(),
            matrix: Vec::new(),
            steps: vec![JobStep::Script {
                lines: lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| (l.to_string(), i + 2))
                    .collect(),
                env: Vec::new(),
            }],
            publishes: None,
            on_release: Some("every pipeline".into()),
            runs_on: None,
        }
    }

    #[test]
    fn the_dialect_is_the_first_ci_with_jobs() {
        let root = Path::new(".");
        let mut c = Collector::new(root);
        c.add_ci(Dialect::Gitlab, Vec::new());
        c.add_ci(Dialect::Github, vec![job("release", "x.yml", &[])]);
        assert_eq!(c.dialect, Dialect::Github);
        let mut c = Collector::new(root);
        c.add_ci(Dialect::Gitlab, vec![job("build", ".gitlab-ci.yml", &[])]);
        c.add_ci(Dialect::Github, vec![job("release", "x.yml", &[])]);
        assert_eq!((c.dialect, c.jobs.len()), (Dialect::Gitlab, 2));
    }

    #[test]
    fn a_makefile_is_followed_and_its_toolchain_changes_carry_on() {
        let dir = tempfile::tempdir().expect("tempdir");
        std::fs::write(
            dir.path().join("Makefile"),
            "deps:\n\tapk add gcc musl-dev\n",
        )
        .expect("write");
        let mut c = Collector::new(dir.path());
        c.add_ci(
            Dialect::Gitlab,
            vec![job(
                "build",
                ".gitlab-ci.yml",
                &[
                    "make deps",
                    "go build -o dist/app_linux_arm64 .",
                    "make -C nowhere test",
                    "make -C nowhere app",
                ],
            )],
        );
        c.run_jobs();
        let builds: Vec<(Language, usize, bool)> = c
            .builds
            .iter()
            .map(|b| (b.language, b.place.line, b.toolchain.c_compiler))
            .collect();
        // The Makefile installed a C compiler for the rest of the job;
        // `make test` with no Makefile builds nothing, `make app` is a build.
        assert_eq!(
            builds,
            vec![(Language::Go, 3, true), (Language::C, 5, true)]
        );
        assert_eq!(c.builds[0].program.as_deref(), Some("app"));
        assert_eq!(c.builds[0].platforms, vec!["linux/amd64".to_string()]);
        assert_eq!(c.builds[0].artifact, Artifact::Release);
    }

    #[test]
    fn a_check_job_ships_only_what_it_publishes() {
        let root = Path::new(".");
        let mut c = Collector::new(root);
        let mut test = job("test", ".gitlab-ci.yml", &["GOARCH=arm64 go build ./..."]);
        test.toolchain = runner_toolchain("runner", ".gitlab-ci.yml", 1);
        let mut release = test.clone();
        release.name = "test-and-release".into();
        release.steps.push(JobStep::Script {
            lines: vec![("gh release create v1 dist/*".into(), 9)],
            env: Vec::new(),
        });
        c.add_ci(Dialect::Gitlab, vec![test, release]);
        c.run_jobs();
        let artifacts: Vec<Artifact> = c.builds.iter().map(|b| b.artifact).collect();
        assert_eq!(artifacts, vec![Artifact::None, Artifact::Release]);
        assert_eq!(c.builds[0].platforms, vec!["linux/arm64".to_string()]);
    }

    #[test]
    fn matrix_runs_of_one_line_merge() {
        let mut b = job("build", ".gitlab-ci.yml", &["GOOS=linux go build -o app ."]);
        b.matrix = vec![
            vec![("GOARCH".into(), "amd64".into())],
            vec![("GOARCH".into(), "arm64".into())],
        ];
        let mut c = Collector::new(Path::new("."));
        c.add_ci(Dialect::Gitlab, vec![b]);
        c.run_jobs();
        assert_eq!(c.builds.len(), 2);
        let report = c.into_report(false);
        assert_eq!(report.builds.len(), 1);
        assert_eq!(report.builds[0].platforms, ["linux/amd64", "linux/arm64"]);
    }
}
