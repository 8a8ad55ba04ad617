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
}

impl RunCtx {
    fn for_job(job: &Job) -> RunCtx {
        RunCtx {
            kind: PlaceKind::CiJob,
            name: job.name.clone(),
            artifact: if job.is_check() {
                Artifact::None
            } else {
                Artifact::Release
            },
            dir: String::new(),
            host: Some("linux/amd64".into()),
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
        b.artifact = Artifact::Image;
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
    /// The CI jobs that run GoReleaser, with their toolchains.
    pub goreleaser_runs: Vec<(Place, Toolchain)>,
    /// The job being run publishes what it builds.
    publishes: bool,
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
            publishes: false,
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
        self.publishes = job.publishes;
        let ctx = RunCtx::for_job(job);
        if job.matrix.is_empty() {
            self.run_job_once(job, &ctx, &[]);
        }
        for combo in &job.matrix {
            self.run_job_once(job, &ctx, combo);
        }
        // A test job that uploads or releases its output ships it.
        if self.publishes {
            for b in &mut self.builds[first..] {
                if b.artifact == Artifact::None {
                    b.artifact = Artifact::Release;
                }
            }
        }
    }

    /// One run of a job: for one matrix combination, or the only one.
    fn run_job_once(&mut self, job: &Job, ctx: &RunCtx, combo: &[(String, String)]) {
        let mut env = Env(job.env.iter().chain(combo).cloned().collect());
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
                JobStep::Docker(d) => self.images.push(docker_step_image(job, &env, d)),
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
                Action::Cargo { flags, package } => self.builds.push(at.cargo(tc, flags, package)),
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
                    });
                }
                Action::Goreleaser => self.goreleaser_runs.push((at.place, tc.clone())),
                Action::Ko => self.builds.push(at.ko(tc)),
                Action::Onebin { verb } => self.onebin.push(OnebinStep {
                    verb,
                    place: at.place,
                }),
                Action::InstallsC => tc.c_compiler = true,
                Action::Releases => self.publishes = true,
            }
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
        if depth == 0 {
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
        if depth == 0 && self.root.join(&rel).is_file() {
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
    pub fn into_report(self, accepted_c: bool) -> Report {
        let builds = merge_builds(self.builds);
        let findings = findings::find(&builds, &self.images, &self.dockerfiles, accepted_c);
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
fn docker_step_image(job: &Job, env: &Env, d: &DockerStep) -> ImageBuild {
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
    }
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
            publishes: false,
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
