#!/bin/bash
# Steps/s of `pagan-train experiment=quickstart` as a user runs it (data loading, logging and
# the progress bar included; validation, image grids and checkpoints off), from the
# difference of a 30- and a 150-step run, so that start-up cancels out. The configurations
# run in alternation, twice, so that a drift of the machine's speed favours none of them.
#   bash docs/results/speed/train_runs.sh <old checkout> > docs/results/speed/train_runs.csv
# <old checkout>: a worktree of the commit before the speed work (git worktree add <dir> 1e4a33c)
set -eu
OLD=$1
cd "$(dirname "$0")/../../.."
. docs/results/speed/timing.sh
echo "round,config,steps_per_s"
for round in 1 2; do
  echo "$round,before (commit 1e4a33c),$(rate 150 PYTHONPATH=$OLD/src --)"
  echo "$round,now,$(rate 150 PYTHONPATH= --)"
  echo "$round,now on DDP: 2 processes x 1 thread (batch 32 each),$(rate 150 OMP_NUM_THREADS=1 -- \
    trainer=ddp trainer.accelerator=cpu trainer.devices=2 data.batch_size=32)"
done
