#!/usr/bin/env bash
# `rebar train` of two builds side by side, one pinned to each of the first two CPUs (swapped in
# the second round), and the ratio of their steps/s from summary.json: what a user's one-thread
# run gets, as opposed to the bench step (`bench/ab.sh`).
#
#   bash bench/train_pair.sh OLD_BINARY NEW_BINARY [ESTIMATOR [STEPS]]
#   bash bench/train_pair.sh /tmp/rebar-old target/release/rebar nvil 20000
#
# Needs `taskset` (util-linux), python3 and two CPUs.
set -euo pipefail
old=$1 new=$2 estimator=${3:-rebar} steps=${4:-20000}
dir=$(mktemp -d)
for round in 1 2; do
  if [[ $round == 1 ]]; then a=0 b=1; else a=1 b=0; fi
  for side in old:$a new:$b; do
    name=${side%%:*} cpu=${side##*:}
    bin=$old; [[ $name == new ]] && bin=$new
    taskset -c "$cpu" "$bin" train --estimator "$estimator" --steps "$steps" --train-threads 1 \
      --out "$dir/$name-$round" --overwrite --quiet --iwae-samples 5 --eval-examples 100 >/dev/null 2>&1 &
  done
  wait
  python3 - "$dir" "$round" "$estimator" <<'PY'
import json, sys
d, r, e = sys.argv[1:]
rate = lambda s: json.load(open(f"{d}/{s}-{r}/summary.json"))["steps_per_second"]
print(f"{e} round {r}: old {rate('old'):.0f} steps/s, new {rate('new'):.0f} steps/s, new/old {rate('new') / rate('old'):.3f}")
PY
done
rm -rf "$dir"
