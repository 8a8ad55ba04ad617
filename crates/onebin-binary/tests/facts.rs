//! `BinaryFacts::read` on C programs built here by gcc and musl-gcc: the
//! linkage, interpreter and C library each toolchain leaves in the ELF file,
//! and the JSON words `explain --json` prints for them.

use std::path::{Path, PathBuf};
use std::process::Command;

use onebin_binary::{BinaryFacts, Error, Libc, Linkage, LinkedLibc, ParseError};

const HELLO: &str = "#include <stdio.h>\nint main(void) { puts(\"hello\"); return 0; }\n";

/// Compiles `HELLO` with `compiler` and `flags`; `None` (a visible skip)
/// when the compiler is missing, a failure under `CI=true`.
fn build(dir: &Path, compiler: &str, flags: &[&str]) -> Option<PathBuf> {
    let source = dir.join("hello.c");
    std::fs::write(&source, HELLO).unwrap();
    let output = dir.join(format!("hello-{compiler}{}", flags.concat()));
    let built = Command::new(compiler)
        .args(flags)
        .arg("-o")
        .arg(&output)
        .arg(&source)
        .output();
    match built {
        Ok(o) if o.status.success() => Some(output),
        Ok(o) => panic!(
            "{compiler} {flags:?} failed: {}",
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => {
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{compiler} is required under CI=true: {e}"
            );
            eprintln!("SKIPPED: {compiler} is not installed ({e})");
            None
        }
    }
}

fn libc_json(facts: &BinaryFacts) -> serde_json::Value {
    serde_json::to_value(facts).unwrap()["libc"].clone()
}

#[test]
fn glibc_dynamic_and_static() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(dynamic) = build(tmp.path(), "gcc", &[]) else {
        return;
    };
    let facts = BinaryFacts::read(&dynamic).unwrap();
    assert_eq!(facts.libc, LinkedLibc::Linked(Libc::Glibc));
    assert_eq!(libc_json(&facts), "glibc");
    assert_eq!(facts.linkage, Linkage::Dynamic);
    let interpreter = facts.interpreter.as_deref().unwrap();
    assert!(interpreter.contains("ld-linux"), "{interpreter}");
    assert!(
        facts.needed.iter().any(|n| n == "libc.so.6"),
        "{:?}",
        facts.needed
    );
    assert!(!facts.glibc_versions.is_empty());
    assert!(facts.go.is_none());
    assert!(facts.content.contains_key(".text"), "{:?}", facts.content);

    let Some(fully_static) = build(tmp.path(), "gcc", &["-static"]) else {
        return;
    };
    let facts = BinaryFacts::read(&fully_static).unwrap();
    assert_eq!(facts.linkage, Linkage::Static);
    assert_eq!(facts.interpreter, None);
    // Nothing is loaded, but glibc's crt1.o leaves its ABI note behind.
    assert_eq!(facts.libc, LinkedLibc::Linked(Libc::Glibc));
    assert_eq!(libc_json(&facts), "glibc");
}

#[test]
fn musl_dynamic_and_static() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(dynamic) = build(tmp.path(), "musl-gcc", &[]) else {
        return;
    };
    let facts = BinaryFacts::read(&dynamic).unwrap();
    assert_eq!(facts.libc, LinkedLibc::Linked(Libc::Musl));
    assert_eq!(libc_json(&facts), "musl");
    assert_eq!(facts.linkage, Linkage::Dynamic);
    let interpreter = facts.interpreter.as_deref().unwrap();
    assert!(interpreter.contains("ld-musl"), "{interpreter}");
    assert!(facts.glibc_versions.is_empty());

    let Some(fully_static) = build(tmp.path(), "musl-gcc", &["-static"]) else {
        return;
    };
    let facts = BinaryFacts::read(&fully_static).unwrap();
    assert_eq!(facts.linkage, Linkage::Static);
    // A static C program without glibc's note names no C library at all.
    assert_eq!(facts.libc, LinkedLibc::Unknown);
    assert_eq!(libc_json(&facts), "unknown");
}

#[test]
fn what_is_not_a_binary_says_why() {
    let tmp = tempfile::tempdir().unwrap();
    let text = tmp.path().join("notes.txt");
    std::fs::write(&text, "not a program\n").unwrap();
    let error = BinaryFacts::read(&text).unwrap_err();
    assert!(
        matches!(
            &error,
            Error::Unrecognised {
                reason: ParseError::Object(_),
                ..
            }
        ),
        "{error:?}"
    );
    assert!(
        error.to_string().starts_with(&format!(
            "{}: not an executable onebin can read (ELF, PE or Mach-O): ",
            text.display()
        )),
        "{error}"
    );

    let absent = tmp.path().join("absent");
    let error = BinaryFacts::read(&absent).unwrap_err();
    assert!(matches!(&error, Error::Io { .. }), "{error:?}");
    assert!(error.to_string().starts_with(&absent.display().to_string()));
}
