"""The fault suite's helpers: a tiny search, dno's command line in this process or in one of its
own, and the check that the user saw one line and no traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import optuna
import pytest

from dno.cli import main
from dno.search import open_storage

#: A search small enough to run three trials in a few seconds: random, so that trial N draws
#: the same parameters in every study of the same seed, whatever happened to the others.
TINY_SPACE = {
    "parameters": {
        "S": 16, "layers": 1, "batch_size": 64,
        "width": {"type": "categorical", "choices": [4, 8]},
        "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    }
}  # fmt: skip


def search_args(data_path: Path, space: Path, results: Path, *extra: str) -> list[str]:
    """``dno search`` of the tiny space: 3 random trials of one epoch, one thread, quiet.

    No pruner: which trials a pruner stops depends on the others' history, which a fault
    changes (an interrupted trial reports nothing), so only unpruned studies are comparable.
    """
    return ["search", "--data", str(data_path), "--space", str(space), "--search", "random",
            "--n-trials", "3", "--max-epochs", "1", "--pruner", "none", "--confirm-top", "0",
            "--study", "s", "--results", str(results), "--threads", "1", "--device", "cpu",
            "-q", *extra]  # fmt: skip


def dno(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``dno ARGS`` in this process: exit status and stderr."""
    try:
        code = main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def dno_process(args: list[str], timeout: float = 600.0) -> tuple[int, str]:
    """``dno ARGS`` as a process of its own (a crash or a kill must not end the test's)."""
    done = subprocess.run(
        [sys.executable, "-m", "dno", *args], capture_output=True, text=True, timeout=timeout
    )
    return done.returncode, done.stderr


def one_line(err: str, kind: str = "error") -> str:
    """The one ``dno: KIND:`` line the user saw; no traceback, no other such line."""
    assert "Traceback" not in err, err
    lines = [line for line in err.splitlines() if line.startswith(f"dno: {kind}:")]
    assert len(lines) == 1, err
    return lines[0]


def no_traceback(err: str) -> None:
    assert "Traceback" not in err and "dno: error:" not in err, err


def trials(results: Path, storage: str | None = None) -> list[optuna.trial.FrozenTrial]:
    """The trials of study ``s`` (in its journal under ``results``, or in ``storage``)."""
    opened, _ = open_storage(storage, results, "s")
    return optuna.load_study(study_name="s", storage=opened).get_trials()


def outcomes(results: Path, storage: str | None = None) -> dict[tuple[tuple[str, Any], ...], Any]:
    """Each complete trial's parameters and value: what a search promises to keep."""
    return {
        tuple(sorted(t.params.items())): t.value
        for t in trials(results, storage)
        if t.state == optuna.trial.TrialState.COMPLETE
    }
