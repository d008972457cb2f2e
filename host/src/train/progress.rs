//! A run's progress on stderr: a bar on a terminal; otherwise (a log file, a pipe, `nohup`,
//! `rebar sweep`'s train.log) a plain line every [`LINE_SECONDS`], so that a long run's log
//! shows where it is; nothing when quiet.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// Seconds between two plain progress lines.
pub const LINE_SECONDS: f64 = 30.0;

/// Overrides [`LINE_SECONDS`] (for tests, or a livelier log).
pub const LINE_SECONDS_ENV: &str = "REBAR_PROGRESS_SECONDS";

enum Show {
    Bar(ProgressBar),
    Lines { every: Duration, last: Instant },
    Hidden,
}

/// The progress of one process's part of a run.
pub struct Progress {
    show: Show,
    total: u64,
    first: u64,
    start: Instant,
}

impl Progress {
    /// Progress towards `total` steps from `at`: shown if `show`, as a bar on a terminal and
    /// as lines elsewhere.
    pub fn new(total: u64, at: u64, show: bool) -> Self {
        let show = if !show {
            Show::Hidden
        } else if std::io::stderr().is_terminal() {
            Show::Bar(bar(total, at))
        } else {
            let seconds = std::env::var(LINE_SECONDS_ENV).ok().and_then(|s| s.parse::<f64>().ok());
            let every = Duration::from_secs_f64(seconds.filter(|s| s.is_finite() && *s >= 0.0).unwrap_or(LINE_SECONDS));
            Show::Lines { every, last: Instant::now() }
        };
        Progress { show, total, first: at, start: Instant::now() }
    }

    /// Steps done so far; `message` says how they go (ELBO, variance, λ).
    pub fn update(&mut self, step: u64, message: impl FnOnce() -> String) {
        match &mut self.show {
            Show::Bar(bar) => {
                bar.set_position(step);
                bar.set_message(message());
            }
            Show::Lines { every, last } if last.elapsed() >= *every => {
                *last = Instant::now();
                let seconds = self.start.elapsed().as_secs_f64();
                let rate = (step - self.first) as f64 / seconds.max(1e-9);
                let eta = if rate > 0.0 { clock((self.total - step) as f64 / rate) } else { "?".into() };
                let percent = 100.0 * step as f64 / self.total.max(1) as f64;
                eprintln!("step {step}/{} ({percent:.1}%), {rate:.0} steps/s, ETA {eta}, {}", self.total, message());
            }
            _ => {}
        }
    }

    /// A change of phase, such as the evaluation (a line of its own when not on a terminal).
    pub fn note(&mut self, message: String) {
        match &self.show {
            Show::Bar(bar) => bar.set_message(message),
            Show::Lines { .. } => eprintln!("{message}"),
            Show::Hidden => {}
        }
    }

    /// Leaves the bar where it is (the run stopped early).
    pub fn abandon(&self) {
        if let Show::Bar(bar) = &self.show {
            bar.abandon();
        }
    }

    /// Clears the bar (the run finished).
    pub fn finish(&self) {
        if let Show::Bar(bar) = &self.show {
            bar.finish_and_clear();
        }
    }
}

/// `1:02:03` or `2:03`.
fn clock(seconds: f64) -> String {
    let s = seconds.round() as u64;
    match s / 3600 {
        0 => format!("{}:{:02}", s / 60, s % 60),
        h => format!("{h}:{:02}:{:02}", s / 60 % 60, s % 60),
    }
}

fn bar(total: u64, at: u64) -> ProgressBar {
    let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr_with_hz(4));
    let style =
        ProgressStyle::with_template("{elapsed_precise} [{bar:30}] {pos}/{len} steps, {per_sec}, ETA {eta}  {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
    bar.set_style(style);
    bar.set_position(at);
    bar
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_clock_reads_minutes_and_hours() {
        assert_eq!(super::clock(62.4), "1:02");
        assert_eq!(super::clock(3723.0), "1:02:03");
    }
}
