"""The console entry points (``pagan-train``, ``pagan-evaluate``, ``pagan-collect``,
``pagan-train-classifier``) and ``python -m pagan_lightning.cli.bench`` / ``.cli.probe``.

Each is a thin shell over the library: it parses, calls, prints. No entry point imports
another; what they share lives in :mod:`pagan_lightning.runtime.configs` and
:mod:`pagan_lightning.runtime.rundir`.
"""
