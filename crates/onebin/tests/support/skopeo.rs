//! skopeo as the tests run it: with a signature policy of their own (the
//! images are local and unsigned), so the machine's policy.json plays no part.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

/// A policy that accepts any image, written once into `dir`.
pub fn policy(dir: &Path) -> PathBuf {
    let policy = dir.join("policy.json");
    if !policy.exists() {
        std::fs::write(
            &policy,
            r#"{"default":[{"type":"insecureAcceptAnything"}]}"#,
        )
        .unwrap();
    }
    policy
}

/// `skopeo copy --quiet ARGS` under the policy in `dir`.
pub fn copy(dir: &Path, args: &[&str]) {
    super::run(
        Command::new("skopeo")
            .arg("--policy")
            .arg(policy(dir))
            .args(["copy", "--quiet"])
            .args(args),
    );
}

/// `skopeo ARGS`, which must succeed, its stdout read as JSON.
pub fn json(args: &[&str]) -> Value {
    let out = super::run(Command::new("skopeo").args(args));
    serde_json::from_slice(&out.stdout).unwrap()
}
