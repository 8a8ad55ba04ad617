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
    /// Limit for each registry request and each read of its answer, e.g. 30s, 2m, 1h.
    #[arg(
        long,
        global = true,
        env = "ONEBIN_TIMEOUT",
        value_name = "DURATION",
        default_value_t = Options::default().timeout.into()
    )]
    pub timeout: humantime::Duration,
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
            ..Options::default()
        })
    }
}
