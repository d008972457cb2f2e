//! The step's threads between its phases: awake, taking each other's forked work.

use std::sync::atomic::{AtomicBool, Ordering};

use rebar_core::Fork;

/// Runs `f` on this thread while up to `helpers` other threads of the pool wait awake (polling
/// a flag, taking the pool's pending work, else yielding their cores), so that they are ready
/// for the work `f` forks and the element-wise work that follows (a sleeping thread takes
/// ~100 µs to wake on the machines this was measured on). Through nested `rayon::join`s, whose
/// jobs live on the stack: a step does not allocate.
///
/// `f` may fork with `rayon::join` ([`RayonFork`]) but must not wait on work that it did not
/// fork itself. The waiters' jobs are queued on this thread before anything `f` forks, and other
/// threads steal a queue's oldest job first; so if a job of `f`'s was stolen, every waiter was
/// too, and this thread, while it waits for that job, cannot pick up a waiter (which would wait
/// for `f` in turn). If no thread has stolen the forked job, this thread runs it itself.
pub(super) fn keep_awake<R: Send>(helpers: usize, f: impl FnOnce() -> R + Send) -> R {
    let done = AtomicBool::new(false);
    wait_beside(helpers, &done, f)
}

/// [`Fork`] through the current rayon pool (`rayon::join`): `b` waits on this thread's queue,
/// where a thread waiting in `keep_awake` (or any idle thread of the pool) takes it; if none
/// has yet, this thread runs it after `a`.
pub struct RayonFork;

impl Fork for RayonFork {
    fn join<A: FnOnce() + Send, B: FnOnce() + Send>(&self, a: A, b: B) {
        rayon::join(a, b);
    }
}

/// [`keep_awake`] with its flag: `f` beside `helpers` waiters, each in a `rayon::join` of its own.
fn wait_beside<R: Send>(helpers: usize, done: &AtomicBool, f: impl FnOnce() -> R + Send) -> R {
    if helpers == 0 {
        let r = f();
        done.store(true, Ordering::Release);
        return r;
    }
    // A waiter takes the pool's pending work (the second half of an estimate, forked by `f`), and otherwise
    // yields its core rather than only spinning: with more busy threads than cores (two runs
    // side by side), a waiter must not hold the core that the estimate is waiting for.
    let wait = || {
        while !done.load(Ordering::Acquire) {
            if rayon::yield_now() != Some(rayon::Yield::Executed) {
                std::thread::yield_now();
            }
        }
    };
    rayon::join(|| wait_beside(helpers - 1, done, f), wait).0
}
