"""The project's console scripts run in forked copies of one process that imported them.

Starting ``pagan-train`` costs seconds of imports (torch, Lightning, torchmetrics, Hydra)
before its first line runs, and many tests run it. :func:`run` has the
shape of ``subprocess.run(args, capture_output=True, text=True)``: it asks a server process
(this file run as a script, one per pytest worker, started on first use) to fork; the child
takes the command line, environment and working folder, sends its output to files and calls
the console script's entry point, as the script's ``main`` would. Commands that re-run their
own command line in new processes (DDP) or that tests signal need a process of their own:
they keep ``subprocess``.
"""

import atexit
import json
import os
import runpy
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from importlib.metadata import entry_points
from pathlib import Path

import torch

ENTRY_MODULES = (  # imported once, by the server
    "pagan_lightning.cli.train",
    "pagan_lightning.cli.bench",
    "pagan_lightning.cli.evaluate",
    "pagan_lightning.cli.collect",
    "pagan_lightning.cli.probe",
    "pagan_lightning.cli.reproduce",
    "pagan_lightning.cli.train_classifier",
)
_server: subprocess.Popen | None = None


def run(
    args: list[str],
    env: dict[str, str] | None = None,
    cwd: str | Path | None = None,
    timeout: float = 600,
) -> subprocess.CompletedProcess:
    """Run the console script ``args[0]`` (a path or a name) with ``args[1:]``, or
    ``python -m <module> ...``, in a fork of the server; its exit status, standard output and
    error as ``subprocess.run`` gives them."""
    global _server
    if _server is None or _server.poll() is not None:
        _server = subprocess.Popen(
            [sys.executable, __file__],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        atexit.register(_server.kill)
    with tempfile.TemporaryDirectory() as tmp:
        out, err = Path(tmp) / "stdout", Path(tmp) / "stderr"
        request = {
            "argv": [str(a) for a in args],
            "env": dict(os.environ if env is None else env),
            "cwd": str(cwd or os.getcwd()),
            "stdout": str(out),
            "stderr": str(err),
            "timeout": timeout,
        }
        _server.stdin.write(json.dumps(request) + "\n")
        _server.stdin.flush()
        reply = _server.stdout.readline()
        if not reply:
            raise RuntimeError(f"the zygote server ended (status {_server.wait()})")
        code = json.loads(reply)["returncode"]
        return subprocess.CompletedProcess(args, code, out.read_text(), err.read_text())


def _child(request: dict) -> int:
    """In the fork: become the command of ``request`` and return its exit status."""
    os.setpgrp()
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE):
        signal.signal(sig, signal.SIG_DFL if sig != signal.SIGINT else signal.default_int_handler)
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    argv = request["argv"]
    scripts = entry_points(group="console_scripts", name=Path(argv[0]).name)
    if not scripts:  # python -m <module> ...: the module runs as __main__
        module, sys.argv = argv[2], [argv[0], *argv[3:]]
        sys.path[0] = os.getcwd()
        sys.modules.pop(module, None)  # executed afresh, as by the interpreter

        def command() -> None:
            runpy.run_module(module, run_name="__main__", alter_sys=True)
    else:  # a console script: what its file does
        script, sys.argv = Path(argv[0]), argv
        sys.path[0] = str(script.parent if script.parent.name else Path(sys.executable).parent)
        (entry,) = scripts

        def command() -> None:
            sys.exit(entry.load()())

    for path in reversed(os.environ.get("PYTHONPATH", "").split(os.pathsep)):
        if path and path not in sys.path:
            sys.path.insert(1, str(Path(path).resolve()))
    null = os.open(os.devnull, os.O_RDONLY)
    os.dup2(null, 0)
    for fd, path in ((1, request["stdout"]), (2, request["stderr"])):
        os.dup2(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644), fd)
    if threads := os.environ.get("OMP_NUM_THREADS"):  # read by OpenMP when torch loaded
        torch.set_num_threads(int(threads))
    code = 0
    try:
        command()
    except SystemExit as exit_:
        if exit_.code is None or isinstance(exit_.code, int):
            code = exit_.code or 0
        else:
            print(exit_.code, file=sys.stderr)
            code = 1
    except BaseException:
        traceback.print_exc()
        code = 1
    atexit._run_exitfuncs()
    return code


def _serve() -> None:
    """Read one request per line, fork, wait (killing the command's process group after its
    timeout) and answer with the exit status (minus the signal's number, as ``subprocess``)."""
    for name in ENTRY_MODULES:
        __import__(name)
    for line in sys.stdin:
        request = json.loads(line)
        sys.stdout.flush()
        sys.stderr.flush()
        pid = os.fork()
        if pid == 0:
            code = 1
            try:
                code = _child(request)
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        deadline = time.monotonic() + request["timeout"]
        while (done := os.waitpid(pid, os.WNOHANG))[0] == 0:
            if time.monotonic() > deadline:
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.02)
        status = done[1]
        code = os.waitstatus_to_exitcode(status)
        print(json.dumps({"returncode": code}), flush=True)


if __name__ == "__main__":
    _serve()
