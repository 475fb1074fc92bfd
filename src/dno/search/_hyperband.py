"""W&B's hyperband early termination (wandb/sweeps ``hyperband_stop_runs``) as an Optuna pruner.

W&B compares runs at fixed iterations, its *bands* (see
:func:`dno.search._wandb_sweep.wandb_hyperband`).
A run's history is its metric's finite values in the order reported (negated when the goal is
maximize). At band ``b``, every run of the sweep (running or finished) with more than ``b``
values contributes its value at index ``b``; the threshold is those values sorted, at position
``int(n / eta)``. A running run that has passed at least one band is stopped when its best value
so far is worse than the threshold of the last band it passed. W&B's controller applies the rule
every few seconds; dno applies it at each value the program reports, the rule's exact limit.
"""

from __future__ import annotations

import math

import optuna
from optuna.trial import FrozenTrial

__all__ = ["WandbHyperbandPruner", "band_threshold", "history"]


def history(trial: FrozenTrial, sign: float) -> list[float]:
    """The trial's reported metric values in step order, finite only, times ``sign``."""
    values = (v for _, v in sorted(trial.intermediate_values.items()))
    return [sign * v for v in values if math.isfinite(v)]


def band_threshold(histories: list[list[float]], band: int, eta: float) -> float:
    """W&B's threshold at ``band``: the runs' values there, sorted, at ``int(n / eta)``."""
    values = sorted(h[band] for h in histories if len(h) > band)
    return values[int(len(values) / eta)] if values else math.inf


class WandbHyperbandPruner(optuna.pruners.BasePruner):
    """Stops a trial as W&B's hyperband stops a run (single objective)."""

    def __init__(self, bands: list[int], eta: float, goal: str = "minimize") -> None:
        self.bands = sorted(int(b) for b in bands)
        self.eta = float(eta)
        self.sign = -1.0 if goal == "maximize" else 1.0

    def prune(self, study: optuna.Study, trial: FrozenTrial) -> bool:
        own = history(trial, self.sign)
        passed = [b for b in self.bands if b < len(own)]
        if not passed:
            return False
        others = study.get_trials(deepcopy=False)
        histories = [h for h in (history(t, self.sign) for t in others) if h]
        return min(own) > band_threshold(histories, passed[-1], self.eta)
