"""The suite's own machinery: ``make test`` runs ``pytest -n 2 --dist loadgroup``, the
modules marked ``xdist_group`` build their module fixtures (trained runs) once, on one worker,
and the console scripts run in forks of a process that imported them."""

import re
import shutil
import subprocess
import sys

import pytest

from tests.helpers import zygote
from tests.helpers.configs import console_script

pytestmark = pytest.mark.xdist_group(__name__)


def test_a_grouped_test_carries_its_group_to_the_scheduler(request: pytest.FixtureRequest) -> None:
    """xdist schedules a group as one unit by the ``@<group>`` suffix of its node ids."""
    if not request.config.getoption("loadgroup", False):  # set on each worker by xdist
        pytest.skip("run without --dist loadgroup: nothing is grouped")
    assert request.node.nodeid.endswith(f"@{__name__}"), request.node.nodeid


@pytest.mark.parametrize(
    "args",
    [
        ["pagan-collect", "{tmp}"],  # a one-line error, exit 2
        ["pagan-collect", "--help"],  # argparse's exit 0, on stdout
        ["-m", "pagan_lightning.cli.reproduce", "{tmp}/none.yaml"],  # python -m, sys.exit(str)
        ["pagan-train", "seed=abc", "hydra.run.dir={tmp}/run"],  # Hydra, then a config error
    ],
    ids=["error", "help", "module", "hydra"],
)
def test_a_forked_command_exits_and_prints_as_its_own_process(args: list[str], tmp_path) -> None:
    """:mod:`tests.helpers.zygote` stands for ``subprocess.run`` in the suite: the same exit
    status, standard output and error as the command in a fresh interpreter."""
    args = [a.replace("{tmp}", str(tmp_path)) for a in args]
    args = [sys.executable, *args] if args[0] == "-m" else [console_script(args[0]), *args[1:]]
    fresh = subprocess.run(args, capture_output=True, text=True, timeout=300)
    shutil.rmtree(tmp_path / "run", ignore_errors=True)
    forked = zygote.run(args)
    assert forked.returncode == fresh.returncode
    assert untimed(forked.stdout) == untimed(fresh.stdout)
    assert untimed(forked.stderr).splitlines()[-1:] == untimed(fresh.stderr).splitlines()[-1:]
    assert (fresh.stdout + fresh.stderr).strip()


def untimed(text: str) -> str:
    """``text`` without the time stamps of log lines."""
    return re.sub(r"\[\d{4}-\d\d-\d\d [\d:,]+\]", "[time]", text)
