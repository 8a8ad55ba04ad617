//! The audit's work grows linearly with the project: a job of 32,000 build
//! commands is read in well under the bound below (it took 12 s in release
//! and minutes in debug builds when builds and findings were deduplicated by
//! pairwise comparison; linear, it takes a few seconds unoptimised).

use std::fmt::Write as _;
use std::time::{Duration, Instant};

#[test]
fn thirty_two_thousand_build_commands_are_linear() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut ci = String::from("build:\n  image: golang:1.22.5\n  script:\n");
    for i in 0..32_000 {
        writeln!(
            ci,
            "    - CGO_ENABLED=0 go build -o dist/app{i} ./cmd/app{i}"
        )
        .expect("fmt");
    }
    std::fs::write(dir.path().join(".gitlab-ci.yml"), ci).expect("write");
    let start = Instant::now();
    let report = onebin_audit::audit(dir.path()).expect("audit");
    let took = start.elapsed();
    assert_eq!(report.builds.len(), 32_000);
    // Generous on purpose (a loaded CI machine, an unoptimised build): the
    // quadratic version needed far more than this.
    assert!(took < Duration::from_secs(30), "took {took:?}");
}
