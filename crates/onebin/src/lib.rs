//! onebin: one binary, one hash, in the release assets and the container image.
//!
//! The commands are library functions here, so that they can be tested and
//! reused; `main.rs` only parses flags and prints.

pub mod audit;
pub mod explain;
pub mod extract;
pub mod inspect;
pub mod output;
pub mod package;
pub mod progress;
pub mod provenance;
pub mod release;
pub mod verify;

/// Exit codes shared by every command, so a pipeline can gate on them.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A check ran and found a problem (verify, audit).
    pub const FOUND_PROBLEM: u8 = 1;
    /// Bad input or an error: nothing was decided.
    pub const ERROR: u8 = 2;
}
