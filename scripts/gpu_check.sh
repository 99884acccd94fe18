#!/usr/bin/env bash
# make gpu-check OUT=<folder>: the paper-scale path on one GPU, every result in one folder.
#
# 1. the device; 2. the throughput benchmark at full width (ch=512, batch 64, 32x32) for fp32,
# bf16-mixed, bf16-mixed + channels_last, and + compile (bench_<name>.txt, bench.md);
# 3. full-width PAGAN on Fashion-MNIST for a fixed wall-clock budget (bf16, train/);
# 4. the Fashion-MNIST classifier (classifier/); 5. pagan-evaluate metrics=quick on the run
# (train/eval/: metrics.json, results.md, grids). Works on a GPU box without network from the
# wheels and data of ../shared/device/wheels.sh (PYTHONPATH=/tmp/site:$PWD/src, data in
# .data/fashion-mnist): no console script, no download.
#
# Settings (environment): PYTHON (python3), FMNIST (.data/fashion-mnist, else Debian's),
# TRAIN_TIME (00:00:04:00, Lightning's max_time), BENCH_STEPS (50), BENCH_WARMUP (10),
# BENCH (the four names), ACCEL (gpu: the trainer config group), TRAIN_EXTRA /
# CLASSIFIER_EXTRA / EVAL_EXTRA (overrides added to bench + training / the classifier / the
# evaluation: tiny settings for the CPU test).
set -euo pipefail
OUT=${1:?usage: scripts/gpu_check.sh <output folder>}
PYTHON=${PYTHON:-python3}
FMNIST=${FMNIST:-$([ -d .data/fashion-mnist ] && echo "$PWD/.data/fashion-mnist" || echo /usr/share/datasets/fashion-mnist)}
TRAIN_TIME=${TRAIN_TIME:-00:00:04:00}
BENCH_STEPS=${BENCH_STEPS:-50}
BENCH_WARMUP=${BENCH_WARMUP:-10}
BENCH=${BENCH:-fp32 bf16 bf16_channels_last bf16_channels_last_compile}
read -r -a EXTRA <<< "${TRAIN_EXTRA:-}"
read -r -a CLASSIFIER_EXTRA <<< "${CLASSIFIER_EXTRA:-}"
read -r -a EVAL_EXTRA <<< "${EVAL_EXTRA:-}"
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
DATA=(paths.data_dir="$OUT/data" data.system_dir="$FMNIST" data.download=false)
ACCEL=${ACCEL:-gpu}
exec > >(tee -a "$OUT/gpu_check.log") 2>&1

echo "== device"
nvidia-smi -L 2>/dev/null || echo "no nvidia-smi"
"$PYTHON" -c "import torch; print('torch', torch.__version__, '| cuda:', torch.cuda.is_available() and torch.cuda.get_device_name(0))"

echo "== throughput (make bench at full width)"
declare -A OPTS=(
  [fp32]="trainer.precision=32-true"
  [bf16]="trainer.precision=bf16-mixed"
  [bf16_channels_last]="trainer.precision=bf16-mixed model.channels_last=true"
  [bf16_channels_last_compile]="trainer.precision=bf16-mixed model.channels_last=true model.compile=true"
)
for name in $BENCH; do
  read -r -a opts <<< "${OPTS[$name]}"
  "$PYTHON" -m pagan_lightning.cli.bench --steps "$BENCH_STEPS" --warmup "$BENCH_WARMUP" --rounds 2 \
    --sweep-rounds 1 --batch-sizes 64 --eval-images 512 \
    trainer="$ACCEL" "${opts[@]}" "${EXTRA[@]}" | tee "$OUT/bench_$name.txt"
done
"$PYTHON" - "$OUT" $BENCH <<'PY'
import re, sys
from pathlib import Path
out, names = Path(sys.argv[1]), sys.argv[2:]
rows = ["| options | trainer steps/s | plain steps/s | trainer images/s | trainer GFLOP/s | share of peak | peak MiB | trainer/plain |", "|---|---|---|---|---|---|---|---|"]
line = r"\s+([\d.]+) gen steps/s\s+([\d.]+) images/s\s+([\d.]+) GFLOP/s(?:\s+([\d.]+) % of peak)?\s+([\d.]+) MiB"
for name in names:
    text = (out / f"bench_{name}.txt").read_text()
    fig = {k: re.search(rf"^{k}{line}", text, re.M).groups() for k in ("trainer", "plain")}
    ratio = re.search(r"trainer/plain throughput ratio: ([\d.]+)", text).group(1)
    t = fig["trainer"]
    rows.append(f"| {name} | {t[0]} | {fig['plain'][0]} | {t[1]} | {t[2]} | {t[3] or '?'} % | {t[4]} | {ratio} |")
(out / "bench.md").write_text("\n".join(rows) + "\n")
print("\n".join(rows))
PY

echo "== full-width PAGAN on Fashion-MNIST for $TRAIN_TIME (bf16)"
"$PYTHON" -m pagan_lightning.cli.train trainer="$ACCEL" model/encoder=paper \
  trainer.precision=bf16-mixed trainer.max_time="$TRAIN_TIME" trainer.max_steps=-1 \
  trainer.val_check_interval=1000 callbacks.model_checkpoint.every_n_train_steps=1000 \
  callbacks.image_grids.every_n_steps=1000 callbacks.progress_bar.refresh_rate=200 \
  "${DATA[@]}" "${EXTRA[@]}" hydra.run.dir="$OUT/train"

echo "== Fashion-MNIST classifier"
"$PYTHON" -m pagan_lightning.cli.train_classifier trainer.accelerator=auto \
  "${DATA[@]}" weights="$OUT/classifier/FashionMNIST.pt" "${CLASSIFIER_EXTRA[@]}" \
  hydra.run.dir="$OUT/classifier"

echo "== pagan-evaluate metrics=quick"
"$PYTHON" -m pagan_lightning.cli.evaluate ckpt_path="$OUT/train/checkpoints/last.ckpt" \
  metrics=quick metrics.classifier_weights="$OUT/classifier/FashionMNIST.pt" \
  metrics.cache_dir="$OUT/cache" "${EVAL_EXTRA[@]}" hydra.run.dir="$OUT/train/eval"
echo "== done: $OUT"
