//! Any text as a CI configuration: YAML events into nodes (anchors, aliases,
//! merges), then read as `.gitlab-ci.yml` and as a GitHub workflow.
#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use onebin_audit::ci::{github, gitlab};

/// One repository directory for the whole run, rewritten each time.
fn root() -> &'static std::path::Path {
    static DIR: OnceLock<tempfile::TempDir> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join(".github/workflows")).unwrap();
        dir
    })
    .path()
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let _ = onebin_audit::yaml::parse_all(text);
    let root = root();
    std::fs::write(root.join(".gitlab-ci.yml"), text).unwrap();
    std::fs::write(root.join(".github/workflows/ci.yml"), text).unwrap();
    let mut warnings = Vec::new();
    let _ = gitlab::jobs(root, &mut warnings);
    let _ = github::jobs(root, &mut warnings);
});
