//! Progress bars on a terminal, nothing otherwise: bytes read per platform.

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
}
