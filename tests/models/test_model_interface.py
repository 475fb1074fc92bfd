"""Every model has the one interface: (B, S, X, C) + (B, P) -> (B, m, X, C), and uses τ."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import dno.models
from dno.models import DelayOperator, accepted_keys, available, build, model_class

SMALL = {"width": 8, "layers": 2}


def _small(name: str, **dims: Any) -> DelayOperator:
    extra: dict[str, Any] = dict(SMALL)
    if "basis" in accepted_keys(name):
        extra["basis"] = 4
    torch.manual_seed(0)
    return build(name, **dims, **extra)


def _batch(S: int, X: int, P: int = 2, batch: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(1)
    history = torch.randn(batch, S, X, 1, generator=generator)
    return history, torch.randn(batch, P, generator=generator)


def _model_classes() -> dict[str, type[DelayOperator]]:
    """Every named DelayOperator class defined in a module of dno.models."""
    found: dict[str, type[DelayOperator]] = {}
    for module in pkgutil.iter_modules(dno.models.__path__):
        for value in vars(importlib.import_module(f"dno.models.{module.name}")).values():
            if isinstance(value, type) and issubclass(value, DelayOperator) and value.name:
                assert found.setdefault(value.name, value) is value, f"two models {value.name!r}"
    return found


def test_the_registry_lists_every_model() -> None:
    # A model file without its registry entry (or a registry entry without a file) fails here.
    classes = _model_classes()
    assert available() == sorted(classes)
    assert all(model_class(name) is cls for name, cls in classes.items())
    assert all(hasattr(dno.models, cls.__name__) for cls in classes.values())


def test_every_model_has_pinned_reference_outputs() -> None:
    # tests/models/reference_outputs.npz pins every model; a new one is added by regenerating it.
    with np.load(Path(__file__).with_name("reference_outputs.npz")) as stored:
        pinned = {key.split(".")[0] for key in stored.files}
    assert pinned == set(available()), "regenerate with tests/models/reference_cases.py"


@pytest.mark.parametrize("name", available())
def test_the_docstring_lists_the_arguments_with_their_defaults(name: str) -> None:
    doc = model_class(name).__doc__ or ""
    for key in accepted_keys(name):
        assert f"\n    {key}: " in doc
    width = build(name, S=8, X=1, channels=1, cond_dim=1).config["width"]
    assert f"width: hidden channels (or hidden size); default {width}." in doc


@pytest.mark.parametrize("X", [1, 20])
@pytest.mark.parametrize("name", available())
def test_shape_gradients_and_conditioning(name: str, X: int) -> None:
    model = _small(name, S=16, X=X, channels=1, cond_dim=2)
    history, cond = _batch(16, X)
    out = model(history, cond)
    assert out.shape == (3, model.m, X, 1)
    assert out.dtype == torch.float32 and torch.isfinite(out).all()

    out.square().mean().backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not p.grad.any()]
    assert not no_grad, f"parameters without gradient: {no_grad}"

    other_tau = cond.clone()
    other_tau[:, 0] += 1.0  # only τ changes
    with torch.no_grad():
        change = (model(history, other_tau) - model(history, cond)).abs().max()
    assert change > 1e-4, "the output does not depend on τ"


@pytest.mark.parametrize("name", available())
def test_output_depends_on_the_history(name: str) -> None:
    model = _small(name, S=16, X=4, channels=1, cond_dim=1)
    history, cond = _batch(16, 4, P=1)
    older = history.clone()
    older[:, 0] += 1.0  # the oldest slice, u(t - τ)
    with torch.no_grad():
        change = (model(older, cond) - model(history, cond)).abs().max()
    if name == "fno":
        assert change == 0  # the baseline sees u(t) only
    else:
        assert change > 1e-5


def test_default_m_per_model() -> None:
    expected = {
        "deeponet": 16,
        "fno": 16,
        "history_space": 4,
        "lag_stack": 16,
        "memory_kernel": 16,
        "method_of_steps": 16,
        "stacked_history": 16,
    }
    ms = {name: build(name, S=16, X=1, channels=1, cond_dim=1).m for name in expected}
    assert ms == expected


@pytest.mark.parametrize("name", available())
def test_config_rebuilds_the_same_model(name: str) -> None:
    model = _small(name, S=12, X=5, channels=2, cond_dim=3)
    assert list(model.config) == accepted_keys(name)
    twin = build(name, **model.config)
    twin.load_state_dict(model.state_dict())
    history, cond = torch.randn(2, 12, 5, 2), torch.randn(2, 3)
    with torch.no_grad():
        torch.testing.assert_close(twin(history, cond), model(history, cond))


@pytest.mark.parametrize("name", ["stacked_history", "history_space", "lag_stack", "deeponet"])
def test_rollout_by_steps_and_by_horizon(name: str) -> None:
    model = _small(name, S=8, X=2, channels=1, cond_dim=1, m=3)
    history, cond = _batch(8, 2, P=1)
    with torch.no_grad():
        by_steps = model.rollout(history, cond, 3)
        by_horizon = model.rollout(history, cond, horizon=7)
        first = model(history, cond)
        second = model(model.advance(history, cond), cond)
    assert by_steps.shape == (3, 9, 2, 1)
    assert by_horizon.shape == (3, 7, 2, 1)
    torch.testing.assert_close(by_horizon, by_steps[:, :7])
    torch.testing.assert_close(by_steps[:, :6], torch.cat([first, second], dim=1))


def test_method_of_steps_predicts_the_whole_next_interval() -> None:
    model = _small("method_of_steps", S=10, X=1, channels=1, cond_dim=1)
    assert model.m == 10
    history, cond = _batch(10, 1, P=1)
    with torch.no_grad():
        assert model.rollout(history, cond, 2).shape == (3, 20, 1, 1)


@pytest.mark.parametrize("name", available())
def test_options_dropout_spectral_norm_output_scale(name: str) -> None:
    model = build(
        name,
        S=8,
        X=3,
        channels=1,
        cond_dim=1,
        dropout=0.1,
        spectral_norm=1.0,
        output_scale=True,
        **SMALL,
    )
    history, cond = _batch(8, 3, P=1)
    model.train()
    model(history, cond).square().mean().backward()
    assert model.out_scale.scale is not None and model.out_scale.scale.grad is not None
    model.eval()
    with torch.no_grad():
        torch.testing.assert_close(model(history, cond), model(history, cond))


def test_double_inputs_are_cast_to_the_model_dtype() -> None:
    model = _small("fno", S=8, X=1, channels=1, cond_dim=1)
    history, cond = _batch(8, 1, P=1)
    out = model(history.double(), cond.double())
    assert out.dtype == torch.float32
