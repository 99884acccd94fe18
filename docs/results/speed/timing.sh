# Shared by train_runs.sh and ddp_runs.sh: generator steps/s of `pagan-train
# experiment=quickstart` as a user runs it, from the difference of a short and a long run so
# that start-up cancels out (validation, image grids and checkpoints off).
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
rate() {  # <long steps> <env...> -- <overrides...>: steps/s between step 30 and <long steps>
  local long=$1; shift
  local a b
  a=$(seconds 30 "$@"); b=$(seconds "$long" "$@")
  echo "($long - 30) / ($b - $a)" | bc -l | xargs printf "%.3f"
}
