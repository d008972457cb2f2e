#!/usr/bin/env bash
# Optional speed comparison: rebar's training step next to equivalent JAX (jit) and PyTorch
# (eager) implementations, measured on this machine in one run. Manual only: CI never runs it.
# See bench/compare/README.md.
#
#   bash bench/compare/run.sh
#
# Environment (all optional):
#   COMPARE_FRAMEWORKS="rebar jax torch"  what to run
#   COMPARE_THREADS="2"                   thread counts for every framework, e.g. "2 1" (rebar's
#                                         1-thread step, and its data-parallel step on N threads)
#   COMPARE_SECONDS=3  COMPARE_REPEATS=3  measurement per line (the median repeat is reported)
#   COMPARE_ARGS="..."                    extra arguments for both Python scripts,
#                                         e.g. "--models linear1 --sanity-steps 0"
#   COMPARE_VENV=target/compare-venv      the virtualenv (created with --system-site-packages,
#                                         so packages already installed system-wide are reused)
#   COMPARE_TORCH_PYPI=1                  if the CPU-only PyTorch index is unreachable, fall back
#                                         to PyPI's torch (the CUDA build: ~3 GB); 0 to skip
#   PYTHON=python3                        the interpreter that creates the venv
#
# A framework that cannot be installed or imported is skipped with a message; the script only
# fails on its own errors. Results: target/compare/results-<time>.csv and a table on stdout.

set -u -o pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
cd "$root" || exit 1

frameworks=${COMPARE_FRAMEWORKS:-rebar jax torch}
threads_list=${COMPARE_THREADS:-2}
seconds=${COMPARE_SECONDS:-3}
repeats=${COMPARE_REPEATS:-3}
extra_args=${COMPARE_ARGS:-}
venv=${COMPARE_VENV:-target/compare-venv}
torch_pypi=${COMPARE_TORCH_PYPI:-1}
python_sys=${PYTHON:-python3}
torch_cpu_index=https://download.pytorch.org/whl/cpu

out_dir=target/compare
mkdir -p "$out_dir"
stamp=$(date +%Y%m%dT%H%M%S)
results=$out_dir/results-$stamp.csv
logfile=$out_dir/run-$stamp.log
echo "framework,threads,model,estimator,batch,steps_per_second" >"$results"
skipped=()

log() { printf '[compare] %s\n' "$*" | tee -a "$logfile" >&2; }
wants() { case " $frameworks " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }

# The pinned lines of one group of requirements.txt ("# [name]" up to the next group).
group() {
    awk -v g="# [$1]" 'index($0, "# [") == 1 { on = (index($0, g) == 1); next }
                       on && NF && $1 !~ /^#/ { print $1 }' "$here/requirements.txt"
}

log "$(date -u '+%Y-%m-%d %H:%M UTC'), $(uname -srm), $(nproc 2>/dev/null || echo '?') CPUs," \
    "load average $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?')"
grep -m1 'model name' /proc/cpuinfo 2>/dev/null | sed 's/.*: /[compare] CPU: /' | tee -a "$logfile" >&2

# --------------------------------------------------------------------------------------------
# rebar: the throughput example (every estimator and model the scripts also run), at each
# thread count.
if wants rebar; then
    if ! command -v cargo >/dev/null 2>&1; then
        log "SKIP rebar: cargo not found"
        skipped+=(rebar)
    else
        for threads in $threads_list; do
            log "rebar: cargo run --release -p rebar-bench --example throughput -- --threads $threads" \
                "(compiles on first use)"
            bench_log=$out_dir/rebar-throughput-$threads-$stamp.log
            if cargo run --release -p rebar-bench --example throughput -- --threads "$threads" "$seconds" \
                "$repeats" ,rebar, ,rebar-fixed, ,nvil, ,disarm, 2>"$bench_log" |
                awk -F, 'BEGIN { OFS = "," } $1 == "rebar" { print $1, $2, $3, $4, $5, $6 }' >>"$results"; then
                log "rebar: $(grep -c "^rebar,$threads," "$results") lines on $threads threads (log: $bench_log)"
            else
                log "SKIP rebar on $threads threads: the throughput example failed (see $bench_log)"
                skipped+=("rebar-$threads")
            fi
        done
    fi
fi

# --------------------------------------------------------------------------------------------
# Python: the virtualenv, then each framework (installed from the pins if missing).
py=""
if wants jax || wants torch; then
    if [ -x "$venv/bin/python" ]; then
        py=$venv/bin/python
    elif command -v "$python_sys" >/dev/null 2>&1; then
        log "creating $venv (with --system-site-packages)"
        if "$python_sys" -m venv --system-site-packages "$venv" >>"$logfile" 2>&1; then
            py=$venv/bin/python
        else
            log "could not create a virtualenv ($python_sys -m venv failed): using $python_sys" \
                "with whatever it already has, installing nothing"
            py=$python_sys
        fi
    else
        log "SKIP jax, torch: no Python interpreter ($python_sys) found"
    fi
fi

pip_install() { # args: pip arguments; a log of every attempt goes to $logfile
    [ "$py" = "$python_sys" ] && return 1 # never install into the system interpreter
    "$py" -m pip install --disable-pip-version-check "$@" >>"$logfile" 2>&1
}

ensure_common() {
    "$py" -c 'import numpy' 2>/dev/null && return 0
    log "installing numpy ($(group common | tr '\n' ' '))"
    pip_install $(group common)
}

ensure_jax() {
    "$py" -c 'import jax, numpy' 2>/dev/null && return 0
    ensure_common || return 1
    log "installing JAX ($(group jax | tr '\n' ' ')) from PyPI"
    local t0=$SECONDS
    pip_install $(group jax) || return 1
    log "JAX installed in $((SECONDS - t0)) s"
    "$py" -c 'import jax' 2>>"$logfile"
}

ensure_torch() {
    "$py" -c 'import torch, numpy' 2>/dev/null && return 0
    ensure_common || return 1
    local t0=$SECONDS
    log "installing $(group torch) from the CPU-only index $torch_cpu_index"
    if pip_install --retries 1 --timeout 30 --index-url "$torch_cpu_index" $(group torch); then
        log "torch (CPU) installed in $((SECONDS - t0)) s"
    elif [ "$torch_pypi" = 1 ]; then
        log "the CPU-only index failed; installing $(group torch) from PyPI instead: on Linux" \
            "that is the CUDA build, ~3 GB to download (set COMPARE_TORCH_PYPI=0 to skip)"
        t0=$SECONDS
        pip_install $(group torch) || return 1
        log "torch (PyPI) installed in $((SECONDS - t0)) s"
    else
        return 1
    fi
    "$py" -c 'import torch' 2>>"$logfile"
}

run_framework() { # name script
    local name=$1 script=$2 threads
    for threads in $threads_list; do
        log "$name: $script --threads $threads --seconds $seconds --repeats $repeats $extra_args"
        # '#' lines are progress and notes (to the log and stderr); the others are results.
        # shellcheck disable=SC2086
        "$py" "$here/$script" --threads "$threads" --seconds "$seconds" --repeats "$repeats" $extra_args \
            2> >(tee -a "$logfile" >&2) |
            while IFS= read -r line; do
                case $line in
                    '#'*) printf '[%s] %s\n' "$name" "${line#\# }" | tee -a "$logfile" >&2 ;;
                    "$name",*) printf '%s\n' "$line" |
                        awk -F, -v t="$threads" 'BEGIN { OFS = "," } { print $1, t, $2, $3, $4, $5 }' >>"$results" ;;
                    *) printf '%s\n' "$line" >>"$logfile" ;;
                esac
            done
        [ "${PIPESTATUS[0]}" = 0 ] || log "$name: $script exited with an error (partial results kept)"
    done
}

if wants jax && [ -n "$py" ]; then
    if ensure_jax; then run_framework jax rebar_jax.py; else
        log "SKIP jax: it could not be installed or imported (details in $logfile)"
        skipped+=(jax)
    fi
fi
if wants torch && [ -n "$py" ]; then
    if ensure_torch; then run_framework torch rebar_torch.py; else
        log "SKIP torch: it could not be installed or imported (details in $logfile)"
        skipped+=(torch)
    fi
fi

# --------------------------------------------------------------------------------------------
# The combined table (markdown), one row per (model, estimator, batch).
echo
echo "Training steps per second ($(date -u '+%Y-%m-%d'), $(nproc 2>/dev/null || echo '?') CPUs;" \
    "rebar, JAX jit and PyTorch eager with the thread count in the header)"
echo
table_py='
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
cols = []
for r in rows:
    c = (r["framework"], r["threads"])
    if c not in cols:
        cols.append(c)
mo, eo = ["linear1", "linear2", "nonlinear"], ["rebar", "rebar-fixed", "nvil", "disarm"]
key = lambda k: (mo.index(k[0]) if k[0] in mo else 9, k[0], eo.index(k[1]) if k[1] in eo else 9, k[1], -int(k[2]))
cells = {}
for r in rows:
    cells[(r["model"], r["estimator"], r["batch"], r["framework"], r["threads"])] = float(r["steps_per_second"])
keys = sorted({(r["model"], r["estimator"], r["batch"]) for r in rows}, key=key)
head = ["model", "estimator", "batch"] + [f"{f} ({t} thr)" for f, t in cols]
print("| " + " | ".join(head) + " |")
print("|" + "---|" * 3 + "---:|" * len(cols))
for k in keys:
    base = next((cells.get(k + c) for c in cols if c[0] == "rebar"), None)
    out = []
    for c in cols:
        v = cells.get(k + c)
        if v is None:
            out.append("—")
        elif base and c[0] != "rebar":
            out.append(f"{v:,.0f} ({v / base:.2f}×)")
        else:
            out.append(f"{v:,.0f}")
    print("| " + " | ".join(list(k) + out) + " |")
'
if [ "$(wc -l <"$results")" -le 1 ]; then
    echo "(no results)"
elif [ -n "$py" ] && "$py" -c "$table_py" "$results" 2>>"$logfile"; then
    :
elif command -v python3 >/dev/null 2>&1 && python3 -c "$table_py" "$results" 2>>"$logfile"; then
    :
else
    column -t -s, "$results" 2>/dev/null || cat "$results"
fi
echo
[ ${#skipped[@]} -eq 0 ] || echo "skipped: ${skipped[*]} (see $logfile)"
echo "results: $results   log: $logfile"
exit 0
