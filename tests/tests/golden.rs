//! Value stability: each estimator's output on a fixed small problem and seed, pinned so that a
//! refactor that changes numbers is noticed.
//!
//! Provenance: produced by this file's `golden_values_are_stable` with `REBAR_GOLDEN=print`
//! (`REBAR_GOLDEN=print cargo test -p rebar-tests --test golden -- --nocapture`), on x86_64 with
//! the default (SSE2) build, and checked unchanged with `-C target-cpu=native` (AVX-512, FMA) within
//! the stated tolerance. Regenerate them only for an intended change of the numbers, and say why
//! in the commit.

use rebar_core::model::{Generative, TwoLayer};
use rebar_core::net::Dense;
use rebar_core::{Adam, AdamConfig, Estimator, Sbn, Tensors};

use rebar_tests::{binary_row, boxed, rng, small_model};

type Model = TwoLayer<10, 4, 10, Dense<10, 4>, Dense<4, 4>, Dense<4, 4>, Dense<4, 10>, Generative>;
const B: usize = 5;

/// Relative tolerance: FMA and non-FMA builds differ in the last bits, which three steps of Adam
/// and control-variate updates amplify a little.
const REL: f64 = 2e-4;

/// (mean ELBO of the last step, Σ of the last gradient, Σ|last gradient|, the last gradient's
/// first entry) after three training steps.
fn fingerprint(label: &str) -> [f64; 4] {
    let mut r = rng(11);
    let inputs: Vec<[f32; 10]> = (0..B).map(|_| binary_row(&mut r)).collect();
    let mut model = small_model::<Model, 4>(12, &inputs, &inputs);
    let (_, mut estimator) =
        rebar_tests::estimators::all::<Model, 10, 4, B>(13).into_iter().find(|(l, _)| *l == label).unwrap();
    let mut s = boxed::<<Model as Sbn<4>>::Scratch<B>>();
    let mut grad = boxed::<Model>();
    let mut adam = boxed::<Adam<Model>>();
    let mut noise = rng(14);
    let mut elbo = 0.0;
    for _ in 0..3 {
        model.load_batch(&inputs, &inputs, &mut s);
        elbo = estimator.estimate(&model, &mut s, &mut noise, &mut grad).elbo as f64;
        adam.step(&mut model, &grad, 1e-2, AdamConfig::REBAR);
        estimator.update_control_variates(1e-1);
    }
    let all: Vec<f64> = (0..Model::COUNT).flat_map(|t| grad.tensor(t).to_vec()).map(|v| v as f64).collect();
    [elbo, all.iter().sum(), all.iter().map(|v| v.abs()).sum(), all[0]]
}

const GOLDEN: [(&str, [f64; 4]); 12] = [
    ("reinforce", [-9.01346206665039, -6.292885898146778, 43.13857181696221, 0.5575034618377686]),
    ("nvil", [-9.03628158569336, -4.904714784119278, 57.48163029132411, -0.26033031940460205]),
    ("simple-muprop", [-9.033926010131836, -5.920007573906332, 37.42178773088381, 0.41039326786994934]),
    ("muprop", [-9.033461570739746, 0.0015517924912273884, 27.40592989185825, 0.13639144599437714]),
    ("concrete", [-9.010725021362305, -5.3513211933895946, 24.312150373123586, -0.33726614713668823]),
    ("rebar", [-9.012822151184082, -10.313807791564614, 30.789094190578908, -0.4685457944869995]),
    ("rebar-fixed", [-8.986024856567383, -5.286322108004242, 28.983463767450303, -0.45213449001312256]),
    ("rebar-independent", [-10.513965606689453, 0.6741789989173412, 36.005543295294046, -0.34042686223983765]),
    ("relax", [-9.013598442077637, 4.053859484847635, 43.4367076526396, 0.33522963523864746]),
    ("arm", [-8.959917068481445, -5.207206222228706, 19.985588557086885, -0.14577892422676086]),
    ("disarm", [-8.944245338439941, -3.6713257441297174, 19.14889730606228, -0.13761809468269348]),
    ("rloo", [-10.463216781616211, -5.614892706274986, 29.041657496243715, -0.15551358461380005]),
];

#[test]
fn golden_values_are_stable() {
    if std::env::var("REBAR_GOLDEN").as_deref() == Ok("print") {
        for (label, _) in rebar_tests::estimators::all::<Model, 10, 4, B>(0) {
            println!("    (\"{label}\", {:?}),", fingerprint(label));
        }
        return;
    }
    assert_eq!(
        GOLDEN.len(),
        rebar_tests::estimators::all::<Model, 10, 4, B>(0).len(),
        "every estimator needs golden values"
    );
    for (label, want) in GOLDEN {
        let got = fingerprint(label);
        // Each entry within REL of itself plus REL of 1% of the gradient's size (a sum may cancel).
        let scale = 0.01 * want[2];
        for (g, w) in got.iter().zip(want) {
            assert!((g - w).abs() <= REL * (w.abs() + scale), "{label}: {got:?} differs from the golden {want:?}");
        }
    }
}
