"""A study folder's layout, and a trial's state in one vocabulary.

::

    <study>/study.journal                 the Optuna storage (unless --storage)
    <study>/trials/<N>/trial.json         the trial's parameters and seeds
    <study>/trials/<N>/                   the run folder, with one seed
    <study>/trials/<N>/seeds/<S>/         a run folder per seed, with several
    <study>/confirm/trial-<N>/seed-<S>/   the confirmation runs of the best trials
    <study>/replays/trial-<N>-seed-<S>/   dno replay's runs
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dno.tracking._files import TRIAL_RECORD, read_json

__all__ = [
    "FAIL_ATTR", "INTERRUPTED_ATTR", "RETRY_ATTR", "TRIAL_STATES", "confirm_folder",
    "replay_folder", "run_name", "seed_folder", "trial_folder", "trial_params", "trial_reason",
    "trial_runs", "trial_state",
]  # fmt: skip

#: A trial's states: Optuna's, with a failed trial that was re-run (its process was
#: interrupted or died) called ``interrupted``.
TRIAL_STATES = ("complete", "pruned", "failed", "interrupted", "running", "waiting")
#: The trial's user attributes (in the study's storage) that hold why it failed, why it was
#: interrupted, and which trial a re-run repeats.
FAIL_ATTR = "fail_reason"
INTERRUPTED_ATTR = "dno:interrupted"
RETRY_ATTR = "dno:retry_of"
_SEEDS = "seeds"


def trial_state(state: str, user_attrs: Mapping[str, Any]) -> str:
    """The state (one of :data:`TRIAL_STATES`) of a trial with Optuna ``state`` (its name)."""
    name = state.lower()
    if name == "fail":
        return "interrupted" if INTERRUPTED_ATTR in user_attrs else "failed"
    return name


def trial_reason(user_attrs: Mapping[str, Any]) -> str:
    """Why a trial failed or was interrupted ('' if it did neither)."""
    return str(user_attrs.get(FAIL_ATTR) or user_attrs.get(INTERRUPTED_ATTR) or "")


def trial_folder(study: Path, number: int) -> Path:
    """``<study>/trials/<number>``."""
    return study / "trials" / str(number)


def seed_folder(trial: Path, seed: int, seeds: int) -> Path:
    """The run folder of one seed of a trial: the trial folder itself when it runs one seed."""
    return trial if seeds == 1 else trial / _SEEDS / str(seed)


def run_name(run: Path) -> str:
    """A run's name for an outside tracker (W&B): a seed's folder ``N-seeds-S``, or the trial
    folder's own name ``N``."""
    return "-".join(run.parts[-3:]) if run.parent.name == _SEEDS else run.name


def trial_runs(trial: Path) -> list[Path]:
    """The run folders of a trial, by seed: one per ``seeds/<S>``, or the trial folder itself."""
    seeds = trial / _SEEDS
    if seeds.is_dir():
        found = [p for p in seeds.iterdir() if p.is_dir()]
        return sorted(found, key=lambda p: (len(p.name), p.name))  # seed 2 before seed 10
    return [trial]


def trial_params(study: Path, number: int) -> dict[str, Any] | None:
    """The parameters trial ``number`` ran with (from its ``trial.json``; None if none)."""
    record = trial_folder(study, number) / TRIAL_RECORD
    return dict(read_json(record)["params"]) if record.is_file() else None


def confirm_folder(study: Path, number: int, seed: int) -> Path:
    """``<study>/confirm/trial-<number>/seed-<seed>``."""
    return study / "confirm" / f"trial-{number}" / f"seed-{seed}"


def replay_folder(study: Path, number: int, seed: int) -> Path:
    """``<study>/replays/trial-<number>-seed-<seed>``."""
    return study / "replays" / f"trial-{number}-seed-{seed}"
