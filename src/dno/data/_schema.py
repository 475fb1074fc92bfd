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
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dno import __version__
from dno._io import atomic_path
from dno.dde import TrajectorySet
from dno.errors import DnoError

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "SPLITS",
    "Dataset",
    "Split",
    "read_dataset",
    "split_indices",
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


@dataclass
class Dataset:
    """A whole dataset file: family, spatial grid, splits and provenance."""

    family: str
    parameters: tuple[str, ...]
    x: np.ndarray
    splits: dict[str, Split]
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


def write_dataset(
    path: str | os.PathLike[str],
    family: str,
    parameters: tuple[str, ...],
    trajectories: TrajectorySet,
    splits: Mapping[str, np.ndarray],
    provenance: Mapping[str, Any],
) -> None:
    """Write ``trajectories`` to ``path`` atomically (a temporary file moved into place).

    Args:
        path: the HDF5 file to create.
        family: the family's name.
        parameters: parameter names in the family's order.
        trajectories: all trajectories, in generation order (their index is the trajectory id).
        splits: ``split -> indices into trajectories``.
        provenance: JSON-able description of how the data were made.
    """
    text = json.dumps(provenance, sort_keys=True, allow_nan=False)
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        f.attrs["format"] = FORMAT
        f.attrs["format_version"] = FORMAT_VERSION
        f.attrs["family"] = family
        f.attrs["parameters"] = list(parameters)
        f.attrs["dno_version"] = __version__
        f.attrs["provenance"] = text
        f.create_dataset("x", data=trajectories.x)
        for name in SPLITS:
            index = np.asarray(splits.get(name, np.zeros(0, dtype=np.int64)), dtype=np.int64)
            part = trajectories.select(index)
            group = f.create_group(name)
            params = group.create_group("params")
            for p in parameters:
                params.create_dataset(p, data=part.params[p])
            width = int(part.lengths.max()) if len(part) else 0
            group.create_dataset("trajectory_id", data=index)
            group.create_dataset("lengths", data=part.lengths)
            opts: dict[str, Any] = {"compression": "gzip", "compression_opts": 4, "shuffle": True}
            if not len(part):
                opts = {}
            group.create_dataset("t", data=part.t[:, :width], **opts)
            group.create_dataset("y", data=part.y[:, :width], **opts)
            group.create_dataset("history_t", data=part.history_t, **opts)
            group.create_dataset("history_y", data=part.history_y, **opts)
            history_lengths = np.sum(np.isfinite(part.history_t), axis=1).astype(np.int64)
            group.create_dataset("history_lengths", data=history_lengths)


def read_dataset(path: str | os.PathLike[str]) -> Dataset:
    """Read and validate a dataset file.

    Raises:
        DnoError: the file is missing, not HDF5, truncated, corrupt, of another format or
            version, or inconsistent (names the first problem found).
    """
    target = Path(path)
    if not target.is_file():
        raise DnoError(f"dataset {str(target)!r} does not exist")
    try:
        with h5py.File(target, "r") as f:
            return _read_open(f, str(target))
    except DnoError:
        raise
    except (OSError, KeyError, ValueError, TypeError) as error:
        raise DnoError(
            f"{str(target)!r} is not a readable dno dataset (truncated or corrupt HDF5?): {error}"
        ) from None


def _read_open(f: h5py.File, name: str) -> Dataset:
    if f.attrs.get("format") != FORMAT:
        raise DnoError(f"{name!r} is HDF5 but not a dno dataset (no format={FORMAT!r} attribute)")
    version = int(f.attrs["format_version"])
    if version > FORMAT_VERSION:
        raise DnoError(
            f"{name!r} has dataset format version {version}; this dno reads up to "
            f"{FORMAT_VERSION} (upgrade dno)"
        )
    parameters = tuple(str(p) for p in f.attrs["parameters"])
    splits = {}
    for split in SPLITS:
        if split not in f:
            raise DnoError(f"{name!r} has no {split!r} split")
        group = f[split]
        arrays = {field: np.asarray(group[field][()]) for field in _SPLIT_FIELDS}
        params = {p: np.asarray(group["params"][p][()]) for p in parameters}
        part = Split(params=params, **arrays)
        _check_split(part, name, split)
        splits[split] = part
    return Dataset(
        family=str(f.attrs["family"]),
        parameters=parameters,
        x=np.asarray(f["x"][()]),
        splits=splits,
        provenance=json.loads(str(f.attrs["provenance"])),
        format_version=version,
        dno_version=str(f.attrs["dno_version"]),
        path=str(Path(name).resolve()),
    )


def _check_split(part: Split, name: str, split: str) -> None:
    n = len(part)
    where = f"{name!r} split {split!r}"
    if part.t.shape[0] != n or part.y.shape[:2] != part.t.shape:
        raise DnoError(f"{where}: t {part.t.shape} and y {part.y.shape} do not match {n} lengths")
    if n and (part.lengths.min() < 1 or part.lengths.max() > part.t.shape[1]):
        raise DnoError(f"{where}: lengths outside [1, {part.t.shape[1]}]")
    for p, values in part.params.items():
        if values.shape != (n,):
            raise DnoError(f"{where}: parameter {p!r} has shape {values.shape}, expected ({n},)")
