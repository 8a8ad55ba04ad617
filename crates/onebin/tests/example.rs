//! The README's first command, on the example image that ships in the repo.

mod support;

use std::process::Command;

#[test]
fn readme_example_extracts_both_platforms() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("dist");
    let result = support::onebin(&[
        "extract",
        support::EXAMPLE_IMAGE,
        "--path",
        "/usr/bin/hello",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(result.status.success(), "{}", support::stderr(&result));
    assert_eq!(
        support::list_files(&out),
        ["checksums.txt", "hello_linux_amd64", "hello_linux_arm64"]
    );
    let check = Command::new("sha256sum")
        .args(["-c", "checksums.txt"])
        .current_dir(&out)
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", support::stdout(&check));
    if cfg!(all(target_os = "linux", target_arch = "x86_64")) {
        let ran = support::run(&mut Command::new(out.join("hello_linux_amd64")));
        assert_eq!(support::stdout(&ran), "hello from one binary, one hash\n");
    }
    if support::require("qemu-aarch64-static") {
        let ran =
            support::run(Command::new("qemu-aarch64-static").arg(out.join("hello_linux_arm64")));
        assert_eq!(support::stdout(&ran), "hello from one binary, one hash\n");
    }
}
