//! Where the time of a data-parallel training step goes, phase by phase
//! ([`rebar_host::train::parallel::PhaseTimes`]): the shards' estimates, the reduction, REBAR's
//! variance gradients, the last pass (Adam and, with one shard, the control variates' update),
//! and with several shards the replicas' control-variate updates.
//!
//! `cargo run --release -p rebar-bench --example step_phases [-- [STEPS] [THREADS,SHARDS...] [CASE...]]`
//!
//! Prints one line per case and split, `model,estimator,batch,threads,shards` then each phase's
//! mean in µs over STEPS steps (default 2,000) after as many warm-up steps, and the whole step.
//! Splits default to `2,1` and `2,2`; cases (the `throughput` example's `model,estimator,batch`
//! substrings) to learned- and fixed-temperature REBAR and NVIL on linear1 at batch 24. The
//! phases are wall-clock times on a shared machine: compare splits or builds run one after the
//! other, alternating, not single figures.

use rebar_bench::{CASES, ESTIMATORS, parallel_phases};

fn main() {
    let mut steps = 2000;
    let (mut splits, mut cases) = (Vec::new(), Vec::new());
    for arg in std::env::args().skip(1) {
        let split = arg.split_once(',').and_then(|(t, k)| Some((t.parse::<usize>().ok()?, k.parse::<usize>().ok()?)));
        match (arg.parse::<usize>(), split) {
            (Ok(n), _) => steps = n,
            (_, Some(split)) => splits.push(split),
            _ => cases.push(arg),
        }
    }
    if splits.is_empty() {
        splits = vec![(2, 1), (2, 2)];
    }
    if cases.is_empty() {
        cases = vec!["linear1,rebar,24".into(), "linear1,rebar-fixed,24".into(), "linear1,nvil,24".into()];
    }
    let names = rebar_host::train::parallel::PhaseTimes::default().named().map(|(name, _)| name);
    println!("model,estimator,batch,threads,shards,{},step", names.join(","));
    for kind in ESTIMATORS {
        for (model, batch) in CASES {
            let label = format!("{model},{},{batch}", kind.name());
            if !cases.iter().any(|c| label.contains(c.as_str())) {
                continue;
            }
            for &(threads, shards) in &splits {
                if batch < shards || threads.max(shards) < 2 {
                    continue;
                }
                let phases = parallel_phases(model, batch, kind, (threads, shards), steps);
                let micros = phases.named().map(|(_, s)| s * 1e6);
                let cells: Vec<String> = micros.iter().map(|us| format!("{us:.0}")).collect();
                println!("{label},{threads},{shards},{},{:.0}", cells.join(","), micros.iter().sum::<f64>());
            }
        }
    }
}
