"""The records of a comparison: the plan (metric, approaches), each run, and the result."""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from dno.compare._stats import ApproachStats
from dno.evaluation import Metric
from dno.training import TrainConfig

__all__ = ["Approach", "ComparisonPlan", "ComparisonResult", "RankedBy", "RunRecord"]


@dataclass(frozen=True)
class RankedBy:
    """What a comparison ranks by: a metric of the table, on a split (None for a cost)."""

    metric: Metric
    split: str | None

    @property
    def name(self) -> str:
        """The metric's name in the table (``rollout_rel_l2``)."""
        return self.metric.name

    @property
    def lower_is_better(self) -> bool:
        return self.metric.lower_is_better

    @property
    def meaning(self) -> str:
        return self.metric.description

    @property
    def label(self) -> str:
        """``rollout_rel_l2 (test)``."""
        return self.name if self.split is None else f"{self.name} ({self.split})"


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
    metric: RankedBy
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
        return replace(self.approach(approach).config, seed=seed)


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
