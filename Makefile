# pagan-lightning: `make train` (set up + CPU quickstart) and `make test` (set up + tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FASHION_MNIST := /usr/share/datasets/fashion-mnist
ARGS ?=
STAMP := $(shell date +%Y-%m-%d_%H-%M-%S)
STAMP_DIR := outputs/table3_quick/multiruns/$(STAMP)
EVAL_ARGS ?=
REPRO := outputs/reproduce

.PHONY: install data train test lint docs bench gpu-check table3-quick collect clean classifier \
	reproduce-quick \
	reproduce-table1 reproduce-table2 reproduce-table3 reproduce-table4

$(BIN)/pagan-train: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev,sweep,slurm,docs]'
	touch $@

install: $(BIN)/pagan-train

# Real Fashion-MNIST offline: Debian's dataset-fashion-mnist installs the IDX files.
data:
	@if [ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST found in $(FASHION_MNIST)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  (apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist) \
	  || echo "apt-get failed: torchvision will download Fashion-MNIST (needs internet)"; \
	elif command -v apt-get >/dev/null 2>&1 && sudo -n true 2>/dev/null; then \
	  (sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist) \
	  || echo "apt-get failed: torchvision will download Fashion-MNIST (needs internet)"; \
	else \
	  echo "Fashion-MNIST not in $(FASHION_MNIST) and apt-get unusable: torchvision will download it (needs internet)"; \
	fi

train: install data
	$(BIN)/pagan-train experiment=quickstart $(ARGS)

# the suite in TEST_WORKERS processes (pytest-xdist), a test at a time, but the tests of a
# module marked xdist_group stay in one process, so that its shared runs are trained once
# (those modules go first); each process gets its share of the cores
TEST_WORKERS ?= 2
test: install data
	$(BIN)/python -m pytest -n $(TEST_WORKERS) --dist loadgroup $(ARGS)

# Throughput of the Trainer against a plain PyTorch loop (docs/performance.md), e.g.
# make bench ARGS="trainer=gpu trainer.precision=bf16-mixed model.channels_last=true"
bench: install
	$(BIN)/python -m pagan_lightning.cli.bench experiment=quickstart $(ARGS)

# The paper-scale path on one GPU, every result under OUT (scripts/gpu_check.sh; no install:
# on a GPU box without network, PYTHONPATH holds the wheels of ../shared/device/wheels.sh)
OUT ?= outputs/gpu_check/$(STAMP)
gpu-check:
	PYTHON=$${PYTHON:-$(if $(wildcard $(BIN)/python),$(BIN)/python,python3)} bash scripts/gpu_check.sh $(OUT)

# Table 3 on CPU (PAGAN, PAGAN-L1, PAGAN-NOAUG on Fashion-MNIST), then one collected table.
table3-quick: install data
	$(BIN)/pagan-train -m experiment=table3_quick hydra.sweep.dir=$(STAMP_DIR) $(ARGS)
	$(BIN)/pagan-collect $(STAMP_DIR)

# pagan-evaluate every job's last.ckpt under $(1) (at any depth) with metrics=$(2), then one
# table and the seed summary (mean +- std, the paper's orderings, summary.png) in $(1)
define evaluate_and_collect
	for ckpt in $$(find $(1) -path '*/checkpoints/last.ckpt' | sort); do \
	  $(BIN)/pagan-evaluate ckpt_path=$$ckpt metrics=$(2) \
	    hydra.run.dir=$$(dirname $$(dirname $$ckpt))/eval/$(STAMP) $(EVAL_ARGS) || exit 1; \
	done
	$(BIN)/pagan-collect $(1)
endef

# The dataset classifier whose feature space metrics=quick uses: shipped (the results' feature
# space); trained here only where it is missing (a few minutes on CPU).
classifiers/FashionMNIST.pt: | install data
	$(BIN)/pagan-train-classifier data=fashion_mnist

classifier: classifiers/FashionMNIST.pt

# CPU, Fashion-MNIST (conf/reproduce/quick.yaml): PAGAN (channel, width), PAGAN-NOAUG, PAGAN-L1
# and a plain GAN, 3 seeds each, evaluated in the classifier's features, then table.md and
# summary.md (Welch verdicts) in $(REPRO)/quick. Rerun after an interruption: finished jobs are
# skipped, unfinished ones resume from their last.ckpt. PLAN=<name or file> for another plan.
PLAN ?= quick
reproduce-quick: install data classifiers/FashionMNIST.pt
	$(BIN)/pagan-reproduce $(PLAN) $(ARGS)

# Paper scale (GPU, CIFAR10, 100k generator steps a job; Inception features, 50,000 samples).
# Offline: EVAL_ARGS="metrics.inception_weights=/path/weights-inception-2015-12-05-6726825d.pth"
reproduce-table1: install  # Table 1: IS and FID of PAGAN
	$(BIN)/pagan-train experiment=cifar10 hydra.run.dir=$(REPRO)/table1/$(STAMP)/pagan $(ARGS)
	$(call evaluate_and_collect,$(REPRO)/table1/$(STAMP),default)

reproduce-table2: install  # Table 2: RID and RMSE of PAGAN, the VAE and AUG
	$(BIN)/pagan-train experiment=cifar10 hydra.run.dir=$(REPRO)/table2/$(STAMP)/pagan $(ARGS)
	$(BIN)/pagan-train experiment=cifar10_vae \
	  hydra.run.dir=$(REPRO)/table2/$(STAMP)/vae $(ARGS)
	$(call evaluate_and_collect,$(REPRO)/table2/$(STAMP),default)

reproduce-table3: install  # Table 3: PAGAN, PAGAN-L1, PAGAN-NOAUG
	$(BIN)/pagan-train -m experiment=table3 hydra.sweep.dir=$(REPRO)/table3/$(STAMP) $(ARGS)
	$(call evaluate_and_collect,$(REPRO)/table3/$(STAMP),default)

reproduce-table4: install  # Table 4: WPAGAN
	$(BIN)/pagan-train -m experiment=table4 hydra.sweep.dir=$(REPRO)/table4/$(STAMP) $(ARGS)
	$(call evaluate_and_collect,$(REPRO)/table4/$(STAMP),default)

# `make collect SWEEP=<multirun dir>` writes <dir>/table.md and table.csv
collect: install
	$(BIN)/pagan-collect $(SWEEP)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

# The docs site (mkdocs.yml, docs/) into site/, offline; strict: a broken link or reference fails.
docs: install
	$(BIN)/mkdocs build --strict --site-dir site

clean:
	rm -rf outputs site .pytest_cache .ruff_cache
