"""Stability under input noise: known gains, scale-freedom, seeding, rollouts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dno.errors import UsageError
from dno.evaluation import noise_sensitivity, rollout_noise_sensitivity
from dno.tracking import json_safe as to_jsonable


def _history(scale: float = 1.0) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.linspace(0, 1, 32)
    levels = rng.uniform(0.5, 2.0, size=(6, 1, 1, 1))
    return scale * (levels + np.sin(6 * t)[None, :, None, None] * rng.random((6, 1, 5, 1)))


def _normalizing_model(history: np.ndarray) -> np.ndarray:
    """A nonlinear model that normalizes its input: f(c x) = c f(x) for c > 0."""
    mean = history.mean(axis=(1, 2, 3), keepdims=True)
    std = history.std(axis=(1, 2, 3), keepdims=True)
    z = (history - mean) / std
    return mean + std * np.tanh(z[:, -4:] ** 2 - z[:, :4])


def test_linear_model_has_its_gain() -> None:
    result = noise_sensitivity(lambda x: 2.5 * x, _history(), levels=(0.01, 0.1, 0.5))
    np.testing.assert_allclose(result.gain, 2.5, rtol=1e-12)
    np.testing.assert_allclose(result.relative_change / result.levels, 2.5, rtol=0.1)


def test_score_does_not_change_when_data_are_multiplied_by_1000() -> None:
    base = noise_sensitivity(_normalizing_model, _history(), seed=3)
    scaled = noise_sensitivity(_normalizing_model, _history(1000.0), seed=3)
    np.testing.assert_allclose(scaled.gain, base.gain, rtol=1e-9)
    np.testing.assert_allclose(scaled.relative_change, base.relative_change, rtol=1e-9)
    assert np.all(base.gain > 0.1)  # the model does respond to the noise


def test_seeded_and_repeatable() -> None:
    first = noise_sensitivity(_normalizing_model, _history(), seed=1, repeats=2)
    again = noise_sensitivity(_normalizing_model, _history(), seed=1, repeats=2)
    other = noise_sensitivity(_normalizing_model, _history(), seed=2, repeats=2)
    np.testing.assert_array_equal(first.gain, again.gain)
    assert not np.allclose(first.gain, other.gain)
    assert json.dumps(to_jsonable(first), allow_nan=False)


def test_rollout_gain_grows_geometrically() -> None:
    """step(h) = g h (m = S): a perturbation of the history grows by g per step."""
    result = rollout_noise_sensitivity(lambda h: 1.1 * h, _history(), steps=5, levels=(0.01, 0.1))
    np.testing.assert_allclose(result.gain, np.tile(1.1 ** np.arange(1, 6), (2, 1)), rtol=1e-9)
    assert result.relative_change.shape == (2, 5)


def test_rollout_score_is_scale_free() -> None:
    def step(h: np.ndarray) -> np.ndarray:
        return _normalizing_model(h)

    base = rollout_noise_sensitivity(step, _history(), steps=4)
    scaled = rollout_noise_sensitivity(step, _history(1000.0), steps=4)
    np.testing.assert_allclose(scaled.gain, base.gain, rtol=1e-8)


def test_bad_input() -> None:
    with pytest.raises(UsageError, match="levels are"):
        noise_sensitivity(lambda x: x, _history(), levels=(0.1, -0.1))
    history = _history()
    history[0, 0, 0, 0] = np.nan
    with pytest.raises(UsageError, match="non-finite"):
        noise_sensitivity(lambda x: x, history)
