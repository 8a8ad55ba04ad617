//! Readers that plug in: each kind of CI or build file is one module that
//! reads its files into the collector's model. Adding a CI system (a
//! Jenkinsfile, Bitbucket Pipelines) is one module with a `Reader` that
//! hands its jobs to `Collector::add_ci`, and one line in `CI_SYSTEMS`.
//! Makefiles and scripts are not read on their own: the shell steps follow
//! them when a job or a `RUN` calls them (`make`, `Collector::run_lines`).

use crate::ci::github::GithubActions;
use crate::ci::gitlab::GitlabCi;
use crate::collect::Collector;
use crate::dockerfile::Dockerfiles;
use crate::goreleaser::Goreleaser;
use crate::unread::UnreadFiles;

/// One kind of CI or build file.
pub(crate) trait Reader: Sync {
    /// Reads the project's files of this kind into `collector`, seeing what
    /// the readers before it found.
    fn read(&self, collector: &mut Collector);
    // The next issue adds the other direction here: each kind writing the
    // recommended change into its own files.
}

/// The CI systems, in the order their jobs run: all are read before any
/// job runs.
pub(crate) const CI_SYSTEMS: &[&dyn Reader] = &[&GitlabCi, &GithubActions];

/// The files CI hands the build to, read after the jobs ran, in this order:
/// GoReleaser's `dockers` name Dockerfiles too; the files no reader
/// understands come last.
pub(crate) const BUILD_FILES: &[&dyn Reader] = &[&Goreleaser, &Dockerfiles, &UnreadFiles];
