# pagan-lightning: `make train` (set up + CPU quickstart) and `make test` (set up + tests).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
FASHION_MNIST := /usr/share/datasets/fashion-mnist
ARGS ?=
STAMP_DIR := outputs/table3_quick/multiruns/$(shell date +%Y-%m-%d_%H-%M-%S)

.PHONY: install data train test lint bench table3-quick collect clean

$(BIN)/pagan-train: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --upgrade pip
	$(BIN)/pip install -e '.[dev,sweep,slurm]'
	touch $@

install: $(BIN)/pagan-train

# Real Fashion-MNIST offline: Debian's dataset-fashion-mnist installs the IDX files.
data:
	@if [ -f $(FASHION_MNIST)/train-images-idx3-ubyte.gz ]; then \
	  echo "Fashion-MNIST found in $(FASHION_MNIST)"; \
	elif command -v apt-get >/dev/null 2>&1 && [ "$$(id -u)" = 0 ]; then \
	  apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; \
	elif command -v apt-get >/dev/null 2>&1 && command -v sudo >/dev/null 2>&1; then \
	  sudo apt-get update -q && sudo DEBIAN_FRONTEND=noninteractive apt-get install -y -q dataset-fashion-mnist; \
	else \
	  echo "Fashion-MNIST not in $(FASHION_MNIST) and apt-get unusable: torchvision will download it (needs internet)"; \
	fi

train: install data
	$(BIN)/pagan-train experiment=quickstart $(ARGS)

test: install data
	$(BIN)/python -m pytest $(ARGS)

# Throughput of the Trainer against a plain PyTorch loop (README "Performance"), e.g.
# make bench ARGS="trainer=gpu trainer.precision=bf16-mixed model.channels_last=true"
bench: install
	$(BIN)/python -m pagan_lightning.bench experiment=quickstart $(ARGS)

# Table 3 on CPU (PAGAN, PAGAN-L1, PAGAN-NOAUG on Fashion-MNIST), then one collected table.
table3-quick: install data
	$(BIN)/pagan-train -m experiment=table3_quick hydra.sweep.dir=$(STAMP_DIR) $(ARGS)
	$(BIN)/pagan-collect $(STAMP_DIR)

# `make collect SWEEP=<multirun dir>` writes <dir>/table.md and table.csv
collect: install
	$(BIN)/pagan-collect $(SWEEP)

lint: install
	$(BIN)/ruff check . && $(BIN)/ruff format --check .

clean:
	rm -rf outputs .pytest_cache .ruff_cache
