//! Writing to standard output when its reader may be gone: `rebar footprint | head -1`, or
//! `rebar train … | true` after the run's files are written. std's `println!` panics on a
//! closed pipe (Rust ignores SIGPIPE, so the write fails with `BrokenPipe`), which printed a
//! panic and exited 101. Here a closed pipe ends the program quietly with exit status 0, as a
//! reader that stops early means "enough"; any other write error is reported and exits 1.
//!
//! This is chosen over restoring SIGPIPE's default action at start-up, which needs `unsafe`
//! (`libc::signal`; this crate forbids unsafe code) and kills the process by the signal, so
//! `rebar … | head` would end with status 141 instead of 0.

use std::io::{ErrorKind, Write};

/// Writes `args` (and a newline if `newline`) to stdout; a closed pipe exits 0.
pub fn write(args: std::fmt::Arguments<'_>, newline: bool) {
    let mut out = std::io::stdout().lock();
    let result = out.write_fmt(args).and_then(|()| if newline { out.write_all(b"\n") } else { Ok(()) });
    match result {
        Ok(()) => {}
        Err(e) if e.kind() == ErrorKind::BrokenPipe => std::process::exit(0),
        Err(e) => {
            eprintln!("rebar: error: writing to standard output: {e}");
            std::process::exit(1);
        }
    }
}
