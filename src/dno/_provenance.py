"""Provenance: what software, on what machine, with what command made a result.

:func:`provenance` is recorded in every run's ``final_results.json`` (by the trainer, as of the
run's start, so a resumed run's file is the same bit for bit) and in a benchmark's
``benchmark.json`` and ``leaderboard.json``::

    {"dno_version": "0.1.0", "git": {"commit": "0a0137c...", "dirty": false},
     "torch": "2.13.0", "numpy": "2.3.1", "optuna": "4.5.0", "python": "3.12.3",
     "platform": "Linux-6.8.0-x86_64-with-glibc2.39", "machine": "x86_64",
     "device": "cpu", "threads": 1, "cpus": 2, "command": "dno benchmark mackey --tune 8"}

``git`` is present only when dno runs from a checkout (its package files tracked by a git work
tree): the commit, and ``dirty`` when tracked files differ from it. Versions are read from the
installed distributions, without importing them.
"""

from __future__ import annotations

import functools
import os
import platform
import shlex
import subprocess
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ["SOFTWARE_KEYS", "git_state", "provenance", "same_software"]

#: The keys of :func:`provenance` that name the software (what a resumed run must share).
SOFTWARE_KEYS = ("dno_version", "git", "torch", "numpy", "optuna", "python")
#: Seconds a git command may take before the checkout is treated as unknown.
_GIT_TIMEOUT = 5.0


def _version(distribution: str) -> str | None:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def _git(folder: Path, *args: str) -> str | None:
    """The output of ``git args`` run in ``folder`` (None if git fails or is missing)."""
    try:
        done = subprocess.run(
            ["git", *args], cwd=folder, capture_output=True, text=True,
            timeout=_GIT_TIMEOUT, check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


@functools.lru_cache(maxsize=1)
def git_state() -> dict[str, Any] | None:
    """``{"commit": SHA, "dirty": bool}`` of the checkout dno runs from, or None when dno's
    package files are not tracked by a git work tree (an installed wheel, no git)."""
    package = Path(__file__).resolve().parent
    if _git(package, "ls-files", "--error-unmatch", "__init__.py") is None:
        return None
    commit = _git(package, "rev-parse", "HEAD")
    if commit is None:
        return None
    changes = _git(package, "status", "--porcelain", "--untracked-files=no", "--", ".")
    return {"commit": commit, "dirty": bool(changes)}


def provenance(device: str | None = None, threads: int | None = None) -> dict[str, Any]:
    """What made a result: dno's version and checkout, the libraries, the machine, the device,
    the threads and the full command line (plain JSON values)."""
    from dno import __version__

    record: dict[str, Any] = {
        "dno_version": __version__,
        "git": git_state(),
        "torch": _version("torch"),
        "numpy": _version("numpy"),
        "optuna": _version("optuna"),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "device": device,
        "threads": threads,
        "cpus": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None,
        "command": shlex.join([Path(sys.argv[0]).name if sys.argv else "", *sys.argv[1:]]),
    }
    return record


def same_software(a: dict[str, Any], b: dict[str, Any]) -> bool:
    """Whether two provenance records name the same software (:data:`SOFTWARE_KEYS`)."""
    return all(a.get(key) == b.get(key) for key in SOFTWARE_KEYS)
