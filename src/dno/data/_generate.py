"""Generate a dataset file: draw and solve in batches, split by trajectory, write."""

from __future__ import annotations

import math
import os
import shutil
import warnings
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from dno import __version__
from dno._io import check_writable, temporary_path
from dno.data._schema import (
    DEFAULT_FRACTIONS,
    MIN_OBSERVATIONS_PER_DELAY,
    split_indices,
    undersampling_message,
    write_dataset,
)
from dno.dde import (
    SamplingSettings,
    TrajectorySet,
    get_family,
    resolve_priors,
    sample_batches,
)
from dno.errors import DnoWarning, UsageError

__all__ = ["generate_dataset"]

SOLVER_DESCRIPTION = (
    "classical RK4, method of steps; step h_b = tau_b / ceil(tau_b / dt) so each delay is a "
    "whole number of steps; delayed midpoints and observations by cubic Hermite interpolation; "
    "neutral: left/right derivatives at breakpoints; reaction-diffusion: method of lines with "
    "an exact integrating factor for diffusion (Lawson RK4)"
)


def generate_dataset(
    family: str,
    n: int,
    seed: int,
    out: str | os.PathLike[str],
    priors: Mapping[str, Any] | Iterable[str] | None = None,
    *,
    t_end: float | None = None,
    dt: float | None = None,
    dt_obs: float | None = None,
    grid_points: int | None = None,
    overwrite: bool = False,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Draw ``n`` trajectories of ``family``, split them by trajectory and write ``out``.

    Everything is validated before any solving (including the solver's step count), and the
    file is written atomically, so a bad argument or an interrupted run never leaves a partial
    file. Trajectories are solved a batch at a time (see :func:`dno.dde.sample_batches`) into a
    scratch file beside ``out`` and then copied into their splits, so memory stays bounded
    whatever ``n`` is. The file holds no time stamp: the same arguments give a byte-identical
    file.

    Args:
        family: family name (see :data:`dno.dde.FAMILIES`).
        n: number of trajectories (> 0).
        seed: random seed; the same seed and arguments give the same bytes of data.
        out: path of the HDF5 file to write.
        priors: overrides of the default priors (``{"tau": (0.1, 0.2)}`` or ``["tau=0.1:0.2"]``).
        t_end, dt, dt_obs, grid_points: override the family's horizon, solver step,
            observation spacing and number of spatial points.
        overwrite: replace an existing file.
        progress: called with the number of trajectories solved so far in each chunk.

    Returns:
        The provenance written into the file (counts, solver, priors, seed).
    """
    fam = get_family(family)
    resolved = resolve_priors(fam, priors)
    settings = SamplingSettings.for_family(fam, t_end, dt, dt_obs, grid_points)
    settings.check_steps(resolved)
    tau_lo = float(resolved["tau"][0])
    if tau_lo / settings.dt_obs < MIN_OBSERVATIONS_PER_DELAY:
        where = f"the smallest tau of the prior, {tau_lo:g}, over dt_obs {settings.dt_obs:g}"
        message = undersampling_message(tau_lo / settings.dt_obs, where)
        warnings.warn(message, DnoWarning, stacklevel=2)
    if n <= 0:
        raise UsageError(f"the number of trajectories must be positive, got {n}")
    target = check_writable(out, overwrite=overwrite)
    _check_disk(target, n, settings)
    with temporary_path(target, suffix=".scratch.tmp") as scratch_path:
        with h5py.File(scratch_path, "w") as scratch:
            store = _ScratchStore(scratch, fam.parameters, settings)
            for batch in sample_batches(fam, n, seed, resolved, settings, progress=progress):
                store.append(batch)
        with h5py.File(scratch_path, "r") as scratch:
            written = _ScratchRows(scratch, fam.parameters)
            provenance = {
                "family": fam.name,
                "equation": fam.equation,
                "priors": {k: list(v) for k, v in resolved.items()},
                "prior_distribution": "uniform",
                "sampling": fam.sampling,
                "t_end": settings.t_end,
                "dt_obs": settings.dt_obs,
                "grid_points": settings.grid_points,
                "history": "random smooth Fourier modes on [-tau, 0]"
                + (", exponentiated (positive)" if fam.positive_history else ""),
                "solver": {
                    "method": SOLVER_DESCRIPTION,
                    "dt": settings.dt,
                    "step_min": store.step_min,
                    "step_max": store.step_max,
                    "tolerance": "fixed step (no adaptive tolerance)",
                    "estimated_max_error": store.error_estimate,
                },
                "seed": seed,
                "n_requested": n,
                "n_written": len(written),
                "split_fractions": list(DEFAULT_FRACTIONS),
                "trajectories_rejected": store.rejected,
                "trajectories_dropped": store.dropped,
                "dno_version": __version__,
            }
            splits = split_indices(len(written), seed)
            write_dataset(target, fam.name, fam.parameters, written, splits, provenance)
    return provenance


def _check_disk(target: Path, n: int, settings: SamplingSettings) -> None:
    """Refuse ``n`` trajectories whose scratch and final files would not fit on the disk.

    The estimate is the uncompressed float64 size of the observations and histories (the
    scratch file and the dataset each take at most about that much).
    """
    values = (settings.t_end / settings.dt_obs + settings.history_window) * (
        settings.grid_points + 1
    )
    need = 2 * 8 * n * values
    free = shutil.disk_usage(target.parent if str(target.parent) else ".").free
    if need > free:
        raise UsageError(
            f"{n:,} trajectories need about {need / 2**30:,.3g} GiB on disk (scratch file and "
            f"dataset); {free / 2**30:,.3g} GiB are free beside {str(target)!r}"
        )


#: Bytes of one chunk of the scratch file (a band of whole trajectories).
_SCRATCH_CHUNK_BYTES = 2**20


class _ScratchStore:
    """Solved batches appended to a scratch HDF5 file, with the counts of the provenance."""

    def __init__(self, f: h5py.File, parameters: tuple[str, ...], settings: SamplingSettings):
        self.f = f
        self.parameters = parameters
        self.width = settings.max_observations
        self.rejected: dict[str, int] = {}
        self.dropped = 0
        self.error_estimate = float("nan")
        self.step_min, self.step_max = math.inf, -math.inf

    def _dataset(self, name: str, row_shape: tuple[int, ...]) -> h5py.Dataset:
        if name not in self.f:
            row = 8 * max(1, int(np.prod(row_shape)))
            chunks = (max(1, _SCRATCH_CHUNK_BYTES // row), *row_shape)
            self.f.create_dataset(
                name, shape=(0, *row_shape), maxshape=(None, *row_shape), dtype=np.float64,
                chunks=chunks, fillvalue=np.nan, compression="lzf",
            )  # fmt: skip
        return self.f[name]

    def append(self, batch: TrajectorySet) -> None:
        """Append ``batch`` (its ``t`` and ``y`` NaN-padded to the widest possible)."""
        if "x" not in self.f:  # the first batch
            self.f.create_dataset("x", data=batch.x)
            self.error_estimate = batch.error_estimate
        for reason, count in batch.rejected.items():
            self.rejected[reason] = self.rejected.get(reason, 0) + count
        self.dropped += batch.dropped
        if not len(batch):
            return
        self.step_min = min(self.step_min, float(batch.step.min()))
        self.step_max = max(self.step_max, float(batch.step.max()))
        n_x = batch.x.shape[0]
        columns = {
            "t": (batch.t, (self.width,)),
            "y": (batch.y, (self.width, n_x)),
            "history_t": (batch.history_t, batch.history_t.shape[1:]),
            "history_y": (batch.history_y, batch.history_y.shape[1:]),
            "lengths": (batch.lengths, ()),
            "step": (batch.step, ()),
            **{f"params/{p}": (batch.params[p], ()) for p in self.parameters},
        }
        for name, (values, row_shape) in columns.items():
            dataset = self._dataset(name, tuple(row_shape))
            start = dataset.shape[0]
            dataset.resize(start + len(batch), axis=0)
            if values.ndim >= 2:
                dataset[start:, : values.shape[1]] = values
            else:
                dataset[start:] = values


class _ScratchRows:
    """The scratch file's trajectories, read a block of rows at a time (:class:`TrajectoryRows`)."""

    def __init__(self, f: h5py.File, parameters: tuple[str, ...]):
        self.f = f
        self.parameters = parameters
        self.x = np.asarray(f["x"][()])
        self.lengths = np.asarray(f["lengths"][()], dtype=np.int64)

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def rows(self, start: int, stop: int) -> TrajectorySet:
        """Trajectories ``start`` to ``stop - 1``, ``t`` and ``y`` trimmed to their widest."""
        width = int(self.lengths[start:stop].max()) if stop > start else 0
        f = self.f
        return TrajectorySet(
            params={p: f["params"][p][start:stop] for p in self.parameters},
            history_t=f["history_t"][start:stop], history_y=f["history_y"][start:stop],
            t=f["t"][start:stop, :width], y=f["y"][start:stop, :width],
            lengths=self.lengths[start:stop], x=self.x, step=f["step"][start:stop],
        )  # fmt: skip
