"""Train windows at any size: in memory when they fit, else rebuilt from the file each epoch.

A split's trajectories are taken a block at a time (:data:`BLOCK_TRAJECTORIES`, rows of the
file). :func:`train_windows` makes every block's windows once, in one pass: it counts them per
trajectory, accumulates the normalisation's moments (float64, block after block in file order),
and keeps the windows while they fit :data:`WINDOW_MEMORY_BYTES`. Windows that do not fit are
made again each epoch, a block at a time, from the file.

An epoch visits the windows in an order that is the same in both cases (:func:`epoch_order`):
the blocks in a seeded random order, cut into buffers of :func:`buffer_windows` windows (about
:data:`BUFFER_BYTES`), each buffer's windows in a seeded random order. So the same seed trains
the same model whether the windows were kept or rebuilt. When every window fits one buffer (any
dataset of up to about half a million Mackey-Glass windows) the order is one random permutation
of all windows, as it was before buffers.
"""

from __future__ import annotations

import math
import weakref
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from dno.data._schema import BLOCK_TRAJECTORIES, AnySplit, blocks
from dno.data._windows import Moments, Normalizer, WindowSet, block_windows, concatenate
from dno.errors import DnoError, UsageError

__all__ = [
    "BUFFER_BYTES",
    "WINDOW_MEMORY_BYTES",
    "TrainWindows",
    "buffer_windows",
    "epoch_order",
    "fit_normalizer",
    "steps_per_epoch",
    "train_windows",
    "weighted_quantile",
]

#: Train windows (history and target, float32) kept in memory at most (training holds them and
#: their normalized copy); more are made again from the file each epoch, a block at a time. All
#: windows of 1024 Mackey-Glass trajectories (S 32, m 1: 69 MB) are kept; one window of each of
#: 800,000 (m 31: 200 MB) is not.
WINDOW_MEMORY_BYTES = 128 * 2**20
#: Windows shuffled together in an epoch (history and target, float32): the most an epoch of
#: windows made from the file holds at once, besides the block being made.
BUFFER_BYTES = 64 * 2**20


@dataclass
class TrainWindows:
    """The train windows of a split (see the module docstring).

    Attributes:
        split: the trajectories (in memory or in their file).
        S, m, stride, max_per_trajectory: what :func:`dno.data.make_windows` takes.
        counts: windows of each trajectory, shape (n,).
        states: the moments of every history and target value, per channel.
        windows: all windows in trajectory order (None: made again each epoch).
        X, channels: the windows' points and channels.
    """

    split: AnySplit
    S: int
    m: int
    stride: int
    max_per_trajectory: int | None
    counts: np.ndarray
    states: Moments
    windows: WindowSet | None
    X: int
    channels: int

    def __len__(self) -> int:
        return int(self.counts.sum())

    @property
    def starts(self) -> np.ndarray:
        """The index of each trajectory's first window, and the total, shape (n + 1,)."""
        return np.concatenate([[0], np.cumsum(self.counts)])

    @property
    def params(self) -> dict[str, np.ndarray]:
        """Each trajectory's parameters (raw), ``name -> (n,)``."""
        return self.split.params

    def window_params(self, name: str, block: int) -> np.ndarray:
        """Parameter ``name`` of each window of trajectory block ``block``."""
        lo, hi = _rows(block, len(self.counts))
        return np.repeat(self.split.params[name][lo:hi], self.counts[lo:hi])

    def block(self, index: int) -> WindowSet:
        """The windows of trajectory block ``index`` (kept, or made again from the split)."""
        lo, hi = _rows(index, len(self.counts))
        if self.windows is not None:
            starts = self.starts
            return self.windows.select(np.arange(starts[lo], starts[hi]))
        made, counts = block_windows(
            self.split.rows(lo, hi), self.S, self.m, self.stride, self.max_per_trajectory
        )
        if not np.array_equal(counts, self.counts[lo:hi]):
            raise DnoError(
                f"the windows of trajectories {lo} to {hi - 1} changed since they were counted "
                "(was the dataset file replaced during training?)"
            )
        return made

    def gather(self, order: np.ndarray, made: dict[int, WindowSet]) -> tuple[WindowSet, np.ndarray]:
        """The windows of an epoch's buffer ``order`` (indices of windows), as a set holding
        them and their places in it.

        Args:
            made: blocks made for the previous buffer, reused (replaced by this buffer's).
        """
        starts = self.starts
        trajectory = np.searchsorted(starts, order, side="right") - 1
        needed = np.unique(trajectory // BLOCK_TRAJECTORIES)
        parts = [made[k] if k in made else self.block(int(k)) for k in needed]
        made.clear()
        made.update(zip((int(k) for k in needed), parts, strict=True))
        sizes = np.array([len(p) for p in parts])
        first = starts[np.minimum(needed * BLOCK_TRAJECTORIES, len(self.counts))]
        shift = np.concatenate([[0], np.cumsum(sizes)[:-1]]) - first
        place = order + shift[np.searchsorted(needed, trajectory // BLOCK_TRAJECTORIES)]
        return concatenate(parts), place


def _rows(block: int, n: int) -> tuple[int, int]:
    return block * BLOCK_TRAJECTORIES, min(n, (block + 1) * BLOCK_TRAJECTORIES)


#: Train windows already counted, by (id of the split, S, m, stride, max_per_trajectory); an
#: entry goes when its split is garbage-collected.
_MADE: dict[tuple[int, int, int, int, int | None], TrainWindows] = {}


def train_windows(
    split: AnySplit, S: int, m: int, stride: int, max_per_trajectory: int | None = None
) -> TrainWindows:
    """Count, measure and (while they fit :data:`WINDOW_MEMORY_BYTES`) keep the windows of a
    split, in one pass over its blocks; once per split and arguments (then from memory).

    Raises:
        DnoError: no trajectory is long enough for one window.
    """
    key = (id(split), S, m, stride, max_per_trajectory)
    found = _MADE.get(key)
    if found is None:
        found = _count_windows(split, S, m, stride, max_per_trajectory)
        _MADE[key] = found
        weakref.finalize(split, _MADE.pop, key, None)
    return found


def _count_windows(
    split: AnySplit, S: int, m: int, stride: int, max_per_trajectory: int | None
) -> TrainWindows:
    counts, kept = [], []
    states = Moments(0, np.zeros(1), np.zeros(1))
    size, keep = 0, True
    X = channels = 0
    for _, block in blocks(split):
        made, block_counts = block_windows(block, S, m, stride, max_per_trajectory)
        counts.append(block_counts)
        X, channels = made.history.shape[2], made.history.shape[3]
        values = np.concatenate([made.history, made.target], axis=1).reshape(-1, channels)
        states = states.merge(Moments.of(values))
        size += made.history.nbytes + made.target.nbytes
        keep = keep and size <= WINDOW_MEMORY_BYTES
        if keep:
            kept.append(made)
        else:
            kept.clear()
    if not states.count:
        raise DnoError(
            f"no window fits: every trajectory is shorter than tau + m h (S={S}, m={m}); "
            "use a smaller S or m, or longer trajectories"
        )
    windows = concatenate([w for w in kept if len(w)]) if keep else None
    if windows is not None:
        for array in (windows.history, windows.target, windows.trajectory, windows.time):
            array.setflags(write=False)
    return TrainWindows(
        split, S, m, stride, max_per_trajectory, np.concatenate(counts), states, windows,
        X, channels,
    )  # fmt: skip


def fit_normalizer(train: TrainWindows, cond_params: tuple[str, ...] = ()) -> Normalizer:
    """The normalisation of :class:`dno.data.Normalizer`, fitted on every train window: the
    states' moments from :func:`train_windows`, the conditioning's over the windows (each
    trajectory's parameters once per window), block after block."""
    names = ("tau", *(p for p in cond_params if p != "tau"))
    for name in names:
        if name not in train.params:
            raise UsageError(f"no parameter {name!r} to condition on; have {sorted(train.params)}")
        if not np.all(np.isfinite(train.params[name])):
            raise UsageError(f"parameter {name!r} is unknown (NaN) in this dataset")
    cond = Moments(0, np.zeros(len(names)), np.zeros(len(names)))
    for block in range(math.ceil(len(train.counts) / BLOCK_TRAJECTORIES)):
        values = np.stack([train.window_params(n, block) for n in names], axis=1)
        cond = cond.merge(Moments.of(values))
    return Normalizer.from_moments(train.states, names, cond)


def buffer_windows(S: int, m: int, X: int, channels: int) -> int:
    """Windows shuffled together: :data:`BUFFER_BYTES` of float32 history and target."""
    return max(1, BUFFER_BYTES // (4 * (S + m) * X * channels))


def epoch_order(
    counts: np.ndarray, repeats: np.ndarray, seed: int, epoch: int, buffer: int
) -> Iterator[np.ndarray]:
    """The windows of one epoch, a buffer at a time: indices into the windows in trajectory
    order, each repeated ``repeats`` times (of its trajectory).

    The trajectory blocks in the order of ``default_rng([seed, epoch, 1])``; their windows cut
    into buffers of ``buffer``; each buffer's windows (sorted) permuted by one generator,
    ``default_rng([seed, epoch])``, buffer after buffer. An epoch that fits one buffer is
    ``default_rng([seed, epoch]).permutation`` of every window.

    Args:
        counts: windows of each trajectory, shape (n,).
        repeats: how many times each trajectory's windows are seen, shape (n,).
    """
    n = len(counts)
    starts = np.concatenate([[0], np.cumsum(counts)])
    n_blocks = math.ceil(n / BLOCK_TRAJECTORIES)
    order = np.random.default_rng([seed, epoch, 1]).permutation(n_blocks) if n_blocks > 1 else [0]
    shuffle = np.random.default_rng([seed, epoch])
    pending: list[np.ndarray] = []
    size = 0
    for block in order:
        lo, hi = _rows(int(block), n)
        times = np.repeat(repeats[lo:hi], counts[lo:hi])
        pending.append(np.repeat(np.arange(starts[lo], starts[hi]), times))
        size += len(pending[-1])
        while size >= buffer:
            joined = np.concatenate(pending)
            yield shuffle.permutation(np.sort(joined[:buffer]))
            pending, size = [joined[buffer:]], len(joined) - buffer
    if size:
        yield shuffle.permutation(np.sort(np.concatenate(pending)))


def steps_per_epoch(total: int, batch_size: int, buffer: int) -> int:
    """Optimizer steps of an epoch of ``total`` windows: batches never span two buffers."""
    full, rest = divmod(total, buffer)
    return full * math.ceil(buffer / batch_size) + math.ceil(rest / batch_size)


def weighted_quantile(values: np.ndarray, counts: np.ndarray, q: Any) -> np.ndarray:
    """Quantiles ``q`` (linear interpolation, as numpy's default) of ``values`` each repeated
    ``counts`` times, without repeating them."""
    order = np.argsort(values, kind="stable")
    sorted_values, cumulative = values[order], np.cumsum(counts[order])
    position = np.asarray(q, dtype=np.float64) * (cumulative[-1] - 1)
    low = np.floor(position)
    below = sorted_values[np.searchsorted(cumulative, low, side="right")]
    above = sorted_values[np.searchsorted(cumulative, np.ceil(position), side="right")]
    return below + (above - below) * (position - low)
