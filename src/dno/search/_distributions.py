"""W&B's distributions, each one class on one interface, and the :class:`Parameter` they make.

A distribution names itself on its class line, which registers it in :data:`DISTRIBUTIONS`
(``class Normal(_Quantile, name="normal")``), and declares its settings with their defaults.
Its operations:

- :meth:`Distribution.parse`: a sweep file's mapping -> a checked :class:`Parameter` (unknown
  settings refused, defaults filled in, every number checked, then W&B's own rules);
- :meth:`Distribution.search`: what Optuna searches in a random or Bayesian search, Optuna's own
  distribution where it has W&B's law (``uniform``: ``FloatDistribution``), else a quantile u in
  :data:`QUANTILE` with a transform ``{"distribution": NAME, **settings}``;
- :meth:`Distribution.grid_values`: the values W&B's grid visits (most have none);
- :meth:`Distribution.value`: the value at what Optuna sampled (W&B's inverse CDF at u).

What a study stores, and compares on resume, is :meth:`Parameter.describe`: Optuna's JSON of
the searched distribution, the grid and the transform; :meth:`Parameter.from_description`
rebuilds the parameter, and its transform finds its distribution here by name.
A new distribution is one class here and its test.
"""

from __future__ import annotations

import math
import types
from dataclasses import dataclass
from typing import Any, ClassVar

from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    distribution_to_json,
    json_to_distribution,
)

from dno._limits import MAX_GRID_SIZE, check_count, is_number
from dno.errors import DnoError, UsageError
from dno.search._ranges import check_numbers, numeric_range

__all__ = ["DISTRIBUTIONS", "QUANTILE", "Distribution", "Parameter"]

#: Sampled through W&B's own inverse CDF of a quantile u in (0, 1) that Optuna searches.
QUANTILE = FloatDistribution(1e-6, 1 - 1e-6)


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
            value's index) and the distribution's :meth:`Distribution.value` maps it to the
            value, as W&B's sampler does.
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
        if self.transform is None:
            return sampled
        distribution = DISTRIBUTIONS.get(self.transform["distribution"])
        if distribution is None:
            raise DnoError(f"unknown W&B distribution {self.transform['distribution']!r}")
        return distribution.value(self.transform, sampled)

    def describe(self) -> dict[str, Any]:
        """A JSON-able description (stored with the study, compared on resume)."""
        out: dict[str, Any]
        if self.distribution is None:
            out = {"value": self.value}
        else:
            out = {"distribution": distribution_to_json(self.distribution)}
            if self.grid is not None:
                out["grid"] = list(self.grid)
            if self.transform is not None:
                out["transform"] = dict(self.transform)
        if self.path is not None and len(self.path) > 1:
            out["path"] = list(self.path)
        return out

    @classmethod
    def from_description(cls, name: str, spec: dict[str, Any]) -> Parameter:
        """The parameter :meth:`describe` described."""
        path = tuple(spec["path"]) if "path" in spec else None
        if "value" in spec:
            return cls(name, value=spec["value"], path=path)
        transform = spec.get("transform")
        if isinstance(transform, list):  # studies made before W&B's other distributions
            transform = {"distribution": transform[0], "mu": transform[1], "sigma": transform[2]}
        return cls(
            name,
            json_to_distribution(spec["distribution"]),
            grid=tuple(spec["grid"]) if "grid" in spec else None,
            transform=transform,
            path=path,
        )


#: W&B's distribution names -> their distribution, in the order they are declared below.
DISTRIBUTIONS: dict[str, Distribution] = {}


class Distribution:
    """One of W&B's distributions (``distribution: NAME`` in a sweep file).

    A subclass names itself on its class line, which registers one instance in
    :data:`DISTRIBUTIONS`, sets :attr:`settings`, and overrides :meth:`search` (and
    :meth:`grid_values`, :meth:`value` where it has them, :meth:`parse` where its settings are
    not numbers).
    """

    #: W&B's name (``distribution: NAME``)
    name: ClassVar[str] = ""
    #: the settings it takes and their defaults (None: required), in W&B's order
    settings: ClassVar[dict[str, Any]] = {}
    #: min and max are values on a log scale, so min > 0
    log_values: ClassVar[bool] = False

    def __init_subclass__(cls, name: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:  # else a base of several (its subclasses name themselves)
            cls.name = name
            DISTRIBUTIONS[name] = cls()

    def parse(self, name: str, spec: dict[str, Any], where: str, grid: bool) -> Parameter:
        """The parameter ``name`` that ``spec`` (a sweep file's mapping) declares.

        Args:
            name: the parameter's (maybe dotted) name; where: the file; both for the errors.
            grid: for W&B's grid search (:meth:`grid_values`), else random or Bayesian search.

        Raises:
            UsageError: one line naming the file, the parameter and the bad setting.
        """
        extra = sorted(set(spec) - set(self.settings) - {"distribution"})
        if extra:
            raise UsageError(f"{where}: parameter {name!r}: distribution {self.name} takes "
                             f"{', '.join(self.settings)}, not {extra[0]!r}")  # fmt: skip
        settings = {k: spec.get(k, default) for k, default in self.settings.items()}
        check_numbers(name, settings, where)
        if grid:
            values = self.grid_values(name, settings, where)
            return Parameter(name, CategoricalDistribution(values), grid=tuple(values))
        self.check(name, settings, where)
        return self.search(name, settings, where)

    def check(self, name: str, s: dict[str, Any], where: str) -> None:
        """W&B's rules on the (numeric) settings ``s`` of a random or Bayesian search."""
        if "min" in s and not s["min"] < s["max"]:
            raise UsageError(f"{where}: parameter {name!r} has an empty range [{s['min']}, "
                             f"{s['max']}]; expected min < max")  # fmt: skip
        if self.log_values and s["min"] <= 0:
            raise UsageError(f"{where}: parameter {name!r}: {self.name} needs min > 0 "
                             f"(got {s['min']})")  # fmt: skip
        if ("sigma" in s and s["sigma"] <= 0) or ("q" in s and s["q"] <= 0):
            raise UsageError(f"{where}: parameter {name!r}: {self.name} needs sigma > 0 and q > 0")
        if ("a" in s and s["a"] <= 0) or ("b" in s and s["b"] <= 0):
            raise UsageError(f"{where}: parameter {name!r}: {self.name} needs a > 0 and b > 0")

    def search(self, name: str, s: dict[str, Any], where: str) -> Parameter:
        """The parameter a random or Bayesian search samples, from checked settings ``s``."""
        raise NotImplementedError

    def grid_values(self, name: str, s: dict[str, Any], where: str) -> list[Any]:
        """The values W&B's grid visits, in W&B's order; most distributions have none."""
        *others, last = [n for n, d in DISTRIBUTIONS.items() if d.has_grid()]
        raise UsageError(
            f"{where}: parameter {name!r} has distribution {self.name}, which a grid cannot "
            f"enumerate; W&B's grid takes values, value, {', '.join(others)} and {last} only"
        )

    @classmethod
    def has_grid(cls) -> bool:
        """W&B's grid enumerates it (it overrides :meth:`grid_values`)."""
        return cls.grid_values is not Distribution.grid_values

    def value(self, transform: dict[str, Any], sampled: Any) -> Any:
        """The config value at what Optuna sampled for a parameter with this ``transform``."""
        raise DnoError(f"W&B distribution {self.name} is sampled by Optuna; it has no transform")


def _range(name: str, kind: str, low: float, high: float, log: bool, where: str) -> Parameter:
    distribution, grid = numeric_range(name, kind, low, high, log, None, None, where)
    return Parameter(name, distribution, grid=grid)


class Constant(Distribution, name="constant"):
    """``value``: the same value in every run (``distribution: constant`` may be left out)."""

    settings: ClassVar[dict[str, Any]] = {"value": None}

    def parse(self, name: str, spec: dict[str, Any], where: str, grid: bool) -> Parameter:
        if "value" not in spec:
            raise UsageError(f"{where}: parameter {name!r}: distribution constant needs a value")
        if (
            spec.get("distribution") not in (None, "constant")
            or len(set(spec) - {"distribution"}) > 1
        ):
            raise UsageError(f"{where}: parameter {name!r} is constant (value) and searched")
        return Parameter(name, value=spec["value"])


def _values(name: str, spec: dict[str, Any], where: str) -> list[Any]:
    values = spec.get("values")
    if not isinstance(values, list) or not values:
        raise UsageError(f"{where}: parameter {name!r} needs a non-empty values list")
    return values


def _primitive(values: list[Any]) -> bool:
    """Values Optuna can hold as categorical choices (distinct scalars)."""
    scalar = all(v is None or isinstance(v, bool | int | float | str) for v in values)
    return scalar and len({(type(v), v) for v in values}) == len(values)


class Categorical(Distribution, name="categorical"):
    """``values``: each listed item equally likely; a grid runs each distinct value once.

    Distinct scalars are Optuna's choices; lists, mappings or repeated values are searched by
    index (each listed item equally likely, as in W&B) and the program receives the value.
    """

    settings: ClassVar[dict[str, Any]] = {"values": None}

    def parse(self, name: str, spec: dict[str, Any], where: str, grid: bool) -> Parameter:
        values = _values(name, spec, where)
        named = spec.get("distribution")
        if named not in (None, "categorical"):
            raise UsageError(f"{where}: parameter {name!r}: values with distribution {named!r}")
        if grid:  # W&B runs each distinct value once
            unique = [v for i, v in enumerate(values) if v not in values[:i]]
            values = unique if _primitive(unique) else values
        if _primitive(values):
            return Parameter(name, CategoricalDistribution(values), grid=tuple(values))
        indices = list(range(len(values)))
        return Parameter(name, CategoricalDistribution(indices), grid=tuple(indices),
                         transform={"distribution": self.name, "values": values})  # fmt: skip

    def value(self, transform: dict[str, Any], sampled: Any) -> Any:
        return transform["values"][int(sampled)]


class WeightedCategorical(Distribution, name="categorical_w_probabilities"):
    """``values`` with ``probabilities`` (implied by them): W&B's inverse CDF of a quantile;
    refused in a grid, as by W&B."""

    settings: ClassVar[dict[str, Any]] = {"values": None, "probabilities": None}

    def parse(self, name: str, spec: dict[str, Any], where: str, grid: bool) -> Parameter:
        values = _values(name, spec, where)
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
        transform = {"distribution": self.name, "values": values, "probabilities": probabilities}
        return Parameter(name, QUANTILE, transform=transform)

    def value(self, transform: dict[str, Any], sampled: Any) -> Any:
        import numpy as np

        cdf = np.cumsum(transform["probabilities"])
        return transform["values"][int(np.argmin(sampled >= cdf))]


class IntUniform(Distribution, name="int_uniform"):
    """Every integer of [min, max] equally likely (Optuna's IntDistribution); a grid visits each
    (min = max allowed there). Integer ``min``/``max`` without a distribution mean this."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None}

    def search(self, name: str, s: dict[str, Any], where: str) -> Parameter:
        if not (isinstance(s["min"], int) and isinstance(s["max"], int)):
            raise UsageError(f"{where}: parameter {name!r}: int_uniform needs integer min and max")
        return _range(name, "int", s["min"], s["max"], False, where)

    def grid_values(self, name: str, s: dict[str, Any], where: str) -> list[Any]:
        low, high = s["min"], s["max"]
        if not (isinstance(low, int) and isinstance(high, int)) or low > high:
            raise UsageError(f"{where}: parameter {name!r}: int_uniform needs integers min <= max")
        check_count(high - low + 1, MAX_GRID_SIZE, f"{where}: grid values of {name!r}:")
        return list(range(low, high + 1))


class Uniform(Distribution, name="uniform"):
    """Uniform on [min, max] (Optuna's FloatDistribution). Other ``min``/``max`` without a
    distribution mean this."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None}

    def search(self, name: str, s: dict[str, Any], where: str) -> Parameter:
        return _range(name, "float", s["min"], s["max"], False, where)


class LogUniformValues(Distribution, name="log_uniform_values"):
    """Log-uniform on [min, max] (Optuna's log-scaled FloatDistribution)."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None}
    log_values = True

    def search(self, name: str, s: dict[str, Any], where: str) -> Parameter:
        return _range(name, "float", s["min"], s["max"], True, where)


class InvLogUniformValues(LogUniformValues, name="inv_log_uniform_values"):
    """1/x of a log-uniform x with 1/x in [min, max]: the same law as ``log_uniform_values``."""


class LogUniform(Distribution, name="log_uniform"):
    """exp(U(min, max)): min and max are natural-log exponents (log-uniform on [e^min, e^max])."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None}

    def search(self, name: str, s: dict[str, Any], where: str) -> Parameter:
        return _range(name, "float", math.exp(s["min"]), math.exp(s["max"]), True, where)


class InvLogUniform(Distribution, name="inv_log_uniform"):
    """exp(-U(min, max)): log-uniform on [e^-max, e^-min]."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None}

    def search(self, name: str, s: dict[str, Any], where: str) -> Parameter:
        return _range(name, "float", math.exp(-s["max"]), math.exp(-s["min"]), True, where)


class _Quantile(Distribution):
    """A distribution Optuna has no equal of: Optuna searches a quantile u in :data:`QUANTILE`
    and the value is W&B's inverse CDF at u (its ``HyperParameter.ppf``): the same law under
    random search. With a ``q`` setting, W&B's ``round(x / q) * q`` (an integer q: integers).

    ``rounded=NAME`` on the class line also declares W&B's rounded twin of the distribution:
    the same law and settings plus ``q`` (default 1), registered as ``NAME`` right after it.
    """

    def __init_subclass__(cls, rounded: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if rounded is not None:
            twin = {
                "__doc__": f"round(x / q) * q of x from {cls.name}.",
                "__module__": cls.__module__,
                "settings": {**cls.settings, "q": 1.0},
            }
            types.new_class(
                f"Q{cls.__name__}", (cls,), {"name": rounded}, lambda ns: ns.update(twin)
            )

    def search(self, name: str, s: dict[str, Any], where: str) -> Parameter:
        return Parameter(name, QUANTILE, transform={"distribution": self.name, **s})

    def ppf(self, t: dict[str, Any], u: Any) -> Any:
        """The inverse CDF at ``u`` with the settings of transform ``t`` (before rounding)."""
        raise NotImplementedError

    def value(self, transform: dict[str, Any], sampled: Any) -> Any:
        import numpy as np

        r = self.ppf(transform, sampled)
        if "q" in self.settings:
            q = transform["q"]
            r = np.round(r / q) * q
            return int(r) if isinstance(q, int) else float(r)
        return float(r)


class QUniform(_Quantile, name="q_uniform"):
    """round(U(min, max) / q) * q; a grid is numpy's ``arange(min, max, q)`` (max excluded)."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None, "q": 1.0}

    def ppf(self, t: dict[str, Any], u: Any) -> Any:
        from scipy import stats

        return stats.uniform.ppf(u, t["min"], t["max"] - t["min"])

    def grid_values(self, name: str, s: dict[str, Any], where: str) -> list[Any]:
        import numpy as np

        if s["q"] <= 0 or s["min"] >= s["max"]:
            raise UsageError(f"{where}: parameter {name!r}: q_uniform needs min < max and q > 0")
        count = math.ceil((s["max"] - s["min"]) / s["q"])
        check_count(count, MAX_GRID_SIZE, f"{where}: grid values of {name!r}:")
        values: list[Any] = np.arange(s["min"], s["max"], s["q"]).tolist()
        return values


class QLogUniformValues(_Quantile, name="q_log_uniform_values"):
    """round(x / q) * q of a log-uniform x on [min, max]."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None, "q": 1.0}
    log_values = True

    def ppf(self, t: dict[str, Any], u: Any) -> Any:
        import numpy as np
        from scipy import stats

        low, high = np.log(t["min"]), np.log(t["max"])
        return np.exp(stats.uniform.ppf(u, low, high - low))


class QLogUniform(_Quantile, name="q_log_uniform"):
    """round(exp(U(min, max)) / q) * q: min and max are natural-log exponents."""

    settings: ClassVar[dict[str, Any]] = {"min": None, "max": None, "q": 1.0}

    def ppf(self, t: dict[str, Any], u: Any) -> Any:
        import numpy as np
        from scipy import stats

        return np.exp(stats.uniform.ppf(u, t["min"], t["max"] - t["min"]))


class Normal(_Quantile, name="normal", rounded="q_normal"):
    """Normal with mean ``mu`` and standard deviation ``sigma``."""

    settings: ClassVar[dict[str, Any]] = {"mu": 0.0, "sigma": 1.0}

    def ppf(self, t: dict[str, Any], u: Any) -> Any:
        from scipy import stats

        return stats.norm.ppf(u, loc=t["mu"], scale=t["sigma"])


class LogNormal(_Quantile, name="log_normal", rounded="q_log_normal"):
    """exp(N(mu, sigma))."""

    settings: ClassVar[dict[str, Any]] = {"mu": 0.0, "sigma": 1.0}

    def ppf(self, t: dict[str, Any], u: Any) -> Any:
        import numpy as np
        from scipy import stats

        return stats.lognorm.ppf(u, s=t["sigma"], scale=np.exp(t["mu"]))


class Beta(_Quantile, name="beta", rounded="q_beta"):
    """Beta(a, b) on [0, 1]."""

    settings: ClassVar[dict[str, Any]] = {"a": 1.0, "b": 1.0}

    def ppf(self, t: dict[str, Any], u: Any) -> Any:
        from scipy import stats

        return stats.beta.ppf(u, a=t["a"], b=t["b"])
