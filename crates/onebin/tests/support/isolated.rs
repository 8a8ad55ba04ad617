//! onebin run as on a machine with nothing to tell: outside any git checkout
//! and without a CI's variables, so that no provenance label (and no
//! SOURCE_DATE_EPOCH) comes from the machine the tests run on.

use std::path::Path;
use std::process::{Command, Output};

/// onebin, run in `cwd` (a temp dir: git is told not to look above it),
/// without the CI's variables and without SOURCE_DATE_EPOCH unless `env`
/// gives them.
pub fn onebin_in(cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_onebin"));
    cmd.args(args).current_dir(cwd);
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("CI_") || k.starts_with("GITHUB_") {
            cmd.env_remove(&key);
        }
    }
    cmd.env_remove("SOURCE_DATE_EPOCH");
    cmd.env("GIT_CEILING_DIRECTORIES", cwd.parent().unwrap_or(cwd));
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().expect("onebin runs")
}
