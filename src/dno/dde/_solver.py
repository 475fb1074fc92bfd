"""The batched DDE solver: fixed-step RK4 by the method of steps (see :mod:`dno.dde._kernels`).

:func:`solve` is the public entry point for one explicit problem; :func:`integrate` is the batched
core that the dataset generator also uses.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

import numpy as np

from dno.dde import _kernels
from dno.dde._families import Family, get_family
from dno.errors import DnoError, UsageError

__all__ = [
    "STATUS_REASONS",
    "HistoryLike",
    "Solution",
    "delay_steps",
    "integrate",
    "neumann_laplacian",
    "solve",
    "spatial_grid",
]

STATUS_REASONS = {
    _kernels.STATUS_NONFINITE: "non-finite value",
    _kernels.STATUS_BOUND: "exceeded bound",
}


class RowwiseHistory(Protocol):
    """A history that evaluates one row of times per trajectory (as :class:`FourierHistory`)."""

    def __call__(self, t: np.ndarray) -> np.ndarray: ...  # (B, T) -> (B, T, X)

    def derivative(self, t: np.ndarray) -> np.ndarray: ...  # (B, T) -> (B, T, X)


#: What :func:`solve` accepts as a history: a constant, or a callable ``h(t)`` for ``t <= 0``.
HistoryLike = float | np.ndarray | Callable[[np.ndarray], Any]


@dataclass(frozen=True)
class Solution:
    """The solution of a batch of DDE problems at shared output times.

    Attributes:
        t: output times ``0, dt_out, 2 dt_out, ...``, shape (T,).
        y: the state at those times, shape (B, T, X) (``X = 1`` for scalar families).
        params: ``name -> values``, each of shape (B,), including ``tau``.
        family: the family's name.
        step: the solver step each trajectory used (``tau_b / N_b``), shape (B,).
        x: spatial points, shape (X,).
    """

    t: np.ndarray
    y: np.ndarray
    params: dict[str, np.ndarray]
    family: str
    step: np.ndarray
    x: np.ndarray = field(default_factory=lambda: np.array([0.5]))


def spatial_grid(grid_points: int) -> np.ndarray:
    """Cell centres ``x_i = (i - 1/2) / X``, ``i = 1..X``, of ``[0, 1]``; shape (X,)."""
    return (np.arange(grid_points, dtype=np.float64) + 0.5) / grid_points


def neumann_laplacian(grid_points: int) -> np.ndarray:
    """The zero-flux second-difference matrix on :func:`spatial_grid`, shape (X, X)."""
    n = grid_points
    dx2 = (1.0 / n) ** 2
    lap = np.diag(np.full(n, -2.0)) + np.diag(np.ones(n - 1), 1) + np.diag(np.ones(n - 1), -1)
    lap[0, 0] = lap[-1, -1] = -1.0
    return lap / dx2


def delay_steps(tau: np.ndarray, dt: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-trajectory steps dividing each delay: ``N_b = ceil(tau_b / dt)``, ``h_b = tau_b / N_b``.

    Returns:
        ``(h, N)``, each of shape (B,).
    """
    n_delay = np.maximum(1, np.ceil(tau / dt - 1e-9)).astype(np.int64)
    return tau / n_delay, n_delay


def integrate(
    family: Family,
    params: Mapping[str, np.ndarray],
    history: RowwiseHistory,
    obs_t: np.ndarray,
    obs_len: np.ndarray,
    dt: float,
    x: np.ndarray,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Integrate a batch of trajectories and sample each at its own observation times.

    Args:
        family: the DDE family.
        params: ``name -> values`` of shape (B,), for every parameter of the family.
        history: row-wise history (values and derivative at times of shape (B, T)).
        obs_t: sorted observation times in ``[0, t_end]``, padded, shape (B, T).
        obs_len: valid observation times per trajectory, shape (B,).
        dt: the largest solver step; each trajectory uses ``tau_b / ceil(tau_b / dt)``.
        x: spatial points, shape (X,).

    Returns:
        ``(y, status, step)``: ``y`` of shape (B, T, X), NaN where there is no observation or the
        trajectory failed; ``status`` (B,) with 0 for success (see :data:`STATUS_REASONS`);
        ``step`` (B,).
    """
    tau = np.ascontiguousarray(params["tau"], dtype=np.float64)
    step, n_delay = delay_steps(tau, dt)
    n_max = int(n_delay.max())
    j = np.arange(n_max + 1, dtype=np.float64)
    # Padded slots (j > N_b) get valid times in [-tau, 0] so the history can be evaluated there.
    grid_t = np.minimum(-tau[:, None] + j[None, :] * step[:, None], 0.0)
    mid_t = np.minimum(-tau[:, None] + (j[None, :-1] + 0.5) * step[:, None], 0.0)
    hist = np.ascontiguousarray(history(grid_t), dtype=np.float64)
    hist_mid = np.ascontiguousarray(history(mid_t), dtype=np.float64)
    grid_t[np.arange(len(tau)), n_delay] = 0.0  # exact t = 0 despite rounding
    obs_t = np.ascontiguousarray(obs_t, dtype=np.float64)
    obs_len = np.ascontiguousarray(obs_len, dtype=np.int64)
    coef = np.ascontiguousarray(
        np.stack([np.asarray(params[name], dtype=np.float64) for name in family.parameters[:-1]], 1)
    )
    bound = float(family.bound)
    kernel = _kernels.compiled(family.kernel, family.rhs, family.prepare)
    if family.kernel == "retarded":
        y, status = kernel(
            coef, step, n_delay, hist[..., 0], hist_mid[..., 0], obs_t, obs_len, bound
        )
        y = y[..., None]
    elif family.kernel == "neutral":
        dhist = np.ascontiguousarray(history.derivative(grid_t)[..., 0], dtype=np.float64)
        dhist_mid = np.ascontiguousarray(history.derivative(mid_t)[..., 0], dtype=np.float64)
        y, status = kernel(
            coef, step, n_delay, hist[..., 0], hist_mid[..., 0], dhist, dhist_mid,
            obs_t, obs_len, bound,
        )  # fmt: skip
        y = y[..., None]
    elif family.kernel == "reaction_diffusion":
        lap = neumann_laplacian(x.shape[0])
        eigval, eigvec = np.linalg.eigh(lap)
        growth = np.exp(0.5 * (step * coef[:, 0])[:, None] * eigval[None, :])  # (B, X)
        prop_half = np.ascontiguousarray(np.einsum("ik,bk,jk->bij", eigvec, growth, eigvec))
        y, status = kernel(
            coef, step, n_delay, lap, prop_half, hist, hist_mid, obs_t, obs_len, bound
        )
    else:  # a declaration refuses an unknown kernel; never another family's equation
        raise ValueError(f"family {family.name!r}: no arguments for kernel {family.kernel!r}")
    return y, status, step


class _CallableHistory:
    """Adapts a user's ``h(t)`` (vectorised over a shared t) to row-wise evaluation."""

    def __init__(
        self,
        func: Callable[[np.ndarray], Any],
        derivative: Callable[[np.ndarray], Any] | None,
        batch: int,
        grid_points: int,
    ) -> None:
        self.func = func
        self.deriv_func = derivative
        self.batch = batch
        self.grid_points = grid_points

    def _shape(self, raw: Any, n_t: int, what: str) -> np.ndarray:
        arr = np.asarray(raw, dtype=np.float64)
        b, x = self.batch, self.grid_points
        if arr.ndim == 0:
            arr = np.full((n_t,), float(arr))
        if x == 1 and arr.shape == (n_t,):
            arr = arr[None, :, None]
        elif x == 1 and arr.shape == (b, n_t):
            arr = arr[:, :, None]
        elif x > 1 and arr.shape == (n_t, x):
            arr = arr[None]
        if arr.ndim != 3 or arr.shape[1:] != (n_t, x) or arr.shape[0] not in (1, b):
            expected = f"(T={n_t},) or (B={b}, T={n_t})" if x == 1 else f"(T={n_t}, X={x})"
            raise UsageError(
                f"{what}(t) for t of shape ({n_t},) returned shape {arr.shape}; expected "
                f"{expected} or (B={b}, T={n_t}, X={x})"
            )
        return np.broadcast_to(arr, (b, n_t, x))

    def _rowwise(self, func: Callable[[np.ndarray], Any], t: np.ndarray, what: str) -> np.ndarray:
        out = np.empty((*t.shape, self.grid_points))
        # One call per distinct row of times (rows share times when trajectories share tau).
        rows, inverse = np.unique(t, axis=0, return_inverse=True)
        for k, row in enumerate(rows):
            values = self._shape(func(row.copy()), row.shape[0], what)
            members = np.flatnonzero(inverse.reshape(-1) == k)
            out[members] = values[members]
        if not np.all(np.isfinite(out)):
            raise UsageError(f"{what}(t) returned non-finite values on [-tau, 0]")
        return out

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return self._rowwise(self.func, t, "history")

    def derivative(self, t: np.ndarray) -> np.ndarray:
        if self.deriv_func is not None:
            return self._rowwise(self.deriv_func, t, "history_derivative")
        # Fourth-order central differences, one-sided near t = 0 where h is not defined beyond.
        delta = 1e-3 * max(1e-3, float(np.max(np.abs(t))) or 1.0)
        t_back = np.minimum(t, -2 * delta)
        f = [self(t_back + k * delta) for k in (-2, -1, 1, 2)]
        central = (f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * delta)
        shift = (t - t_back)[..., None]
        # Near t = 0 the stencil is centred at t - shift; correct by the second derivative.
        f0 = self(t_back)
        second = (-f[0] + 16 * f[1] - 30 * f0 + 16 * f[2] - f[3]) / (12 * delta**2)
        return central + shift * second


class _ConstantHistory:
    def __init__(self, value: np.ndarray) -> None:
        self.value = value  # (B, X)

    def __call__(self, t: np.ndarray) -> np.ndarray:
        return np.broadcast_to(self.value[:, None, :], (*t.shape, self.value.shape[1])).copy()

    def derivative(self, t: np.ndarray) -> np.ndarray:
        return np.zeros((*t.shape, self.value.shape[1]))


def _batch_params(family: Family, params: Mapping[str, Any]) -> tuple[dict[str, np.ndarray], int]:
    unknown = sorted(set(params) - set(family.parameters))
    if unknown:
        raise UsageError(
            f"family {family.name!r} has no parameter {unknown[0]!r}; expected: "
            + ", ".join(family.parameters)
        )
    values: dict[str, np.ndarray] = {}
    for name in family.parameters:
        if name in params:
            values[name] = np.atleast_1d(np.asarray(params[name], dtype=np.float64))
        else:
            lo, hi = family.default_priors[name]
            if lo != hi:
                raise UsageError(f"parameter {name!r} of family {family.name!r} is required")
            values[name] = np.array([lo])
        if values[name].ndim != 1 or not np.all(np.isfinite(values[name])):
            raise UsageError(f"parameter {name!r} must be a finite number or a 1-D array")
    sizes = {v.shape[0] for v in values.values()} - {1}
    if len(sizes) > 1:
        shapes = ", ".join(f"{k}: {v.shape[0]}" for k, v in values.items())
        raise UsageError(f"parameters have different batch sizes ({shapes})")
    batch = sizes.pop() if sizes else 1
    return {k: np.broadcast_to(v, (batch,)).copy() for k, v in values.items()}, batch


def _check_domain(family: Family, params: Mapping[str, np.ndarray]) -> None:
    for name, bound in family.bounds.items():
        outside = ~bound.admits(params[name])
        if np.any(outside):
            raise UsageError(f"{name} {bound.rule(name)}, got {params[name][outside][0]:g}")


def solve(
    family: str,
    params: Mapping[str, Any],
    history: HistoryLike,
    t_end: float,
    dt_out: float,
    *,
    dt: float | None = None,
    grid_points: int | None = None,
    history_derivative: Callable[[np.ndarray], Any] | None = None,
    on_failure: Literal["raise", "nan"] = "raise",
) -> Solution:
    """Solve one explicit DDE problem (or a batch of them) of a family.

    Args:
        family: a family's name (see :data:`dno.dde.FAMILIES`).
        params: parameter name -> one value, or one value per trajectory (shape (B,)). ``tau``
            is required; parameters with a fixed default (Mackey-Glass' beta, gamma, n) may be
            left out.
        history: the state for ``t <= 0``: a constant (number, or array of shape (B,), (X,) or
            (B, X)) or a callable ``h(t)`` vectorised over ``t`` of shape (T,) returning shape
            (T,) / (B, T) for scalar families, (T, X) / (B, T, X) for reaction-diffusion.
        t_end: the horizon; outputs at ``0, dt_out, ..., <= t_end``.
        dt_out: spacing of the output times.
        dt: the largest solver step (default: the family's, see ``dno generate --help``); each
            trajectory uses ``tau_b / ceil(tau_b / dt)`` so that its delay is a whole number of
            steps.
        grid_points: spatial points of a field (reaction-diffusion; default: the family's).
        history_derivative: ``h'(t)``, used by the neutral family (default: finite differences
            of ``history``).
        on_failure: ``raise`` a :class:`DnoError` if a trajectory blows up, or return NaN rows.

    Returns:
        A :class:`Solution` with ``t`` (T,) and ``y`` (B, T, X).

    Example:
        >>> import numpy as np, dno.dde
        >>> sol = dno.dde.solve("neutral", {"a": 0, "b": -1, "c": 0, "tau": 1}, 1.0, 2.0, 0.5)
        >>> (np.round(sol.y[0, :, 0], 6) + 0.0).tolist()  # x' = -x(t-1), x = 1 on [-1, 0]
        [1.0, 0.5, 0.0, -0.375, -0.5]
    """
    fam = get_family(family)
    if not (math.isfinite(t_end) and t_end > 0):
        raise UsageError(f"t_end must be a positive number, got {t_end!r}")
    if not (math.isfinite(dt_out) and 0 < dt_out <= t_end):
        raise UsageError(f"dt_out must be in (0, t_end={t_end:g}], got {dt_out!r}")
    step_max = fam.dt if dt is None else float(dt)
    if not (math.isfinite(step_max) and step_max > 0):
        raise UsageError(f"dt must be a positive number, got {dt!r}")
    n_x = (grid_points or fam.grid_points) if fam.is_spatial else 1
    if fam.is_spatial and n_x < 2:
        raise UsageError(f"grid_points must be at least 2 for {family}, got {grid_points}")
    values, batch = _batch_params(fam, params)
    hist: RowwiseHistory
    if callable(history):
        probe = np.asarray(history(np.zeros(1)), dtype=np.float64)
        rows = probe.shape[0] if probe.ndim == (2 if n_x == 1 else 3) else 1
        if batch == 1 and rows > 1:
            batch = rows
            values = {k: np.broadcast_to(v, (batch,)).copy() for k, v in values.items()}
        hist = _CallableHistory(history, history_derivative, batch, n_x)
    else:
        const = np.asarray(history, dtype=np.float64)
        try:
            if const.ndim == 1 and n_x > 1 and const.shape[0] == n_x:
                const = const[None, :]
            elif const.ndim == 1:
                const = const[:, None]
            const = np.broadcast_to(np.atleast_2d(const), (batch, n_x)).copy()
        except ValueError:
            raise UsageError(
                f"constant history of shape {np.shape(history)} does not fit (B={batch}, X={n_x})"
            ) from None
        if not np.all(np.isfinite(const)):
            raise UsageError("constant history has non-finite values")
        hist = _ConstantHistory(const)
    _check_domain(fam, values)
    n_out = math.floor(t_end / dt_out + 1e-9) + 1
    t = np.arange(n_out, dtype=np.float64) * dt_out
    obs_t = np.ascontiguousarray(np.broadcast_to(t, (batch, n_out)))
    obs_len = np.full(batch, n_out, dtype=np.int64)
    x = spatial_grid(n_x) if fam.is_spatial else np.array([0.5])
    y, status, step = integrate(fam, values, hist, obs_t, obs_len, step_max, x)
    failed = np.flatnonzero(status)
    if failed.size and on_failure == "raise":
        b = int(failed[0])
        reason = STATUS_REASONS[int(status[b])]
        bound = f" (|x| > {fam.bound:g})" if status[b] == _kernels.STATUS_BOUND else ""
        raise DnoError(
            f"{failed.size} of {batch} trajectories blew up; trajectory {b}: {reason}{bound} "
            f"with " + ", ".join(f"{k}={v[b]:g}" for k, v in values.items())
        )
    return Solution(t=t, y=y, params=values, family=fam.name, step=step, x=x)
