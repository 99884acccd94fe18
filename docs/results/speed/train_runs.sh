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
PY=.venv/bin/python
OFF="trainer.limit_val_batches=0 callbacks.image_grids=null callbacks.model_checkpoint=null"
seconds() {  # <steps> <env...> -- <overrides...>
  local steps=$1; shift
  local env=(); while [ "$1" != "--" ]; do env+=("$1"); shift; done; shift
  local start end
  start=$(date +%s.%N)
  env "${env[@]}" $PY -m pagan_lightning.cli.train experiment=quickstart \
    trainer.max_steps=$steps $OFF hydra.run.dir=$(mktemp -d)/run "$@" >/dev/null 2>&1
  end=$(date +%s.%N)
  echo "$end - $start" | bc -l
}
rate() {  # <env...> -- <overrides...>: generator steps/s between step 30 and step 150
  local a b
  a=$(seconds 30 "$@"); b=$(seconds 150 "$@")
  echo "120 / ($b - $a)" | bc -l | xargs printf "%.3f"
}
echo "round,config,steps_per_s"
for round in 1 2; do
  echo "$round,before (commit 1e4a33c),$(rate PYTHONPATH=$OLD/src --)"
  echo "$round,now,$(rate PYTHONPATH= --)"
  echo "$round,now on DDP: 2 processes x 1 thread (batch 32 each),$(rate OMP_NUM_THREADS=1 -- \
    trainer=ddp trainer.accelerator=cpu trainer.devices=2 data.batch_size=32)"
done
