//! Platforms, normalised and matched the way containerd does, so that
//! `linux/arm64` finds `linux/arm64/v8` and `linux/arm` finds `linux/arm/v7`.

use std::fmt;
use std::str::FromStr;

use serde::Serialize;

use crate::Error;

#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
pub struct Platform {
    pub os: String,
    pub architecture: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

impl Platform {
    /// Builds a platform from the strings a manifest or config carries,
    /// normalising aliases (`x86_64`, `aarch64`, `armhf`) and default variants.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        let os = os.to_ascii_lowercase();
        let variant = variant
            .filter(|v| !v.is_empty())
            .map(str::to_ascii_lowercase);
        let (architecture, variant) = normalize_arch(&architecture.to_ascii_lowercase(), variant);
        Platform {
            os,
            architecture,
            variant,
        }
    }

    /// `unknown/unknown` entries are attestations and other non-runnable
    /// artifacts that buildx puts beside the images of an index.
    pub fn is_runnable(&self) -> bool {
        self.os != "unknown" && self.architecture != "unknown"
    }

    /// containerd's rule: equal after normalisation, where a missing variant on
    /// either side of `arm64` means `v8` and has already been filled in.
    pub fn matches(&self, other: &Platform) -> bool {
        self.os == other.os
            && self.architecture == other.architecture
            && self.variant == other.variant
    }

    /// The platform of the machine onebin runs on, as Docker names it.
    pub fn host() -> Self {
        Platform::new(std::env::consts::OS, std::env::consts::ARCH, None)
    }
}

fn normalize_arch(arch: &str, variant: Option<String>) -> (String, Option<String>) {
    match arch {
        "i386" | "i486" | "i586" | "i686" | "x86" => ("386".into(), None),
        "x86_64" | "x86-64" | "amd64" => {
            // GOAMD64 levels are carried as variants; v1 is the baseline.
            let variant = variant.filter(|v| v != "v1");
            ("amd64".into(), variant)
        }
        "aarch64" | "arm64" => {
            let variant = match variant.as_deref() {
                None | Some("8") | Some("v8") => Some("v8".to_string()),
                _ => variant,
            };
            ("arm64".into(), variant)
        }
        "armhf" => ("arm".into(), Some("v7".into())),
        "armel" => ("arm".into(), Some("v6".into())),
        "arm" => {
            let variant = match variant.as_deref() {
                None | Some("7") | Some("v7") => "v7",
                Some("5") | Some("v5") => "v5",
                Some("6") | Some("v6") => "v6",
                Some("8") | Some("v8") => "v8",
                Some(other) => other,
            };
            ("arm".into(), Some(variant.to_string()))
        }
        other => (other.to_string(), variant),
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            // `linux/arm64` reads better than `linux/arm64/v8`, and means the same.
            if !(self.architecture == "arm64" && v == "v8") {
                write!(f, "/{v}")?;
            }
        }
        Ok(())
    }
}

impl FromStr for Platform {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let parts: Vec<&str> = s.split('/').collect();
        if parts.iter().any(|p| p.is_empty()) || !(2..=3).contains(&parts.len()) {
            return Err(Error::invalid(format!(
                "invalid platform '{s}': expected OS/ARCH[/VARIANT], e.g. linux/amd64 or linux/arm/v7"
            )));
        }
        Ok(Platform::new(parts[0], parts[1], parts.get(2).copied()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn normalises_like_containerd() {
        assert!(p("linux/arm64").matches(&p("linux/arm64/v8")));
        assert!(p("linux/aarch64").matches(&p("linux/arm64")));
        assert!(p("linux/arm").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
        assert!(p("linux/x86_64").matches(&p("linux/amd64")));
        assert_eq!(p("linux/arm64/v8").to_string(), "linux/arm64");
        assert_eq!(p("linux/arm").to_string(), "linux/arm/v7");
        assert!(!p("unknown/unknown").is_runnable());
    }

    #[test]
    fn rejects_malformed() {
        for bad in ["linux", "linux/", "/amd64", "a/b/c/d"] {
            assert!(bad.parse::<Platform>().is_err(), "{bad}");
        }
    }
}
