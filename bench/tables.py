#!/usr/bin/env python3
"""The README's speed tables (Markdown) from the CSV files of the commands that measure them.

    python3 bench/tables.py compare COMPARE.csv     # rebar beside JAX and PyTorch
    python3 bench/tables.py threads ONE.csv TWO.csv  # every estimator, one thread; two threads
    python3 bench/tables.py ab AB.csv                # bench/ab.sh's output: old, new, gain

COMPARE.csv is a results file of `COMPARE_THREADS="2 1" bash bench/compare/run.sh`
(target/compare/results-*.csv), ONE.csv and TWO.csv the stdout of
`cargo run --release -p rebar-bench --example throughput -- 2 3` and
`... -- --threads 2 2 3` (either may be several runs' files joined by commas: each case then
shows the median of the runs), AB.csv the stdout of `bash bench/ab.sh REV ...`. Standard library only.
"""

import csv
import statistics
import sys

ORDER = ["reinforce", "nvil", "simple-muprop", "muprop", "concrete", "rebar", "rebar-fixed", "relax", "arm",
         "disarm", "rloo"]


def rows(path):
    with open(path, newline="") as f:
        return [r for r in csv.DictReader(f)]


def by_case(paths):
    """The rows of one or more runs (comma-separated paths) by case; with several runs, each
    case's steps_per_second is the median over the runs (the other columns are the first run's)."""
    runs = [{(r["model"], r["estimator"], r["batch"]): r for r in rows(p)} for p in paths.split(",")]
    merged = {}
    for case, row in runs[0].items():
        rates = sorted(rate(run[case]) for run in runs if case in run)
        merged[case] = dict(row, steps_per_second=statistics.median(rates))
    return merged


def rate(row):
    return float(row["steps_per_second"])


def compare(path):
    """rebar, JAX and PyTorch on 2 and 1 threads; in parentheses rebar's speed over each."""
    cells = {}
    for r in rows(path):
        cells[(r["model"], r["estimator"], r["batch"], r["framework"], r["threads"])] = rate(r)
    cols = [("rebar", "2"), ("jax", "2"), ("torch", "2"), ("rebar", "1"), ("jax", "1"), ("torch", "1")]
    names = {"rebar": "rebar", "jax": "JAX jit", "torch": "PyTorch eager"}
    print("| model | estimator | batch | " + " | ".join(f"{names[f]} ({t} thr)" for f, t in cols) + " |")
    print("|---|---|---:|" + "---:|" * len(cols))
    for model in ["linear1", "nonlinear"]:
        for est in ["rebar", "rebar-fixed", "nvil", "disarm"]:
            for batch in ["24", "1"]:
                out = []
                for framework, threads in cols:
                    v = cells.get((model, est, batch, framework, threads))
                    if v is None:
                        out.append("—")
                    elif framework == "rebar":
                        out.append(f"{v:,.0f}")
                    else:
                        # At batch 1 (which rebar does not split) against rebar's one thread.
                        base = cells.get((model, est, batch, "rebar", threads)) or cells.get(
                            (model, est, batch, "rebar", "1"))
                        out.append(f"{v:,.0f} ({base / v:.1f}×)" if base else f"{v:,.0f}")
                print(f"| {model} | {est} | {batch} | " + " | ".join(out) + " |")


def threads(one_path, two_path):
    """Every estimator on one thread (with the dense maps' work), then two threads over one."""
    one, two = by_case(one_path), by_case(two_path)
    print("| estimator | linear1 B=24 | linear1 B=1 | linear2 B=24 | nonlinear B=24 | nonlinear B=1 "
          "| M MAC/example (linear1 B=24) | GFLOP/s (linear1 B=24) |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    cases = [("linear1", "24"), ("linear1", "1"), ("linear2", "24"), ("nonlinear", "24"), ("nonlinear", "1")]
    for est in ORDER:
        if ("linear1", est, "24") not in one:
            continue
        cells = [f"{rate(one[(m, est, b)]):,.0f}" if (m, est, b) in one else "—" for m, b in cases]
        x = one[("linear1", est, "24")]
        print(f"| {est} | " + " | ".join(cells)
              + f" | {float(x['multiply_adds_per_example']) / 1e6:.2f} | {float(x['gflops']):.1f} |")
    print()
    print("| estimator | linear1 B=24 | linear2 B=24 | nonlinear B=24 |")
    print("|---|---:|---:|---:|")
    for est in ORDER:
        cells = []
        for model in ["linear1", "linear2", "nonlinear"]:
            a, b = two.get((model, est, "24")), one.get((model, est, "24"))
            cells.append(f"{rate(a):,.0f} ({rate(a) / rate(b):.2f}×)" if a and b else "—")
        if any(c != "—" for c in cells):
            print(f"| {est} | " + " | ".join(cells) + " |")


def ab(path):
    """bench/ab.sh's medians per estimator: the old and new rates at batch 24, the gains."""
    data = by_case(path)
    models = sorted({m for m, _, _ in data})
    for model in models:
        ests = [e for e in ORDER if (model, e, "24") in data or (model, e, "1") in data]
        print(f"| {model} | " + " | ".join(ests) + " |")
        print("|---|" + "---:|" * len(ests))
        for label, batch, key in [("B=24, old", "24", "old_steps_per_second"),
                                  ("B=24, new", "24", "new_steps_per_second"),
                                  ("B=24, gain", "24", "new_over_old"), ("B=1, gain", "1", "new_over_old")]:
            cells = []
            for e in ests:
                r = data.get((model, e, batch))
                if r is None:
                    cells.append("—")
                elif key == "new_over_old":
                    cells.append(f"{float(r[key]):.2f}×")
                else:
                    cells.append(f"{float(r[key]):,.0f}")
            print(f"| {label} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    commands = {"compare": (compare, 1), "threads": (threads, 2), "ab": (ab, 1)}
    if len(sys.argv) < 2 or sys.argv[1] not in commands or len(sys.argv) != 2 + commands[sys.argv[1]][1]:
        sys.exit(__doc__)
    function, _ = commands[sys.argv[1]]
    function(*sys.argv[2:])
