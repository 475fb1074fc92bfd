"""The search space: its parameters, its grid, its stored description, and what a W&B sweep file
says about method, metric and early stopping."""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field
from typing import Any

from optuna.distributions import FloatDistribution

from dno._limits import MAX_GRID_SIZE, check_count
from dno.errors import UsageError
from dno.search._distributions import Parameter

__all__ = ["SearchSpace", "space_from_description"]


@dataclass
class SearchSpace:
    """Parameters plus what a W&B sweep file says about method, metric and early stopping."""

    parameters: dict[str, Parameter]
    method: str | None = None
    metric: str | None = None
    goal: str = "minimize"
    early_terminate: dict[str, Any] | None = None
    source: str = "default"
    program: dict[str, Any] = field(default_factory=dict)
    #: W&B's run_cap: at most this many trials
    run_cap: int | None = None
    #: read from a W&B sweep file (W&B's semantics: no pruning without early_terminate)
    wandb: bool = False
    #: a W&B sweep's name (the study's default name)
    name: str | None = None

    def searched(self) -> dict[str, Parameter]:
        """The parameters with a distribution."""
        return {k: p for k, p in self.parameters.items() if p.distribution is not None}

    def fixed(self) -> dict[str, Any]:
        """The fixed parameters and their values."""
        return {k: p.value for k, p in self.parameters.items() if p.distribution is None}

    def grid(self) -> list[dict[str, Any]]:
        """Every combination of declared values, in a stable order.

        Raises:
            UsageError: a continuous range without explicit grid values (names it).
        """
        searched = self.searched()
        for name, p in searched.items():
            if p.grid is None:
                continuous = isinstance(p.distribution, FloatDistribution) and (
                    p.distribution.step is None
                )
                what = "continuous range" if continuous else f"range (over {MAX_GRID_SIZE:,} steps)"
                raise UsageError(
                    f"grid search needs explicit values for the {what} {name!r}; "
                    f"add grid: [...] (dno format), use values: [...] (W&B format), "
                    "or give a step"
                )
        names = list(searched)
        size = math.prod(len(searched[n].grid or ()) for n in names)
        check_count(size, MAX_GRID_SIZE, "grid search: number of points")
        combos = itertools.product(*(searched[n].grid or () for n in names))
        return [dict(zip(names, combo, strict=True)) for combo in combos]

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (stored with the study, compared on resume)."""
        return {name: p.describe() for name, p in sorted(self.parameters.items())}

    def nesting(self) -> dict[str, list[str]]:
        """W&B nested parameters: name -> path (what a program runner needs to nest them)."""
        return {n: list(p.path) for n, p in self.parameters.items() if p.path and len(p.path) > 1}


def space_from_description(description: dict[str, Any]) -> SearchSpace:
    """Rebuild a space from :meth:`SearchSpace.describe` (what a study stores)."""
    parameters = {n: Parameter.from_description(n, s) for n, s in description.items()}
    return SearchSpace(parameters, source="study")
