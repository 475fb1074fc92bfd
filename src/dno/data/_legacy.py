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
from pathlib import Path
from typing import Any

import numpy as np

from dno import __version__
from dno._io import check_writable
from dno.data._schema import split_indices, write_dataset
from dno.dde import TrajectorySet, get_family, spatial_grid
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
        if module_name.startswith("numpy._core") and not hasattr(np, "_core"):
            module_name = module_name.replace("numpy._core", "numpy.core")  # numpy < 2
        return getattr(importlib.import_module(module_name), name)


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


def import_legacy(
    source: str | os.PathLike[str],
    family: str,
    out: str | os.PathLike[str],
    seed: int = 0,
    overwrite: bool = False,
) -> TrajectorySet:
    """Import a legacy DNO pickle into a dataset file (split by trajectory, seeded).

    Only ``tau`` is known for legacy samples; the family's other parameters are stored as NaN
    and listed as unknown in the provenance.

    Raises:
        DnoError: a refused class, an unreadable pickle, or the first invalid sample (named).
        UsageError: an unknown family, or an output path that cannot be written.
    """
    fam = get_family(family)
    target = check_writable(out, overwrite=overwrite)
    samples = [_validate(s, i) for i, s in enumerate(load_legacy_pickle(source))]
    n_x = samples[0][4].shape[1]
    for i, sample in enumerate(samples):
        if sample[4].shape[1] != n_x:
            raise DnoError(f"sample {i}: y has {sample[4].shape[1]} channels, sample 0 has {n_x}")
    if fam.is_spatial == (n_x == 1):
        expected = "X >= 2 spatial points" if fam.is_spatial else "one channel"
        raise DnoError(f"samples have {n_x} channels; family {family!r} expects {expected}")
    n = len(samples)
    width = max(s[3].shape[0] for s in samples)
    h_width = max(s[0].shape[0] for s in samples)
    t = np.full((n, width), np.nan)
    y = np.full((n, width, n_x), np.nan)
    h_t = np.full((n, h_width), np.nan)
    h_y = np.full((n, h_width, n_x), np.nan)
    for i, (ht, hy, _, ti, yi) in enumerate(samples):
        t[i, : ti.shape[0]], y[i, : ti.shape[0]] = ti, yi
        h_t[i, : ht.shape[0]], h_y[i, : ht.shape[0]] = ht, hy
    params = {name: np.full(n, np.nan) for name in fam.parameters}
    params["tau"] = np.array([s[2] for s in samples])
    trajectories = TrajectorySet(
        params=params, history_t=h_t, history_y=h_y, t=t, y=y,
        lengths=np.array([s[3].shape[0] for s in samples], dtype=np.int64),
        x=spatial_grid(n_x) if fam.is_spatial else np.array([0.5]), step=np.full(n, np.nan),
    )  # fmt: skip
    provenance = {
        "family": fam.name,
        "source": "legacy DNO pickle",
        "source_file": Path(source).name,
        "source_sha256": hashlib.sha256(Path(source).read_bytes()).hexdigest(),
        "parameters_known": ["tau"],
        "parameters_unknown": [p for p in fam.parameters if p != "tau"],
        "seed": seed,
        "n_written": n,
        "trajectories_rejected": {},
        "trajectories_dropped": 0,
        "dno_version": __version__,
    }
    write_dataset(
        target, fam.name, fam.parameters, trajectories, split_indices(n, seed), provenance
    )
    return trajectories
