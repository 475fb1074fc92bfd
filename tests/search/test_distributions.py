"""W&B's distributions on their one interface: every registered distribution parses, searches the
Optuna distribution it always searched, maps a sample to W&B's value, survives the description
a study stores, has W&B's grid (or says it has none) and refuses bad settings in one line."""

from __future__ import annotations

import json
import math
from statistics import NormalDist
from typing import Any

import pytest
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)

from dno.errors import UsageError
from dno.search import Parameter, parse_space, space_from_description
from dno.search._distributions import DISTRIBUTIONS, QUANTILE

WHERE = "sweep.yaml"
Z = NormalDist().inv_cdf  # the standard normal's inverse CDF, independent of scipy

#: per distribution: its sweep-file mapping, the Optuna distribution searched, and
#: (what Optuna sampled, the value the run receives) by W&B's formula
EXAMPLES: dict[str, tuple[dict[str, Any], BaseDistribution | None, list[tuple[Any, Any]]]] = {
    "constant": ({"value": 7}, None, []),
    "categorical": ({"values": ["a", "b"]}, CategoricalDistribution(["a", "b"]), [("b", "b")]),
    "categorical_w_probabilities": (
        {"values": ["small", [2]], "probabilities": [0.9, 0.1]},
        QUANTILE,
        [(0.5, "small"), (0.89, "small"), (0.95, [2])],
    ),
    "int_uniform": ({"min": 1, "max": 5}, IntDistribution(1, 5), [(3, 3)]),
    "uniform": ({"min": 0.0, "max": 2.0}, FloatDistribution(0.0, 2.0), [(1.5, 1.5)]),
    "log_uniform_values": (
        {"distribution": "log_uniform_values", "min": 1e-4, "max": 0.1},
        FloatDistribution(1e-4, 0.1, log=True),
        [(0.01, 0.01)],
    ),
    "inv_log_uniform_values": (
        {"distribution": "inv_log_uniform_values", "min": 0.01, "max": 1.0},
        FloatDistribution(0.01, 1.0, log=True),
        [(0.5, 0.5)],
    ),
    "log_uniform": (
        {"distribution": "log_uniform", "min": -2.0, "max": 1.0},
        FloatDistribution(math.exp(-2.0), math.exp(1.0), log=True),
        [(1.0, 1.0)],
    ),
    "inv_log_uniform": (
        {"distribution": "inv_log_uniform", "min": 0.0, "max": 2.0},
        FloatDistribution(math.exp(-2.0), 1.0, log=True),
        [(0.5, 0.5)],
    ),
    "q_uniform": (
        {"distribution": "q_uniform", "min": 0, "max": 100, "q": 10},
        QUANTILE,
        [(0.26, 30), (0.5, 50)],  # round(26 / 10) * 10; an integer q gives integers
    ),
    "q_log_uniform_values": (
        {"distribution": "q_log_uniform_values", "min": 1.0, "max": 100.0, "q": 2},
        QUANTILE,
        [(0.5, 10), (0.75, round(10**1.5 / 2) * 2)],
    ),
    "q_log_uniform": (
        {"distribution": "q_log_uniform", "min": 0.0, "max": 4.0, "q": 0.5},
        QUANTILE,
        [(0.25, round(math.e / 0.5) * 0.5)],  # e^1 -> 2.5
    ),
    "normal": (
        {"distribution": "normal", "mu": 1.0, "sigma": 0.1},
        QUANTILE,
        [(0.5, 1.0), (0.8, 1.0 + 0.1 * Z(0.8))],
    ),
    "q_normal": (
        {"distribution": "q_normal", "mu": 100, "sigma": 10, "q": 5},
        QUANTILE,
        [(0.5, 100), (0.9, round((100 + 10 * Z(0.9)) / 5) * 5)],
    ),
    "log_normal": (
        {"distribution": "log_normal"},  # mu 0, sigma 1
        QUANTILE,
        [(0.5, 1.0), (0.1, math.exp(Z(0.1)))],
    ),
    "q_log_normal": (
        {"distribution": "q_log_normal", "mu": 2.0, "sigma": 0.5, "q": 1},
        QUANTILE,
        [(0.5, 7), (0.7, round(math.exp(2.0 + 0.5 * Z(0.7))))],
    ),
    "beta": (
        {"distribution": "beta", "a": 2.0, "b": 1.0},
        QUANTILE,
        [(0.25, 0.5), (0.81, 0.9)],  # the CDF is x^2
    ),
    "q_beta": (
        {"distribution": "q_beta", "q": 0.25},  # a = b = 1: uniform on [0, 1]
        QUANTILE,
        [(0.3, 0.25), (0.9, 1.0)],
    ),
}

#: W&B's grid: the values it visits, in its order (None: a grid refuses the distribution)
GRIDS: dict[str, list[Any] | None] = {
    "categorical": ["a", "b"],
    "int_uniform": [1, 2, 3, 4, 5],
    "q_uniform": list(range(0, 100, 10)),  # numpy's arange(min, max, q): max excluded
}

#: per distribution: settings it refuses, and the error's words
BAD: dict[str, tuple[dict[str, Any], str]] = {
    "constant": ({"distribution": "constant"}, "distribution constant needs a value"),
    "categorical": ({"distribution": "categorical"}, "needs a non-empty values list"),
    "categorical_w_probabilities": (
        {"values": [1, 2], "probabilities": [0.5, 0.6]},
        "probabilities must be 2 non-negative numbers summing to 1",
    ),
    "int_uniform": ({"min": 5, "max": 1}, r"empty range \[5, 1\]; expected min < max"),
    "uniform": ({"min": 1.0, "max": 1.0}, r"empty range \[1.0, 1.0\]"),
    "log_uniform_values": (
        {"distribution": "log_uniform_values", "min": 0.0, "max": 1.0},
        r"log_uniform_values needs min > 0 \(got 0.0\)",
    ),
    "inv_log_uniform_values": (
        {"distribution": "inv_log_uniform_values", "min": -1.0, "max": 1.0},
        "inv_log_uniform_values needs min > 0",
    ),
    "log_uniform": ({"distribution": "log_uniform", "min": 2.0, "max": 1.0}, "empty range"),
    "inv_log_uniform": ({"distribution": "inv_log_uniform", "min": 1, "max": 1}, "empty range"),
    "q_uniform": ({"distribution": "q_uniform", "min": 0, "max": 1, "q": 0}, "q > 0"),
    "q_log_uniform_values": (
        {"distribution": "q_log_uniform_values", "min": 0.0, "max": 8.0},
        "needs min > 0",
    ),
    "q_log_uniform": ({"distribution": "q_log_uniform", "min": 3.0}, "needs max"),
    "normal": ({"distribution": "normal", "sigma": 0.0}, "normal needs sigma > 0"),
    "q_normal": ({"distribution": "q_normal", "q": -1}, "q > 0"),
    "log_normal": ({"distribution": "log_normal", "mu": "1e-3"}, "write 1.0e-3 or !!float"),
    "q_log_normal": ({"distribution": "q_log_normal", "sigma": True}, "sigma True; expected a"),
    "beta": ({"distribution": "beta", "a": 0.0}, "beta needs a > 0 and b > 0"),
    "q_beta": ({"distribution": "q_beta", "mu": 1.0}, "takes a, b, q, not 'mu'"),
}


def test_every_registered_distribution_has_an_example_and_a_bad_setting() -> None:
    assert set(EXAMPLES) == set(DISTRIBUTIONS) == set(BAD)
    assert all(DISTRIBUTIONS[name].name == name for name in DISTRIBUTIONS)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_searches_the_same_optuna_distribution_and_gives_wandbs_value(name: str) -> None:
    spec, searched, samples = EXAMPLES[name]
    p = DISTRIBUTIONS[name].parse("x", spec, WHERE, grid=False)
    assert p.name == "x" and p.distribution == searched
    # Optuna's own distribution where it has W&B's law, else W&B's inverse CDF of a quantile
    assert (p.transform is not None) == (searched == QUANTILE)
    assert p.transform is None or p.transform["distribution"] == name
    for sampled, expected in samples:
        value = p.to_config_value(sampled)
        if isinstance(expected, float):
            assert value == pytest.approx(expected, rel=1e-9)
        else:  # an integer q gives integers, as in W&B
            assert value == expected and type(value) is type(expected)
    if searched is None:
        assert p.value == spec["value"]


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_the_stored_description_rebuilds_the_same_parameter(name: str) -> None:
    spec, _, samples = EXAMPLES[name]
    space = parse_space({"method": "random", "parameters": {"x": spec}}, WHERE)
    stored = json.loads(json.dumps(space.describe()))  # as a study stores it
    assert stored == space.describe()
    p, rebuilt = space.parameters["x"], space_from_description(stored).parameters["x"]
    assert rebuilt == Parameter.from_description("x", p.describe())
    assert (rebuilt.distribution, rebuilt.value, rebuilt.grid, rebuilt.transform) == (
        p.distribution, p.value, p.grid, p.transform
    )  # fmt: skip
    for sampled, _ in samples:
        assert rebuilt.to_config_value(sampled) == p.to_config_value(sampled)


@pytest.mark.parametrize("name", list(EXAMPLES))
def test_grid_values_in_wandbs_order_or_one_line_saying_there_are_none(name: str) -> None:
    spec, _, _ = EXAMPLES[name]
    if name == "constant":
        assert DISTRIBUTIONS[name].parse("x", spec, WHERE, grid=True).value == 7
        return
    if name not in GRIDS:
        with pytest.raises(UsageError) as caught:
            DISTRIBUTIONS[name].parse("x", spec, WHERE, grid=True)
        message = str(caught.value)
        assert "\n" not in message and message.startswith(f"{WHERE}: parameter 'x'")
        assert "grid cannot enumerate" in message or "not allowed in a grid" in message
        return
    p = DISTRIBUTIONS[name].parse("x", spec, WHERE, grid=True)
    assert list(p.grid or ()) == GRIDS[name]
    assert p.distribution == CategoricalDistribution(GRIDS[name])


@pytest.mark.parametrize("name", list(BAD))
def test_bad_settings_are_one_line_naming_the_file_and_parameter(name: str) -> None:
    spec, match = BAD[name]
    with pytest.raises(UsageError, match=match) as caught:
        parse_space({"method": "random", "parameters": {"x": spec}}, WHERE)
    message = str(caught.value)
    assert "\n" not in message and message.startswith(f"{WHERE}: parameter 'x'")


def test_categorical_lists_are_searched_by_index_and_a_grid_runs_each_value_once() -> None:
    values = [[1, 2], [3], [1, 2]]
    p = DISTRIBUTIONS["categorical"].parse("x", {"values": values}, WHERE, grid=False)
    assert p.distribution == CategoricalDistribution([0, 1, 2])
    assert [p.to_config_value(i) for i in (0, 1, 2)] == values
    repeated = DISTRIBUTIONS["categorical"].parse("x", {"values": [3, 1, 3]}, WHERE, grid=True)
    assert repeated.grid == (3, 1)


def test_an_unknown_distribution_names_the_closest_one() -> None:
    sweep = {"method": "random", "parameters": {"lr": {"distribution": "log_uniform_value"}}}
    expected = r"distribution 'log_uniform_value' \(did you mean 'log_uniform_values'\?\)"
    with pytest.raises(UsageError, match=expected):
        parse_space(sweep, WHERE)
