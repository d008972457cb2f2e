//! What a fork–join costs inside a rayon pool when the forks are separated by serial work, as
//! a training step's dense maps would be if each were split over the threads: per iteration,
//! `serial` rounds of work on one thread, then `parallel` rounds on each of two buffers — either
//! one after the other, or in `rayon::join` inside a pool of two threads. The idle thread of the
//! pool spins for a while and then sleeps, so a join after a long enough serial stretch pays for
//! waking it.
//!
//! `cargo run --release -p rebar-bench --example join_overhead`
//!
//! Prints one line per (serial, parallel) pair: the microseconds per iteration all on one
//! thread, with the join, and the ideal (serial part plus one of the two parallel parts), and the
//! join's overhead over the ideal.

use std::hint::black_box;
use std::time::Instant;

/// `rounds` passes of a multiply-add over `buf` (16 KB: in L1), about 3 µs each here.
fn work(rounds: usize, buf: &mut [f32]) {
    for _ in 0..rounds {
        for v in buf.iter_mut() {
            *v = black_box(*v * 1.0001 + 0.5);
        }
    }
}

/// Mean microseconds per iteration of `f` over `iterations`.
fn micros(iterations: usize, mut f: impl FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..iterations {
        f();
    }
    start.elapsed().as_secs_f64() * 1e6 / iterations as f64
}

fn main() {
    let pool = rayon::ThreadPoolBuilder::new().num_threads(2).build().expect("two threads start");
    let (mut a, mut b, mut c) = (vec![1.0f32; 4096], vec![1.0f32; 4096], vec![1.0f32; 4096]);
    println!("serial_rounds,parallel_rounds,one_thread_us,joined_us,ideal_us,join_overhead_us");
    for (serial, parallel) in [(1, 1), (2, 1), (5, 2), (10, 10), (20, 20)] {
        let iterations = 2000;
        let one = micros(iterations, || {
            work(serial, &mut c);
            work(parallel, &mut a);
            work(parallel, &mut b);
        });
        let joined = pool.install(|| {
            micros(iterations, || {
                work(serial, &mut c);
                rayon::join(|| work(parallel, &mut a), || work(parallel, &mut b));
            })
        });
        let ideal = micros(iterations, || {
            work(serial, &mut c);
            work(parallel, &mut a);
        });
        println!("{serial},{parallel},{one:.1},{joined:.1},{ideal:.1},{:.1}", joined - ideal);
    }
}
