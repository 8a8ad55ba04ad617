//! Parsers for flag values that several commands share (clap `value_parser`s).

use std::path::PathBuf;

use onebin_image::Platform;

/// `KEY=VALUE` (`--env`, `--label`, `--annotation`); the value may be empty.
pub fn parse_key_value(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("'{s}' is not KEY=VALUE")),
    }
}

/// `PLATFORM=FILE` (`--binary`).
pub fn parse_binary(s: &str) -> Result<(Platform, PathBuf), String> {
    let (platform, file) = s
        .split_once('=')
        .ok_or_else(|| format!("'{s}' is not PLATFORM=FILE"))?;
    let platform = platform.parse::<Platform>().map_err(|e| e.to_string())?;
    if file.is_empty() {
        return Err(format!("'{s}': no file after '=' (PLATFORM=FILE)"));
    }
    Ok((platform, PathBuf::from(file)))
}

/// An octal file mode such as `0755` or `0o755` (`--mode`).
pub fn parse_mode(s: &str) -> Result<u32, String> {
    u32::from_str_radix(s.trim_start_matches("0o"), 8)
        .ok()
        .filter(|m| *m <= 0o7777)
        .ok_or_else(|| format!("'{s}' is not an octal file mode like 0755"))
}
