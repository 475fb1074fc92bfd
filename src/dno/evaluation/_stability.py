"""Stability under input noise, for one step and over a rollout; scale-free by construction.

For history ``x_b`` (shape (S, X, C)) let ``sigma_b`` be its own standard deviation over all its
entries (its RMS if that is zero, 1 if that is zero too). The noise at level ``l`` is
``eps_b = l * sigma_b * z_b`` with ``z_b ~ N(0, 1)`` drawn once from ``seed`` and reused at every
level. With ``d_b = f(x_b + eps_b) - f(x_b)``:

- relative change ``c_b = RMS(d_b) / sigma_b``: the output change in units of the history's std;
- relative noise ``n_b = RMS(eps_b) / sigma_b`` (about ``l``);
- gain ``g_b = c_b / n_b = RMS(d_b) / RMS(eps_b)``: the relative change of the prediction per
  unit of relative input noise.

Both are averaged over the batch (and over ``repeats`` noise draws). Multiplying the data by any
constant (for a model that is equivariant to it, e.g. one that normalizes its inputs) leaves
both unchanged: the noise scales with the data, and the outputs with the noise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from dno.errors import UsageError
from dno.evaluation._checks import ShiftAppend, Step, rollout

__all__ = [
    "NoiseSensitivity",
    "RolloutNoiseSensitivity",
    "noise_sensitivity",
    "rollout_noise_sensitivity",
]

Predict = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class NoiseSensitivity:
    """Sensitivity to input noise, of one step or along a rollout of K steps.

    Attributes:
        levels: shape (L,), noise levels relative to each history's std.
        relative_change: mean over the batch of ``RMS(d_b) / sigma_b``: shape (L,) for one
            step; (L, K) for a rollout, entry (l, k) over step k's m slices.
        gain: ``relative_change`` divided by the relative input noise, same shape.
        seed: the noise seed.
        repeats: number of noise draws averaged.
    """

    levels: np.ndarray
    relative_change: np.ndarray
    gain: np.ndarray
    seed: int
    repeats: int


#: A rollout's sensitivity: the same record with (L, K) arrays.
RolloutNoiseSensitivity = NoiseSensitivity


def _history_scale(history: np.ndarray) -> np.ndarray:
    """``sigma_b`` of shape (B,): the std of each history (its RMS if 0, else 1)."""
    flat = history.reshape(history.shape[0], -1)
    sigma = flat.std(axis=1)
    rms = np.sqrt((flat * flat).mean(axis=1))
    return np.where(sigma > 0, sigma, np.where(rms > 0, rms, 1.0))


def _check_inputs(
    history: np.ndarray, levels: Sequence[float], repeats: int
) -> tuple[np.ndarray, np.ndarray]:
    values = np.asarray(history, dtype=np.float64)
    if values.ndim < 2 or values.size == 0:
        raise UsageError(f"history has shape {values.shape}; expected (batch, S, X, C)")
    if not np.all(np.isfinite(values)):
        raise UsageError("history has non-finite values; expected finite numbers")
    level_array = np.asarray(levels, dtype=np.float64).reshape(-1)
    if level_array.size == 0 or np.any(~np.isfinite(level_array)) or np.any(level_array <= 0):
        raise UsageError(f"levels are {list(levels)}; expected positive finite numbers")
    if repeats < 1:
        raise UsageError(f"repeats is {repeats}; expected an integer >= 1")
    return values, level_array


def _rms(values: np.ndarray) -> np.ndarray:
    """RMS over all axes but the first: (B, ...) -> (B,)."""
    flat = values.reshape(values.shape[0], -1)
    return np.sqrt((flat * flat).mean(axis=1))


def noise_sensitivity(
    predict: Predict,
    history: np.ndarray,
    *,
    levels: Sequence[float] = (0.01, 0.05, 0.1),
    seed: int = 0,
    repeats: int = 1,
) -> NoiseSensitivity:
    """One-step sensitivity of ``predict`` to noise on its input (formulas in the module doc).

    Args:
        predict: numpy in, numpy out: history (B, S, X, C) -> prediction (B, ...).
        history: shape (B, S, X, C) (any (B, ...) works).
        levels: noise levels relative to each history's own std.
        seed: seed of the noise.
        repeats: number of independent noise draws to average.

    Returns:
        A :class:`NoiseSensitivity`.

    Example:
        >>> result = noise_sensitivity(lambda x: 2.0 * x, np.random.rand(4, 8, 1, 1))
        >>> np.allclose(result.gain, 2.0)
        True
    """
    values, level_array = _check_inputs(history, levels, repeats)
    return _sensitivity(
        lambda x: np.asarray(predict(x), dtype=np.float64), _rms, values, level_array, seed, repeats
    )


def _sensitivity(
    predict: Predict,
    rms: Callable[[np.ndarray], np.ndarray],
    values: np.ndarray,
    levels: np.ndarray,
    seed: int,
    repeats: int,
) -> NoiseSensitivity:
    """The noise loop of both sensitivities; ``rms`` maps output changes to (B,) or (B, K)."""
    sigma = _history_scale(values)
    base = predict(values)
    rng = np.random.default_rng(seed)
    change = gain = np.zeros(())
    for _ in range(repeats):
        z = rng.standard_normal(values.shape)
        rows, gains = [], []
        for level in levels:
            noise = level * sigma.reshape(-1, *[1] * (values.ndim - 1)) * z
            delta = rms(predict(values + noise) - base)
            axes = (slice(None),) + (None,) * (delta.ndim - 1)
            rows.append(delta / sigma[axes])
            gains.append(delta / _rms(noise)[axes])
        change, gain = change + np.stack(rows), gain + np.stack(gains)
    return NoiseSensitivity(
        levels=levels,
        relative_change=change.mean(axis=1) / repeats,
        gain=gain.mean(axis=1) / repeats,
        seed=seed,
        repeats=repeats,
    )


def _block_rms(values: np.ndarray, steps: int) -> np.ndarray:
    """RMS per step block: (B, K*m, ...) -> (B, K)."""
    blocks = values.reshape(values.shape[0], steps, -1)
    return np.sqrt((blocks * blocks).mean(axis=2))


def rollout_noise_sensitivity(
    step: Step,
    history: np.ndarray,
    *,
    steps: int,
    levels: Sequence[float] = (0.01, 0.05, 0.1),
    seed: int = 0,
    repeats: int = 1,
    shift_append: ShiftAppend | None = None,
) -> RolloutNoiseSensitivity:
    """Sensitivity of a K-step rollout to noise on the initial history.

    The relative change at step k is ``RMS(d_b over step k's slices) / sigma_b`` and the gain
    divides it by the relative input noise ``RMS(eps_b) / sigma_b`` (module doc).

    Args:
        step: history (B, S, X, C) -> next slices (B, m, X, C).
        history: initial history, shape (B, S, X, C).
        steps: K.
        levels: noise levels relative to each history's own std.
        seed: seed of the noise. repeats: number of noise draws to average.
        shift_append: ``(history, new, m) -> history`` (default: drop m oldest, append m new).

    Returns:
        A :class:`RolloutNoiseSensitivity` with arrays of shape (L, K).
    """
    values, level_array = _check_inputs(history, levels, repeats)
    return _sensitivity(
        lambda x: rollout(step, x, steps, shift_append),
        lambda delta: _block_rms(delta, steps),
        values,
        level_array,
        seed,
        repeats,
    )
