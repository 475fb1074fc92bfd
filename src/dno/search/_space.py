"""Search spaces: dno's YAML format and W&B's sweep format, translated to Optuna distributions.

dno's format uses Optuna's own names::

    parameters:
      lr:         {type: float, low: 1.0e-4, high: 3.0e-3, log: true, grid: [3.0e-4, 1.0e-3]}
      batch_size: {type: categorical, choices: [16, 32, 64]}
      layers:     {type: int, low: 2, high: 4}
      dropout:    {type: float, low: 0.0, high: 0.2, step: 0.1}
      S:          {value: 32}                # fixed

W&B's sweep format (``method``, ``metric``, ``parameters`` with ``values`` / ``value`` /
``distribution`` with ``min`` / ``max`` / ``q`` / ``mu`` / ``sigma``, ``early_terminate``) is
accepted as is. Every key is honoured or refused with an error naming it; nothing is ignored.
A grid search enumerates every combination of declared values: categorical choices, whole
integer ranges, stepped float ranges, or a float range's explicit ``grid`` values.
"""

from __future__ import annotations

import itertools
import math
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
    distribution_to_json,
    json_to_distribution,
)

from dno._io import read_user_text
from dno._limits import MAX_GRID_SIZE, check_count
from dno.errors import UsageError

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
_WANDB_KEYS = {"values", "value", "distribution", "min", "max", "q", "mu", "sigma", "probabilities"}
_WANDB_TOP = {"method", "metric", "parameters", "early_terminate", "name", "description",
              "program", "command", "project", "entity", "run_cap"}  # fmt: skip


@dataclass(frozen=True)
class Parameter:
    """One searched (or fixed) parameter.

    Attributes:
        name: the config key it sets.
        distribution: the Optuna distribution, or None for a fixed value.
        value: the fixed value (when ``distribution`` is None).
        grid: the values a grid search visits (None: not enumerable).
        transform: ``normal`` / ``log_normal`` with (mu, sigma) for W&B's normal distributions,
            searched as a quantile in (0, 1) and mapped through the inverse normal CDF.
    """

    name: str
    distribution: BaseDistribution | None = None
    value: Any = None
    grid: tuple[Any, ...] | None = None
    transform: tuple[str, float, float] | None = None

    def to_config_value(self, sampled: Any) -> Any:
        """The config value for a sampled value (applies the normal transform if any)."""
        if self.transform is None:
            return sampled
        kind, mu, sigma = self.transform
        z = mu + sigma * _inverse_normal_cdf(float(sampled))
        return math.exp(z) if kind == "log_normal" else z


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
                    out[name]["transform"] = list(p.transform)
        return out


def space_from_description(description: dict[str, Any]) -> SearchSpace:
    """Rebuild a space from :meth:`SearchSpace.describe` (what a study stores)."""
    parameters = {}
    for name, spec in description.items():
        if "value" in spec:
            parameters[name] = Parameter(name, value=spec["value"])
            continue
        transform = spec.get("transform")
        parameters[name] = Parameter(
            name,
            json_to_distribution(spec["distribution"]),
            grid=tuple(spec["grid"]) if "grid" in spec else None,
            transform=(str(transform[0]), float(transform[1]), float(transform[2]))
            if transform
            else None,
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
    target = Path(path)
    if not target.is_file():
        raise UsageError(f"search space file {str(target)!r} does not exist")
    try:
        data = yaml.safe_load(read_user_text(target, "search space file"))
    except yaml.YAMLError as error:
        raise UsageError(f"search space file {str(target)!r} is not valid YAML: {error}") from None
    space = parse_space(data, str(target))
    space.source = str(target)
    return space


def parse_space(data: Any, where: str = "search space") -> SearchSpace:
    """Parse a mapping in dno's format or W&B's sweep format."""
    if not isinstance(data, dict) or not isinstance(data.get("parameters"), dict):
        raise UsageError(f"{where}: expected a mapping with a 'parameters' mapping")
    wandb = any(k in data for k in ("method", "metric", "early_terminate", "program")) or any(
        isinstance(spec, dict) and set(spec) & (_WANDB_KEYS - {"value"})
        for spec in data["parameters"].values()
    )
    if wandb:
        return _parse_wandb(data, where)
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


def _number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _bounds(name: str, low: Any, high: Any, where: str) -> tuple[float, float]:
    if not (_number(low) and _number(high)):
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
    if grid is not None and (not isinstance(grid, list) or not grid or not all(map(_number, grid))):
        raise UsageError(f"{where}: parameter {name!r}: grid must be a non-empty list of numbers")
    if step is not None:
        whole = kind == "int"
        if not _number(step) or step <= 0 or (whole and step != int(step)):
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
    unknown = sorted(set(data) - _WANDB_TOP)
    if unknown:
        raise UsageError(f"{where}: unknown sweep key {unknown[0]!r}")
    method = data.get("method")
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        raise UsageError(f"{where}: method {method!r}; expected one of: {', '.join(METHODS)}")
    metric, goal = None, "minimize"
    if "metric" in data:
        spec = data["metric"]
        if not isinstance(spec, dict) or "name" not in spec:
            raise UsageError(f"{where}: metric must be a mapping with a 'name'")
        bad = sorted(set(spec) - {"name", "goal", "target"})
        if bad:
            raise UsageError(f"{where}: metric has unknown key {bad[0]!r}")
        metric, goal = str(spec["name"]), str(spec.get("goal", "minimize"))
        if goal not in ("minimize", "maximize"):
            raise UsageError(f"{where}: metric goal {goal!r}; expected minimize or maximize")
    early = data.get("early_terminate")
    if early is not None:
        _check_early_terminate(early, where)
    parameters = dict(_flatten_wandb(data["parameters"], where))
    program: dict[str, Any] = {k: data[k] for k in ("program", "command") if k in data}
    return SearchSpace(
        parameters, METHODS[method] if method else None, metric, goal, early, program=program
    )


def _flatten_wandb(
    params: dict[str, Any], where: str, prefix: str = ""
) -> Iterator[tuple[str, Parameter]]:
    for name, spec in params.items():
        full = f"{prefix}{name}"
        if isinstance(spec, dict) and "parameters" in spec:
            if len(spec) > 1:
                raise UsageError(f"{where}: nested parameter {full!r} has keys besides parameters")
            yield from _flatten_wandb(spec["parameters"], where, prefix=f"{full}.")
        else:
            yield full, _parse_wandb_parameter(full, spec, where)


def _parse_wandb_parameter(name: str, spec: Any, where: str) -> Parameter:
    if not isinstance(spec, dict):
        raise UsageError(f"{where}: parameter {name!r} must be a mapping (values/value/min/max)")
    unknown = sorted(set(spec) - _WANDB_KEYS)
    if unknown:
        raise UsageError(f"{where}: parameter {name!r} has unknown key {unknown[0]!r}")
    dist = spec.get("distribution")
    if "value" in spec or dist == "constant":
        return Parameter(name, value=spec.get("value"))
    if "probabilities" in spec:
        raise UsageError(
            f"{where}: parameter {name!r}: 'probabilities' cannot be honoured (Optuna samples "
            "categorical values without weights)"
        )
    if "values" in spec or dist == "categorical":
        values = spec.get("values")
        if not isinstance(values, list) or not values:
            raise UsageError(f"{where}: parameter {name!r} needs a non-empty values list")
        return Parameter(name, CategoricalDistribution(values), grid=tuple(values))
    if dist is None:
        low, high = spec.get("min"), spec.get("max")
        dist = "int_uniform" if isinstance(low, int) and isinstance(high, int) else "uniform"
    return _wandb_distribution(name, str(dist), spec, where)


def _wandb_distribution(name: str, dist: str, spec: Mapping[str, Any], where: str) -> Parameter:
    if dist in ("normal", "log_normal"):
        mu, sigma = spec.get("mu", 0.0), spec.get("sigma", 1.0)
        if not (isinstance(sigma, int | float) and sigma > 0 and isinstance(mu, int | float)):
            raise UsageError(f"{where}: parameter {name!r} needs numeric mu and sigma > 0")
        quantile = FloatDistribution(1e-6, 1 - 1e-6)
        return Parameter(name, quantile, transform=(dist, float(mu), float(sigma)))
    low, high = _bounds(name, spec.get("min"), spec.get("max"), where)
    q = spec.get("q")
    if dist == "int_uniform":
        return _numeric(name, "int", low, high, False, q, None, where)
    if dist == "uniform":
        return _numeric(name, "float", low, high, False, None, None, where)
    if dist == "q_uniform":
        return _numeric(name, "float", low, high, False, q or 1.0, None, where)
    if dist == "log_uniform_values":
        return _numeric(name, "float", low, high, True, None, None, where)
    if dist == "log_uniform":  # min and max are natural-log exponents
        return _numeric(name, "float", math.exp(low), math.exp(high), True, None, None, where)
    if dist in ("inv_log_uniform", "inv_log_uniform_values", "q_log_uniform", "q_normal",
                "q_log_normal", "q_log_uniform_values", "beta", "q_beta"):  # fmt: skip
        raise UsageError(
            f"{where}: parameter {name!r}: distribution {dist!r} cannot be honoured on Optuna"
        )
    raise UsageError(f"{where}: parameter {name!r} has unknown distribution {dist!r}")


def _check_early_terminate(spec: Any, where: str) -> None:
    if not isinstance(spec, dict) or spec.get("type") != "hyperband":
        raise UsageError(f"{where}: early_terminate must be {{type: hyperband, ...}}")
    unknown = sorted(set(spec) - {"type", "min_iter", "max_iter", "eta", "s", "strict"})
    if unknown:
        raise UsageError(f"{where}: early_terminate has unknown key {unknown[0]!r}")
    if spec.get("strict"):
        raise UsageError(f"{where}: early_terminate strict: true cannot be honoured")


def _inverse_normal_cdf(p: float) -> float:
    """The standard normal quantile function (scipy's ndtri)."""
    from scipy.special import ndtri

    return float(ndtri(p))
