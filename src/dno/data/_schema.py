"""The on-disk dataset format (HDF5), its writer and its validating reader.

Layout (documented for readers without dno in the README, "Dataset files")::

    /                        attrs: format="dno-dataset", format_version=1, family,
                             parameters (names), dno_version, provenance (JSON text)
    /x                       (X,)       spatial points (cell centres of [0, 1]; [0.5] if scalar)
    /<split>/                split in train, val, test; trajectories never cross splits
        params/<name>        (n,)       one dataset per parameter, tau included
        trajectory_id        (n,)       index of the trajectory in generation (or import) order
        lengths              (n,)       number of valid observations of each trajectory
        t                    (n, T)     observation times in (0, t_end], NaN after `lengths`
        y                    (n, T, X)  observations, NaN after `lengths`
        history_t            (n, H)     times of the initial history on [-tau, 0]
        history_y            (n, H, X)  the initial history there
"""

from __future__ import annotations

import json
import math
import os
import shutil
import warnings
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import h5py
import numpy as np

from dno import __version__
from dno._io import atomic_path
from dno.dde import TrajectorySet
from dno.errors import DnoError, DnoWarning, UsageError

__all__ = [
    "BLOCK_TRAJECTORIES",
    "FORMAT",
    "FORMAT_VERSION",
    "MEMORY_READ_BYTES",
    "MIN_OBSERVATIONS_PER_DELAY",
    "SPLITS",
    "AnySplit",
    "Dataset",
    "Split",
    "StoredSplit",
    "Survey",
    "TrajectoryRows",
    "blocks",
    "check_room",
    "observations_per_delay",
    "read_dataset",
    "split_indices",
    "survey",
    "undersampling_message",
    "value_problems",
    "write_dataset",
]

FORMAT = "dno-dataset"
FORMAT_VERSION = 1
SPLITS = ("train", "val", "test")
DEFAULT_FRACTIONS = (0.8, 0.1, 0.1)
_SPLIT_FIELDS = (
    "trajectory_id",
    "lengths",
    "t",
    "y",
    "history_t",
    "history_y",
    "history_lengths",
)


@dataclass
class Split:
    """The trajectories of one split, as arrays (see the module docstring for shapes)."""

    params: dict[str, np.ndarray]
    trajectory_id: np.ndarray
    lengths: np.ndarray
    t: np.ndarray
    y: np.ndarray
    history_t: np.ndarray
    history_y: np.ndarray
    history_lengths: np.ndarray

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def rows(self, start: int, stop: int) -> Split:
        """Trajectories ``start`` to ``stop - 1`` (views, no copy)."""
        return self.take(slice(start, stop))

    def take(self, index: slice | np.ndarray) -> Split:
        """The trajectories at ``index`` (a slice: views)."""
        return Split(
            params={k: v[index] for k, v in self.params.items()},
            **{name: getattr(self, name)[index] for name in _SPLIT_FIELDS},
        )


#: Trajectories read (and windowed, and shuffled) together: a block of rows of a split. 256
#: rows of a Mackey-Glass file (500 observations) are 2.3 MB, about one HDF5 chunk of each
#: array; a field of 20 points, 20 chunks.
BLOCK_TRAJECTORIES = 256


@dataclass
class StoredSplit:
    """One split kept in its file: the trajectories are rows ``0 .. n - 1`` of the split's
    arrays, read a block at a time (:meth:`rows`); only each trajectory's parameters, id and
    lengths are in memory.

    Attributes:
        path: the HDF5 file.
        name: the split (``train``, ``val`` or ``test``).
        params, trajectory_id, lengths, history_lengths: (n,) each, as in :class:`Split`.
    """

    path: str
    name: str
    params: dict[str, np.ndarray]
    trajectory_id: np.ndarray
    lengths: np.ndarray
    history_lengths: np.ndarray

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def rows(self, start: int, stop: int, handle: h5py.File | None = None) -> Split:
        """Trajectories ``start`` to ``stop - 1``, read from the file (``handle``: it, open).

        Raises:
            DnoError: the rows cannot be read (a truncated or corrupt chunk), naming the file
                and the trajectories.
        """
        if handle is None:
            with _open(self.path) as f:
                return self.rows(start, stop, f)
        group = handle[self.name]
        try:
            arrays = {k: np.asarray(group[k][start:stop]) for k in _ROW_FIELDS}
        except (OSError, ValueError, RuntimeError) as error:
            row = self._first_unreadable(group, start, stop)
            raise DnoError(
                f"{self.path!r}: cannot read split {self.name!r} trajectory {row} (id "
                f"{int(self.trajectory_id[row])}): {_first_line(error)}; the file is truncated "
                "or corrupt there (regenerate it, or copy it again)"
            ) from None
        cut = slice(start, stop)
        return Split(
            params={k: v[cut] for k, v in self.params.items()},
            trajectory_id=self.trajectory_id[cut],
            lengths=self.lengths[cut],
            history_lengths=self.history_lengths[cut],
            **arrays,
        )

    def _first_unreadable(self, group: h5py.Group, start: int, stop: int) -> int:
        """The first of rows ``start .. stop - 1`` that cannot be read (``start`` if each can)."""
        for row in range(start, stop):
            try:
                for k in _ROW_FIELDS:
                    group[k][row]
            except (OSError, ValueError, RuntimeError):
                return row
        return start


#: The arrays of a split with a row per trajectory and an axis of observations.
_ROW_FIELDS = ("t", "y", "history_t", "history_y")

#: A split in memory or in its file: what windows, checks and summaries read.
AnySplit = Split | StoredSplit


def blocks(split: AnySplit, size: int = BLOCK_TRAJECTORIES) -> Iterator[tuple[int, Split]]:
    """The split a block of ``size`` trajectories at a time: ``(first row, rows)`` in order.

    A stored split is read from its file once per block (memory: one block); an in-memory one
    is cut into views.
    """
    n = len(split)
    if isinstance(split, Split):
        for start in range(0, n, size):
            yield start, split.rows(start, min(n, start + size))
        return
    with _open(split.path) as f:
        for start in range(0, n, size):
            yield start, split.rows(start, min(n, start + size), f)


def _open(path: str) -> h5py.File:
    """The file, open for reading; a read error names it."""
    try:
        return h5py.File(path, "r")
    except OSError as error:
        raise DnoError(
            f"{path!r} is not a readable dno dataset (truncated or corrupt HDF5?): "
            f"{_first_line(error)}"
        ) from None


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return text[0] if text else type(error).__name__


@dataclass
class Dataset:
    """A whole dataset file: family, spatial grid, splits (in memory, or read from the file a
    block at a time: :func:`read_dataset`) and provenance."""

    family: str
    parameters: tuple[str, ...]
    x: np.ndarray
    splits: dict[str, AnySplit]
    provenance: dict[str, Any]
    format_version: int
    dno_version: str
    path: str = ""


def split_indices(
    n: int, seed: int, fractions: tuple[float, float, float] = DEFAULT_FRACTIONS
) -> dict[str, np.ndarray]:
    """Assign ``n`` trajectories to train/val/test by a seeded permutation (never by window).

    Returns:
        ``split -> sorted trajectory indices``; val and test get ``round(n * fraction)`` each
        (at least one when ``n >= 3``), train the rest.
    """
    order = np.random.default_rng([seed, 0x5EED]).permutation(n)
    n_val = round(n * fractions[1])
    n_test = round(n * fractions[2])
    if n >= 3:
        n_val, n_test = max(n_val, 1), max(n_test, 1)
    n_train = n - n_val - n_test
    bounds = np.cumsum([0, n_train, n_val, n_test])
    return {name: np.sort(order[bounds[i] : bounds[i + 1]]) for i, name in enumerate(SPLITS)}


class TrajectoryRows(Protocol):
    """Trajectories readable a block of rows at a time (in memory, or a scratch file)."""

    x: np.ndarray
    lengths: np.ndarray

    def __len__(self) -> int: ...

    def rows(self, start: int, stop: int) -> TrajectorySet:
        """Trajectories ``start`` to ``stop - 1`` in generation order."""
        ...


#: Bytes of trajectories copied at once by :func:`write_dataset`.
WRITE_BLOCK_BYTES = 64 * 2**20
#: Bytes of one HDF5 chunk (a band of whole trajectories).
CHUNK_BYTES = 2**20


def write_dataset(
    path: str | os.PathLike[str],
    family: str,
    parameters: tuple[str, ...],
    trajectories: TrajectoryRows,
    splits: Mapping[str, np.ndarray],
    provenance: Mapping[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> None:
    """Write ``trajectories`` to ``path`` atomically (a temporary file moved into place).

    The trajectories are copied a block of rows at a time, so memory stays bounded whatever
    their number; the same input gives the same bytes. A copy that cannot fit the disk (at its
    uncompressed size) is refused before it starts.

    Args:
        path: the HDF5 file to create.
        family: the family's name.
        parameters: parameter names in the family's order.
        trajectories: all trajectories, in generation order (their index is the trajectory id);
            a :class:`~dno.dde.TrajectorySet` or any :class:`TrajectoryRows`.
        splits: ``split -> indices into trajectories``.
        provenance: JSON-able description of how the data were made.
        progress: called with the trajectories copied so far and their total, after each block.

    Raises:
        UsageError: the file would not fit the free space of its disk.
    """
    text = json.dumps(provenance, sort_keys=True, allow_nan=False)
    n = len(trajectories)
    lengths = np.asarray(trajectories.lengths, dtype=np.int64)
    first = trajectories.rows(0, min(n, 1))
    n_x, h_width = trajectories.x.shape[0], first.history_t.shape[1]
    row_bytes = 8 * (first.t.shape[1] * (1 + n_x) + h_width * (1 + n_x)) + 1
    check_room(Path(path), n * row_bytes, "the dataset (uncompressed, at most)")
    owner = np.full(n, -1, dtype=np.int8)
    position = np.zeros(n, dtype=np.int64)
    with atomic_path(path) as tmp, h5py.File(tmp, "w", rdcc_nbytes=4 * CHUNK_BYTES) as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["family"] = family
        f.attrs["parameters"] = list(parameters)
        f.attrs["dno_version"] = __version__
        f.attrs["provenance"] = text
        f.create_dataset("x", data=trajectories.x)
        groups = []
        for k, name in enumerate(SPLITS):
            index = np.sort(np.asarray(splits.get(name, ()), dtype=np.int64))
            owner[index], position[index] = k, np.arange(index.size)
            group = f.create_group(name)
            params = group.create_group("params")
            for p in parameters:
                params.create_dataset(p, shape=(index.size,), dtype=np.float64)
            width = int(lengths[index].max()) if index.size else 0
            group.create_dataset("trajectory_id", data=index)
            group.create_dataset("lengths", data=lengths[index])
            for field, shape in (
                ("t", (index.size, width)), ("y", (index.size, width, n_x)),
                ("history_t", (index.size, h_width)), ("history_y", (index.size, h_width, n_x)),
            ):  # fmt: skip
                _create_rows(group, field, shape)
            group.create_dataset("history_lengths", shape=(index.size,), dtype=np.int64)
            groups.append((group, width))
        block = max(1, WRITE_BLOCK_BYTES // row_bytes)
        for start in range(0, n, block):
            part = trajectories.rows(start, min(n, start + block))
            for k, (group, width) in enumerate(groups):
                sel = np.flatnonzero(owner[start : start + len(part)] == k)
                if sel.size:
                    rows = part.select(sel)
                    lo = int(position[start + sel[0]])
                    _write_rows(group, parameters, rows, slice(lo, lo + sel.size), width)
            if progress is not None:
                progress(start + len(part), n)


def check_room(target: Path, need: float, what: str) -> None:
    """Refuse, in one line, a file of about ``need`` bytes that the disk of ``target`` cannot
    hold, before any of it is written.

    Raises:
        UsageError: naming the file, the bytes needed and the bytes free.
    """
    folder = target.parent if str(target.parent) else Path(".")
    try:
        free = shutil.disk_usage(folder).free
    except OSError:  # a folder that does not exist: its own error comes when it is written
        return
    if need > free:
        raise UsageError(
            f"{str(target)!r} needs about {need / 2**30:,.3g} GiB for {what}; "
            f"{free / 2**30:,.3g} GiB are free there (free some, or write elsewhere)"
        )


def _create_rows(group: h5py.Group, field: str, shape: tuple[int, ...]) -> None:
    """An empty float dataset of whole-trajectory chunks (gzip), NaN where never written."""
    if not shape[0] or not all(shape):
        group.create_dataset(field, shape=shape, dtype=np.float64)
        return
    row = int(np.prod(shape[1:])) * 8
    chunks = (max(1, min(shape[0], CHUNK_BYTES // row)), *shape[1:])
    group.create_dataset(
        field, shape=shape, dtype=np.float64, chunks=chunks, fillvalue=np.nan,
        compression="gzip", compression_opts=4, shuffle=True,
    )  # fmt: skip


def _write_rows(
    group: h5py.Group, parameters: tuple[str, ...], rows: TrajectorySet, where: slice, width: int
) -> None:
    """Write consecutive trajectories of one split at rows ``where``."""
    for p in parameters:
        group["params"][p][where] = rows.params[p]
    w = min(width, rows.t.shape[1])
    if w:
        group["t"][where, :w] = rows.t[:, :w]
        group["y"][where, :w] = rows.y[:, :w]
    if rows.history_t.shape[1]:
        group["history_t"][where] = rows.history_t
        group["history_y"][where] = rows.history_y
    group["history_lengths"][where] = np.sum(np.isfinite(rows.history_t), axis=1)


#: A file whose arrays (uncompressed) hold at most this many bytes is read into memory whole;
#: a larger one is read a block of trajectories at a time, so memory stays flat in its size.
MEMORY_READ_BYTES = 256 * 2**20


def read_dataset(
    path: str | os.PathLike[str], check_values: bool = True, in_memory: bool | None = None
) -> Dataset:
    """Read and validate a dataset file.

    Args:
        path: the HDF5 file.
        check_values: refuse non-finite values and times that do not increase (see
            :func:`value_problems`); ``False`` reads such a file so it can be inspected.
        in_memory: read the trajectories into memory (:class:`Split`), or keep them in the file
            (:class:`StoredSplit`, read a block at a time); None: in memory when the file's
            arrays hold at most :data:`MEMORY_READ_BYTES`. The checks read a stored file once,
            a block at a time.

    Raises:
        DnoError: the file is missing, not HDF5, truncated, corrupt, of another format or
            version, inconsistent, or (with ``check_values``) holds a non-finite value or a
            time that does not increase (names the split and trajectory of the first one).
    """
    target = Path(path)
    if not target.is_file():
        raise DnoError(f"dataset {str(target)!r} does not exist")
    try:
        with h5py.File(target, "r") as f:
            whole = in_memory if in_memory is not None else _array_bytes(f) <= MEMORY_READ_BYTES
            dataset = _read_open(f, str(target), whole)
    except DnoError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise DnoError(
            f"{str(target)!r} is not a readable dno dataset (truncated or corrupt HDF5?): {error}"
        ) from None
    if not check_values:
        return dataset
    found = survey(dataset)
    problems = found.problems
    if problems:
        raise DnoError(
            f"{str(target)!r}: {problems[0]}"
            + (f" (and {len(problems) - 1} more: see dno data info)" if len(problems) > 1 else "")
        )
    if found.fewest < MIN_OBSERVATIONS_PER_DELAY:
        note = undersampling_message(found.fewest, found.where)
        warnings.warn(f"{str(target)!r}: {note}", DnoWarning, stacklevel=2)
    return dataset


def _array_bytes(f: h5py.File) -> int:
    """Bytes of the file's arrays once read (uncompressed)."""
    total = 0
    for split in SPLITS:
        if split in f:
            for field in ("t", "y", "history_t", "history_y"):
                if field in f[split]:
                    total += int(np.prod(f[split][field].shape)) * f[split][field].dtype.itemsize
    return total


#: Fewer observations than this in one delay window make the history on the theta-grid mostly
#: interpolation (the window holds S points however few were observed).
MIN_OBSERVATIONS_PER_DELAY = 6


@dataclass
class Survey:
    """What one pass over a dataset's trajectories finds (:func:`survey`).

    Attributes:
        fewest: the fewest observations in one delay window (``inf``: no trajectory has two).
        where: the trajectory that has them (split, position, id, tau and spacing).
        problems: one line per bad value found (see :func:`value_problems`).
        last_time: the smallest and largest time of a last observation (NaN: none).
    """

    fewest: float = math.inf
    where: str = ""
    problems: list[str] = field(default_factory=list)
    last_time: tuple[float, float] = (math.nan, math.nan)


def survey(dataset: Dataset) -> Survey:
    """Check every trajectory in one pass, a block at a time (memory: one block).

    Returns:
        The sampling (:func:`observations_per_delay`), the bad values (:func:`value_problems`)
        and the range of the last observation times.
    """
    found = Survey()
    lows, highs = [], []
    for name in SPLITS:
        part = dataset.splits[name]
        firsts: dict[tuple[str, str], tuple[int, int, float]] = {}
        counts: dict[tuple[str, str], int] = {}
        for offset, block in blocks(part):
            _sampling(block, name, offset, found)
            for key, row, column, value, count in _block_problems(block):
                firsts.setdefault(key, (offset + row, column, value))
                counts[key] = counts.get(key, 0) + count
            if len(block):
                last = block.t[np.arange(len(block)), block.lengths - 1]
                last = last[np.isfinite(last)]
                if last.size:
                    lows.append(float(last.min()))
                    highs.append(float(last.max()))
        for key in sorted(firsts, key=_PROBLEM_ORDER.index):
            row, column, value = firsts[key]
            count = counts[key]
            found.problems.append(
                f"split {name!r} trajectory {row} (id {int(part.trajectory_id[row])}): "
                f"{key[1]} ({value!r}) at {key[0]} {column} (of {count} "
                f"trajector{'y' if count == 1 else 'ies'} with such values)"
            )
        tau = part.params.get("tau")
        if tau is not None and not np.all(np.isfinite(tau) & (tau > 0)):
            first = int(np.argmax(~(np.isfinite(tau) & (tau > 0))))
            found.problems.append(
                f"split {name!r} trajectory {first} (id {int(part.trajectory_id[first])}): "
                f"tau={float(tau[first])!r}, expected a positive number"
            )
    if lows:
        found.last_time = (min(lows), max(highs))
    return found


def observations_per_delay(dataset: Dataset) -> tuple[float, str]:
    """The fewest observations in one delay window, over every trajectory of every split.

    A trajectory's count is ``tau / spacing``, its delay over its mean observation spacing on
    t > 0.

    Returns:
        ``(count, where)``: the count (``inf`` when no trajectory has two observations) and which
        trajectory has it (split, position, id, tau and spacing).
    """
    found = survey(dataset)
    return found.fewest, found.where


def _sampling(block: Split, name: str, offset: int, found: Survey) -> None:
    """Lower ``found.fewest`` (and say where) by the trajectories of ``block``."""
    tau = block.params.get("tau")
    if tau is None or not len(block):
        return
    rows = np.arange(len(block))
    n = block.lengths.astype(np.int64)
    with np.errstate(invalid="ignore", divide="ignore"):
        spacing = (block.t[rows, np.maximum(n - 1, 0)] - block.t[:, 0]) / (n - 1)
        count = np.where((n > 1) & (spacing > 0), tau / spacing, np.inf)
    b = int(np.argmin(count))
    if count[b] < found.fewest:
        found.fewest = float(count[b])
        found.where = (
            f"split {name!r} trajectory {offset + b} (id {int(block.trajectory_id[b])}): "
            f"tau={float(tau[b]):.4g}, observation spacing {float(spacing[b]):.4g}"
        )


def undersampling_message(fewest: float, where: str) -> str:
    """The warning for delay windows holding as few as ``fewest`` observations (at ``where``)."""
    return (
        f"a delay window holds as few as {fewest:.3g} observations ({where}); with fewer than "
        f"{MIN_OBSERVATIONS_PER_DELAY} the history on the theta-grid is mostly interpolation: "
        f"observe at least {MIN_OBSERVATIONS_PER_DELAY} times per delay "
        "(dno generate --dt-obs at most the smallest tau / "
        f"{MIN_OBSERVATIONS_PER_DELAY})"
    )


def value_problems(dataset: Dataset) -> list[str]:
    """The first bad value of each split and array: a non-finite value or a time not increasing.

    Checked within each trajectory's valid observations (``lengths``) and stored history
    (``history_lengths``), vectorised over a block of trajectories at a time.

    Returns:
        One line per problem, naming the split, trajectory (its position and id), array and
        observation; empty for a clean file.
    """
    return survey(dataset).problems


_KINDS = ("t is not finite", "y is not finite", "t does not increase")
#: The order of the problems of one split: observations first, each kind in :data:`_KINDS` order.
_PROBLEM_ORDER = [(what, label) for what in ("observation", "history point") for label in _KINDS]


def _block_problems(block: Split) -> Iterator[tuple[tuple[str, str], int, int, float, int]]:
    """``((what, kind), row, column, value, trajectories)`` for each kind of bad value in
    ``block``: the first one's place and value, and how many trajectories have one."""
    for what, times, values, lengths in (
        ("observation", block.t, block.y, block.lengths),
        ("history point", block.history_t, block.history_y, block.history_lengths),
    ):
        for label, bad, source in _bad_values(times, values, lengths):
            row, column = np.unravel_index(int(np.argmax(bad)), bad.shape)
            value = source[row, column]
            if np.ndim(value):  # y at one time: show its first non-finite point
                value = value[np.argmax(~np.isfinite(value))]
            yield (what, label), int(row), int(column), float(value), int(bad.any(axis=1).sum())


def _bad_values(
    times: np.ndarray, values: np.ndarray, lengths: np.ndarray
) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """``(label, mask, array)`` per kind of bad value among the first ``lengths`` of each row.

    Args:
        times: (n, T); values: (n, T, X); lengths: (n,).
    """
    valid = np.arange(times.shape[1])[None, :] < lengths[:, None]
    found = []
    for label, bad, source in (
        ("t is not finite", valid & ~np.isfinite(times), times),
        ("y is not finite", valid & ~np.isfinite(values).all(axis=-1), values),
    ):
        if bad.any():
            found.append((label, bad, source))
    with np.errstate(invalid="ignore"):
        steps = np.diff(times, axis=1) > 0
    falling = valid[:, 1:] & ~steps & np.isfinite(times[:, 1:]) & np.isfinite(times[:, :-1])
    if falling.any():
        found.append(("t does not increase", np.pad(falling, ((0, 0), (1, 0))), times))
    return found


def _read_open(f: h5py.File, name: str, whole: bool = True) -> Dataset:
    if f.attrs.get("format") != FORMAT:
        raise DnoError(f"{name!r} is HDF5 but not a dno dataset (no format={FORMAT!r} attribute)")
    version = int(f.attrs["format_version"])
    if version > FORMAT_VERSION:
        raise DnoError(
            f"{name!r} has dataset format version {version}; this dno reads up to "
            f"{FORMAT_VERSION} (upgrade dno)"
        )
    parameters = tuple(str(p) for p in f.attrs["parameters"])
    path = str(Path(name).resolve())
    splits: dict[str, AnySplit] = {}
    for split in SPLITS:
        if split not in f:
            raise DnoError(f"{name!r} has no {split!r} split")
        group = f[split]
        params = {p: np.asarray(group["params"][p][()]) for p in parameters}
        _check_split(group, params, name, split)
        small = {k: np.asarray(group[k][()]) for k in ("trajectory_id", "lengths",
                                                        "history_lengths")}  # fmt: skip
        if whole:
            big = {k: np.asarray(group[k][()]) for k in ("t", "y", "history_t", "history_y")}
            splits[split] = Split(params=params, **small, **big)
        else:
            splits[split] = StoredSplit(path, split, params, **small)
    return Dataset(
        family=str(f.attrs["family"]),
        parameters=parameters,
        x=np.asarray(f["x"][()]),
        splits=splits,
        provenance=json.loads(str(f.attrs["provenance"])),
        format_version=version,
        dno_version=str(f.attrs["dno_version"]),
        path=path,
    )


def _check_split(group: h5py.Group, params: dict[str, np.ndarray], name: str, split: str) -> None:
    """The split's arrays agree in shape (read from the file's metadata, not its data)."""
    lengths = np.asarray(group["lengths"][()])
    n = lengths.shape[0]
    t_shape, y_shape = group["t"].shape, group["y"].shape
    where = f"{name!r} split {split!r}"
    if t_shape[0] != n or y_shape[:2] != t_shape:
        raise DnoError(f"{where}: t {t_shape} and y {y_shape} do not match {n} lengths")
    if n and (lengths.min() < 1 or lengths.max() > t_shape[1]):
        raise DnoError(f"{where}: lengths outside [1, {t_shape[1]}]")
    for p, values in params.items():
        if values.shape != (n,):
            raise DnoError(f"{where}: parameter {p!r} has shape {values.shape}, expected ({n},)")
