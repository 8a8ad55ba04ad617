//! The corpus: realistic repositories, each with the finding ids and the
//! option `onebin audit` must report (expected.json).

use std::path::Path;

use onebin_audit::audit;

fn check(name: &str) -> Result<(), String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    let expected: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(dir.join("expected.json")).map_err(|e| format!("{name}: {e}"))?,
    )
    .map_err(|e| format!("{name}: expected.json: {e}"))?;
    let report = audit(&dir).map_err(|e| e.to_string())?;
    let mut ids: Vec<&str> = report.findings.iter().map(|f| f.id).collect();
    ids.sort_unstable();
    ids.dedup();
    let want: Vec<&str> = expected["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
        .collect();
    let option = report.recommendation.option.to_string();
    let mut problems = Vec::new();
    if ids != want {
        problems.push(format!("findings {ids:?}, expected {want:?}"));
    }
    if Some(option.as_str()) != expected["option"].as_str() {
        problems.push(format!("option {option}, expected {}", expected["option"]));
    }
    let warnings: Vec<String> = report.warnings.iter().map(|w| w.to_string()).collect();
    for w in expected["warnings"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v.as_str())
    {
        if !warnings.iter().any(|x| x.starts_with(w)) {
            problems.push(format!("no warning at {w}"));
        }
    }
    if expected.get("warnings").is_none() && !warnings.is_empty() {
        problems.push(format!("unexpected warnings {warnings:?}"));
    }
    // Every finding names a file and line, every build a place.
    for f in &report.findings {
        if f.file.is_empty() {
            problems.push(format!("finding without a file: {f:?}"));
        }
    }
    // The JSON shape the issue promises.
    let json = serde_json::to_value(&report).map_err(|e| e.to_string())?;
    for key in ["builds", "findings", "recommendation"] {
        if json.get(key).is_none() {
            problems.push(format!("--json lacks {key}"));
        }
    }
    for key in ["option", "reasons", "changes"] {
        if json["recommendation"].get(key).is_none() {
            problems.push(format!("recommendation lacks {key}"));
        }
    }
    if problems.is_empty() {
        Ok(())
    } else {
        let detail: Vec<String> = report
            .findings
            .iter()
            .map(|f| format!("  {} {}:{} {}", f.id, f.file, f.line, f.message))
            .chain(report.builds.iter().map(|b| format!("  build: {b:?}")))
            .chain(warnings.iter().map(|w| format!("  warning: {w}")))
            .collect();
        Err(format!(
            "{name}: {}\n{}",
            problems.join("; "),
            detail.join("\n")
        ))
    }
}

#[test]
fn corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .filter_map(|e| e.ok())
        .filter(|e| e.path().join("expected.json").is_file())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert!(names.len() >= 12, "only {} fixtures", names.len());
    let failures: Vec<String> = names.iter().filter_map(|n| check(n).err()).collect();
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn not_a_directory_is_an_error() {
    assert!(audit(Path::new("/nonexistent/onebin")).is_err());
}

/// Junk of every kind through every reader: warnings at most, never a panic.
#[test]
fn junk_never_panics() {
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let pieces = [
        "FROM ",
        "RUN ",
        "<<EOF\n",
        "<<-",
        "EOF\n",
        "\\\n",
        "`",
        "# escape=`\n",
        "ARG X=${Y:-",
        "--from=",
        "[\"a\", ",
        "go build -o ",
        "make ",
        "$(",
        "${{ matrix.",
        "&& ",
        "'",
        "\"",
        ": ",
        "- ",
        "&a ",
        "*a ",
        "<<: *a\n",
        "extends: ",
        "\n",
        "\t",
        "é",
        "ü\u{0}",
        "### ADR-",
        "## ADR ",
        "0007",
        "<!-- onebin:adr",
        "- **Decision**: Option ",
        "```\n",
        "=",
        "|",
        ";",
        "{",
        "}",
        "[",
        "]",
    ];
    for _ in 0..3000 {
        let n = (next() % 40) as usize;
        let text: String = (0..n)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        let _ = onebin_audit::dockerfile::parse(&text);
        let _ = onebin_audit::yaml::parse(&text);
        let _ = onebin_audit::make::parse(&text).recipe(None, &[]);
        let _ = onebin_audit::shell::analyze(&[(text.clone(), 1)], &mut Default::default());
        let _ = onebin_audit::ci::github::expressions(&text);
        let _ = onebin_audit::adr::existing_option(&text);
    }
    // And whole projects made of junk.
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::create_dir_all(dir.path().join(".github/workflows")).expect("mkdir");
    for i in 0..40u64 {
        let bytes: Vec<u8> = (0..(next() % 400)).map(|_| (next() % 256) as u8).collect();
        let text: String = (0..(next() % 30))
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        let (a, b): (&[u8], &[u8]) = if i % 2 == 0 {
            (&bytes, text.as_bytes())
        } else {
            (text.as_bytes(), &bytes)
        };
        std::fs::write(dir.path().join(".gitlab-ci.yml"), a).expect("write");
        std::fs::write(dir.path().join("Dockerfile"), b).expect("write");
        std::fs::write(dir.path().join(".github/workflows/x.yml"), a).expect("write");
        std::fs::write(dir.path().join(".goreleaser.yml"), b).expect("write");
        let r = audit(dir.path()).expect("audit");
        let _ = onebin_audit::adr::update(Some(&text), &r, None, "2026-01-01");
    }
}
