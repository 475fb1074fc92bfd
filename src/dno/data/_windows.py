"""History windows on the tau-dependent theta-grid, and normalization fitted on train only.

A window of trajectory b ending at time t is the state on ``theta_i = -tau_b + i h_b``,
``i = 0..S-1``, ``h_b = tau_b / (S - 1)`` (oldest first; the last slice is t), and its target is
the m slices at ``t + h_b, ..., t + m h_b``. Values come from the trajectory's own observations
(its initial history on [-tau, 0] followed by its observations at t > 0) by shape-preserving
piecewise cubic interpolation (PCHIP: no overshoot); irregular times are handled the same way.
A window whose times fall outside the observed range is not made, so padding and extrapolation
never enter a window. Windows are made per split, so those of one trajectory never cross splits.

Windows are built once per split and kept: :func:`make_windows` remembers its result for as long
as the split object lives (read-only arrays), so the trials of a search, which share one dataset,
interpolate each split once instead of once per trial.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from dno.data._schema import Split
from dno.errors import DnoError, UsageError

__all__ = ["Normalizer", "WindowSet", "make_windows"]


@dataclass
class WindowSet:
    """Windows of one split.

    Attributes:
        history: shape (N, S, X, C), the state on each window's theta-grid.
        target: shape (N, m, X, C), the next m slices.
        params: ``name -> (N,)``, the trajectory's parameters (tau included), raw.
        trajectory: shape (N,), the trajectory id of each window.
        time: shape (N,), the time t of each window's last slice.
        step: shape (N,), the grid spacing ``h = tau / (S - 1)``.
    """

    history: np.ndarray
    target: np.ndarray
    params: dict[str, np.ndarray]
    trajectory: np.ndarray
    time: np.ndarray
    step: np.ndarray

    def __len__(self) -> int:
        return int(self.history.shape[0])

    def select(self, index: np.ndarray) -> WindowSet:
        """The windows at ``index``."""
        arrays = ("history", "target", "trajectory", "time", "step")
        params = {k: v[index] for k, v in self.params.items()}
        return replace(self, params=params, **{k: getattr(self, k)[index] for k in arrays})


def _series(split: Split, b: int) -> tuple[np.ndarray, np.ndarray]:
    """The observed series of trajectory b: history on [-tau, 0] then observations at t > 0."""
    h_n = int(split.history_lengths[b])
    n = int(split.lengths[b])
    t_obs, y_obs = split.t[b, :n], split.y[b, :n]
    later = t_obs > split.history_t[b, h_n - 1]
    times = np.concatenate([split.history_t[b, :h_n], t_obs[later]])
    values = np.concatenate([split.history_y[b, :h_n], y_obs[later]])
    return times, values


#: Windows already made, by (id of the split, S, m, stride, max_per_trajectory); an entry goes
#: when its split is garbage-collected.
_MADE: dict[tuple[int, int, int, int | None, int | None], WindowSet] = {}


def make_windows(
    split: Split, S: int, m: int, stride: int | None = None, max_per_trajectory: int | None = None
) -> WindowSet:
    """All windows of a split: histories of S points and targets of m slices.

    Built once per split and arguments, then returned from memory (the arrays are read-only).

    Args:
        split: one split of a dataset (see :func:`dno.data.read_dataset`).
        S: points on a window's theta-grid (>= 2).
        m: slices predicted per step (>= 1).
        stride: grid steps between consecutive window ends (default: m, so targets tile time).
        max_per_trajectory: keep at most this many windows per trajectory, evenly spaced.

    Returns:
        The windows, with ``C = 1`` channel: history (N, S, X, 1), target (N, m, X, 1).
    """
    key = (id(split), S, m, stride, max_per_trajectory)
    made = _MADE.get(key)
    if made is None:
        made = _build_windows(split, S, m, stride, max_per_trajectory)
        for array in (made.history, made.target, made.trajectory, made.time, made.step):
            array.setflags(write=False)
        _MADE[key] = made
        weakref.finalize(split, _MADE.pop, key, None)
    return made


def _build_windows(
    split: Split, S: int, m: int, stride: int | None, max_per_trajectory: int | None
) -> WindowSet:
    if S < 2 or m < 1:
        raise UsageError(f"windows need S >= 2 and m >= 1, got S={S}, m={m}")
    stride = m if stride is None else stride
    if stride < 1:
        raise UsageError(f"stride must be >= 1, got {stride}")
    histories, targets, owners, ends, steps = [], [], [], [], []
    offsets = np.arange(-(S - 1), m + 1, dtype=np.float64)  # in units of h, window then target
    for b in range(len(split)):
        tau = float(split.params["tau"][b])
        if not np.isfinite(tau) or tau <= 0:
            raise DnoError(f"trajectory {int(split.trajectory_id[b])} has tau={tau}; expected > 0")
        h = tau / (S - 1)
        times, values = _series(split, b)
        first_end = times[0] + tau
        n_windows = int(np.floor((times[-1] - m * h - first_end) / (stride * h) + 1e-9)) + 1
        if n_windows <= 0:
            continue
        window_end = first_end + stride * h * np.arange(n_windows)
        if max_per_trajectory is not None and n_windows > max_per_trajectory:
            pick = np.linspace(0, n_windows - 1, max_per_trajectory).round().astype(int)
            window_end = window_end[np.unique(pick)]
        sample_t = window_end[:, None] + offsets[None, :] * h  # (K, S + m)
        sample_t = np.clip(sample_t, times[0], times[-1])  # rounding only: windows fit inside
        field = PchipInterpolator(times, values, axis=0)(sample_t)  # (K, S + m, X)
        histories.append(field[:, :S])
        targets.append(field[:, S:])
        owners.append(np.full(window_end.size, b))
        ends.append(window_end)
        steps.append(np.full(window_end.size, h))
    if not histories:
        raise DnoError(
            f"no window fits: every trajectory is shorter than tau + m h (S={S}, m={m}); "
            "use a smaller S or m, or longer trajectories"
        )
    owner = np.concatenate(owners)
    return WindowSet(
        history=np.concatenate(histories)[..., None].astype(np.float32),
        target=np.concatenate(targets)[..., None].astype(np.float32),
        params={k: v[owner] for k, v in split.params.items()},
        trajectory=split.trajectory_id[owner],
        time=np.concatenate(ends),
        step=np.concatenate(steps),
    )


@dataclass
class Normalizer:
    """Affine normalization of states and conditioning, fitted on the train split only.

    ``state' = (state - mean) / std`` per channel; the conditioning vector is
    ``[(tau - mu) / sigma, (p_1 - mu_1) / sigma_1, ...]`` for the conditioning parameters.
    """

    mean: np.ndarray  # (C,)
    std: np.ndarray  # (C,)
    cond_names: tuple[str, ...]
    cond_mean: np.ndarray  # (P,)
    cond_std: np.ndarray  # (P,)

    @classmethod
    def fit(cls, train: WindowSet, cond_params: tuple[str, ...] = ()) -> Normalizer:
        """Fit on the train windows; ``cond_params`` are parameters to condition on besides tau."""
        names = ("tau", *(p for p in cond_params if p != "tau"))
        for name in names:
            if name not in train.params:
                raise UsageError(
                    f"no parameter {name!r} to condition on; have {sorted(train.params)}"
                )
            if not np.all(np.isfinite(train.params[name])):
                raise UsageError(f"parameter {name!r} is unknown (NaN) in this dataset")
        channels = train.history.shape[-1]
        values = np.concatenate([train.history, train.target], axis=1).reshape(-1, channels)
        cond = np.stack([train.params[n] for n in names], axis=1)
        return cls(
            mean=values.mean(axis=0).astype(np.float64),
            std=_safe_std(values.std(axis=0)),
            cond_names=names,
            cond_mean=cond.mean(axis=0),
            cond_std=_safe_std(cond.std(axis=0)),
        )

    def state(self, values: np.ndarray) -> np.ndarray:
        """Normalize states of shape (..., C)."""
        return ((values - self.mean) / self.std).astype(np.float32)

    def unstate(self, values: np.ndarray) -> np.ndarray:
        """Undo :meth:`state`."""
        return values * self.std + self.mean

    def cond(self, params: dict[str, np.ndarray]) -> np.ndarray:
        """The conditioning vectors, shape (N, P)."""
        raw = np.stack([np.asarray(params[n], dtype=np.float64) for n in self.cond_names], axis=1)
        return ((raw - self.cond_mean) / self.cond_std).astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (stored in checkpoints)."""
        return {
            "mean": self.mean.tolist(),
            "std": self.std.tolist(),
            "cond_names": list(self.cond_names),
            "cond_mean": self.cond_mean.tolist(),
            "cond_std": self.cond_std.tolist(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Normalizer:
        return cls(
            mean=np.asarray(data["mean"], dtype=np.float64),
            std=np.asarray(data["std"], dtype=np.float64),
            cond_names=tuple(data["cond_names"]),
            cond_mean=np.asarray(data["cond_mean"], dtype=np.float64),
            cond_std=np.asarray(data["cond_std"], dtype=np.float64),
        )


def _safe_std(std: np.ndarray) -> np.ndarray:
    """Standard deviations with zeros (constant columns) replaced by one."""
    std = np.asarray(std, dtype=np.float64)
    return np.where(std > 0, std, 1.0)
