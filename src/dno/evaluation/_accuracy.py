"""Accuracy: relative L2 (global and per step), one-step and rollout error, valid and
correlation time.

Conventions shared by every function here:

- Data are ``(B, T, ...)``: batch, time, then any trailing axes (X, C). Norms at one time step
  run over all trailing axes.
- ``mask`` (bool, shape (B, T)) or ``lengths`` (int, shape (B,)) mark the real time steps;
  padding never enters a sum, a mean or a norm.
- Errors that are undefined (0/0 with a nonzero error, no valid step) come out as ``inf`` or
  ``NaN``; :func:`dno.tracking.json_safe` writes them as ``null``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np

from dno.errors import UsageError
from dno.evaluation._checks import (
    ShiftAppend,
    Step,
    check_pair,
    rollout,
    time_mask,
)

__all__ = [
    "CorrelationTime",
    "RolloutError",
    "ValidTime",
    "correlation_time",
    "one_step_error",
    "relative_l2",
    "relative_l2_per_step",
    "rollout_error",
    "rollout_error_curve",
    "valid_prediction_time",
]


def _step_sq(values: np.ndarray) -> np.ndarray:
    """Squared norm over the trailing axes: (B, T, ...) -> (B, T); unchanged for rank <= 2."""
    squared = values * values
    return squared.reshape(*values.shape[:2], -1).sum(axis=-1) if values.ndim > 2 else squared


def _ratio(num: np.ndarray | float, den: np.ndarray | float) -> np.ndarray:
    """``num / den`` with ``0/0 = 0`` and ``x/0 = inf``; NaN propagates."""
    num_a, den_a = np.asarray(num, dtype=np.float64), np.asarray(den, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = num_a / den_a
    return np.where((num_a == 0) & (den_a == 0), 0.0, out)


def relative_l2(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    per_step: bool = False,
    mask: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> float:
    """Relative L2 error: global, one norm ratio over all valid entries, or per step.

    Global: ``e = ||p - t|| / ||t||`` where both norms run over every valid (b, t, ...) entry.
    Per step (PDEBench's nRMSE convention): ``e = mean_{valid b,t} ||p_bt - t_bt|| / ||t_bt||``,
    norms over the trailing axes (X, C) together; a step with a zero truth counts 0 if its
    error is zero too, else ``inf``.

    Args:
        prediction: shape (B, T, ...); any rank >= 1 for the global error without a mask.
        truth: same shape.
        per_step: the mean of the per-step ratios (rank >= 2) instead of one global ratio.
        mask: bool (B, T), True on real steps. lengths: int (B,). At most one of them.

    Returns:
        The ratio (``inf`` if the truth is zero and the error is not; NaN per step if no step
        is valid).

    Example:
        >>> relative_l2(np.array([[0.0, 3.0]]), np.array([[0.0, 2.0]]))
        0.5
    """
    pred, true = check_pair(prediction, truth, min_rank=2 if per_step else 1)
    valid = time_mask(pred.shape, mask, lengths)
    err, ref = _step_sq(pred - true), _step_sq(true)
    if valid is not None:
        err, ref = err[valid], ref[valid]
    if not per_step:
        return float(_ratio(np.sqrt(err.sum()), np.sqrt(ref.sum())))
    ratios = _ratio(np.sqrt(err), np.sqrt(ref))
    return float(ratios.mean()) if ratios.size else float("nan")


#: :func:`relative_l2` with ``per_step=True``: the mean of the per-step ratios.
relative_l2_per_step = functools.partial(relative_l2, per_step=True)


def one_step_error(
    step: Step,
    history: np.ndarray,
    target: np.ndarray,
    *,
    mask: np.ndarray | None = None,
) -> float:
    """Global relative L2 error of one step: ``relative_l2(step(history), target[:, :m])``.

    Args:
        step: history (B, S, X, C) -> next slices (B, m, X, C); it closes over any conditioning.
        history: shape (B, S, X, C).
        target: the true future, shape (B, T >= m, X, C); its first m slices are compared.
        mask: bool (B, T), True on real steps of ``target``.

    Returns:
        The relative L2 error of the first step.
    """
    return rollout_error(step, history, target, steps=1, mask=mask).one_step


@dataclass(frozen=True)
class RolloutError:
    """Relative L2 error of a rollout, step by step.

    Attributes:
        curve: shape (K,); ``curve[k]`` is the global relative L2 error of step k's m slices,
            pooled over the batch (valid entries only; NaN where a step has none).
        steps: K, the number of steps (set by the evaluation config, the same for every model).
        slices_per_step: m.
        one_step: ``curve[0]``.
        mean: mean of the curve over steps with valid data.
        final: the last finite value of the curve.
    """

    curve: np.ndarray
    steps: int
    slices_per_step: int
    one_step: float
    mean: float
    final: float


def rollout_error_curve(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    slices_per_step: int,
    mask: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> RolloutError:
    """Score an already computed rollout: relative L2 error of each block of m slices.

    ``curve[k] = ||p - t|| / ||t||`` over the valid entries of slices ``[k m, (k+1) m)``.

    Args:
        prediction: shape (B, K*m, X, C) (or any (B, K*m, ...)).
        truth: same shape.
        slices_per_step: m; the time axis must be a multiple of it.
        mask: bool (B, K*m), True on real steps. lengths: int (B,). At most one of them.

    Returns:
        A :class:`RolloutError`.
    """
    pred, true = check_pair(prediction, truth, min_rank=2)
    m, total = int(slices_per_step), pred.shape[1]
    if m < 1 or total % m:
        raise UsageError(
            f"prediction has {total} time slices; expected a multiple of slices_per_step={m}"
        )
    valid = time_mask(pred.shape, mask, lengths)
    if valid is None:
        valid = np.ones(pred.shape[:2], dtype=bool)
    blocks = (pred.shape[0], total // m, m)
    err = np.where(valid, _step_sq(pred - true), 0.0).reshape(blocks).sum(axis=(0, 2))
    ref = np.where(valid, _step_sq(true), 0.0).reshape(blocks).sum(axis=(0, 2))
    has_data = valid.reshape(blocks).any(axis=(0, 2))
    curve = np.where(has_data, _ratio(np.sqrt(err), np.sqrt(ref)), np.nan)
    finite = curve[has_data]
    return RolloutError(
        curve=curve,
        steps=total // m,
        slices_per_step=m,
        one_step=float(curve[0]),
        mean=float(finite.mean()) if finite.size else float("nan"),
        final=float(finite[-1]) if finite.size else float("nan"),
    )


def rollout_error(
    step: Step,
    history: np.ndarray,
    future: np.ndarray,
    *,
    steps: int,
    mask: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
    shift_append: ShiftAppend | None = None,
) -> RolloutError:
    """Roll ``step`` out for K steps from ``history`` and score it against ``future``.

    The rollout is repeated ``shift_append(history, step(history), m)``; the error curve is
    :func:`rollout_error_curve` over the first K*m slices of ``future``.

    Args:
        step: history (B, S, X, C) -> next slices (B, m, X, C); it closes over any conditioning.
        history: initial history, shape (B, S, X, C).
        future: the true future, shape (B, T >= K*m, X, C).
        steps: K, from the evaluation config (never from a model hyperparameter).
        mask: bool (B, T), True on real steps of ``future``. lengths: int (B,).
        shift_append: ``(history, new, m) -> history``; the default drops the m oldest slices
            and appends the m new ones.

    Returns:
        A :class:`RolloutError` with K entries.
    """
    pred = rollout(step, history, steps, shift_append)
    true = np.asarray(future, dtype=np.float64)
    n = pred.shape[1]
    if true.ndim != 4 or true.shape[0] != pred.shape[0] or true.shape[1] < n:
        raise UsageError(
            f"future has shape {true.shape}; expected (batch={pred.shape[0]}, T >= K*m = {n}, X, C)"
        )
    valid = time_mask(true.shape, mask, lengths)
    return rollout_error_curve(
        pred,
        true[:, :n],
        slices_per_step=n // int(steps),
        mask=None if valid is None else valid[:, :n],
    )


@dataclass(frozen=True)
class ValidTime:
    """Valid prediction time per trajectory, in units of the delay tau.

    Never infinite: a trajectory whose error stays below the threshold gets its horizon (the
    time of its last valid step) and ``reached_horizon = True``; a mean over such trajectories
    is then a lower bound.

    Attributes:
        valid_time: shape (B,), time of the first step whose error exceeds the threshold.
        reached_horizon: shape (B,) bool, True where the error never exceeded it.
        horizon: shape (B,), time of the last valid step, in units of tau.
        threshold: the error threshold.
        mean: mean of ``valid_time`` over trajectories with at least one valid step.
    """

    valid_time: np.ndarray
    reached_horizon: np.ndarray
    horizon: np.ndarray
    threshold: float
    mean: float


def _time_per_step(dt: float | np.ndarray, tau: float | np.ndarray, batch: int) -> np.ndarray:
    """``dt / tau`` broadcast to shape (B,); both must be positive and finite."""
    ratio = np.broadcast_to(np.asarray(dt, dtype=np.float64) / np.asarray(tau), (batch,))
    if not np.all(np.isfinite(ratio)) or np.any(ratio <= 0):
        raise UsageError(f"dt / tau is {ratio}; expected positive finite values (shape ({batch},))")
    return np.asarray(ratio, dtype=np.float64)


def valid_prediction_time(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    dt: float | np.ndarray,
    tau: float | np.ndarray = 1.0,
    threshold: float = 0.5,
    mask: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> ValidTime:
    """Valid prediction time (for chaotic families): when the error first passes a threshold.

    The normalized error of trajectory b at step i is
    ``e_b(i) = RMS_{x,c}(p_bi - t_bi) / sigma_b`` with ``sigma_b`` the standard deviation of the
    truth over trajectory b's valid steps (scale- and shift-free). Step i lies at time
    ``(i + 1) dt`` after the last history point; the valid time is ``i* dt / tau`` for the first
    valid step ``i*`` with ``e_b(i*) > threshold`` (a NaN error counts as exceeding): the time
    elapsed before the first bad step.

    Args:
        prediction: shape (B, T, ...), rank >= 2.
        truth: same shape.
        dt: time between steps, a number or shape (B,).
        tau: delay, a number or shape (B,); times are reported in units of tau.
        threshold: error threshold on ``e``.
        mask: bool (B, T), True on real steps. lengths: int (B,). At most one of them.

    Returns:
        A :class:`ValidTime`.
    """
    pred, true = check_pair(prediction, truth, min_rank=2)
    batch, steps = pred.shape[:2]
    valid = time_mask(pred.shape, mask, lengths)
    valid = np.ones((batch, steps), dtype=bool) if valid is None else valid
    per_step = _time_per_step(dt, tau, batch)
    width = max(1, int(np.prod(pred.shape[2:])))
    count = np.maximum(valid.sum(axis=1) * width, 1)
    flat_true = true.reshape(batch, steps, -1)
    mean = np.where(valid[..., None], flat_true, 0.0).sum(axis=(1, 2)) / count
    dev = np.where(valid[..., None], flat_true - mean[:, None, None], 0.0)
    sigma = np.sqrt((dev * dev).sum(axis=(1, 2)) / count)
    error = _ratio(np.sqrt(_step_sq(pred - true) / width), sigma[:, None])
    exceed = ~(error <= threshold) & valid
    last = np.where(valid.any(axis=1), steps - np.argmax(valid[:, ::-1], axis=1), 0)
    reached = ~exceed.any(axis=1)
    first = np.where(reached, last, np.argmax(exceed, axis=1))
    valid_time = first * per_step
    has_data = valid.any(axis=1)
    return ValidTime(
        valid_time=valid_time,
        reached_horizon=reached,
        horizon=last * per_step,
        threshold=float(threshold),
        mean=float(valid_time[has_data].mean()) if has_data.any() else float("nan"),
    )


@dataclass(frozen=True)
class CorrelationTime:
    """Correlation time: when the Pearson correlation of prediction and truth first drops.

    Attributes:
        thresholds: the correlation thresholds, e.g. (0.9, 0.8).
        times: per threshold, the time (units of tau) of the first step whose mean correlation
            is below it; the horizon where it never is (see ``reached_horizon``).
        reached_horizon: per threshold, True where the correlation never dropped below it.
        horizon: time of the last step with valid data, in units of tau.
        curve: shape (T,), mean correlation at each step (NaN where no data are valid).
        over: ``"space"`` (per trajectory over X, C, then mean over trajectories) or
            ``"batch"`` (over all valid trajectories and points at once).
    """

    thresholds: tuple[float, ...]
    times: tuple[float, ...]
    reached_horizon: tuple[bool, ...]
    horizon: float
    curve: np.ndarray
    over: str


def _pearson(pred: np.ndarray, true: np.ndarray, axis: int) -> np.ndarray:
    """Pearson correlation along ``axis``; zero variance gives 1 for equal data, else 0."""
    dp = pred - pred.mean(axis=axis, keepdims=True)
    dt = true - true.mean(axis=axis, keepdims=True)
    den = np.sqrt((dp * dp).sum(axis=axis) * (dt * dt).sum(axis=axis))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (dp * dt).sum(axis=axis) / den
    equal = np.all(pred == true, axis=axis)
    return np.where(den > 0, corr, np.where(equal, 1.0, np.where(np.isnan(den), np.nan, 0.0)))


def _pooled_pearson(pred: np.ndarray, true: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per time step, Pearson correlation over all valid (b, point) pairs: (B, T, W) -> (T,)."""
    weight = np.broadcast_to(valid[..., None], pred.shape).astype(np.float64)
    count = weight.sum(axis=(0, 2))
    with np.errstate(divide="ignore", invalid="ignore"):
        mean_p = np.where(weight > 0, pred, 0.0).sum(axis=(0, 2)) / count
        mean_t = np.where(weight > 0, true, 0.0).sum(axis=(0, 2)) / count
    dp = np.where(weight > 0, pred - mean_p[None, :, None], 0.0)
    dt = np.where(weight > 0, true - mean_t[None, :, None], 0.0)
    den = np.sqrt((dp * dp).sum(axis=(0, 2)) * (dt * dt).sum(axis=(0, 2)))
    with np.errstate(divide="ignore", invalid="ignore"):
        corr = (dp * dt).sum(axis=(0, 2)) / den
    equal = np.all((pred == true) | (weight == 0), axis=(0, 2))
    fallback = np.where(np.isnan(den), np.nan, np.where(equal, 1.0, 0.0))
    return np.where(count == 0, np.nan, np.where(den > 0, corr, fallback))


def correlation_time(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    dt: float,
    tau: float = 1.0,
    thresholds: tuple[float, ...] = (0.9, 0.8),
    over: str = "auto",
    mask: np.ndarray | None = None,
    lengths: np.ndarray | None = None,
) -> CorrelationTime:
    """Correlation time: first step where the Pearson correlation drops below each threshold.

    ``over="space"``: ``rho_b(i)`` is the Pearson correlation of ``p_bi`` and ``t_bi`` over the
    trailing axes (X, C), and the curve is its mean over the valid trajectories at step i.
    ``over="batch"``: the curve is the correlation over all valid (b, x, c) at step i (the only
    choice for scalar families, X*C = 1). ``"auto"`` picks ``"space"`` when X*C >= 2. Step i's
    time is reported as ``i dt / tau`` (the time elapsed before it), a NaN correlation counts as
    below every threshold, and a threshold never crossed gives the horizon with a flag.

    Args:
        prediction: shape (B, T, ...), rank >= 2.
        truth: same shape.
        dt: time between steps. tau: the delay; times are in units of tau.
        thresholds: correlation thresholds (PDE-Refiner uses 0.8 and 0.9).
        over: ``"auto"``, ``"space"`` or ``"batch"``.
        mask: bool (B, T), True on real steps. lengths: int (B,). At most one of them.

    Returns:
        A :class:`CorrelationTime`.
    """
    pred, true = check_pair(prediction, truth, min_rank=2)
    batch, steps = pred.shape[:2]
    per_step = float(_time_per_step(dt, tau, 1)[0])
    valid = time_mask(pred.shape, mask, lengths)
    valid = np.ones((batch, steps), dtype=bool) if valid is None else valid
    flat_p, flat_t = pred.reshape(batch, steps, -1), true.reshape(batch, steps, -1)
    mode = ("space" if flat_p.shape[2] >= 2 else "batch") if over == "auto" else over
    if mode == "space":
        if flat_p.shape[2] < 2:
            raise UsageError("over='space' needs X*C >= 2 points per step; got 1 (use 'batch')")
        corr = _pearson(flat_p, flat_t, axis=2)
        count = valid.sum(axis=0)
        with np.errstate(invalid="ignore"):
            curve = np.where(valid, corr, 0.0).sum(axis=0) / count
    elif mode == "batch":
        curve = _pooled_pearson(flat_p, flat_t, valid)
    else:
        raise UsageError(f"over is {over!r}; expected 'auto', 'space' or 'batch'")
    has_data: np.ndarray = np.asarray(valid.any(axis=0))
    last = int(steps - np.argmax(has_data[::-1])) if has_data.any() else 0
    times, reached = [], []
    for threshold in thresholds:
        below = ~(curve >= threshold) & has_data
        reached.append(not bool(below.any()))
        times.append((last if reached[-1] else int(np.argmax(below))) * per_step)
    return CorrelationTime(
        thresholds=tuple(float(x) for x in thresholds),
        times=tuple(times),
        reached_horizon=tuple(reached),
        horizon=last * per_step,
        curve=curve,
        over=mode,
    )
