#!/bin/bash
# Steps/s of `pagan-train experiment=quickstart` as a user runs it (see timing.sh) on a CPU with
# native bf16: the quickstart's default (bf16-mixed by `auto`, channels_last, simultaneous order)
# against the default before the speed work (fp32, NCHW, alternating order), in alternation,
# twice, so that a drift of the machine's speed favours neither.
#   bash docs/results/speed/precision_runs.sh > docs/results/speed/precision_runs.csv
set -eu
cd "$(dirname "$0")/../../.."
. docs/results/speed/timing.sh
OLD="trainer.precision=32-true model.channels_last=false model.update_order=alternating"
echo "round,config,steps_per_s"
for round in 1 2; do
  echo "$round,fp32 alternating NCHW (before),$(rate 300 -- $OLD)"
  echo "$round,quickstart default (bf16-mixed here),$(rate 300 --)"
done
