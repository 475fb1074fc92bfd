"""Matched capacity: every model's width scaled to the baseline's parameter count.

With ``match: params`` (or ``dno benchmark --match params``) each model but the baseline gets the
``width`` (an integer >= 1) whose parameter count, of the model built from its configuration
for the protocol's data (:func:`dno.training.build_model`, counted by
:func:`dno.evaluation.parameter_count`), is closest to the baseline's; a count more than
:data:`TOLERANCE` away is an error naming the two widths around it. So a win is not just a bigger
network. The count grows with the width (every model's layers are width x width or width x
modes), so the search doubles the width until the count passes the baseline's, then bisects.
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from dno.compare import ComparisonPlan
from dno.dde import get_family
from dno.errors import UsageError
from dno.evaluation import parameter_count
from dno.training import TrainConfig, build_model, resolve_config

__all__ = ["MATCHES", "TOLERANCE", "match_capacity"]

#: What ``match:`` can match.
MATCHES = ("params",)
#: The largest relative difference of a matched parameter count from the baseline's.
TOLERANCE = 0.10
#: The widest width the search tries (a model wider than this is not a benchmark's).
_MAX_WIDTH = 4096


def match_capacity(
    plan: ComparisonPlan, grid_points: int | None, source: str
) -> tuple[ComparisonPlan, dict[str, dict[str, Any]]]:
    """``plan`` with every model's width set to match the baseline's parameter count.

    Args:
        plan: the protocol's runs (their configurations resolved).
        grid_points: the data's spatial points (None: the family's default; 1 if scalar).
        source: the protocol file, for the errors.

    Returns:
        The plan, and per model ``{"width", "parameters", "difference"}`` (the baseline's too,
        with its own width).

    Raises:
        UsageError: a model whose closest width is more than 10 % away (one line naming it).
    """
    family = get_family(plan.family)
    X = (grid_points or family.grid_points) if family.is_spatial else 1
    base = plan.approach(plan.baseline)
    target = _count(base.config, X)
    capacity: dict[str, dict[str, Any]] = {
        base.name: {"width": _width(base.config, X), "parameters": target, "difference": 0.0}
    }
    approaches = []
    for a in plan.approaches:
        if a.name == plan.baseline:
            approaches.append(a)
            continue

        def config(width: int, a: Any = a) -> TrainConfig:
            return resolve_config(a.model, plan.shared, {**a.overrides, "width": width})

        width, count = _closest(lambda w: _count(config(w), X), target)
        difference = count / target - 1.0
        if abs(difference) > TOLERANCE:
            raise UsageError(
                f"{source}: match: params: model {a.name!r} ({a.model}) cannot be matched "
                f"within {TOLERANCE:.0%} of {plan.baseline}'s {target:,} parameters: its closest "
                f"width {width} gives {count:,} ({difference:+.0%})"
            )
        capacity[a.name] = {"width": width, "parameters": count, "difference": difference}
        chosen = config(width)
        approaches.append(replace(a, overrides={**a.overrides, "width": width}, config=chosen))
    return replace(plan, approaches=tuple(approaches)), capacity


def _count(config: TrainConfig, X: int) -> int:
    return parameter_count(build_model(config, X))


def _width(config: TrainConfig, X: int) -> int:
    """The width a model is built with (its default when the configuration sets none)."""
    return int(build_model(config, X).config["width"])


def _closest(count: Any, target: int) -> tuple[int, int]:
    """The width in 1 .. :data:`_MAX_WIDTH` whose ``count(width)`` is closest to ``target``
    (``count`` increasing), and that count."""
    high = 1
    while count(high) < target and high < _MAX_WIDTH:
        high = min(2 * high, _MAX_WIDTH)
    low = max(1, high // 2)
    while high - low > 1:  # count(low) < target <= count(high), or the ends
        middle = (low + high) // 2
        if count(middle) < target:
            low = middle
        else:
            high = middle
    return min(((w, count(w)) for w in {low, high}), key=lambda pair: abs(pair[1] - target))
