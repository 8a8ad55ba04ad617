//! Exit codes shared by every command, so a pipeline can gate on them.

/// Success.
pub const OK: u8 = 0;
/// A check ran and found a problem (verify, audit, release's proof).
pub const FOUND_PROBLEM: u8 = 1;
/// Bad input or an error: nothing was decided.
pub const ERROR: u8 = 2;

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Ok,
    FoundProblem,
    Error,
}

impl Outcome {
    /// The one place that turns how a run ended into its exit code.
    pub fn code(self) -> u8 {
        match self {
            Outcome::Ok => OK,
            Outcome::FoundProblem => FOUND_PROBLEM,
            Outcome::Error => ERROR,
        }
    }
}
