//! One module per command: its flags (`Args`), its `run` returning a typed
//! report, and the report's text (`Report::render`) beside its JSON (the
//! report's `Serialize`). Printing and exit codes are `main.rs`'s.

pub mod adr;
pub mod audit;
pub mod explain;
pub mod extract;
pub mod index;
pub mod inspect;
pub mod package;
pub mod rebuild;
pub mod release;
pub mod verify;

use anyhow::Result;
use onebin_image::{transport, ImageReference, ImageSource, Options};

use crate::exit::Outcome;

/// What every command returns.
pub trait Report {
    /// The text output, as printed on stdout.
    fn render(&self) -> String;

    /// How the run ended; only the checks (verify, audit) find problems.
    fn outcome(&self) -> Outcome {
        Outcome::Ok
    }

    /// Warnings the text lists itself, and `--json` repeats on stderr.
    fn json_warnings(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Opens an image given on the command line, on any transport.
fn open_image(image: &str, options: &Options) -> Result<Box<dyn ImageSource>> {
    Ok(transport::open(&ImageReference::parse(image)?, options)?)
}
