"""A study as plain data: what the report reads from storage and disk, nothing live.

Every figure and table of the report is drawn from these records alone, so a report can be
regenerated at any time from the study folder (and its storage), without the models or the
process that made them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dno.tracking import TRIAL_STATES, trial_runs

__all__ = ["Importance", "ParamInfo", "StudyData", "TrialRecord"]


@dataclass(frozen=True)
class ParamInfo:
    """One searched parameter and the distribution it was sampled from.

    Attributes:
        name: the config key.
        kind: ``float``, ``int`` or ``categorical``.
        low, high: the range (None for categorical).
        log: sampled on a log scale.
        step: the grid step of a stepped range (None: continuous).
        choices: the categorical choices (None otherwise).
    """

    name: str
    kind: str
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: tuple[Any, ...] | None = None

    @property
    def ordered(self) -> bool:
        """True if values have an order (numbers, or numeric choices)."""
        if self.choices is None:
            return True
        return all(isinstance(c, int | float) and not isinstance(c, bool) for c in self.choices)

    @property
    def varies(self) -> bool:
        """True if the distribution allows more than one value."""
        if self.choices is not None:
            return len(self.choices) > 1
        return self.low is not None and self.high is not None and self.high > self.low


@dataclass
class TrialRecord:
    """One trial as stored: state, objective values, parameters, cost, folder.

    Attributes:
        number: the trial number.
        state: one of :data:`dno.tracking.TRIAL_STATES`.
        values: the objective values (complete trials only; None otherwise).
        params: the searched parameters (Optuna's values).
        epochs: epochs run (summed over seeds), if recorded.
        seconds: wall time, if recorded.
        reason: why it failed or was interrupted ('' otherwise).
        folder: ``STUDY/trials/N``.
        intermediate: the objective reported per epoch (what the pruner saw).
    """

    number: int
    state: str
    values: list[float] | None
    params: dict[str, Any]
    epochs: float | None = None
    seconds: float | None = None
    reason: str = ""
    folder: Path = Path()
    intermediate: dict[int, float] = field(default_factory=dict)

    def run_dirs(self) -> list[Path]:
        """The run folders of this trial: the trial folder, or one per seed (``seeds/S``)."""
        return trial_runs(self.folder)


@dataclass(frozen=True)
class Importance:
    """Which parameters matter for the first objective.

    Attributes:
        method: ``ped-anova`` or ``fanova`` (Optuna's evaluators), or ``correlation`` (the
            ranking by absolute Spearman correlation, or the correlation ratio for unordered
            choices, when there are too few completed trials or the evaluator fails).
        values: parameter -> importance (normalized to sum to 1) or ranking score (correlation).
        spearman: parameter -> Spearman's rho with the objective (None: unordered or constant).
        eta: parameter -> correlation ratio eta (unordered categorical parameters only).
        trials: completed trials used.
        note: why the fallback was used ('' otherwise).
    """

    method: str
    values: dict[str, float]
    spearman: dict[str, float | None]
    eta: dict[str, float]
    trials: int
    note: str = ""

    def ranking(self) -> list[str]:
        """Parameters, most important first (ties by name)."""
        return sorted(self.values, key=lambda name: (-self.values[name], name))


@dataclass
class StudyData:
    """A study read back: its specification, its trials, and what was derived from them.

    Attributes:
        name: the study name.
        folder: the study folder (``RESULTS/NAME``).
        model, family, search: what was searched and how.
        objectives, directions: objective names and ``minimize`` / ``maximize``.
        params: the parameters the study really searched (fixed values excluded).
        trials: every trial, in number order.
        importance: parameter importance for the first objective (None: nothing to rank).
        confirmation: rows of ``confirmation.csv`` (top configurations on fresh seeds).
        notes: plain-language remarks shown in the report.
        n_trials: the trial budget of the study.
        max_epochs: epochs per trial at most.
        seeds: training seeds per configuration.
    """

    name: str
    folder: Path
    model: str
    family: str
    search: str
    objectives: list[str]
    directions: list[str]
    params: list[ParamInfo]
    trials: list[TrialRecord]
    importance: Importance | None = None
    confirmation: list[dict[str, Any]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    n_trials: int = 0
    max_epochs: int = 0
    seeds: int = 1

    @property
    def multi(self) -> bool:
        """True for a multi-objective study."""
        return len(self.objectives) > 1

    def param(self, name: str) -> ParamInfo:
        """The searched parameter called ``name``."""
        return next(p for p in self.params if p.name == name)

    def complete(self) -> list[TrialRecord]:
        """Completed trials whose values are all finite."""
        return [
            t
            for t in self.trials
            if t.state == "complete" and t.values and all(math.isfinite(v) for v in t.values)
        ]

    def counts(self) -> dict[str, int]:
        """Trials per state (every state listed, zeros included) and the total."""
        counts = {state: 0 for state in TRIAL_STATES}
        for t in self.trials:
            counts[t.state] = counts.get(t.state, 0) + 1
        return {"trials": len(self.trials), **counts}

    def sign(self, objective: int = 0) -> float:
        """+1 if the objective is minimized, -1 if maximized (so smaller signed is better)."""
        return 1.0 if self.directions[objective] == "minimize" else -1.0

    def pareto_front(self) -> list[TrialRecord]:
        """Completed trials no other completed trial dominates (all objectives)."""
        done = self.complete()
        signed = [[self.sign(i) * v for i, v in enumerate(t.values or [])] for t in done]

        def dominated(a: list[float]) -> bool:
            return any(all(x <= y for x, y in zip(b, a, strict=True)) and b != a for b in signed)

        return [t for t, s in zip(done, signed, strict=True) if not dominated(s)]

    def ranked(self) -> list[TrialRecord]:
        """Completed trials, best first by the first objective (the Pareto front first if multi)."""
        done = sorted(self.complete(), key=lambda t: self.sign() * (t.values or [0.0])[0])
        if not self.multi:
            return done
        front = {t.number for t in self.pareto_front()}
        return [t for t in done if t.number in front] + [t for t in done if t.number not in front]

    def best(self, k: int) -> list[TrialRecord]:
        """The k best completed trials (see :meth:`ranked`)."""
        return self.ranked()[:k]

    def worst(self, k: int) -> list[TrialRecord]:
        """The k worst completed trials by the first objective, worst first."""
        done = sorted(self.complete(), key=lambda t: -self.sign() * (t.values or [0.0])[0])
        return done[:k]
