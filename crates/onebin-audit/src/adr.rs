//! The decision, written down: one ADR in `docs/ARCHITECTURE.md`, numbered
//! after the ADRs already there and in their heading style, updated in place
//! on later runs (keeping its number and date, so a second run changes
//! nothing), with the rest of the file left exactly as it was.

use crate::recommend::OptionKind;
use crate::Report;

/// Marks the section `onebin adr` owns.
pub const MARKER: &str =
    "<!-- onebin:adr: written by `onebin adr`; it rewrites this section on its next run -->";

#[derive(Debug, Clone, PartialEq)]
struct Heading {
    line: usize,
    level: usize,
    number: u64,
    /// `-` in `ADR-0007`, ` ` in `ADR 3`, `` in `ADR7`.
    sep: String,
    width: usize,
}

fn is_fence(l: &str) -> bool {
    let t = l.trim_start();
    t.starts_with("```") || t.starts_with("~~~")
}

/// Markdown headings outside code fences: (line index, level).
fn headings(lines: &[&str]) -> Vec<(usize, usize)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, l) in lines.iter().enumerate() {
        if is_fence(l) {
            fenced = !fenced;
            continue;
        }
        if fenced {
            continue;
        }
        let level = l.chars().take_while(|c| *c == '#').count();
        if (1..=6).contains(&level) && l[level..].starts_with(' ') {
            out.push((i, level));
        }
    }
    out
}

/// `### ADR-0007: …`, `## ADR 3`, `## ADR7 - …`, `# adr-12.`.
fn adr_heading(line: &str, index: usize, level: usize) -> Option<Heading> {
    let rest = line[level..].trim_start();
    if !rest.get(..3)?.eq_ignore_ascii_case("adr") {
        return None;
    }
    let after = rest.get(3..)?;
    let sep: String = after
        .chars()
        .take_while(|c| *c == '-' || *c == ' ' || *c == '_')
        .collect();
    let digits: String = after[sep.len()..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    if digits.is_empty() || digits.len() > 9 {
        return None;
    }
    Some(Heading {
        line: index,
        level,
        number: digits.parse().ok()?,
        sep: if sep.contains('-') {
            "-".into()
        } else {
            sep.chars().take(1).collect()
        },
        width: if digits.starts_with('0') {
            digits.len()
        } else {
            0
        },
    })
}

fn adr_headings(lines: &[&str]) -> Vec<Heading> {
    headings(lines)
        .into_iter()
        .filter_map(|(i, level)| adr_heading(lines[i], i, level))
        .collect()
}

/// Our section: its heading, and the line after its end.
fn our_section(lines: &[&str]) -> Option<(Heading, usize)> {
    let marker = lines
        .iter()
        .position(|l| l.trim_start().starts_with("<!-- onebin:adr"))?;
    let heading = adr_headings(lines).into_iter().rfind(|h| h.line < marker)?;
    let end = headings(lines)
        .into_iter()
        .find(|(i, level)| *i > heading.line && *level <= heading.level)
        .map_or(lines.len(), |(i, _)| i);
    Some((heading, end))
}

/// The option an existing onebin ADR decided.
pub fn existing_option(text: &str) -> Option<OptionKind> {
    let lines: Vec<&str> = text.lines().collect();
    let (h, end) = our_section(&lines)?;
    lines[h.line..end].iter().find_map(|l| {
        let d = l.trim_start().strip_prefix("- **Decision**: Option ")?;
        d.chars().next()?.to_string().parse().ok()
    })
}

fn format_heading(
    level: usize,
    sep: &str,
    width: usize,
    number: u64,
    option: OptionKind,
) -> String {
    format!(
        "{} ADR{sep}{:0width$}: One binary, one hash: Option {option}, {}",
        "#".repeat(level),
        number,
        option.title()
    )
}

/// The ADR's text (ending in a newline).
pub fn render(report: &Report, option: OptionKind, heading: &str, date: &str) -> String {
    let rec = &report.recommendation;
    let mut s = String::new();
    s.push_str(heading);
    s.push('\n');
    s.push_str(MARKER);
    s.push('\n');
    s.push_str("- **Status**: accepted\n");
    s.push_str(&format!("- **Date**: {date}\n"));
    s.push_str("- **Context**: `onebin audit` found these builds of the binary:\n");
    if report.builds.is_empty() {
        s.push_str("  - none that it could read.\n");
    }
    for b in &report.builds {
        s.push_str(&format!(
            "  - {} builds {} for {} with {} → {}.\n",
            b.describe(),
            b.program.as_deref().unwrap_or("the binary"),
            if b.platforms.is_empty() {
                "(unknown)".to_string()
            } else {
                b.platforms.join(", ")
            },
            b.toolchain.source,
            match b.artifact {
                crate::model::Artifact::Release => "release assets",
                crate::model::Artifact::Image => "the image",
                crate::model::Artifact::ReleaseAndImage => "release assets and the image",
                crate::model::Artifact::None => "nothing shipped",
            }
        ));
    }
    if !report.findings.is_empty() {
        s.push_str("  - and these findings:\n");
        for f in &report.findings {
            s.push_str(&format!(
                "    - `{}` ({}, {}:{}): {}\n",
                f.id, f.severity, f.file, f.line, f.message
            ));
        }
    }
    s.push_str("- **Options considered**:\n");
    for o in [OptionKind::A, OptionKind::B, OptionKind::C] {
        let what = match o {
            OptionKind::A => "the release assets are extracted from the multi-arch image with `onebin extract`; CI stops building the binary.",
            OptionKind::B => "CI builds every platform; the image only packages those binaries (`onebin package`, or a Dockerfile without a builder stage).",
            OptionKind::C => "both builds stay, with pinned toolchains; acceptable only when the two targets are meant to differ, and `onebin explain` shows they differ only where they must.",
        };
        s.push_str(&format!("  - **Option {o}**, {}: {what}\n", o.title()));
    }
    s.push_str(&format!(
        "- **Decision**: Option {option}: {}.",
        option.title()
    ));
    if option != rec.option {
        s.push_str(&format!(
            " (`onebin audit` recommended Option {}.)",
            rec.option
        ));
    }
    s.push('\n');
    for r in &rec.reasons {
        s.push_str(&format!("  - {r}\n"));
    }
    let consequences = match option {
        OptionKind::A => "one build, in the image's builder stage; the release assets are bytes taken out of the image, so they carry its libc and toolchain. Release platforms are the image's platforms (Linux only).",
        OptionKind::B => "one build, in CI; the image holds exactly the files CI built, and its base must suit them (a static binary on any base; a glibc binary not on Alpine). `docker build` no longer compiles anything.",
        OptionKind::C => "two builds remain and two hashes per platform; every release must show with `onebin explain` that they come from the same source and settings, and toolchains must stay pinned on both sides.",
    };
    s.push_str(&format!("- **Consequences**: {consequences}\n"));
    s.push_str("- **Verification**: on every release, in CI:\n");
    s.push_str("  ```sh\n");
    for v in &rec.verify {
        s.push_str(&format!("  {v}\n"));
    }
    s.push_str("  ```\n");
    s
}

/// What `DIR/docs/ARCHITECTURE.md` becomes: `existing` (or a new file) with
/// the onebin ADR added or updated. `today` is used only for a new ADR.
pub fn update(
    existing: Option<&str>,
    report: &Report,
    option: Option<OptionKind>,
    today: &str,
) -> String {
    let option = option.unwrap_or(report.recommendation.option);
    let Some(text) = existing else {
        let heading = format_heading(3, "-", 4, 1, option);
        return format!(
            "# Architecture\n\n## Decisions\n\n{}",
            render(report, option, &heading, today)
        );
    };
    let lines: Vec<&str> = text.lines().collect();
    if let Some((h, end)) = our_section(&lines) {
        let date = lines[h.line..end]
            .iter()
            .find_map(|l| {
                l.trim_start()
                    .strip_prefix("- **Date**: ")
                    .map(|d| d.trim().to_string())
            })
            .unwrap_or_else(|| today.to_string());
        let heading = format_heading(h.level, &h.sep, h.width, h.number, option);
        let mut section = render(report, option, &heading, &date);
        // Keep the blank lines that separated it from what follows.
        let trailing = lines[h.line..end]
            .iter()
            .rev()
            .take_while(|l| l.trim().is_empty())
            .count();
        for _ in 0..trailing {
            section.push('\n');
        }
        let mut out = String::new();
        for l in &lines[..h.line] {
            out.push_str(l);
            out.push('\n');
        }
        out.push_str(&section);
        for l in &lines[end..] {
            out.push_str(l);
            out.push('\n');
        }
        if !text.ends_with('\n') && end < lines.len() {
            out.pop();
        }
        return out;
    }
    let adrs = adr_headings(&lines);
    let mut out = text.to_string();
    if !out.ends_with('\n') {
        out.push('\n');
    }
    match adrs.iter().max_by_key(|h| h.number) {
        Some(max) => {
            let style = adrs.last().unwrap_or(max);
            let heading =
                format_heading(style.level, &style.sep, style.width, max.number + 1, option);
            out.push('\n');
            out.push_str(&render(report, option, &heading, today));
        }
        None => {
            let heading = format_heading(3, "-", 4, 1, option);
            out.push_str("\n## Decisions\n\n");
            out.push_str(&render(report, option, &heading, today));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn heading_styles() {
        let h = adr_heading("### ADR-0007: x", 0, 3).unwrap();
        assert_eq!((h.number, h.sep.as_str(), h.width), (7, "-", 4));
        let h = adr_heading("## ADR 3", 0, 2).unwrap();
        assert_eq!((h.number, h.sep.as_str(), h.width), (3, " ", 0));
        assert!(adr_heading("## Adrenaline", 0, 2).is_none());
        assert_eq!(
            format_heading(2, " ", 0, 4, OptionKind::B)
                .split(':')
                .next(),
            Some("## ADR 4")
        );
    }
}
