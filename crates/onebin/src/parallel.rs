//! Work on independent items (platforms), side by side.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

/// Runs `work` on every item, as many at a time as the machine has cores, and
/// returns the results in order. Platforms are independent, and two cores do
/// twice the work side by side; a fixed number of workers keeps an image that
/// lists thousands of platforms from starting thousands of threads. After an
/// error no new item starts; the error of the first failed item is returned.
pub fn side_by_side<T: Sync, R: Send>(
    items: &[T],
    work: impl Fn(&T) -> anyhow::Result<R> + Sync,
) -> anyhow::Result<Vec<R>> {
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get())
        .min(items.len());
    let next = AtomicUsize::new(0);
    let failed = AtomicBool::new(false);
    let results: Mutex<Vec<Option<anyhow::Result<R>>>> =
        Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                while !failed.load(Ordering::Relaxed) {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some(item) = items.get(i) else { break };
                    let result = work(item);
                    if result.is_err() {
                        failed.store(true, Ordering::Relaxed);
                    }
                    results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
                }
            });
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    let first_error = results.iter().position(|r| matches!(r, Some(Err(_))));
    let mut out = Vec::with_capacity(items.len());
    for (i, result) in results.into_iter().enumerate() {
        match result {
            Some(Ok(r)) if first_error.is_none_or(|e| i < e) => out.push(r),
            Some(Err(e)) => return Err(e),
            // Items after the first failure, run or not, are not needed.
            _ => {}
        }
    }
    Ok(out)
}
