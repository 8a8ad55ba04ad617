//! Progress bars on a terminal, nothing otherwise: bytes read per platform,
//! bytes pushed per blob.

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

pub struct Progress {
    multi: MultiProgress,
}

impl Progress {
    /// `quiet` hides the bars; they are hidden anyway when stderr is not a TTY.
    pub fn new(quiet: bool) -> Self {
        let target = if quiet {
            ProgressDrawTarget::hidden()
        } else {
            ProgressDrawTarget::stderr()
        };
        Progress {
            multi: MultiProgress::with_draw_target(target),
        }
    }

    /// A bar counting the bytes moved for one task (read from a layer, or pushed).
    pub fn bytes(&self, label: &str) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new_spinner());
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} {prefix:<16} {bytes:>10}  {binary_bytes_per_sec:>12}  {msg}",
            )
            .expect("the template is valid"),
        );
        bar.set_prefix(label.to_string());
        bar.enable_steady_tick(std::time::Duration::from_millis(120));
        bar
    }

    /// A bar for one blob of known size: bytes of total, speed.
    pub fn blob(&self, label: &str, total: u64) -> ProgressBar {
        let bar = self.multi.add(ProgressBar::new(total));
        bar.set_style(
            ProgressStyle::with_template(
                "{prefix:<20} [{bar:24}] {bytes:>10}/{total_bytes:<10} {binary_bytes_per_sec:>12}",
            )
            .expect("the template is valid")
            .progress_chars("=> "),
        );
        bar.set_prefix(label.to_string());
        bar
    }
}

/// Bars made on demand, one per blob, each gone when its blob is complete.
pub struct BlobBars<'a> {
    progress: &'a Progress,
    bars: std::sync::Mutex<std::collections::HashMap<String, ProgressBar>>,
}

impl<'a> BlobBars<'a> {
    pub fn new(progress: &'a Progress) -> Self {
        BlobBars {
            progress,
            bars: Default::default(),
        }
    }

    /// Counts `bytes` more of `blob`: `push sha256:0123abcd`.
    pub fn add(&self, blob: &onebin_image::Descriptor, bytes: u64) {
        let digest = blob.digest().to_string();
        let mut bars = self.bars.lock().unwrap_or_else(|e| e.into_inner());
        let bar = bars.entry(digest.clone()).or_insert_with(|| {
            let short: String = digest.chars().take(15).collect();
            self.progress.blob(&format!("push {short}"), blob.size())
        });
        bar.inc(bytes);
        if bar.position() >= blob.size() {
            bar.finish_and_clear();
        }
    }
}
