"""Accuracy metrics against known answers; padding never counts."""

from __future__ import annotations

import json

import numpy as np
import pytest

from dno.errors import UsageError
from dno.evaluation import (
    correlation_time,
    one_step_error,
    relative_l2,
    relative_l2_per_step,
    rollout_error,
    rollout_error_curve,
    valid_prediction_time,
)
from dno.tracking import json_safe as to_jsonable


def _truth(batch: int = 3, steps: int = 50, width: int = 4, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 1.0 + rng.random((batch, steps, width, 1))


def test_global_and_per_step_relative_l2() -> None:
    truth = np.ones((2, 4, 3))
    factors = np.array([0.0, 0.1, 0.2, 0.3])  # step t is off by a factor 1 + factors[t]
    prediction = truth * (1 + factors)[None, :, None]
    assert relative_l2_per_step(prediction, truth) == pytest.approx(0.15)
    assert relative_l2(prediction, truth) == pytest.approx(np.sqrt(np.mean(factors**2)))
    assert relative_l2(1.1 * truth, truth) == pytest.approx(0.1)
    assert relative_l2(np.zeros(3), np.zeros(3)) == 0.0
    assert relative_l2(np.ones(3), np.zeros(3)) == np.inf


def test_padding_never_counts() -> None:
    truth = _truth()
    prediction = 1.05 * truth
    lengths = np.array([50, 30, 10])
    mask = np.arange(50)[None, :] < lengths[:, None]
    padded_p, padded_t = prediction.copy(), truth.copy()
    padded_p[~mask], padded_t[~mask] = 1e9, -7.0
    for metric in (relative_l2, relative_l2_per_step):
        reference = metric(prediction[:, :10], truth[:, :10])
        assert metric(padded_p, padded_t, lengths=lengths) == pytest.approx(reference)
        assert metric(padded_p, padded_t, mask=mask) == pytest.approx(reference)
        assert metric(padded_p, padded_t) > 1e3  # the padding does matter without the mask


def _geometric(batch: int, length: int, rate: float) -> np.ndarray:
    """u_t = rate^t for t = 0..length-1, shape (batch, length, 1, 1), per-trajectory level."""
    levels = 1.0 + np.arange(batch)
    return levels[:, None, None, None] * rate ** np.arange(length)[None, :, None, None]


@pytest.mark.parametrize(("history_len", "m"), [(5, 5), (5, 2), (4, 1)])
def test_rollout_error_curve_is_analytic(history_len: int, m: int) -> None:
    """The step extrapolates the last value with a bias c: block k is c^(k+1) x the truth."""
    rate, bias, steps = 0.97, 1.02, 6
    series = _geometric(2, history_len + steps * m, rate)
    history, future = series[:, :history_len], series[:, history_len:]

    def step(h: np.ndarray) -> np.ndarray:
        return bias * h[:, -1:] * rate ** np.arange(1, m + 1)[None, :, None, None]

    result = rollout_error(step, history, future, steps=steps)
    np.testing.assert_allclose(result.curve, bias ** np.arange(1, steps + 1) - 1, rtol=1e-10)
    assert result.steps == steps and result.slices_per_step == m
    assert result.one_step == pytest.approx(bias - 1)
    assert one_step_error(step, history, future) == pytest.approx(bias - 1)
    assert result.final == pytest.approx(bias**steps - 1)


def test_rollout_uses_the_given_shift_append_and_mask() -> None:
    series = _geometric(2, 12, 1.0)
    calls: list[int] = []

    def shift_append(h: np.ndarray, new: np.ndarray, m: int) -> np.ndarray:
        calls.append(m)
        return np.concatenate([h[:, m:], new], axis=1)

    def step(h: np.ndarray) -> np.ndarray:
        return h[:, -2:]

    future = series[:, 4:].copy()
    future[1, 4:] = 99.0  # trajectory 1 ends after 4 future slices: padding
    result = rollout_error(
        step, series[:, :4], future, steps=4, lengths=np.array([8, 4]), shift_append=shift_append
    )
    assert calls == [2, 2, 2, 2]
    np.testing.assert_allclose(result.curve, 0.0)


def test_rollout_error_curve_marks_steps_without_data() -> None:
    truth = np.ones((2, 6, 1, 1))
    result = rollout_error_curve(1.1 * truth, truth, slices_per_step=2, lengths=np.array([4, 2]))
    np.testing.assert_allclose(result.curve[:2], 0.1)
    assert np.isnan(result.curve[2])
    assert result.mean == pytest.approx(0.1)
    assert json.dumps(to_jsonable(result), allow_nan=False)


def test_rollout_rejects_short_future_and_bad_steps() -> None:
    history = np.ones((2, 4, 1, 1))

    def step(h: np.ndarray) -> np.ndarray:
        return h[:, -2:]

    with pytest.raises(
        UsageError, match=r"future has shape \(2, 5, 1, 1\); expected .* >= K\*m = 6"
    ):
        rollout_error(step, history, np.ones((2, 5, 1, 1)), steps=3)
    with pytest.raises(UsageError, match="steps is 0"):
        rollout_error(step, history, np.ones((2, 6, 1, 1)), steps=0)
    with pytest.raises(UsageError, match=r"step returned shape \(2, 2, 1\)"):
        rollout_error(lambda h: h[:, -2:, :, 0], history, np.ones((2, 6, 1, 1)), steps=3)


def test_valid_prediction_time_crosses_where_constructed() -> None:
    truth = _truth(batch=3, steps=100)
    sigma = truth.reshape(3, -1).std(axis=1)
    slopes = np.array([0.01, 0.02, 0.0])  # e_b(i) = slope_b * i exactly
    drift = slopes[:, None] * np.arange(100)[None, :] * sigma[:, None]
    prediction = truth + drift[:, :, None, None]
    result = valid_prediction_time(prediction, truth, dt=0.1, tau=2.0, threshold=0.505)
    np.testing.assert_allclose(result.valid_time, np.array([51, 26, 100]) * 0.05)
    np.testing.assert_array_equal(result.reached_horizon, [False, False, True])
    np.testing.assert_allclose(result.horizon, 5.0)
    scaled = valid_prediction_time(
        1000 * prediction, 1000 * truth, dt=0.1, tau=2.0, threshold=0.505
    )
    np.testing.assert_allclose(scaled.valid_time, result.valid_time)


def test_identical_fields_report_the_horizon_not_infinity() -> None:
    truth = _truth(batch=2, steps=40)
    result = valid_prediction_time(
        truth, truth, dt=0.5, tau=np.array([1.0, 2.0]), lengths=np.array([40, 20])
    )
    np.testing.assert_array_equal(result.reached_horizon, True)
    np.testing.assert_allclose(result.valid_time, [20.0, 5.0])
    jsonable = json.loads(json.dumps(to_jsonable(result), allow_nan=False))
    assert jsonable["valid_time"] == [20.0, 5.0]
    assert jsonable["reached_horizon"] == [True, True]


def test_nan_in_prediction_counts_as_a_failure() -> None:
    truth = _truth(batch=1, steps=30)
    prediction = truth.copy()
    prediction[0, 7, 0, 0] = np.nan
    result = valid_prediction_time(prediction, truth, dt=1.0)
    assert result.valid_time[0] == 7.0 and not result.reached_horizon[0]
    assert np.isnan(relative_l2(prediction, truth))
    assert to_jsonable(relative_l2(prediction, truth)) is None


def _with_correlation(truth: np.ndarray, rho: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A prediction whose Pearson correlation with ``truth`` (B, T, W) over the last axis is
    exactly rho[t]: z cos + o sin with o orthogonal to z and to constants, of the same norm."""
    z = truth - truth.mean(axis=-1, keepdims=True)
    o = rng.standard_normal(truth.shape)
    o -= o.mean(axis=-1, keepdims=True)
    o -= (o * z).sum(-1, keepdims=True) / (z * z).sum(-1, keepdims=True) * z
    o *= np.linalg.norm(z, axis=-1, keepdims=True) / np.linalg.norm(o, axis=-1, keepdims=True)
    c = rho[None, :, None]
    return truth + (c - 1) * z + np.sqrt(1 - c**2) * o


def test_correlation_time_over_space() -> None:
    rng = np.random.default_rng(1)
    truth = rng.standard_normal((3, 60, 16))
    rho = 1 - 0.0047 * np.arange(60)  # < 0.9 first at step 22, < 0.8 at step 43
    prediction = _with_correlation(truth, rho, rng)
    result = correlation_time(prediction, truth, dt=0.1, tau=0.5)
    assert result.over == "space"
    np.testing.assert_allclose(result.curve, rho, atol=1e-12)
    assert result.times == pytest.approx((22 * 0.2, 43 * 0.2))
    assert result.reached_horizon == (False, False)
    never = correlation_time(truth, truth, dt=0.1, tau=0.5, thresholds=(0.9,))
    assert never.times == (pytest.approx(12.0),) and never.reached_horizon == (True,)


def test_correlation_time_over_batch_for_scalar_series_with_padding() -> None:
    rng = np.random.default_rng(2)
    truth = rng.standard_normal((40, 30, 1, 1))
    rho = 1 - 0.0047 * np.arange(30)
    # Trajectories 5..39 are correlated across the batch with rho[t] exactly (built on the
    # (T, B) layout); 0..4 end after 10 steps, are exact before and padding after.
    correlated = _with_correlation(truth[5:, :, 0, 0].T[None], rho, rng)[0].T
    prediction = truth.copy()
    prediction[5:, :, 0, 0] = correlated
    prediction[:5, 10:] = 1e6
    lengths = np.full(40, 30)
    lengths[:5] = 10
    result = correlation_time(prediction, truth, dt=1.0, lengths=lengths)
    assert result.over == "batch"
    np.testing.assert_allclose(result.curve[10:], rho[10:], atol=1e-12)
    assert result.times == pytest.approx((22.0, 30.0))
    assert result.reached_horizon == (False, True)
    assert correlation_time(prediction, truth, dt=1.0).curve[15] < 0.5  # padding would count
