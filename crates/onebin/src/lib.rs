//! onebin: one binary, one hash, in the release assets and the container image.
//!
//! Each command is a module of [`cmd`] that returns a typed report, so that it
//! can be tested and reused; `main.rs` only parses flags, dispatches and prints.

pub mod cmd;
pub mod config;
pub mod exit;
pub mod flags;
pub mod goreleaser;
pub mod output;
pub mod parallel;
pub mod platforms;
pub mod progress;
pub mod provenance;
pub mod registry;
pub mod release;
pub mod source_date_epoch;
