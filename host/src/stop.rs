//! Stopping cleanly on a signal: Ctrl-C (SIGINT), SIGTERM (`kill`, `timeout`, a Slurm time
//! limit or preemption) and SIGHUP (a closed terminal or SSH session) all raise one flag that
//! the work checks between steps, so it can save a checkpoint and exit; a second signal of any
//! of them exits at once. The exit status is the shell's for the first signal: 128 + its number
//! (130, 143, 129).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The signals that stop a run cleanly.
#[cfg(unix)]
pub const SIGNALS: [i32; 3] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM, signal_hook::consts::SIGHUP];
/// The signals that stop a run cleanly.
#[cfg(not(unix))]
pub const SIGNALS: [i32; 2] = [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM];

/// The stop flag and the signal that raised it.
#[derive(Debug, Clone, Default)]
pub struct Stop {
    flag: Arc<AtomicBool>,
    signal: Arc<AtomicUsize>,
}

impl Stop {
    /// A flag no signal raises (raise it with [`Stop::raise`]).
    pub fn new() -> Self {
        Self::default()
    }

    /// A flag raised by each of [`SIGNALS`]; a second one ends the process at once.
    pub fn on_signals() -> std::io::Result<Self> {
        let stop = Self::new();
        for signal in SIGNALS {
            // The order matters: the handlers run in registration order, so the exit fires only
            // when the flag was already up before this signal.
            signal_hook::flag::register_conditional_shutdown(signal, 128 + signal, stop.flag.clone())?;
            signal_hook::flag::register_usize(signal, stop.signal.clone(), signal as usize)?;
            signal_hook::flag::register(signal, stop.flag.clone())?;
        }
        Ok(stop)
    }

    /// The flag the work checks.
    pub fn flag(&self) -> &AtomicBool {
        &self.flag
    }

    /// Whether the flag is up.
    pub fn raised(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Raises the flag as `signal` would.
    pub fn raise(&self, signal: i32) {
        self.signal.store(signal as usize, Ordering::SeqCst);
        self.flag.store(true, Ordering::SeqCst);
    }

    /// The signal that raised the flag (SIGINT if it was raised otherwise).
    pub fn signal(&self) -> i32 {
        match self.signal.load(Ordering::SeqCst) {
            0 => signal_hook::consts::SIGINT,
            s => s as i32,
        }
    }

    /// The signal's name, such as `SIGTERM`.
    pub fn signal_name(&self) -> &'static str {
        signal_hook::low_level::signal_name(self.signal()).unwrap_or("a signal")
    }

    /// The exit status after a clean stop: 128 + the signal's number, as a shell reports a
    /// process that the signal ended.
    pub fn exit_code(&self) -> i32 {
        128 + self.signal()
    }
}

/// The environment variable through which `rebar sweep` and `rebar reproduce` give their
/// children their own pid, asking them to stop (as on SIGTERM) when the driver dies.
pub const PARENT_ENV: &str = "REBAR_STOP_WITH_PARENT";

impl Stop {
    /// If [`PARENT_ENV`] names this process's parent, asks the kernel (Linux) for SIGTERM when
    /// the parent dies, so that a killed sweep leaves no orphaned trainer behind.
    pub fn stop_with_parent(&self) {
        #[cfg(target_os = "linux")]
        if let Some(parent) = std::env::var(PARENT_ENV).ok().and_then(|p| p.parse::<i32>().ok()) {
            use rustix::process::{Signal, getppid, set_parent_process_death_signal};
            let _ = set_parent_process_death_signal(Some(Signal::TERM));
            // The parent may have died before the request, and then no signal comes.
            if getppid().map(|p| p.as_raw_nonzero().get()) != Some(parent) {
                self.raise(signal_hook::consts::SIGTERM);
            }
        }
    }
}
