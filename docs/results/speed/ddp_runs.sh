#!/bin/bash
# Both cores on one quickstart run: one process with 2 threads (the default) against DDP with
# 2 processes x 1 thread on gloo at the same global batch (32 each). Steps/s of
# `pagan-train experiment=quickstart` from the difference of a 30- and a 330-step run (start-up,
# DDP's launch included, cancels out), validation, image grids and checkpoints off; the two
# configurations alternate, ABBA, so that a drift of the machine's speed favours neither.
#   bash docs/results/speed/ddp_runs.sh > docs/results/speed/ddp_runs.csv
set -eu
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
rate() {  # <env...> -- <overrides...>: generator steps/s between step 30 and step 330
  local a b
  a=$(seconds 30 "$@"); b=$(seconds 330 "$@")
  echo "300 / ($b - $a)" | bc -l | xargs printf "%.3f"
}
one() { echo "$1,one process x 2 threads,$(rate PYTHONPATH= --)"; }
ddp() {
  echo "$1,DDP: 2 processes x 1 thread (batch 32 each),$(rate OMP_NUM_THREADS=1 -- \
    trainer=ddp trainer.accelerator=cpu trainer.devices=2 data.batch_size=32)"
}
echo "round,config,steps_per_s"
one 1; ddp 1; ddp 2; one 2
