"""Draw and solve a batch of random trajectories of a family (what ``dno generate`` stores)."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from dno.dde import _kernels
from dno.dde._families import Family
from dno.dde._history import FourierHistory, sample_histories
from dno.dde._priors import Priors, sample_parameters
from dno.dde._solver import STATUS_REASONS, integrate, spatial_grid
from dno.errors import UsageError

__all__ = [
    "MAX_GRID_POINTS",
    "MAX_OBSERVATIONS",
    "MAX_SOLVER_STEPS",
    "SamplingSettings",
    "TrajectorySet",
    "batch_size",
    "sample_batches",
    "sample_trajectories",
]

#: Irregular observation gaps are uniform in [GAP_LO, GAP_HI] x the mean spacing.
GAP_LO, GAP_HI = 0.5, 1.5
MAX_REDRAW_ROUNDS = 10
ERROR_CHECK_TRAJECTORIES = 8
#: Solver steps per trajectory (the horizon plus the delay over the smallest step) at most:
#: a step count beyond this would run for hours per trajectory.
MAX_SOLVER_STEPS = 10_000_000
#: Observation times per trajectory at most.
MAX_OBSERVATIONS = 1_000_000
#: Spatial points at most (the reaction-diffusion propagator holds X x X values per trajectory).
MAX_GRID_POINTS = 1024
#: Trajectories drawn and solved together (one random stream each; see :func:`sample_batches`).
BATCH_TRAJECTORIES = 4096
#: Bytes of one batch's observations at most; longer trajectories make smaller batches.
BATCH_BYTES = 64 * 2**20


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
        if settings.grid_points > MAX_GRID_POINTS:
            raise UsageError(
                f"{settings.grid_points} grid points exceed the limit of {MAX_GRID_POINTS}"
            )
        if settings.max_observations > MAX_OBSERVATIONS:
            raise UsageError(
                f"t_end={settings.t_end:g} / dt_obs={settings.dt_obs:g} gives up to "
                f"{settings.max_observations:,} observations per trajectory; the limit is "
                f"{MAX_OBSERVATIONS:,} (raise --dt-obs or shorten --t-end)"
            )
        return settings

    @property
    def max_observations(self) -> int:
        """Observation times per trajectory at most (the width of ``t`` before trimming)."""
        if self.t_end / self.dt_obs > 1e15:
            return 2**62
        return math.ceil(self.t_end / (GAP_LO * self.dt_obs)) + 1

    def check_steps(self, priors: Priors) -> None:
        """Refuse priors and steps whose solve would exceed :data:`MAX_SOLVER_STEPS`.

        The smallest step is ``tau_lo`` when the smallest delay is below ``dt`` (a delay is a
        whole number of steps), and above ``dt / 2`` otherwise.

        Raises:
            UsageError: naming the step count and the prior (or ``--dt``) that causes it.
        """
        lo, hi = priors["tau"]
        smallest = lo if lo < self.dt else self.dt * lo / (lo + self.dt)
        steps = self.t_end / smallest + hi / min(smallest, self.dt)
        if steps <= MAX_SOLVER_STEPS:
            return
        cause = (
            f"prior tau={lo:g}" + ("" if lo == hi else f":{hi:g}")
            if lo < self.dt
            else f"dt={self.dt:g}"
        )
        raise UsageError(
            f"{cause} needs about {steps:.3g} solver steps per trajectory (t_end={self.t_end:g}, "
            f"smallest step {smallest:.3g}); the limit is {MAX_SOLVER_STEPS:.0e}: raise the "
            "smallest delay or dt, or shorten --t-end"
        )


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

    @classmethod
    def concatenate(cls, parts: list[TrajectorySet]) -> TrajectorySet:
        """One set of ``parts`` in order (NaN-padded to the widest ``t``), counts summed."""
        width = max(part.t.shape[1] for part in parts)

        def pad(array: np.ndarray) -> np.ndarray:
            extra = [(0, 0)] * array.ndim
            extra[1] = (0, width - array.shape[1])
            return np.pad(array, extra, constant_values=np.nan)

        rejected: dict[str, int] = {}
        for part in parts:
            for reason, count in part.rejected.items():
                rejected[reason] = rejected.get(reason, 0) + count
        return cls(
            params={k: np.concatenate([p.params[k] for p in parts]) for k in parts[0].params},
            history_t=np.concatenate([p.history_t for p in parts]),
            history_y=np.concatenate([p.history_y for p in parts]),
            t=np.concatenate([pad(p.t) for p in parts]),
            y=np.concatenate([pad(p.y) for p in parts]),
            lengths=np.concatenate([p.lengths for p in parts]),
            x=parts[0].x,
            step=np.concatenate([p.step for p in parts]),
            rejected=rejected,
            dropped=sum(p.dropped for p in parts),
            error_estimate=parts[0].error_estimate,
        )

    def rows(self, start: int, stop: int) -> TrajectorySet:
        """Trajectories ``start`` to ``stop - 1``."""
        return self.select(np.arange(start, stop))

    def select(self, index: np.ndarray) -> TrajectorySet:
        """The trajectories at ``index`` (an integer array), keeping the counts."""
        arrays = ("history_t", "history_y", "t", "y", "lengths", "step")
        params = {k: v[index] for k, v in self.params.items()}
        indexed = {k: getattr(self, k)[index] for k in arrays}
        return replace(self, params=params, rejected=dict(self.rejected), **indexed)


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
    scale = params[family.history_scale] if family.history_scale else np.ones(n)
    x = spatial_grid(settings.grid_points) if family.is_spatial else np.array([0.5])
    history = sample_histories(family, params["tau"], scale, x, rng)
    t, lengths = _observation_times(family, settings, n, rng)
    return params, history, t, lengths


def batch_size(family: Family, settings: SamplingSettings) -> int:
    """Trajectories per batch: :data:`BATCH_TRAJECTORIES`, fewer for long or wide ones.

    Depends on the family and settings only (never on ``n``), so the random streams and the
    bytes of a dataset do not depend on how many trajectories are asked for beyond a batch.
    """
    per_trajectory = 8 * 2 * settings.max_observations * max(1, settings.grid_points)
    return int(max(1, min(BATCH_TRAJECTORIES, BATCH_BYTES // per_trajectory)))


def _chunk_size(settings: SamplingSettings, chunk_size: int) -> int:
    """Trajectories per solver call: the reaction-diffusion propagator holds X x X per row."""
    per_row = 8 * 4 * settings.grid_points**2 if settings.grid_points > 1 else 0
    return int(max(1, min(chunk_size, BATCH_BYTES // per_row))) if per_row else chunk_size


def sample_batches(
    family: Family,
    n: int,
    seed: int,
    priors: Priors,
    settings: SamplingSettings,
    chunk_size: int = 256,
    progress: Callable[[int], None] | None = None,
) -> Iterator[TrajectorySet]:
    """Draw and solve ``n`` random trajectories, one batch (:func:`batch_size`) at a time.

    Memory stays that of one batch whatever ``n`` is. Batch ``k`` draws from its own stream
    (``default_rng(seed)`` for the first, ``default_rng([seed, k])`` after), so the same seed
    gives the same bytes. Within a batch, a trajectory that blows up (non-finite, or beyond the
    family's bound) is redrawn, up to :data:`MAX_REDRAW_ROUNDS` rounds; each failure is counted
    by reason in ``rejected``, and any still failing after the last round is dropped and counted
    in ``dropped``. Only the first batch carries the solver's error estimate.

    Args:
        family: the DDE family.
        n: number of trajectories (> 0).
        seed: seed of the random generators.
        priors: complete priors (see :func:`dno.dde.resolve_priors`).
        settings: horizon, steps and grid (see :class:`SamplingSettings`).
        chunk_size: trajectories per solver call.
        progress: called with the number of trajectories just solved.

    Raises:
        UsageError: ``n`` is not positive, or the step count is beyond the limit.
    """
    if n <= 0:
        raise UsageError(f"the number of trajectories must be positive, got {n}")
    settings.check_steps(priors)
    size = batch_size(family, settings)
    chunk = _chunk_size(settings, chunk_size)
    for k, start in enumerate(range(0, n, size)):
        rng = np.random.default_rng(seed if k == 0 else [seed, k])
        count = min(size, n - start)
        yield _sample_batch(family, count, rng, priors, settings, chunk, progress, k == 0)


def sample_trajectories(
    family: Family, n: int, seed: int, priors: Priors, settings: SamplingSettings
) -> TrajectorySet:
    """All ``n`` trajectories of :func:`sample_batches` in memory at once (for small ``n``)."""
    batches = list(sample_batches(family, n, seed, priors, settings))
    return batches[0] if len(batches) == 1 else TrajectorySet.concatenate(batches)


def _sample_batch(
    family: Family,
    n: int,
    rng: np.random.Generator,
    priors: Priors,
    settings: SamplingSettings,
    chunk_size: int,
    progress: Callable[[int], None] | None,
    estimate_error: bool,
) -> TrajectorySet:
    """One batch of :func:`sample_batches`, drawn from ``rng``."""
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
    if ok.size == 0:
        changed = [
            f"{name}={lo:g}" + ("" if lo == hi else f":{hi:g}")
            for name, (lo, hi) in priors.items()
            if (lo, hi) != tuple(family.default_priors[name])
        ]
        reasons = ", ".join(f"{count} {reason}" for reason, count in rejected.items())
        raise UsageError(
            f"every one of {n} trajectories of {family.name!r} was rejected after "
            f"{MAX_REDRAW_ROUNDS} redraws ({reasons}) under the priors "
            + (" ".join(changed) if changed else "(the defaults)")
            + "; choose priors under which solutions stay bounded"
        )
    error = float("nan")
    if estimate_error and ok.size:
        # Richardson: the error of the step h is about 16/15 |y_h - y_{h/2}| (4th order).
        check = ok[:ERROR_CHECK_TRAJECTORIES]
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
    arrays = ("tau", "level", "cos_coef", "sin_coef")
    return replace(history, **{k: getattr(history, k)[index] for k in arrays})
