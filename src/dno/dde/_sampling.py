"""Draw and solve a batch of random trajectories of a family (what ``dno generate`` stores)."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from dno.dde import _kernels
from dno.dde._families import Family
from dno.dde._history import FourierHistory, sample_histories
from dno.dde._priors import Priors, sample_parameters
from dno.dde._solver import STATUS_REASONS, integrate, spatial_grid
from dno.errors import UsageError

__all__ = ["SamplingSettings", "TrajectorySet", "sample_trajectories"]

#: Irregular observation gaps are uniform in [GAP_LO, GAP_HI] x the mean spacing.
GAP_LO, GAP_HI = 0.5, 1.5
MAX_REDRAW_ROUNDS = 10
ERROR_CHECK_TRAJECTORIES = 8


@dataclass(frozen=True)
class SamplingSettings:
    """How trajectories are drawn and observed (recorded in a dataset's provenance)."""

    t_end: float
    dt: float
    dt_obs: float
    grid_points: int
    history_window: int

    @classmethod
    def for_family(
        cls,
        family: Family,
        t_end: float | None = None,
        dt: float | None = None,
        dt_obs: float | None = None,
        grid_points: int | None = None,
    ) -> SamplingSettings:
        """The family's defaults with any of them overridden (and validated)."""
        settings = cls(
            t_end=family.t_end if t_end is None else float(t_end),
            dt=family.dt if dt is None else float(dt),
            dt_obs=family.dt_obs if dt_obs is None else float(dt_obs),
            grid_points=(grid_points or family.grid_points) if family.is_spatial else 1,
            history_window=family.history_window,
        )
        for name in ("t_end", "dt", "dt_obs"):
            value = getattr(settings, name)
            if not (math.isfinite(value) and value > 0):
                raise UsageError(f"{name} must be a positive number, got {value!r}")
        if settings.dt_obs > settings.t_end:
            raise UsageError(f"dt_obs={settings.dt_obs:g} exceeds t_end={settings.t_end:g}")
        if family.is_spatial and settings.grid_points < 2:
            raise UsageError(f"grid points must be at least 2, got {settings.grid_points}")
        if grid_points is not None and not family.is_spatial and grid_points != 1:
            raise UsageError(f"family {family.name!r} is scalar; --grid-points does not apply")
        return settings


@dataclass
class TrajectorySet:
    """Solved trajectories, ready to be split and stored.

    Attributes:
        params: ``name -> (n,)``.
        history_t: the stored initial history's times on ``[-tau, 0]``, shape (n, H).
        history_y: the history there, shape (n, H, X).
        t: observation times, NaN-padded, shape (n, T).
        y: observations, NaN-padded, shape (n, T, X).
        lengths: valid observations per trajectory, shape (n,).
        x: spatial points, shape (X,).
        step: solver step per trajectory, shape (n,).
        rejected: reason -> number of draws that blew up and were redrawn.
        dropped: trajectories still failing after the last redraw round (not stored).
        error_estimate: Richardson estimate of the solver's max error (step vs half step) on
            a few trajectories.
    """

    params: dict[str, np.ndarray]
    history_t: np.ndarray
    history_y: np.ndarray
    t: np.ndarray
    y: np.ndarray
    lengths: np.ndarray
    x: np.ndarray
    step: np.ndarray
    rejected: dict[str, int] = field(default_factory=dict)
    dropped: int = 0
    error_estimate: float = float("nan")

    def __len__(self) -> int:
        return int(self.lengths.shape[0])

    def select(self, index: np.ndarray) -> TrajectorySet:
        """The trajectories at ``index`` (an integer array), keeping the counts."""
        return TrajectorySet(
            params={k: v[index] for k, v in self.params.items()},
            history_t=self.history_t[index],
            history_y=self.history_y[index],
            t=self.t[index],
            y=self.y[index],
            lengths=self.lengths[index],
            x=self.x,
            step=self.step[index],
            rejected=dict(self.rejected),
            dropped=self.dropped,
            error_estimate=self.error_estimate,
        )


def _observation_times(
    family: Family, settings: SamplingSettings, n: int, rng: np.random.Generator
) -> tuple[np.ndarray, np.ndarray]:
    """Observation times in ``(0, t_end]``: irregular (random gaps) or fixed steps.

    Returns:
        ``(t, lengths)``: NaN-padded times of shape (n, T) and lengths of shape (n,).
    """
    if family.sampling == "fixed":
        n_t = math.floor(settings.t_end / settings.dt_obs + 1e-9)
        t = np.broadcast_to(np.arange(1, n_t + 1) * settings.dt_obs, (n, n_t)).copy()
        return t, np.full(n, n_t, dtype=np.int64)
    n_gaps = math.ceil(settings.t_end / (GAP_LO * settings.dt_obs)) + 1
    gaps = rng.uniform(GAP_LO, GAP_HI, size=(n, n_gaps)) * settings.dt_obs
    t = np.cumsum(gaps, axis=1)
    inside = t <= settings.t_end
    lengths = inside.sum(axis=1).astype(np.int64)
    t[~inside] = np.nan
    return t[:, : int(lengths.max())], lengths


def _draw(
    family: Family,
    priors: Priors,
    settings: SamplingSettings,
    n: int,
    rng: np.random.Generator,
) -> tuple[dict[str, np.ndarray], FourierHistory, np.ndarray, np.ndarray]:
    params = sample_parameters(family, priors, n, rng)
    scale = params["K"] if "K" in params else np.ones(n)
    x = spatial_grid(settings.grid_points) if family.is_spatial else np.array([0.5])
    history = sample_histories(family, params["tau"], scale, x, rng)
    t, lengths = _observation_times(family, settings, n, rng)
    return params, history, t, lengths


def sample_trajectories(
    family: Family,
    n: int,
    seed: int,
    priors: Priors,
    settings: SamplingSettings,
    chunk_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> TrajectorySet:
    """Draw ``n`` random trajectories (parameters, smooth history, observation times) and solve.

    A trajectory that blows up (non-finite, or beyond the family's bound) is redrawn, up to
    :data:`MAX_REDRAW_ROUNDS` rounds; each failure is counted by reason in ``rejected``, and any
    still failing after the last round is dropped and counted in ``dropped``. The same ``seed``
    gives the same bytes.

    Args:
        family: the DDE family.
        n: number of trajectories (> 0).
        seed: seed of the random generator.
        priors: complete priors (see :func:`dno.dde.resolve_priors`).
        settings: horizon, steps and grid (see :class:`SamplingSettings`).
        chunk_size: trajectories per solver call.
        progress: called with the number of trajectories just solved.
    """
    if n <= 0:
        raise UsageError(f"the number of trajectories must be positive, got {n}")
    rng = np.random.default_rng(seed)
    params, history, t, lengths = _draw(family, priors, settings, n, rng)
    x = history.x
    y = np.full((*t.shape, x.shape[0]), np.nan)
    status = np.zeros(n, dtype=np.int8)
    step = np.zeros(n)
    h_t = _history_times(params["tau"], settings.history_window)
    h_y = history(h_t)
    rejected: dict[str, int] = {}

    def solve(index: np.ndarray, dt: float, report: bool = False) -> tuple[np.ndarray, ...]:
        """Solve the trajectories at ``index`` in chunks; returns their (y, status, step)."""
        out: tuple[np.ndarray, np.ndarray, np.ndarray] = (
            np.empty((index.size, *y.shape[1:])),
            np.empty(index.size, np.int8),
            np.empty(index.size),
        )
        for start in range(0, index.size, chunk_size):
            part = index[start : start + chunk_size]
            results = integrate(
                family, {k: v[part] for k, v in params.items()}, _select_history(history, part),
                np.nan_to_num(t[part], nan=np.inf), lengths[part], dt, x,
            )  # fmt: skip
            for array, result in zip(out, results, strict=True):
                array[start : start + part.size] = result
            if report and progress is not None:
                progress(part.size)
        return out

    everyone = np.arange(n)
    y[everyone], status[everyone], step[everyone] = solve(everyone, settings.dt, report=True)
    for _ in range(MAX_REDRAW_ROUNDS):
        bad = np.flatnonzero(status != _kernels.STATUS_OK)
        if bad.size == 0:
            break
        for code in np.unique(status[bad]):
            reason = STATUS_REASONS[int(code)]
            if code == _kernels.STATUS_BOUND:
                reason = f"{reason} |x| > {family.bound:g}"
            rejected[reason] = rejected.get(reason, 0) + int(np.sum(status[bad] == code))
        new_params, new_hist, new_t, new_len = _draw(family, priors, settings, bad.size, rng)
        for k in params:
            params[k][bad] = new_params[k]
        for k in ("tau", "level", "cos_coef", "sin_coef"):
            getattr(history, k)[bad] = getattr(new_hist, k)
        width = min(t.shape[1], new_t.shape[1])
        t[bad] = np.nan
        t[bad, :width] = new_t[:, :width]
        lengths[bad] = np.minimum(new_len, t.shape[1])
        h_t[bad] = _history_times(new_params["tau"], settings.history_window)
        h_y[bad] = new_hist(h_t[bad])
        y[bad], status[bad], step[bad] = solve(bad, settings.dt)
    ok = np.flatnonzero(status == _kernels.STATUS_OK)
    check = ok[:ERROR_CHECK_TRAJECTORIES]
    # Richardson: the error of the step h is about 16/15 |y_h - y_{h/2}| for a 4th-order scheme.
    error = float(np.nanmax(np.abs(y[check] - solve(check, settings.dt / 2)[0])) * 16 / 15)
    result = TrajectorySet(
        params=params, history_t=h_t, history_y=h_y, t=t, y=y, lengths=lengths, x=x,
        step=step, rejected=rejected, dropped=int(n - ok.size), error_estimate=error,
    )  # fmt: skip
    return result.select(ok) if ok.size < n else result


def _history_times(tau: np.ndarray, window: int) -> np.ndarray:
    """``window`` equally spaced times on ``[-tau_b, 0]`` per trajectory, shape (B, window)."""
    return -tau[:, None] * (1.0 - np.linspace(0.0, 1.0, window))[None, :]


def _select_history(history: FourierHistory, index: np.ndarray) -> FourierHistory:
    return FourierHistory(
        tau=history.tau[index],
        level=history.level[index],
        cos_coef=history.cos_coef[index],
        sin_coef=history.sin_coef[index],
        x=history.x,
        positive=history.positive,
    )
