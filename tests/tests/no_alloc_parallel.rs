//! Zero heap allocations in a data-parallel training step (`rebar_host::train::parallel`) once
//! it has run: on every thread of its pool, so the counter here is global and this file holds a
//! single test (tests of one file run concurrently and would count each other's allocations).

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};

use rebar_core::Adam;
use rebar_core::model::{Generative, OneLayer};
use rebar_core::net::Dense;
use rebar_host::train::parallel::DataParallel;
use rebar_host::train::variance::VarianceTracker;
use rebar_host::train::{AnyEstimator, BATCH_CAPACITY, EstimatorKind, EstimatorOptions};
use rebar_tests::{binary_row, boxed, rng, small_model};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: forwards to the system allocator unchanged; only counts calls.
#[allow(unsafe_code)] // a global allocator is an unsafe trait
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::Relaxed);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

type Model = OneLayer<12, 5, 12, Dense<12, 5>, Dense<5, 12>, Generative>;

#[test]
fn a_data_parallel_step_does_not_allocate() {
    let before = ALLOCATIONS.load(Ordering::Relaxed);
    drop(std::hint::black_box(vec![1u8; 16]));
    assert!(ALLOCATIONS.load(Ordering::Relaxed) > before, "the counter sees allocations");

    let mut data = rng(1);
    let batch: Vec<[f32; 12]> = (0..9).map(|_| binary_row(&mut data)).collect();
    // Every pool lives to the end: a dropped pool's threads exit concurrently, and exiting
    // threads allocate and free.
    // (estimator, shards): two shards on two threads, and one shard on two threads.
    let kinds = [
        (EstimatorKind::Rebar, 2),
        (EstimatorKind::Nvil, 2),
        (EstimatorKind::Disarm, 2),
        (EstimatorKind::Rebar, 1),
        (EstimatorKind::Nvil, 1),
    ];
    let mut runs: Vec<_> = kinds
        .iter()
        .map(|&(kind, shards)| {
            let new =
                || AnyEstimator::<Model, 12, 5, BATCH_CAPACITY>::new(kind, EstimatorOptions::default(), &mut rng(3));
            let replicas = (1..shards).map(|_| new().unwrap()).collect();
            let parallel = DataParallel::with_threads(new().unwrap(), replicas, 2).unwrap();
            let model = small_model::<Model, 5>(2, &batch, &batch);
            (kind, parallel, model, boxed::<Adam<Model>>(), VarianceTracker::<Model>::new())
        })
        .collect();
    // Every thread of every pool has started (a starting thread allocates its own state).
    for (_, parallel, ..) in &runs {
        parallel.pool().broadcast(|_| ());
    }
    for (kind, parallel, model, adam, tracker) in &mut runs {
        let pool = parallel.pool();
        let mut step = |i: u64| {
            let rng = |w: usize| rng(10 * i + w as u64);
            let out = parallel.step(model, adam, Some(tracker), &batch, &batch, rng, 1e-3, 1e-2);
            assert!(out.finite);
        };
        // Inside the pool, as the trainer runs its loop; the first step sizes a buffer.
        let allocations = pool.install(|| {
            step(0);
            let before = ALLOCATIONS.load(Ordering::Relaxed);
            for i in 1..40 {
                step(i);
            }
            ALLOCATIONS.load(Ordering::Relaxed) - before
        });
        let shards = parallel.shards();
        assert_eq!(allocations, 0, "{} on {shards} shards: {allocations} allocations in 39 steps", kind.name());
    }
}
