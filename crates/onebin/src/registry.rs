//! The global registry flags, and the one place they become the settings every
//! `docker://` image is read and written with.

use anyhow::{bail, Result};
use onebin_image::auth::Credentials;
use onebin_image::transport::remote;

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
}

impl RegistryArgs {
    /// Sets the registry options for the rest of the process; reads the
    /// password from standard input when asked to.
    pub fn configure(&self) -> Result<()> {
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
        remote::configure(remote::RegistryOptions {
            insecure: self.insecure_registries.clone(),
            credentials,
            ..Default::default()
        });
        Ok(())
    }
}
