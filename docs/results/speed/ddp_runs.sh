#!/bin/bash
# Both cores on one quickstart run: one process with 2 threads (the default) against DDP with
# 2 processes x 1 thread on gloo at the same global batch (32 each). Steps/s of
# `pagan-train experiment=quickstart` from the difference of a 30- and a 330-step run (start-up,
# DDP's launch included, cancels out), validation, image grids and checkpoints off; the two
# configurations alternate, ABBA, so that a drift of the machine's speed favours neither.
#   bash docs/results/speed/ddp_runs.sh > docs/results/speed/ddp_runs.csv
set -eu
cd "$(dirname "$0")/../../.."
. docs/results/speed/timing.sh
one() { echo "$1,one process x 2 threads,$(rate 330 PYTHONPATH= --)"; }
ddp() {
  echo "$1,DDP: 2 processes x 1 thread (batch 32 each),$(rate 330 OMP_NUM_THREADS=1 -- \
    trainer=ddp trainer.accelerator=cpu trainer.devices=2 data.batch_size=32)"
}
echo "round,config,steps_per_s"
one 1; ddp 1; ddp 2; one 2
