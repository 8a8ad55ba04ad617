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

/// Runs `work` on every item in a thread of its own and returns the results
/// in order. Platforms are independent, and two cores do twice the work side
/// by side; the first error wins.
pub fn side_by_side<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    std::thread::scope(|scope| {
        let work = &work;
        let tasks: Vec<_> = items
            .iter()
            .map(|item| scope.spawn(move || work(item)))
            .collect();
        tasks
            .into_iter()
            .map(|task| {
                task.join()
                    .unwrap_or_else(|_| Err(anyhow::anyhow!("a worker thread panicked")))
            })
            .collect()
    })
}

/// Exit codes shared by every command, so a pipeline can gate on them.
pub mod exit {
    /// Success.
    pub const OK: u8 = 0;
    /// A check ran and found a problem (verify, audit).
    pub const FOUND_PROBLEM: u8 = 1;
    /// Bad input or an error: nothing was decided.
    pub const ERROR: u8 = 2;
}
