"""Search spaces: read dno's YAML format or W&B's sweep format into a :class:`SearchSpace`.

dno's format uses Optuna's own names::

    parameters:
      lr:         {type: float, low: 1.0e-4, high: 3.0e-3, log: true, grid: [3.0e-4, 1.0e-3]}
      batch_size: {type: categorical, choices: [16, 32, 64]}
      layers:     {type: int, low: 2, high: 4}
      dropout:    {type: float, low: 0.0, high: 0.2, step: 0.1}
      S:          {value: 32}                # fixed

A grid search (dno's format) enumerates every combination of declared values: categorical
choices, whole integer ranges, stepped float ranges, or a float range's explicit ``grid`` values.
W&B's sweep format is read by :mod:`dno.search._wandb_sweep`, each of its distributions is a
class of :mod:`dno.search._distributions`, and the space itself (grid, stored description) is
:mod:`dno.search._search_space`.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from optuna.distributions import CategoricalDistribution

from dno._io import read_yaml_mapping
from dno.errors import UsageError
from dno.search._distributions import Parameter
from dno.search._ranges import bounds, numeric_range
from dno.search._search_space import SearchSpace, space_from_description
from dno.search._wandb_sweep import METHODS, is_sweep, read_sweep

__all__ = [
    "METHODS",
    "Parameter",
    "SearchSpace",
    "default_space",
    "load_space",
    "parse_space",
    "shipped_space_file",
    "space_from_description",
]

_DNO_KEYS = {"type", "low", "high", "log", "step", "choices", "grid", "value"}


def shipped_space_file(model: str) -> Path:
    """The search space file shipped with dno for ``model`` (it may not exist)."""
    # package data beside the code, not a results folder: the one place that spells it
    return Path(__file__).resolve().parent.parent / "configs" / "spaces" / f"{model}.yaml"


def default_space(model: str) -> SearchSpace:
    """The search space shipped with dno for ``model`` (``dno/configs/spaces/<model>.yaml``)."""
    path = shipped_space_file(model)
    if not path.is_file():
        raise UsageError(f"no default search space for model {model!r} ({path.name})")
    space = load_space(path)
    space.source = f"default ({path.name})"
    return space


def load_space(path: str | os.PathLike[str]) -> SearchSpace:
    """Read a search-space file (dno format or W&B sweep format)."""
    space = parse_space(read_yaml_mapping(path, "search space file"), str(path))
    space.source = str(path)
    return space


def parse_space(data: Any, where: str = "search space") -> SearchSpace:
    """Parse a mapping in dno's format or W&B's sweep format."""
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise UsageError(f"{where}: expected a mapping with a 'parameters' mapping")
    if is_sweep(data):
        return read_sweep(data, where)
    unknown = sorted(set(data) - {"parameters"})
    if unknown:
        raise UsageError(f"{where}: unknown top-level key {unknown[0]!r}; expected 'parameters'")
    return SearchSpace({n: _parse_dno(n, s, where) for n, s in data["parameters"].items()})


def _parse_dno(name: str, spec: Any, where: str) -> Parameter:
    if not isinstance(spec, dict):
        return Parameter(name, value=spec)
    unknown = sorted(set(spec) - _DNO_KEYS)
    if unknown:
        raise UsageError(f"{where}: parameter {name!r} has unknown key {unknown[0]!r}")
    if "value" in spec:
        if len(spec) > 1:
            raise UsageError(f"{where}: parameter {name!r} is fixed (value) and searched")
        return Parameter(name, value=spec["value"])
    kind = spec.get("type")
    if kind == "categorical":
        choices = spec.get("choices")
        if not isinstance(choices, list) or not choices:
            raise UsageError(f"{where}: parameter {name!r} needs a non-empty choices list")
        return Parameter(name, CategoricalDistribution(choices), grid=tuple(choices))
    if kind not in ("float", "int"):
        raise UsageError(
            f"{where}: parameter {name!r} has type {kind!r}; expected float, int or categorical"
        )
    low, high = bounds(name, spec.get("low"), spec.get("high"), where)
    log, step = bool(spec.get("log", False)), spec.get("step")
    distribution, grid = numeric_range(name, kind, low, high, log, step, spec.get("grid"), where)
    return Parameter(name, distribution, grid=grid)
