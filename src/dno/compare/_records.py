"""The records of a comparison: the plan (metric, approaches), each run, and the result."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dno.compare._stats import ApproachStats
from dno.training import TrainConfig

__all__ = ["Approach", "ComparisonPlan", "ComparisonResult", "Metric", "RunRecord"]


@dataclass(frozen=True)
class Metric:
    """What the comparison ranks by: a metric on a split and its direction."""

    name: str
    split: str
    lower_is_better: bool
    meaning: str

    @property
    def label(self) -> str:
        """``rel_l2 (test)``."""
        return f"{self.name} ({self.split})"


@dataclass(frozen=True)
class Approach:
    """One approach: a model and its overrides; ``config`` is resolved (seed 0)."""

    name: str
    model: str
    overrides: dict[str, Any]
    description: str
    config: TrainConfig


@dataclass(frozen=True)
class ComparisonPlan:
    """A validated comparison file."""

    name: str
    family: str
    data: str | None
    seeds: tuple[int, ...]
    metric: Metric
    alpha: float
    baseline: str
    approaches: tuple[Approach, ...]
    shared: dict[str, Any]
    description: str = ""
    source: str = ""

    def approach(self, name: str) -> Approach:
        """The approach called ``name``."""
        return next(a for a in self.approaches if a.name == name)

    def config_for(self, approach: str, seed: int) -> TrainConfig:
        """The resolved config of ``approach`` on ``seed``."""
        return {**self.approach(approach).config, "seed": seed}


@dataclass
class RunRecord:
    """One approach on one seed: how it ended and its score (None if it failed)."""

    approach: str
    seed: int
    path: Path
    status: str
    value: float | None
    reason: str = ""
    trained: bool = False
    epochs_run: int | None = None
    seconds: float | None = None


@dataclass
class ComparisonResult:
    """A finished comparison: the plan, every run and the ranked table."""

    plan: ComparisonPlan
    folder: Path
    dataset: str
    runs: list[RunRecord]
    rows: list[ApproachStats]
