"""Safe import of legacy DNO pickles into the dataset format.

The earlier DNO scripts stored a list (or a dict with key ``samples``) of tuples
``(hist, tau, t, y)``: ``hist`` a dict with keys ``t`` and ``y`` or a plain array (then taken as
equally spaced on ``[-tau, 0]``), ``tau`` a float, ``t`` a 1-D array of times, ``y`` of shape
(T,) or (T, X). A pickle can run code when loaded, so it is read by :class:`RestrictedUnpickler`,
which admits only builtin containers, numbers, strings and numpy arrays and refuses every other
class before anything of it runs.
"""

from __future__ import annotations

import hashlib
import importlib
import io
import os
import pickle
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from dno import __version__
from dno._io import check_writable
from dno.data._schema import split_indices, write_dataset
from dno.dde import Family, TrajectorySet, get_family, spatial_grid
from dno.errors import DnoError

__all__ = ["RestrictedUnpickler", "import_legacy", "load_legacy_pickle"]

#: (module, name) pairs a legacy pickle may reference; numpy.core is numpy 1's name of numpy._core.
_ALLOWED = {
    ("builtins", "set"),
    ("builtins", "frozenset"),
    ("builtins", "complex"),
    ("builtins", "bytearray"),
    ("builtins", "slice"),
    ("collections", "OrderedDict"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "scalar"),
    ("numpy._core.numeric", "_frombuffer"),
}
_NUMPY_ALIASES = {
    "numpy.core.multiarray": "numpy._core.multiarray",
    "numpy.core.numeric": "numpy._core.numeric",
}


class RestrictedUnpickler(pickle.Unpickler):
    """An unpickler that resolves only builtin containers and numpy array reconstruction.

    Any other global (``os.system``, ``builtins.eval``, a user class, ...) raises
    :class:`DnoError` naming it, before it is called.
    """

    def find_class(self, module: str, name: str) -> Any:
        module_name = _NUMPY_ALIASES.get(module, module)
        if (module_name, name) not in _ALLOWED:
            raise DnoError(
                f"refused to load class {module}.{name} from the pickle: only builtin "
                "containers, numbers, strings and numpy arrays are allowed"
            )
        if (module_name, name) == ("builtins", "bytearray"):
            return _bounded_bytearray  # bytearray(10**12) would allocate a terabyte
        if module_name.startswith("numpy._core") and not hasattr(np, "_core"):
            module_name = module_name.replace("numpy._core", "numpy.core")  # numpy < 2
        return getattr(importlib.import_module(module_name), name)


def _bounded_bytearray(*args: Any) -> bytearray:
    if args and isinstance(args[0], int) and args[0] > MAX_IMPORT_BYTES:
        raise DnoError(f"refused bytearray({args[0]}) in the pickle: larger than any import")
    return bytearray(*args)


def load_legacy_pickle(path: str | os.PathLike[str]) -> list[Any]:
    """Load the sample list of a legacy pickle with :class:`RestrictedUnpickler`.

    Returns:
        The list of samples (from a list, or from a dict's ``samples`` key).
    """
    target = Path(path)
    if not target.is_file():
        raise DnoError(f"legacy file {str(target)!r} does not exist")
    data = target.read_bytes()
    try:
        obj = RestrictedUnpickler(io.BytesIO(data)).load()
    except DnoError:
        raise
    except Exception as error:  # any malformed pickle: EOFError, UnpicklingError, ...
        raise DnoError(f"{str(target)!r} is not a readable pickle: {error!r}") from None
    if isinstance(obj, dict):
        if "samples" not in obj:
            raise DnoError(f"{str(target)!r} holds a dict without a 'samples' key")
        obj = obj["samples"]
    if not isinstance(obj, list | tuple) or not obj:
        raise DnoError(
            f"{str(target)!r} holds {type(obj).__name__}; expected a non-empty list of "
            "(hist, tau, t, y) samples or a dict with key 'samples'"
        )
    return list(obj)


def _as_2d(values: Any, what: str, index: int) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DnoError(f"sample {index}: {what} is not numeric") from None
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise DnoError(f"sample {index}: {what} has shape {arr.shape}; expected (T,) or (T, X)")
    if not np.all(np.isfinite(arr)):
        raise DnoError(f"sample {index}: {what} has non-finite values (NaN or inf)")
    return arr


def _times(values: Any, n: int, what: str, index: int) -> np.ndarray:
    try:
        t = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise DnoError(f"sample {index}: {what} is not numeric") from None
    if t.shape != (n,):
        raise DnoError(f"sample {index}: {what} has shape {t.shape}; expected ({n},)")
    if not np.all(np.isfinite(t)):
        raise DnoError(f"sample {index}: {what} has non-finite values")
    if n > 1 and not np.all(np.diff(t) > 0):
        raise DnoError(f"sample {index}: {what} are not strictly increasing")
    return t


def _validate(
    sample: Any, index: int
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, np.ndarray]:
    """Check one ``(hist, tau, t, y)`` sample; returns (hist_t, hist_y, tau, t, y) as arrays."""
    if not isinstance(sample, list | tuple) or len(sample) != 4:
        raise DnoError(
            f"sample {index}: expected a tuple (hist, tau, t, y), got {type(sample).__name__}"
        )
    hist, tau_raw, t_raw, y_raw = sample
    try:
        tau = float(tau_raw)
    except (TypeError, ValueError):
        raise DnoError(f"sample {index}: tau={tau_raw!r} is not a number") from None
    if not (np.isfinite(tau) and tau > 0):
        raise DnoError(f"sample {index}: tau={tau!r}; expected a finite tau > 0")
    y = _as_2d(y_raw, "y", index)
    t = _times(t_raw, y.shape[0], "times t", index)
    if isinstance(hist, dict):
        if "t" not in hist or "y" not in hist:
            raise DnoError(f"sample {index}: history dict has keys {sorted(hist)}; expected t, y")
        hist_y = _as_2d(hist["y"], "history y", index)
        hist_t = _times(hist["t"], hist_y.shape[0], "history times", index)
    else:
        hist_y = _as_2d(hist, "history", index)
        hist_t = np.linspace(-tau, 0.0, hist_y.shape[0])
    if hist_y.shape[1] != y.shape[1]:
        raise DnoError(
            f"sample {index}: history has {hist_y.shape[1]} channels but y has {y.shape[1]}"
        )
    return hist_t, hist_y, tau, t, y


#: Bytes of float64 values an import may plan (the padded arrays of every sample).
MAX_IMPORT_BYTES = 4 * 2**30


def planned_shape(values: Any, depth: int = 2) -> tuple[int, ...]:
    """The shape ``values`` would have as an array, read from lengths (nothing is allocated).

    A list of a million references to one row counts as a million rows: references are cheap
    in a pickle but not as an array.
    """
    if isinstance(values, np.ndarray):
        return tuple(int(n) for n in values.shape)
    if depth and isinstance(values, list | tuple):
        return (len(values), *(planned_shape(values[0], depth - 1) if values else ()))
    return ()


def _check_planned(samples: list[Any], source: str) -> tuple[np.ndarray, int, int]:
    """Refuse an import whose arrays would be too large, before any is made.

    Returns:
        ``(lengths, width, history width)`` of the samples, from their planned shapes.
    """
    lengths = np.zeros(len(samples), dtype=np.int64)
    h_lengths = np.zeros(len(samples), dtype=np.int64)
    n_x = 1
    for i, sample in enumerate(samples):
        if not isinstance(sample, list | tuple) or len(sample) != 4:
            _validate(sample, i)  # raises with the sample's own message
        hist, _, _, y = sample
        y_shape = planned_shape(y)
        hist_y = hist.get("y") if isinstance(hist, dict) else hist
        h_shape = planned_shape(hist_y)
        lengths[i] = y_shape[0] if y_shape else 0
        h_lengths[i] = h_shape[0] if h_shape else 0
        channels = int(np.prod(y_shape[1:])) if len(y_shape) > 1 else 1
        n_x = max(n_x, channels)
        one = 8 * (lengths[i] * (channels + 1) + h_lengths[i] * (channels + 1))
        if one > MAX_IMPORT_BYTES:
            raise DnoError(
                f"{source}: sample {i} would hold y of shape {y_shape} and history of shape "
                f"{h_shape} ({one / 2**30:.3g} GiB); an import holds at most "
                f"{MAX_IMPORT_BYTES / 2**30:g} GiB"
            )
    width, h_width = int(lengths.max()), int(h_lengths.max())
    total = 8 * len(samples) * (width + h_width) * (n_x + 1)
    if total > MAX_IMPORT_BYTES:
        raise DnoError(
            f"{source}: {len(samples)} samples padded to {width} observations x {n_x} channels "
            f"would hold {total / 2**30:.3g} GiB; an import holds at most "
            f"{MAX_IMPORT_BYTES / 2**30:g} GiB (split the pickle)"
        )
    return lengths, width, h_width


class _LegacyRows:
    """Legacy samples as trajectories, validated and converted a block at a time."""

    def __init__(
        self, samples: list[Any], family: Family, n_x: int, lengths: np.ndarray,
        width: int, h_width: int,
    ) -> None:  # fmt: skip
        self.samples, self.family, self.n_x = samples, family, n_x
        self.lengths, self.width, self.h_width = lengths, width, h_width
        self.x = spatial_grid(n_x) if family.is_spatial else np.array([0.5])

    def __len__(self) -> int:
        return len(self.samples)

    def rows(self, start: int, stop: int) -> TrajectorySet:
        """Samples ``start`` to ``stop - 1`` as NaN-padded arrays (validated)."""
        n = stop - start
        t = np.full((n, self.width), np.nan)
        y = np.full((n, self.width, self.n_x), np.nan)
        h_t = np.full((n, self.h_width), np.nan)
        h_y = np.full((n, self.h_width, self.n_x), np.nan)
        tau = np.zeros(n)
        for row, i in enumerate(range(start, stop)):
            ht, hy, tau[row], ti, yi = _validate(self.samples[i], i)
            if yi.shape[1] != self.n_x:
                raise DnoError(f"sample {i}: y has {yi.shape[1]} channels, sample 0 has {self.n_x}")
            t[row, : ti.shape[0]], y[row, : ti.shape[0]] = ti, yi
            h_t[row, : ht.shape[0]], h_y[row, : ht.shape[0]] = ht, hy
        params = {name: np.full(n, np.nan) for name in self.family.parameters}
        params["tau"] = tau
        return TrajectorySet(
            params=params, history_t=h_t, history_y=h_y, t=t, y=y,
            lengths=self.lengths[start:stop], x=self.x, step=np.full(n, np.nan),
        )  # fmt: skip


def import_legacy(
    source: str | os.PathLike[str],
    family: str,
    out: str | os.PathLike[str],
    seed: int = 0,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Import a legacy DNO pickle into a dataset file (split by trajectory, seeded).

    Only ``tau`` is known for legacy samples; the family's other parameters are stored as NaN
    and listed as unknown in the provenance. The size of every array is planned from the
    pickle's lengths and refused beyond :data:`MAX_IMPORT_BYTES` before any array is made;
    samples are then converted and written a block at a time (``progress`` is called with the
    samples converted so far and their number), after checking that the file fits the disk.

    Returns:
        The number of trajectories written.

    Raises:
        DnoError: a refused class, an unreadable pickle, arrays too large, or the first invalid
            sample (named).
        UsageError: an unknown family, an output path that cannot be written, or a file that
            would not fit the disk.
    """
    fam = get_family(family)
    target = check_writable(out, overwrite=overwrite)
    samples = load_legacy_pickle(source)
    lengths, width, h_width = _check_planned(samples, str(source))
    n_x = _validate(samples[0], 0)[4].shape[1]
    if fam.is_spatial == (n_x == 1):
        expected = "X >= 2 spatial points" if fam.is_spatial else "one channel"
        raise DnoError(f"samples have {n_x} channels; family {family!r} expects {expected}")
    n = len(samples)
    provenance = {
        "family": fam.name,
        "source": "legacy DNO pickle",
        "source_file": Path(source).name,
        "source_sha256": _sha256(Path(source)),
        "parameters_known": ["tau"],
        "parameters_unknown": [p for p in fam.parameters if p != "tau"],
        "seed": seed,
        "n_written": n,
        "trajectories_rejected": {},
        "trajectories_dropped": 0,
        "dno_version": __version__,
    }
    rows = _LegacyRows(samples, fam, n_x, lengths, width, h_width)
    splits = split_indices(n, seed)
    write_dataset(target, fam.name, fam.parameters, rows, splits, provenance, progress)
    return n


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()
