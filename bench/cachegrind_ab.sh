#!/usr/bin/env bash
# Work per training step of this checkout against another revision, counted rather than timed:
# instructions, data references and L1 data-cache misses per step under valgrind's cachegrind
# (a simulated cache, so the counts do not depend on the machine's load). For changes to memory
# traffic, which a shared VM's timings cannot resolve, the L1 misses are the lines each step
# brings in from L2 and beyond.
#
#   bash bench/cachegrind_ab.sh REV [ESTIMATOR [MODEL [BATCH]]]
#   bash bench/cachegrind_ab.sh 4cc2eee rebar linear1 24
#
# Both builds use -C target-cpu=x86-64-v3 (AVX2 and FMA: valgrind cannot run AVX-512 code), in
# target/cachegrind-{old,new}. Each runs `profile_step` for S and 2S steps (S=40, or $STEPS);
# the difference over S is the per-step cost without the setup. Needs valgrind; a few minutes.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
rev=${1:?usage: bash bench/cachegrind_ab.sh REV [ESTIMATOR [MODEL [BATCH]]]}
estimator=${2:-rebar} model=${3:-linear1} batch=${4:-24} steps=${STEPS:-40}
command -v valgrind >/dev/null || { echo "cachegrind_ab: needs valgrind (apt-get install valgrind)" >&2; exit 1; }
export RUSTFLAGS="-C target-cpu=x86-64-v3"

worktree=$(mktemp -d) scratch=$(mktemp -d)
trap 'git -C "$root" worktree remove --force "$worktree" >/dev/null 2>&1 || true; rm -rf "$scratch"' EXIT
git worktree add --detach "$worktree" "$rev" >/dev/null
echo "building $rev and this checkout ..." >&2
(cd "$worktree" && CARGO_TARGET_DIR="$root/target/cachegrind-old" cargo build --release -q -p rebar-bench --example profile_step)
CARGO_TARGET_DIR="$root/target/cachegrind-new" cargo build --release -q -p rebar-bench --example profile_step

# "I refs", "D refs" and "D1 misses" of one run, as three numbers.
counts() {
  valgrind --tool=cachegrind --cache-sim=yes --cachegrind-out-file=/dev/null "$1" "$2" "$estimator" "$model" "$batch" \
    2>&1 >/dev/null | sed -n -E 's/^==[0-9]+== (I +refs|D +refs|D1 +misses): +([0-9,]+).*/\2/p' | tr -d , | tr '\n' ' '
}

echo "build,instructions_per_step,data_refs_per_step,l1d_misses_per_step"
for side in old new; do
  bin="$root/target/cachegrind-$side/release/examples/profile_step"
  echo "running $side ..." >&2
  read -r i1 d1 m1 <<<"$(counts "$bin" "$steps")"
  read -r i2 d2 m2 <<<"$(counts "$bin" $((2 * steps)))"
  echo "$side,$(((i2 - i1) / steps)),$(((d2 - d1) / steps)),$(((m2 - m1) / steps))"
done | tee "$scratch/out"
awk -F, 'NR == 1 { split($0, o, ",") } NR == 2 { printf "new/old,%.3f,%.3f,%.3f\n", $2 / o[2], $3 / o[3], $4 / o[4] }' \
  "$scratch/out"
