#!/usr/bin/env bash
# Speed of this checkout against another revision, on a machine whose speed drifts (a shared VM):
# in each round the two builds' `throughput` examples run at the same time, one pinned to each
# of the first two CPUs (swapped every round), so that a slow spell of the machine hits both;
# the median of each side over the rounds and their ratio are printed per case. The two runs
# share the memory bandwidth, like two seeds trained side by side with `rebar sweep`.
#
#   bash bench/ab.sh REV [ROUNDS [SECONDS [FILTER...]]]
#   bash bench/ab.sh 56ae3da 6 2 linear1,rebar,24 linear1,nvil,24
#
# REV is built in a temporary worktree (target dir target/ab, reused between calls); FILTERs are
# the `throughput` example's (substrings of "model,estimator,batch"; default: every estimator on
# linear1 at batch 24 and 1). Same compiler flags for both builds (.cargo/config.toml: native).
# Needs `taskset` (util-linux) and two CPUs.
#
# With AB_THREADS set to the `throughput` example's thread flags (e.g. AB_THREADS="--threads 2
# --shards 1"), each build's step runs on both cores, so the two run one after the other instead,
# their order swapped every round: a slow spell then hits one side only, so use more rounds.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rev=${1:?usage: bash bench/ab.sh REV [ROUNDS [SECONDS [FILTER...]]]}
rounds=${2:-5}
seconds=${3:-1}
shift $(($# < 3 ? $# : 3))
filters=("$@")
[ ${#filters[@]} -gt 0 ] || filters=(linear1,)

worktree=$(mktemp -d) scratch=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$worktree" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
git worktree add --detach "$worktree" "$rev" >/dev/null
echo "building $rev and this checkout ..." >&2
(cd "$worktree" && CARGO_TARGET_DIR="$root/target/ab" cargo build --release -q -p rebar-bench --example throughput)
cargo build --release -q -p rebar-bench --example throughput
old="$root/target/ab/release/examples/throughput"
new="$root/target/release/examples/throughput"

read -r -a threads <<<"${AB_THREADS:-}"
for ((i = 1; i <= rounds; i++)); do
  echo "round $i/$rounds" >&2
  if [ ${#threads[@]} -gt 0 ]; then
    # Each build needs both cores: one after the other, the order swapped every round.
    for side in $( ((i % 2)) && echo old new || echo new old); do
      "${!side}" "${threads[@]}" 1 "$seconds" "${filters[@]}" >"$scratch/$side" 2>/dev/null
    done
  else
    cpu_old=$((i % 2)) cpu_new=$(((i + 1) % 2))
    taskset -c "$cpu_old" "$old" 1 "$seconds" "${filters[@]}" >"$scratch/old" 2>/dev/null &
    taskset -c "$cpu_new" "$new" 1 "$seconds" "${filters[@]}" >"$scratch/new" 2>/dev/null
    wait
  fi
  tail -n +2 "$scratch/old" | sed 's/^/old,/'
  tail -n +2 "$scratch/new" | sed 's/^/new,/'
done | python3 -c '
import collections, statistics, sys
runs = collections.defaultdict(list)
for line in sys.stdin:
    f = line.strip().split(",")
    runs[(f[3], f[4], int(f[5]), f[0])].append(float(f[6]))
print("model,estimator,batch,old_steps_per_second,new_steps_per_second,new_over_old")
for model, est, batch in sorted({k[:3] for k in runs}, key=lambda k: (k[0], k[1], -k[2])):
    o, n = (statistics.median(runs[(model, est, batch, s)]) for s in ("old", "new"))
    print(f"{model},{est},{batch},{o:.1f},{n:.1f},{n / o:.2f}")
'
