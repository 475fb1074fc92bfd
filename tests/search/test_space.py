"""Search spaces: dno's format, W&B sweep translation to Optuna, grids, and refused keys."""

from __future__ import annotations

import math

import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from dno.errors import UsageError
from dno.models import available
from dno.search import default_space, parse_space
from dno.training import check_keys

SWEEP = {
    "method": "bayes",
    "metric": {"name": "val_rel_l2", "goal": "minimize"},
    "parameters": {
        "lr": {"distribution": "log_uniform_values", "min": 1e-4, "max": 1e-2},
        "width": {"values": [16, 32, 64]},
        "layers": {"distribution": "int_uniform", "min": 2, "max": 4},
        "dropout": {"distribution": "q_uniform", "min": 0.0, "max": 0.3, "q": 0.1},
        "weight_decay": {"distribution": "log_uniform", "min": -9.2, "max": -4.6},
        "S": {"value": 32},
        "batch_size": {"min": 16, "max": 64},
        "grad_clip": {"distribution": "normal", "mu": 1.0, "sigma": 0.1},
    },
    "early_terminate": {"type": "hyperband", "max_iter": 27, "s": 2, "eta": 3},
}


def test_wandb_sweep_translates_to_equivalent_optuna_distributions() -> None:
    space = parse_space(SWEEP)
    p = space.parameters
    assert space.method == "bayesian" and space.metric == "val_rel_l2" and space.goal == "minimize"
    assert p["lr"].distribution == FloatDistribution(1e-4, 1e-2, log=True)
    assert p["width"].distribution == CategoricalDistribution([16, 32, 64])
    assert p["layers"].distribution == IntDistribution(2, 4)
    # W&B's q_uniform is round(U(min, max) / q) * q, through a searched quantile
    assert p["dropout"].to_config_value(0.6) == pytest.approx(0.2)  # 0.18 -> 0.2
    assert p["dropout"].to_config_value(0.1) == pytest.approx(0.0)
    wd = p["weight_decay"].distribution
    assert isinstance(wd, FloatDistribution) and wd.log
    assert math.isclose(wd.low, math.exp(-9.2)) and math.isclose(wd.high, math.exp(-4.6))
    assert p["S"].distribution is None and p["S"].value == 32
    assert p["batch_size"].distribution == IntDistribution(16, 64)  # int min/max: int_uniform
    assert p["grad_clip"].to_config_value(0.5) == pytest.approx(1.0)  # the median of N(1, 0.1)
    assert p["grad_clip"].to_config_value(0.8413447) == pytest.approx(1.1, abs=1e-6)
    assert space.early_terminate == {"type": "hyperband", "bands": [3, 9], "eta": 3}


def test_grid_is_every_declared_combination() -> None:
    space = parse_space(
        {"parameters": {
            "width": {"type": "categorical", "choices": [8, 16]},
            "layers": {"type": "int", "low": 1, "high": 3},
            "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True, "grid": [1e-3, 1e-2]},
            "S": {"value": 16},
        }}
    )  # fmt: skip
    grid = space.grid()
    assert len(grid) == 2 * 3 * 2
    assert {tuple(sorted(g.items())) for g in grid} == {
        (("layers", la), ("lr", lr), ("width", w))
        for w in (8, 16) for la in (1, 2, 3) for lr in (1e-3, 1e-2)
    }  # fmt: skip
    with pytest.raises(UsageError, match="explicit values for the continuous range 'lr'"):
        parse_space({"parameters": {"lr": {"type": "float", "low": 0.1, "high": 1.0}}}).grid()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"parameters": {"lr": {"type": "float", "low": 1.0, "high": 1.0}}}, "empty range"),
        ({"parameters": {"lr": {"min": 0.1, "max": 0.01}}}, "empty range"),
        ({"parameters": {"lr": {"values": [1, 2], "probabilities": [0.5]}}}, "probabilities"),
        ({"method": "grid", "parameters": {"lr": {"values": [1, 2], "probabilities": [0.5, 0.5]}}},
         "not allowed in a grid"),
        ({"method": "bayes", "metric": {"name": "loss"}, "parameters": {"x": {"value": 1}},
          "early_terminate": {"type": "median"}}, "early_terminate must be"),
        ({"method": "bayes", "parameters": {}, "foo": 1}, "unknown sweep key 'foo'"),
        ({"method": "anneal", "parameters": {}}, "method 'anneal'"),
        ({"parameters": {"lr": {"type": "float", "low": 0, "high": 1, "bogus": 1}}},
         "unknown key 'bogus'"),
        ({"parameters": {"lr": {"type": "float", "low": 0.0, "high": 1.0, "log": True}}},
         "log-scaled but low=0.0"),
        ({"parameters": {"n": {"type": "int", "low": 1, "high": 3, "step": "x"}}},
         "step 'x'; expected a positive integer"),
        ({"parameters": {"n": {"type": "int", "low": 1, "high": 3, "step": 1.5}}},
         "step 1.5; expected a positive integer"),
        ({"parameters": {"d": {"type": "float", "low": 0.0, "high": 1.0, "step": -0.1}}},
         "step -0.1; expected a positive number"),
        ({"parameters": {"n": {"type": "int", "low": 1, "high": 4, "step": 2}}},
         "step 2 does not divide the range"),
        ({"parameters": {"d": {"type": "float", "low": 0, "high": 1, "grid": ["a"]}}},
         "grid must be a non-empty list of numbers"),
        ({"parameters": {"d": {"type": "float", "low": float("-inf"), "high": 1}}},
         "finite numeric low"),
        ({"method": ["grid"], "parameters": {}}, "method \\['grid'\\]"),
        ({"parameters": {"lr": {"type": "float", "low": "1e-5", "high": 0.1}}},
         "low: 1e-5 is read as text.*write 1.0e-5 or !!float 1e-5"),
        ({"parameters": {"lr": {"min": 1.0e-5, "max": "1e2"}}}, "write 1.0e\\+2 or !!float 1e2"),
    ],
)  # fmt: skip
def test_keys_that_cannot_be_honoured_are_errors(data: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        parse_space(data)


@pytest.mark.parametrize("model", available())
def test_default_spaces_only_hold_keys_the_model_uses(model: str) -> None:
    space = default_space(model)
    check_keys(model, list(space.parameters))
    assert space.parameters["lr"].distribution == FloatDistribution(1e-4, 3e-3, log=True)
