//! The global registry flags, and the one place they become the [`Options`]
//! every image is opened and written with.

use anyhow::{bail, Result};
use onebin_image::{Credentials, Options};

#[derive(clap::Args)]
pub struct RegistryArgs {
    /// A registry (HOST or HOST:PORT) to reach over plain HTTP; repeat for several.
    /// localhost and 127.0.0.1 always are.
    #[arg(long = "insecure-registry", value_name = "HOST", global = true)]
    pub insecure_registries: Vec<String>,
    /// User name for registries (with --password-stdin); else Docker's and
    /// containers' credential files and helpers, then CI_REGISTRY_USER.
    #[arg(long, global = true, requires = "password_stdin")]
    pub username: Option<String>,
    /// Read the registry password or token from standard input.
    #[arg(long, global = true, requires = "username")]
    pub password_stdin: bool,
    /// Limit for all of a command's registry work (every request, retry and
    /// body) and credential helpers, e.g. 30s, 2m, 1h.
    #[arg(
        long,
        global = true,
        env = "ONEBIN_TIMEOUT",
        value_name = "DURATION",
        default_value_t = Options::default().timeout.into()
    )]
    pub timeout: humantime::Duration,
    /// Limit for any wait on a registry without a byte coming (an answer, the
    /// next bytes of a body) before the attempt fails and is retried; also for
    /// a credential helper's answer.
    #[arg(
        long,
        global = true,
        env = "ONEBIN_STALL_TIMEOUT",
        value_name = "DURATION",
        default_value_t = Options::default().stall_timeout.into()
    )]
    pub stall_timeout: humantime::Duration,
}

impl RegistryArgs {
    /// The options every image is opened and written with; reads the password
    /// from standard input when asked to.
    pub fn options(&self) -> Result<Options> {
        let credentials = match &self.username {
            Some(user) => {
                let mut password = String::new();
                std::io::stdin().read_line(&mut password)?;
                let password = password.trim_end_matches(['\n', '\r']);
                if password.is_empty() {
                    bail!("--password-stdin: standard input held no password");
                }
                Some(Credentials::new(
                    user,
                    password,
                    "--username/--password-stdin",
                ))
            }
            None => None,
        };
        Ok(Options {
            insecure_registries: self.insecure_registries.clone(),
            credentials,
            timeout: self.timeout.into(),
            stall_timeout: self.stall_timeout.into(),
            ..Options::default()
        })
    }
}

/// Hides `user:password@` in a message: a reference typed with credentials in
/// it (`docker://bob:secret@host/app`) is echoed by the errors about it. The
/// `@` of a digest (`app@sha256:…`) is left alone.
pub fn redact_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut from = 0;
    for (at, _) in text.match_indices('@') {
        let after = &text[at + 1..];
        if after.starts_with("sha256:") || after.starts_with("sha512:") || at < from {
            continue;
        }
        let start = text[from..at]
            .rfind(|c: char| c.is_whitespace() || "'\"/([<,=".contains(c))
            .map_or(from, |i| from + i + 1);
        if text[start..at].contains(':') {
            out.push_str(&text[from..start]);
            out.push_str("***");
            from = at;
        }
    }
    out.push_str(&text[from..]);
    out
}

#[cfg(test)]
mod tests {
    use super::redact_userinfo;

    #[test]
    fn user_and_password_are_hidden_digests_are_not() {
        assert_eq!(
            redact_userinfo("invalid image reference 'docker://bob:hunter2@host:5000/app:v1'"),
            "invalid image reference 'docker://***@host:5000/app:v1'"
        );
        assert_eq!(
            redact_userinfo("bob:pw@host/app and app:v1@sha256:abc"),
            "***@host/app and app:v1@sha256:abc"
        );
        assert_eq!(redact_userinfo("no secrets @ all"), "no secrets @ all");
    }
}
