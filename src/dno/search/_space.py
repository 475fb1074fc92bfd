"""Search spaces: dno's YAML format and W&B's sweep format, translated to Optuna distributions.

dno's format uses Optuna's own names::

    parameters:
      lr:         {type: float, low: 1.0e-4, high: 3.0e-3, log: true, grid: [3.0e-4, 1.0e-3]}
      batch_size: {type: categorical, choices: [16, 32, 64]}
      layers:     {type: int, low: 2, high: 4}
      dropout:    {type: float, low: 0.0, high: 0.2, step: 0.1}
      S:          {value: 32}                # fixed

W&B's sweep format (``method``, ``metric``, ``parameters`` with ``values`` / ``value`` /
``distribution`` with ``min`` / ``max`` / ``q`` / ``mu`` / ``sigma`` / ``a`` / ``b`` /
``probabilities``, nested ``parameters``, ``early_terminate``, ``run_cap``) is read with W&B's
own semantics (wandb/sweeps): every distribution, W&B's grid (sorted names, ``q_uniform`` as
``arange(min, max, q)``) and W&B's hyperband brackets. Every key is honoured or refused with an
error naming it; nothing is ignored. The README has the full translation table.
A grid search (dno's format) enumerates every combination of declared values: categorical
choices, whole integer ranges, stepped float ranges, or a float range's explicit ``grid`` values.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
    json_to_distribution,
)

from dno._io import read_yaml_mapping
from dno._limits import MAX_GRID_SIZE, at_least, check_count, is_number
from dno.errors import DnoError, UsageError

__all__ = [
    "METHODS",
    "Parameter",
    "SearchSpace",
    "default_space",
    "load_space",
    "parse_space",
    "space_from_description",
]

#: W&B's method names -> dno's search names.
METHODS = {"grid": "grid", "random": "random", "bayes": "bayesian"}
_DNO_KEYS = {"type", "low", "high", "log", "step", "choices", "grid", "value"}
_WANDB_KEYS = {"values", "value", "distribution", "min", "max", "q", "mu", "sigma", "a", "b",
               "probabilities"}  # fmt: skip
#: W&B's top-level keys; name, description, project, entity, controller, apiVersion and kind
#: describe the sweep on W&B's servers and change nothing offline
_WANDB_TOP = {"method", "metric", "parameters", "early_terminate", "name", "description",
              "program", "command", "project", "entity", "run_cap", "controller", "apiVersion",
              "kind"}  # fmt: skip


@dataclass(frozen=True)
class Parameter:
    """One searched (or fixed) parameter.

    Attributes:
        name: the config key it sets.
        distribution: the Optuna distribution, or None for a fixed value.
        value: the fixed value (when ``distribution`` is None).
        grid: the values a grid search visits (None: not enumerable).
        transform: a W&B distribution Optuna has no equal of (``{"distribution": "q_normal",
            "mu": 0, "sigma": 1, "q": 1}``...): Optuna searches a quantile in (0, 1) (or a
            value's index) and :func:`wandb_ppf` maps it to the value, as W&B's sampler does.
        path: a W&B nested parameter's path (``("optim", "lr")``): the program receives it
            nested (``optim={'lr': ...}``), as from W&B. None for a plain (maybe dotted) name.
    """

    name: str
    distribution: BaseDistribution | None = None
    value: Any = None
    grid: tuple[Any, ...] | None = None
    transform: dict[str, Any] | None = None
    path: tuple[str, ...] | None = None

    def to_config_value(self, sampled: Any) -> Any:
        """The config value for a sampled value (through the W&B transform if any)."""
        return sampled if self.transform is None else wandb_ppf(self.transform, sampled)


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
        out: dict[str, Any] = {}
        for name, p in sorted(self.parameters.items()):
            if p.distribution is None:
                out[name] = {"value": p.value}
            else:
                out[name] = {"distribution": distribution_to_json(p.distribution)}
                if p.grid is not None:
                    out[name]["grid"] = list(p.grid)
                if p.transform is not None:
                    out[name]["transform"] = dict(p.transform)
            if p.path is not None and len(p.path) > 1:
                out[name]["path"] = list(p.path)
        return out

    def nesting(self) -> dict[str, list[str]]:
        """W&B nested parameters: name -> path (what a program runner needs to nest them)."""
        return {n: list(p.path) for n, p in self.parameters.items() if p.path and len(p.path) > 1}


def space_from_description(description: dict[str, Any]) -> SearchSpace:
    """Rebuild a space from :meth:`SearchSpace.describe` (what a study stores)."""
    parameters = {}
    for name, spec in description.items():
        path = tuple(spec["path"]) if "path" in spec else None
        if "value" in spec:
            parameters[name] = Parameter(name, value=spec["value"], path=path)
            continue
        transform = spec.get("transform")
        if isinstance(transform, list):  # studies made before W&B's other distributions
            transform = {"distribution": transform[0], "mu": transform[1], "sigma": transform[2]}
        parameters[name] = Parameter(
            name,
            json_to_distribution(spec["distribution"]),
            grid=tuple(spec["grid"]) if "grid" in spec else None,
            transform=transform,
            path=path,
        )
    return SearchSpace(parameters, source="study")


def default_space(model: str) -> SearchSpace:
    """The search space shipped with dno for ``model`` (``dno/configs/spaces/<model>.yaml``)."""
    path = Path(__file__).resolve().parent.parent / "configs" / "spaces" / f"{model}.yaml"
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
    wandb = any(k in data for k in _WANDB_TOP - {"parameters"}) or any(
        isinstance(spec, dict) and set(spec) & (_WANDB_KEYS - {"value"} | {"parameters"})
        for spec in data["parameters"].values()
    )
    if wandb:
        space = _parse_wandb(data, where)
        space.wandb = True
        return space
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
    low, high = _bounds(name, spec.get("low"), spec.get("high"), where)
    log, step = bool(spec.get("log", False)), spec.get("step")
    grid = spec.get("grid")
    return _numeric(name, kind, low, high, log, step, grid, where)


def _bounds(name: str, low: Any, high: Any, where: str) -> tuple[float, float]:
    _check_text(name, {"low": low, "high": high}, where)
    if not (is_number(low) and is_number(high)):
        raise UsageError(f"{where}: parameter {name!r} needs finite numeric low/min and high/max")
    if not low < high:
        raise UsageError(
            f"{where}: parameter {name!r} has an empty range [{low}, {high}]; expected low < high"
        )
    return low, high


def _numeric(
    name: str, kind: str, low: float, high: float, log: bool, step: Any, grid: Any, where: str
) -> Parameter:
    if log and low <= 0:
        raise UsageError(f"{where}: parameter {name!r} is log-scaled but low={low} <= 0")
    if log and step is not None:
        raise UsageError(f"{where}: parameter {name!r}: Optuna cannot combine log and step")
    if grid is not None and (
        not isinstance(grid, list) or not grid or not all(map(is_number, grid))
    ):
        raise UsageError(f"{where}: parameter {name!r}: grid must be a non-empty list of numbers")
    if step is not None:
        whole = kind == "int"
        if not is_number(step) or step <= 0 or (whole and step != int(step)):
            expected = "a positive integer" if whole else "a positive number"
            raise UsageError(f"{where}: parameter {name!r} has step {step!r}; expected {expected}")
        count = (high - low) / step
        if abs(count - round(count)) > 1e-9 * max(1.0, abs(count)):
            raise UsageError(
                f"{where}: parameter {name!r}: step {step} does not divide the range "
                f"[{low}, {high}]"
            )
    implied = (high - low) / (step or 1) + 1  # values of a stepped range, made only if few
    if kind == "int":
        dist: BaseDistribution = IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        if grid is None and not log and implied <= MAX_GRID_SIZE:
            grid = list(range(int(low), int(high) + 1, int(step or 1)))
    else:
        dist = FloatDistribution(float(low), float(high), log=log, step=step)
        if grid is None and step is not None and implied <= MAX_GRID_SIZE:
            count = round((high - low) / step)
            grid = [round(low + i * step, 12) for i in range(count + 1)]
    if grid is not None and any(not (low <= g <= high) for g in grid):
        raise UsageError(f"{where}: parameter {name!r} has grid values outside [{low}, {high}]")
    return Parameter(name, dist, grid=tuple(grid) if grid is not None else None)


def _parse_wandb(data: dict[str, Any], where: str) -> SearchSpace:
    """W&B's sweep configuration, with W&B's own semantics (see the README's translation table)."""
    for key in data:
        if key in _WANDB_REFUSED:
            why = _WANDB_REFUSED[key]
            raise UsageError(f"{where}: sweep key {key!r} cannot be honoured: {why}")
    unknown = sorted(set(data) - _WANDB_TOP)
    if unknown:
        raise UsageError(f"{where}: unknown sweep key {unknown[0]!r}")
    method = data.get("method")
    if method == "custom":
        raise UsageError(f"{where}: method custom (W&B's Optuna/Ax schedulers) cannot be honoured; "
                         "use grid, random or bayes")  # fmt: skip
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        raise UsageError(f"{where}: method {method!r}; expected one of: {', '.join(METHODS)}")
    metric, goal = _parse_metric(data.get("metric"), where)
    if "program" in data and not isinstance(data["program"], str):
        raise UsageError(
            f"{where}: program {data['program']!r} must be the path of the script to run (text)"
        )
    if "command" in data and not isinstance(data["command"], list):
        raise UsageError(
            f'{where}: command must be a list of items, e.g. ["${{env}}", "${{interpreter}}", '
            f'"${{program}}", "${{args}}"]; it is {type(data["command"]).__name__} '
            f"{data['command']!r} (W&B refuses a string too)"
        )
    run_cap = data.get("run_cap")
    if not at_least(1, optional=True)(run_cap):
        raise UsageError(f"{where}: run_cap {run_cap!r}; expected a positive integer")
    early = data.get("early_terminate")
    if early is not None:
        if metric is None:
            raise UsageError(f"{where}: early_terminate needs a metric to compare runs by")
        early = wandb_hyperband(early, where)
    grid = method == "grid"
    if not isinstance(data["parameters"], dict) or not data["parameters"]:
        raise UsageError(f"{where}: parameters must be a non-empty mapping")
    flat = sorted(_flatten_wandb(data["parameters"], where, (), grid), key=lambda p: p.path or ())
    parameters = {p.name: p for p in flat}
    if len(parameters) < len(flat):
        twice = next(n for n in parameters if sum(p.name == n for p in flat) > 1)
        raise UsageError(f"{where}: a nested parameter and a dotted name are both {twice!r}")
    if method == "bayes" and metric is None:
        raise UsageError(f"{where}: method bayes needs a metric (W&B's too)")
    program: dict[str, Any] = {k: data[k] for k in ("program", "command") if k in data}
    space = SearchSpace(
        parameters, METHODS[method] if method else None, metric, goal, early, program=program
    )
    space.run_cap = run_cap
    if "name" in data:
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise UsageError(f"{where}: name {data['name']!r}; expected the sweep's name (text)")
        space.name = data["name"]
    return space


#: W&B keys dno refuses, and why.
_WANDB_REFUSED = {
    "metrics": "several metrics need W&B's method custom; use dno search --search multi with "
    "--objectives for dno's own models",
    "scheduler": "W&B's custom schedulers (Optuna/Ax engines) run on W&B's servers",
    "job": "W&B Launch jobs run on W&B's servers; give program: instead",
    "image_uri": "W&B Launch images run on W&B's servers; give program: instead",
}


def _parse_metric(spec: Any, where: str) -> tuple[str | None, str]:
    if spec is None:
        return None, "minimize"
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise UsageError(f"{where}: metric must be a mapping with a 'name'")
    for key in ("target", "impute", "impute_while_running"):
        if key in spec:
            raise UsageError(
                f"{where}: metric {key} cannot be honoured: dno runs exactly n_trials (or "
                "run_cap) trials and records a failed trial as failed; remove it"
            )
    bad = sorted(set(spec) - {"name", "goal"})
    if bad:
        raise UsageError(f"{where}: metric has unknown key {bad[0]!r}")
    goal = spec.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise UsageError(f"{where}: metric goal {goal!r}; expected minimize or maximize")
    return spec["name"], str(goal)


def _flatten_wandb(
    params: dict[str, Any], where: str, prefix: tuple[str, ...], grid: bool
) -> Iterator[Parameter]:
    """W&B's parameters: nested ``parameters`` blocks keep their path (passed nested, as W&B
    does); a dotted name is one name (``model.n_layers=7``)."""
    for name, spec in params.items():
        path = (*prefix, str(name))
        if isinstance(spec, dict) and "parameters" in spec:
            if len(spec) > 1 or not isinstance(spec["parameters"], dict) or not spec["parameters"]:
                raise UsageError(
                    f"{where}: nested parameter {'.'.join(path)!r} must hold only a non-empty "
                    "parameters mapping"
                )
            yield from _flatten_wandb(spec["parameters"], where, path, grid)
        else:
            parameter = _parse_wandb_parameter(".".join(path), spec, where, grid)
            yield replace(parameter, path=path)


def _parse_wandb_parameter(name: str, spec: Any, where: str, grid: bool) -> Parameter:
    if not isinstance(spec, dict):
        raise UsageError(f"{where}: parameter {name!r} must be a mapping (values/value/min/max)")
    unknown = sorted(set(spec) - _WANDB_KEYS)
    if unknown:
        raise UsageError(f"{where}: parameter {name!r} has unknown key {unknown[0]!r}")
    dist = spec.get("distribution")
    if "value" in spec:
        if dist not in (None, "constant") or len(set(spec) - {"distribution"}) > 1:
            raise UsageError(f"{where}: parameter {name!r} is constant (value) and searched")
        return Parameter(name, value=spec["value"])
    if dist == "constant":
        raise UsageError(f"{where}: parameter {name!r}: distribution constant needs a value")
    if "values" in spec:
        return _categorical(name, spec, dist, where, grid)
    if dist is None:
        low, high = spec.get("min"), spec.get("max")
        _check_numbers(name, {"min": low, "max": high}, where)
        dist = "int_uniform" if isinstance(low, int) and isinstance(high, int) else "uniform"
    if not isinstance(dist, str) or dist not in _WANDB_DISTRIBUTIONS:
        raise UsageError(
            f"{where}: parameter {name!r} has unknown distribution {dist!r}; W&B's are: "
            f"{', '.join(_WANDB_DISTRIBUTIONS)}"
        )
    allowed = _WANDB_DISTRIBUTIONS[dist]
    extra = sorted(set(spec) - set(allowed) - {"distribution"})
    if extra:
        raise UsageError(f"{where}: parameter {name!r}: distribution {dist} takes "
                         f"{', '.join(allowed)}, not {extra[0]!r}")  # fmt: skip
    settings = {k: spec.get(k, default) for k, default in allowed.items()}
    _check_numbers(name, settings, where)
    if grid:
        return _wandb_grid_parameter(name, dist, settings, where)
    return _wandb_distribution(name, dist, settings, where)


#: W&B's distributions with their settings and defaults (None: required).
_WANDB_DISTRIBUTIONS: dict[str, dict[str, Any]] = {
    "int_uniform": {"min": None, "max": None},
    "uniform": {"min": None, "max": None},
    "q_uniform": {"min": None, "max": None, "q": 1.0},
    "log_uniform_values": {"min": None, "max": None},
    "q_log_uniform_values": {"min": None, "max": None, "q": 1.0},
    "inv_log_uniform_values": {"min": None, "max": None},
    "log_uniform": {"min": None, "max": None},
    "q_log_uniform": {"min": None, "max": None, "q": 1.0},
    "inv_log_uniform": {"min": None, "max": None},
    "normal": {"mu": 0.0, "sigma": 1.0},
    "q_normal": {"mu": 0.0, "sigma": 1.0, "q": 1.0},
    "log_normal": {"mu": 0.0, "sigma": 1.0},
    "q_log_normal": {"mu": 0.0, "sigma": 1.0, "q": 1.0},
    "beta": {"a": 1.0, "b": 1.0},
    "q_beta": {"a": 1.0, "b": 1.0, "q": 1.0},
    "categorical": {"values": None},
    "categorical_w_probabilities": {"values": None, "probabilities": None},
}
#: Sampled through W&B's own inverse CDF of a quantile u in (0, 1) that Optuna searches.
QUANTILE = FloatDistribution(1e-6, 1 - 1e-6)


def _check_numbers(name: str, settings: dict[str, Any], where: str) -> None:
    """Every numeric setting is a finite number; YAML text such as ``5e-4`` is explained."""
    for key, value in settings.items():
        if key in ("values", "probabilities"):
            continue
        if value is None:
            raise UsageError(f"{where}: parameter {name!r} needs {key}")
        _check_text(name, {key: value}, where)
        if not is_number(value):
            raise UsageError(f"{where}: parameter {name!r}: {key} {value!r}; expected a number")


def _check_text(name: str, settings: dict[str, Any], where: str) -> None:
    """A number written so that YAML reads it as text (``5e-4``) is an error saying why and how."""
    for key, value in settings.items():
        if not isinstance(value, str):
            continue
        try:
            float(value)
        except ValueError:
            continue
        raise UsageError(
            f"{where}: parameter {name!r}: {key}: {value} is read as text, not a number: YAML "
            "(PyYAML, which W&B also uses) reads a number without a decimal point and a signed "
            f"exponent as a string; write {_yaml_float(value)} or !!float {value}"
        )


def _yaml_float(text: str) -> str:
    """``5e-4`` -> ``5.0e-4``, ``1e5`` -> ``1.0e+5``: what PyYAML reads as a float."""
    mantissa, _, exponent = text.lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}" if exponent else mantissa


def _primitive(values: list[Any]) -> bool:
    """Values Optuna can hold as categorical choices (distinct scalars)."""
    scalar = all(v is None or isinstance(v, bool | int | float | str) for v in values)
    return scalar and len({(type(v), v) for v in values}) == len(values)


def _categorical(name: str, spec: dict[str, Any], dist: Any, where: str, grid: bool) -> Parameter:
    values = spec["values"]
    if not isinstance(values, list) or not values:
        raise UsageError(f"{where}: parameter {name!r} needs a non-empty values list")
    if "probabilities" in spec or dist == "categorical_w_probabilities":
        probabilities = spec.get("probabilities")
        if grid:
            raise UsageError(f"{where}: parameter {name!r}: probabilities are not allowed in a "
                             "grid search (W&B refuses them too)")  # fmt: skip
        if (
            not isinstance(probabilities, list)
            or len(probabilities) != len(values)
            or not all(is_number(p) and p >= 0 for p in probabilities)
            or abs(sum(probabilities) - 1.0) > 1e-6
        ):
            raise UsageError(
                f"{where}: parameter {name!r}: probabilities must be {len(values)} non-negative "
                "numbers summing to 1, one per value"
            )
        transform = {"distribution": "categorical_w_probabilities", "values": values,
                     "probabilities": probabilities}  # fmt: skip
        return Parameter(name, QUANTILE, transform=transform)
    if dist not in (None, "categorical"):
        raise UsageError(f"{where}: parameter {name!r}: values with distribution {dist!r}")
    if grid:  # W&B runs each distinct value once
        unique = [v for i, v in enumerate(values) if v not in values[:i]]
        values = unique if _primitive(unique) else values
    if _primitive(values):
        return Parameter(name, CategoricalDistribution(values), grid=tuple(values))
    # lists, mappings or repeated values: Optuna searches the index (each listed item equally
    # likely, as in W&B), the program receives the value
    indices = list(range(len(values)))
    return Parameter(name, CategoricalDistribution(indices), grid=tuple(indices),
                     transform={"distribution": "categorical", "values": values})  # fmt: skip


def _wandb_grid_parameter(name: str, dist: str, settings: dict[str, Any], where: str) -> Parameter:
    """W&B's grid: int_uniform is every integer of [min, max]; q_uniform is numpy's
    ``arange(min, max, q)`` (max excluded, as in W&B); nothing else can be enumerated."""
    if dist == "int_uniform":
        low, high = settings["min"], settings["max"]
        if not (isinstance(low, int) and isinstance(high, int)) or low > high:
            raise UsageError(f"{where}: parameter {name!r}: int_uniform needs integers min <= max")
        check_count(high - low + 1, MAX_GRID_SIZE, f"{where}: grid values of {name!r}:")
        values: list[Any] = list(range(low, high + 1))
    elif dist == "q_uniform":
        import numpy as np

        if settings["q"] <= 0 or settings["min"] >= settings["max"]:
            raise UsageError(f"{where}: parameter {name!r}: q_uniform needs min < max and q > 0")
        count = math.ceil((settings["max"] - settings["min"]) / settings["q"])
        check_count(count, MAX_GRID_SIZE, f"{where}: grid values of {name!r}:")
        values = np.arange(settings["min"], settings["max"], settings["q"]).tolist()
    else:
        raise UsageError(
            f"{where}: parameter {name!r} has distribution {dist}, which a grid cannot enumerate; "
            "W&B's grid takes values, value, int_uniform and q_uniform only"
        )
    return Parameter(name, CategoricalDistribution(values), grid=tuple(values))


def _wandb_distribution(name: str, dist: str, s: dict[str, Any], where: str) -> Parameter:
    """Random and Bayesian search: Optuna's own distribution where it has the same law as W&B's,
    else a quantile mapped through W&B's inverse CDF (identical law under random search)."""
    if "min" in s and not s["min"] < s["max"]:
        raise UsageError(f"{where}: parameter {name!r} has an empty range [{s['min']}, "
                         f"{s['max']}]; expected min < max")  # fmt: skip
    if dist.endswith("_values") and s["min"] <= 0:
        raise UsageError(f"{where}: parameter {name!r}: {dist} needs min > 0 (got {s['min']})")
    if ("sigma" in s and s["sigma"] <= 0) or ("q" in s and s["q"] <= 0):
        raise UsageError(f"{where}: parameter {name!r}: {dist} needs sigma > 0 and q > 0")
    if ("a" in s and s["a"] <= 0) or ("b" in s and s["b"] <= 0):
        raise UsageError(f"{where}: parameter {name!r}: {dist} needs a > 0 and b > 0")
    low, high = s.get("min", 0.0), s.get("max", 1.0)
    if dist == "int_uniform":
        if not (isinstance(low, int) and isinstance(high, int)):
            raise UsageError(f"{where}: parameter {name!r}: int_uniform needs integer min and max")
        return _numeric(name, "int", low, high, False, None, None, where)
    if dist == "uniform":
        return _numeric(name, "float", low, high, False, None, None, where)
    # log-uniform on [min, max]; W&B's inv_ forms have the same law (1/x of a log-uniform)
    if dist in ("log_uniform_values", "inv_log_uniform_values"):
        return _numeric(name, "float", low, high, True, None, None, where)
    if dist == "log_uniform":  # min and max are natural-log exponents
        return _numeric(name, "float", math.exp(low), math.exp(high), True, None, None, where)
    if dist == "inv_log_uniform":  # exp(-U(min, max))
        return _numeric(name, "float", math.exp(-high), math.exp(-low), True, None, None, where)
    return Parameter(name, QUANTILE, transform={"distribution": dist, **s})


def wandb_ppf(transform: dict[str, Any], u: Any) -> Any:
    """W&B's value at quantile ``u`` (its ``HyperParameter.ppf``), as a Python scalar."""
    import numpy as np
    from scipy import stats

    dist = transform["distribution"]
    if dist == "categorical":
        return transform["values"][int(u)]
    if dist == "categorical_w_probabilities":
        cdf = np.cumsum(transform["probabilities"])
        return transform["values"][int(np.argmin(u >= cdf))]
    base = dist.removeprefix("q_")
    if base == "normal":
        r = stats.norm.ppf(u, loc=transform["mu"], scale=transform["sigma"])
    elif base == "log_normal":
        r = stats.lognorm.ppf(u, s=transform["sigma"], scale=np.exp(transform["mu"]))
    elif base == "beta":
        r = stats.beta.ppf(u, a=transform["a"], b=transform["b"])
    elif base == "uniform":
        r = stats.uniform.ppf(u, transform["min"], transform["max"] - transform["min"])
    elif base == "log_uniform":
        r = np.exp(stats.uniform.ppf(u, transform["min"], transform["max"] - transform["min"]))
    elif base == "log_uniform_values":
        low, high = np.log(transform["min"]), np.log(transform["max"])
        r = np.exp(stats.uniform.ppf(u, low, high - low))
    else:
        raise DnoError(f"unknown W&B distribution {dist!r}")
    if dist.startswith("q_"):
        q = transform["q"]
        r = np.round(r / q) * q
        return int(r) if isinstance(q, int) else float(r)
    return float(r)


def wandb_hyperband(spec: Any, where: str) -> dict[str, Any]:
    """W&B's hyperband: the iterations (``bands``) at which runs are compared, and ``eta``.

    ``max_iter`` with ``s``: ``max_iter / eta**i`` for i = 1..s (those >= 1), ascending.
    ``min_iter``: ``min_iter * eta**i`` for i = 0, 1, ...  ``eta`` defaults to 3.
    """
    if not isinstance(spec, dict) or spec.get("type") != "hyperband":
        raise UsageError(f"{where}: early_terminate must be {{type: hyperband, ...}} "
                         "(W&B's only kind)")  # fmt: skip
    unknown = sorted(set(spec) - {"type", "min_iter", "max_iter", "eta", "s", "strict"})
    if unknown:
        raise UsageError(f"{where}: early_terminate has unknown key {unknown[0]!r}")
    eta = spec.get("eta", 3)
    if not is_number(eta) or eta <= 1:
        raise UsageError(f"{where}: early_terminate eta {eta!r}; expected a number > 1")
    for key in ("min_iter", "max_iter", "s"):
        value = spec.get(key)
        if not at_least(1, optional=True)(value):
            raise UsageError(f"{where}: early_terminate {key} {value!r}; expected an integer >= 1")
    if "strict" in spec and not isinstance(spec["strict"], bool):
        raise UsageError(f"{where}: early_terminate strict must be true or false")
    if "max_iter" in spec:
        if "s" not in spec:
            raise UsageError(
                f"{where}: early_terminate max_iter needs s (the number of brackets counted back "
                "from max_iter), as in W&B, whose engine fails without it; or drop max_iter to "
                "use min_iter's brackets (min_iter, min_iter*eta, ...)"
            )
        bands, band = [], float(spec["max_iter"])
        for _ in range(spec["s"]):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        bands.sort()
    elif "min_iter" in spec:
        bands, band = [], float(spec["min_iter"])
        while band <= 1e9 and len(bands) < 100:
            bands.append(int(band))
            band *= eta
    else:
        raise UsageError(f"{where}: early_terminate needs min_iter, or max_iter with s")
    if not bands:
        raise UsageError(f"{where}: early_terminate gives no bracket (max_iter / eta < 1); "
                         "increase max_iter or decrease eta")  # fmt: skip
    return {"type": "hyperband", "bands": bands, "eta": eta}
