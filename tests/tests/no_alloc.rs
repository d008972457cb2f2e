//! Zero heap allocations in the core's hot paths: every model pass, Adam, and every estimator's
//! estimate and update, at the paper's linear 1-layer size and on small two-layer and nonlinear
//! models. A counting global allocator (per thread, so parallel tests do not interfere) proves it;
//! a control test proves the counter sees allocations.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use rebar_core::model::{Generative, Linear1, OneLayer, TwoLayer};
use rebar_core::net::{Dense, Mlp2};
use rebar_core::{Adam, AdamConfig, Estimator, GradWrite, Relaxation, Sbn};

use rebar_tests::{binary_row, boxed, rng, small_model};

struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged; only counts calls.
#[allow(unsafe_code)] // a global allocator is an unsafe trait
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.with(|c| c.set(c.get() + 1));
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

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.with(|c| c.get());
    f();
    ALLOCATIONS.with(|c| c.get()) - before
}

#[test]
fn the_counter_sees_allocations() {
    assert_eq!(allocations_during(|| drop(std::hint::black_box(vec![1u8; 16]))), 1);
}

fn audit<M: Sbn<H, Input = [f32; X], Target = [f32; X]>, const X: usize, const H: usize, const B: usize>() {
    let mut r = rng(1);
    let inputs: Vec<[f32; X]> = (0..B).map(|_| binary_row(&mut r)).collect();
    let mut model = small_model::<M, H>(2, &inputs, &inputs);
    let mut s = boxed::<M::Scratch<B>>();
    let mut grad = boxed::<M>();
    let mut adam = boxed::<Adam<M>>();
    let mut estimators = rebar_tests::estimators::all::<M, X, H, B>(3);

    let n = allocations_during(|| {
        model.load_batch(&inputs, &inputs, &mut s);
        model.hard_forward(&mut s, 0);
        model.decoder_backward(&mut s, &[0.1; B], &mut grad, GradWrite::Set);
        for l in 0..M::LAYERS {
            model.encoder_backward(&mut s, l, &mut grad, GradWrite::Set);
        }
        for from in 0..M::LAYERS {
            let relax = Relaxation::Modified { temperature: 0.5 };
            model.relaxed_forward(&mut s, from, relax);
            model.relaxed_backward(&mut s, from, relax, 1.0, Some((&mut grad, GradWrite::Add)));
            model.relaxed_tangent(&mut s, from, relax, 1.0);
        }
        adam.step(&mut model, &grad, 1e-3, AdamConfig::REBAR);
    });
    assert_eq!(n, 0, "model passes and Adam allocated {n} times");

    for (label, e) in &mut estimators {
        let n = allocations_during(|| {
            for _ in 0..2 {
                model.load_batch(&inputs, &inputs, &mut s);
                e.estimate(&model, &mut s, &mut r, &mut grad);
                e.update_control_variates(1e-2);
            }
        });
        assert_eq!(n, 0, "{label} allocated {n} times in a training step");
    }
}

#[test]
fn nothing_allocates_on_the_paper_linear_model() {
    audit::<Linear1, 784, 200, 24>();
}

#[test]
fn nothing_allocates_on_two_layer_and_nonlinear_models() {
    audit::<TwoLayer<12, 5, 12, Dense<12, 5>, Dense<5, 5>, Dense<5, 5>, Dense<5, 12>, Generative>, 12, 5, 7>();
    audit::<OneLayer<12, 5, 12, Mlp2<12, 6, 5>, Mlp2<5, 6, 12>, Generative>, 12, 5, 7>();
}
