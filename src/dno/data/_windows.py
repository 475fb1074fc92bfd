"""History windows on the tau-dependent theta-grid, and normalization fitted on train only.

A window of trajectory b ending at time t is the state on ``theta_i = -tau_b + i h_b``,
``i = 0..S-1``, ``h_b = tau_b / (S - 1)`` (oldest first; the last slice is t), and its target is
the m slices at ``t + h_b, ..., t + m h_b``. Values come from the trajectory's own observations
(its initial history on [-tau, 0] followed by its observations at t > 0) by shape-preserving
piecewise cubic interpolation (PCHIP: no overshoot); irregular times are handled the same way.
A window whose times fall outside the observed range is not made, so padding and extrapolation
never enter a window. Windows are made per split, so those of one trajectory never cross splits.

Windows are built a block of trajectories at a time (a split kept in its file is read a block at
a time) and kept: :func:`make_windows` remembers its result for as long as the split object lives
(read-only arrays), so the trials of a search, which share one dataset, interpolate each split
once instead of once per trial. A trajectory's windows do not depend on the block it is read in.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass, replace
from typing import Any

import numpy as np
from scipy.interpolate import PchipInterpolator

from dno.data._schema import AnySplit, Split, blocks
from dno.errors import DnoError, UsageError

__all__ = [
    "MAX_EVALUATION_TRAJECTORIES",
    "Moments",
    "Normalizer",
    "WindowSet",
    "block_windows",
    "concatenate",
    "make_windows",
]


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


#: Windows already made, by (id of the split, S, m, stride, max_per_trajectory,
#: max_trajectories); an entry goes when its split is garbage-collected.
_MADE: dict[tuple[int, int, int, int | None, int | None, int | None], WindowSet] = {}

#: The most trajectories of a split that evaluation scores (evenly spread over the split): a
#: split of more (the validation split of a file of more than 40,000 trajectories) is scored on
#: these, 8 windows each at most, so scoring holds at most 32,768 windows whatever the file's
#: size (their rollout over 3 delays at S = 32 takes about 0.25 GiB: bench_data_memory.py).
MAX_EVALUATION_TRAJECTORIES = 4096


def make_windows(
    split: AnySplit,
    S: int,
    m: int,
    stride: int | None = None,
    max_per_trajectory: int | None = None,
    max_trajectories: int | None = None,
) -> WindowSet:
    """All windows of a split: histories of S points and targets of m slices.

    Built once per split and arguments, then returned from memory (the arrays are read-only).

    Args:
        split: one split of a dataset (see :func:`dno.data.read_dataset`), in memory or in its
            file (read a block at a time).
        S: points on a window's theta-grid (>= 2).
        m: slices predicted per step (>= 1).
        stride: grid steps between consecutive window ends (default: m, so targets tile time).
        max_per_trajectory: keep at most this many windows per trajectory, evenly spaced.
        max_trajectories: window at most this many trajectories, evenly spread over the split
            (in split order).

    Returns:
        The windows, with ``C = 1`` channel: history (N, S, X, 1), target (N, m, X, 1).
    """
    key = (id(split), S, m, stride, max_per_trajectory, max_trajectories)
    made = _MADE.get(key)
    if made is None:
        made = _build_windows(split, S, m, stride, max_per_trajectory, max_trajectories)
        for array in (made.history, made.target, made.trajectory, made.time, made.step):
            array.setflags(write=False)
        _MADE[key] = made
        weakref.finalize(split, _MADE.pop, key, None)
    return made


def _build_windows(
    split: AnySplit,
    S: int,
    m: int,
    stride: int | None,
    max_per_trajectory: int | None,
    max_trajectories: int | None = None,
) -> WindowSet:
    n = len(split)
    chosen = None
    if max_trajectories is not None and n > max_trajectories:
        chosen = np.unique(np.linspace(0, n - 1, max_trajectories).round().astype(np.int64))
    parts = []
    for start, block in blocks(split):
        if chosen is not None:
            inside = chosen[(chosen >= start) & (chosen < start + len(block))]
            block = block.take(inside - start)
        windows = block_windows(block, S, m, stride, max_per_trajectory)[0]
        if len(windows):
            parts.append(windows)
    if not parts:
        raise DnoError(
            f"no window fits: every trajectory is shorter than tau + m h (S={S}, m={m}); "
            "use a smaller S or m, or longer trajectories"
        )
    return parts[0] if len(parts) == 1 else concatenate(parts)


def concatenate(parts: list[WindowSet]) -> WindowSet:
    """The windows of ``parts``, in order."""
    return WindowSet(
        history=np.concatenate([w.history for w in parts]),
        target=np.concatenate([w.target for w in parts]),
        params={k: np.concatenate([w.params[k] for w in parts]) for k in parts[0].params},
        trajectory=np.concatenate([w.trajectory for w in parts]),
        time=np.concatenate([w.time for w in parts]),
        step=np.concatenate([w.step for w in parts]),
    )


def block_windows(
    block: Split, S: int, m: int, stride: int | None, max_per_trajectory: int | None
) -> tuple[WindowSet, np.ndarray]:
    """The windows of a block of trajectories (see :func:`make_windows`), and how many each
    trajectory has, shape (len(block),)."""
    if S < 2 or m < 1:
        raise UsageError(f"windows need S >= 2 and m >= 1, got S={S}, m={m}")
    stride = m if stride is None else stride
    if stride < 1:
        raise UsageError(f"stride must be >= 1, got {stride}")
    histories, targets, ends, steps = [], [], [], []
    counts = np.zeros(len(block), dtype=np.int64)
    offsets = np.arange(-(S - 1), m + 1, dtype=np.float64)  # in units of h, window then target
    for b in range(len(block)):
        tau = float(block.params["tau"][b])
        if not np.isfinite(tau) or tau <= 0:
            raise DnoError(f"trajectory {int(block.trajectory_id[b])} has tau={tau}; expected > 0")
        h = tau / (S - 1)
        times, values = _series(block, b)
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
        counts[b] = window_end.size
        ends.append(window_end)
        steps.append(np.full(window_end.size, h))
    owner = np.repeat(np.arange(len(block)), counts)
    n_x = block.y.shape[2]
    return WindowSet(
        history=_stack(histories, (0, S, n_x))[..., None].astype(np.float32),
        target=_stack(targets, (0, m, n_x))[..., None].astype(np.float32),
        params={k: v[owner] for k, v in block.params.items()},
        trajectory=block.trajectory_id[owner],
        time=_stack(ends, (0,)),
        step=_stack(steps, (0,)),
    ), counts


def _stack(parts: list[np.ndarray], empty: tuple[int, ...]) -> np.ndarray:
    return np.concatenate(parts) if parts else np.zeros(empty)


@dataclass
class Moments:
    """Count, mean and sum of squared deviations of values per channel (float64), merged
    block by block (Chan et al.'s pairwise update)."""

    count: int
    mean: np.ndarray  # (C,)
    m2: np.ndarray  # (C,)

    @classmethod
    def of(cls, values: np.ndarray) -> Moments:
        """The moments of ``values``, shape (N, C)."""
        values = np.asarray(values, dtype=np.float64)
        mean = values.mean(axis=0) if len(values) else np.zeros(values.shape[1])
        return cls(len(values), mean, np.square(values - mean).sum(axis=0))

    def merge(self, other: Moments) -> Moments:
        if not other.count:
            return self
        if not self.count:
            return other
        count = self.count + other.count
        delta = other.mean - self.mean
        mean = self.mean + delta * (other.count / count)
        m2 = self.m2 + other.m2 + np.square(delta) * (self.count * other.count / count)
        return Moments(count, mean, m2)

    @property
    def std(self) -> np.ndarray:
        """The population standard deviation (ddof 0), per channel."""
        return np.sqrt(self.m2 / max(self.count, 1))


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
        return cls.from_moments(Moments.of(values), names, Moments.of(cond))

    @classmethod
    def from_moments(
        cls, states: Moments, cond_names: tuple[str, ...], cond: Moments
    ) -> Normalizer:
        """From the moments of the states (per channel) and of the conditioning parameters."""
        return cls(
            mean=states.mean,
            std=_safe_std(states.std),
            cond_names=cond_names,
            cond_mean=cond.mean,
            cond_std=_safe_std(cond.std),
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
