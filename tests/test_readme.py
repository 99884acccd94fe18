"""Every CPU command in the shell code blocks of the README and of the docs pages (docs/**/*.md)
runs, once however many pages show it, on synthetic data with tiny networks and step counts;
the others are listed here with the reason they are not run, so that a new command in a page
fails this test until it is run or classified."""

import re
import shlex
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from pagan_lightning.metrics import Classifier, save_classifier
from tests.helpers.configs import TINY, console_script, run_cli, synthetic_training
from tests.helpers.files import write_mnist_like

pytestmark = pytest.mark.xdist_group(__name__)  # its module fixtures are built once

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
FIRST_RUN = "pagan-train experiment=quickstart"  # the run that is resumed and evaluated

# not run here, and why (matched against the start of the command)
NOT_RUN = {
    "make train": "the Makefile's wrapper of `pagan-train experiment=quickstart` (run below)",
    "make test": "the suite itself",
    "make lint": "ruff; .ci/run runs it",
    "make docs": "mkdocs build --strict; .ci/run runs it",
    "make classifier": "pagan-train-classifier on the real data (tests/test_metrics.py)",
    "make table3-quick": "a wrapper of the variant sweep and pagan-collect (run below)",
    "make reproduce-quick": "hours of CPU; tests/test_reproduce.py runs pagan-reproduce on a "
    "tiny plan (interrupted, resumed, rerun)",
    "make reproduce-table": "GPU, paper scale",
    "make gpu-check": "a GPU box (tests/test_gpu_check.py runs the script on the CPU)",
    "python3 -m pip install": "installs wheels on a GPU box",
    "pagan-evaluate ckpt_path=<cifar10 run>": "GPU, paper scale",
    "pagan-evaluate ckpt_path=... metrics.inception_weights=": "the Inception weights file "
    "(tests/test_metrics.py evaluates with stand-in weights of its layout)",
    "pagan-train experiment=mnist": "GPU, paper scale",
    "pagan-train experiment=cifar10": "GPU, paper scale",
    "pagan-train experiment=celeba": "GPU, paper scale",
    "pagan-train -m experiment=table": "GPU, paper scale",
    "torchrun": "several nodes",
    "pagan-train -m hydra/launcher=slurm": "a SLURM cluster",
    **dict.fromkeys(
        [
            "pagan-train hydra.searchpath=[pkg://my_pagan.conf]",
            "pagan-train -m hydra.searchpath=[pkg://my_pagan.conf]",
            "pagan-collect outputs/my_pagan/",
            "pagan-evaluate ckpt_path=outputs/my_pagan/",
            "python -m pagan_lightning.cli.probe --ckpt outputs/my_pagan/",
        ],
        "tests/test_extension.py runs it from a copy of examples/my_pagan outside the repository",
    ),
}


def readme_commands() -> list[str]:
    """The command lines of the shell code blocks of every page, each once, in page order."""
    return list(dict.fromkeys(c for page in PAGES for c in page_commands(page.read_text())))


def page_commands(text: str) -> list[str]:
    """The command lines of a page's shell code blocks (fences read line by line; blocks in
    another language such as python, yaml or text skipped; continuations joined, comments and
    leading ``VAR=value`` settings cut)."""
    commands, shell, block = [], False, None
    for line in text.splitlines():
        if line.startswith("```"):
            if block is None:
                block, shell = [], line[3:].strip() in ("", "bash", "sh")
            else:
                if shell:
                    commands += shell_commands("\n".join(block))
                block = None
        elif block is not None:
            block.append(line)
    return commands


def shell_commands(text: str) -> list[str]:
    found = []
    for line in text.replace("\\\n", " ").splitlines():
        line = re.sub(r"^(\w+=\S+\s+)+", "", line.split(" #")[0].strip())
        if re.match(r"(\.venv/bin/)?(pagan-|make |torchrun|python3? -m)", line):
            found.append(re.sub(r"^\.venv/bin/", "", " ".join(line.split())))
    return found


def not_run(command: str) -> bool:
    return any(command.startswith(prefix) for prefix in NOT_RUN)


def test_every_readme_command_is_run_or_classified() -> None:
    commands = readme_commands()
    assert FIRST_RUN in commands  # the parser finds the pages' commands
    assert "make train" in commands  # and the README's
    unknown = [c for c in commands if not not_run(c) and not c.startswith("pagan-")]
    assert unknown == []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Synthetic Fashion-MNIST, an image folder and a stand-in classifier."""
    root = tmp_path_factory.mktemp("readme")
    write_mnist_like(root / "data" / "FashionMNIST" / "raw")
    rng = np.random.default_rng(0)
    (root / "images" / "a").mkdir(parents=True)
    for i in range(24):
        pixels = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(root / "images" / "a" / f"{i}.png")
    meta = {"dataset": "FashionMNIST", "image_size": 32, "classes": list("0123456789")}
    save_classifier(
        Classifier(channels=1, num_classes=10), root / "clf.pt", meta | {"test_accuracy": 0.1}
    )
    return {"root": root, "data": root / "data", "images": root / "images", "clf": root / "clf.pt"}


def tiny(command: str, world: dict[str, Path], out: Path) -> list[str]:
    """``command`` with placeholders filled and overrides that make it tiny and offline."""
    root = world["root"]
    command = command.replace("<same overrides>", "experiment=quickstart")
    command = command.replace("<run folder>", str(root / "runs" / "0"))
    command = command.replace("/path/to/images", str(world["images"]))
    command = re.sub(
        r"outputs/quickstart/multiruns/<date>_<time>", str(root / "sweeps" / "0"), command
    )
    command = command.replace("outputs/quickstart/runs/<date>_<time>", str(root / "runs" / "0"))
    args = shlex.split(command)
    args[0] = console_script(args[0])
    name = Path(args[0]).name
    if name == "pagan-collect":  # a reproduction is a sweep; its records go outside the repo
        where = {"outputs/reproduce/": root / "sweeps" / "0", "docs/results/": root / "records"}
        return [
            next((str(to) for start, to in where.items() if a.startswith(start)), a) for a in args
        ]
    if name == "pagan-train-classifier":  # writes one weights file, then replaces it
        data = [f"paths.data_dir={world['data']}", "data.system_dir=null", "data.download=false"]
        weights = root / "classifiers" / "{dataset}.pt"
        return [
            *args,
            *data,
            "data.val_size=56",
            "trainer.max_steps=3",
            f"weights='{weights}'",
            f"hydra.run.dir={out}",
        ]
    if name == "pagan-evaluate":
        return [
            *args,
            f"metrics.classifier_weights={world['clf']}",
            "metrics.num_samples=40",
            "metrics.num_real=40",
            "metrics.num_test=20",
            "metrics.kid_subset_size=20",
            f"metrics.cache_dir={root / 'cache'}",
            f"hydra.run.dir={out}",
        ]
    if "data=image_folder" in args:
        data = ["data.val_size=4", "data.batch_size=8", "callbacks.progress_bar=null"]
    else:
        data = synthetic_training(world["data"])[len(TINY) :]
    steps = "trainer.max_steps=4" if "ckpt_path=last" in args else "trainer.max_steps=2"
    where = (
        []
        if any(a.startswith("hydra.run.dir=") for a in args)
        else ([f"hydra.sweep.dir={out}"] if "-m" in args else [f"hydra.run.dir={out}"])
    )
    every = "callbacks.model_checkpoint.every_n_train_steps=1"
    return [*args, *TINY, *data, steps, every, "trainer.limit_val_batches=0", *where]


def stage(command: str) -> tuple[int, bool]:
    """Training runs first (the quickstart's first of all), then the resume, then what reads
    their outputs."""
    if command.startswith(("pagan-evaluate", "pagan-collect")):
        return 2, True
    return (1 if "ckpt_path=last" in command else 0), command != FIRST_RUN


def test_every_readme_cpu_command_runs(world: dict[str, Path]) -> None:
    """The first single run is the one resumed and evaluated, the first sweep the one
    collected."""
    root, runs, sweeps = world["root"], 0, 0
    for command in sorted((c for c in readme_commands() if not not_run(c)), key=stage):
        sweep = " -m " in f" {command} "
        out = root / ("sweeps" if sweep else "runs") / str(sweeps if sweep else runs)
        if command.startswith("pagan-evaluate"):  # a folder each: one writer per folder
            out = root / "eval" / str(len(list(root.glob("eval/*"))))
        elif command.startswith("pagan-train-classifier"):
            out = root / "classifier_runs" / str(len(list(root.glob("classifier_runs/*"))))
        elif command.startswith("pagan-train") and "hydra.run.dir=" not in command:
            sweeps, runs = sweeps + sweep, runs + (not sweep)
        run_cli(tiny(command, world, out))
    assert (root / "runs" / "0" / "checkpoints" / "last.ckpt").is_file()
    assert (root / "eval" / "0" / "metrics.json").is_file()
    assert (root / "sweeps" / "0" / "table.md").is_file()
    assert (root / "classifiers" / "FashionMNIST.pt").is_file()
