"""Compiled integration kernels: classical RK4 by the method of steps, one trajectory per thread.

Every trajectory ``b`` has its own step ``h_b = tau_b / N_b`` that divides its own delay, so the
delayed state at a grid time is a stored grid value and every breakpoint ``k tau_b`` is a grid
point. The delayed state at a stage midpoint is the cubic Hermite interpolant of the stored grid
values and derivatives (error ``O(h^4)``), which keeps the scheme fourth order. Memory is a ring
buffer of one delay's worth of steps (``N_b + 1`` slots), whatever the horizon.

Observations are produced on the fly by the same Hermite interpolant (dense output), at any
sorted times ``0 <= t_1 <= ... <= t_T``.

A kernel is a template of the method over a family's right-hand side: :data:`KERNELS` names the
three templates (``retarded``, ``neutral``, ``reaction_diffusion``) and :func:`compiled` builds
the template for one right-hand side, once per process. There is no family code to dispatch on:
the kernel integrates the equation it was built from and no other.

Status codes per trajectory: 0 ok, 1 a non-finite value, 2 ``|x|`` exceeded the bound.
"""

from __future__ import annotations

import functools
import hashlib
import inspect
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from numba import njit, prange
from numba.extending import register_jitable

__all__ = [
    "KERNELS",
    "STATUS_BOUND",
    "STATUS_NONFINITE",
    "STATUS_OK",
    "Kernel",
    "Prepare",
    "RightHandSide",
    "as_given",
    "compiled",
]

STATUS_OK = 0
STATUS_NONFINITE = 1
STATUS_BOUND = 2

#: A family's right-hand side: a plain function made callable from compiled code by
#: ``numba.extending.register_jitable``; its first argument ``p`` is one trajectory's
#: coefficients, as its :data:`Prepare` returns them.
RightHandSide = Callable[..., float]
#: Once per trajectory: its row of parameters (all but ``tau``, in order; shape (P,)) -> the
#: ``p`` its right-hand side takes (a tuple, say, with a value found once and not per step).
Prepare = Callable[[np.ndarray], Any]


@njit(cache=True, inline="always")
def _hermite(x0: float, x1: float, f0: float, f1: float, h: float, s: float) -> float:
    """Cubic Hermite interpolant on one step at fraction ``s`` in [0, 1]."""
    s2 = s * s
    s3 = s2 * s
    return (
        (2 * s3 - 3 * s2 + 1) * x0
        + (s3 - 2 * s2 + s) * h * f0
        + (-2 * s3 + 3 * s2) * x1
        + (s3 - s2) * h * f1
    )


@register_jitable(inline="always")
def as_given(row: np.ndarray) -> np.ndarray:
    """The default :data:`Prepare`: the right-hand side takes the row of parameters itself."""
    return row


@njit(cache=True, inline="always")
def _observe(
    y: np.ndarray,
    times: np.ndarray,
    k: int,
    count: int,
    t0: float,
    h: float,
    x0: float,
    x1: float,
    f0: float,
    f1: float,
) -> int:
    """Dense output of the step ``[t0, t0 + h]`` from ``x0, f0`` to ``x1, f1``: ``y[k]`` at every
    observation time ``times[k]`` the step covers, from ``k`` on; returns the next ``k``."""
    while k < count and times[k] <= t0 + h:
        y[k] = _hermite(x0, x1, f0, f1, h, (times[k] - t0) / h)
        k += 1
    return k


@njit(cache=True, inline="always")
def _check(x: float, bound: float) -> int:
    if not np.isfinite(x):
        return STATUS_NONFINITE
    if abs(x) > bound:
        return STATUS_BOUND
    return STATUS_OK


def _fingerprint(*functions: Callable[..., Any]) -> str:
    """A digest of the source files that define ``functions`` (a right-hand side, ...).

    numba keys a cached closure on its cell contents but stamps the cache with the kernel's own
    file only, so an edited right-hand side in another file would load the old machine code. A
    kernel holds this digest in its closure: editing the file that defines its right-hand side
    (or a helper beside it) compiles the kernel anew. The functions themselves must be plain
    (``register_jitable``), not numba dispatchers, whose pickle is new in each process and would
    miss the cache every time.
    """
    digest = hashlib.sha256()
    for function in functions:
        source = inspect.getsourcefile(function)
        digest.update(Path(source).read_bytes() if source else inspect.getsource(function).encode())
    return digest.hexdigest()


def _compile(
    template: Callable[..., tuple[np.ndarray, np.ndarray]], *functions: Callable[..., Any]
) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    """``template`` compiled (parallel, cached on disk) under a name of its own.

    numba names machine code after the function's qualified name, its argument types and a
    counter that starts anew in each process; two families' kernels compiled in two processes
    could carry one name, and loaded from the cache into a third, the one would be linked in
    place of the other. Naming the kernel after its right-hand side keeps them apart (and gives
    each its own cache file).
    """
    names = [f"{f.__module__}.{f.__qualname__}" for f in functions if f is not as_given]
    template.__qualname__ = "__".join([template.__name__, *names])
    return njit(cache=True, parallel=True)(template)


def _retarded(rhs: RightHandSide, prepare: Prepare) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    fingerprint = _fingerprint(rhs, prepare)

    def retarded(
        params: np.ndarray,
        steps: np.ndarray,
        n_delay: np.ndarray,
        hist: np.ndarray,
        hist_mid: np.ndarray,
        obs_t: np.ndarray,
        obs_len: np.ndarray,
        bound: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integrate scalar retarded DDEs ``x' = rhs(p, x, x(t - tau))``.

        Args:
            params: the parameters but ``tau`` (the rows ``prepare`` turns into ``p``),
                shape (B, P).
            steps: step sizes ``h_b = tau_b / N_b``, shape (B,).
            n_delay: ``N_b``, steps per delay, shape (B,).
            hist: history at ``-tau_b + j h_b``, ``j = 0..N_b``, shape (B, max N + 1).
            hist_mid: history at ``-tau_b + (j + 1/2) h_b``, ``j = 0..N_b - 1``, shape (B, max N).
            obs_t: sorted observation times (padded), shape (B, T).
            obs_len: number of valid observation times per trajectory, shape (B,).
            bound: blow-up threshold on ``|x|``.

        Returns:
            ``(y, status)``: ``y`` of shape (B, T) (NaN past ``obs_len`` or after a failure) and
            ``status`` of shape (B,).
        """
        fingerprint  # noqa: B018  (part of numba's cache key, see _fingerprint)
        batch, n_obs_max = obs_t.shape
        y = np.full((batch, n_obs_max), np.nan)
        status = np.zeros(batch, dtype=np.int8)
        for b in prange(batch):
            h = steps[b]
            nd = n_delay[b]
            size = nd + 1
            p = prepare(params[b])
            # Ring buffers indexed by global grid index g mod size (g = 0 is t = -tau).
            xs = np.empty(size)
            mids = np.empty(size)
            for j in range(nd + 1):
                xs[j] = hist[b, j]
            for j in range(nd):
                mids[j] = hist_mid[b, j]
            x = xs[nd]
            f = rhs(p, x, xs[0])
            k_obs = 0
            n_obs = obs_len[b]
            n = 0
            while k_obs < n_obs:
                xdm = mids[n % size]
                xd1 = xs[(n + 1) % size]
                k1 = f
                k2 = rhs(p, x + 0.5 * h * k1, xdm)
                k3 = rhs(p, x + 0.5 * h * k2, xdm)
                k4 = rhs(p, x + h * k3, xd1)
                x_new = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
                f_new = rhs(p, x_new, xd1)
                st = _check(x_new, bound)
                if st != STATUS_OK:
                    status[b] = st
                    for k in range(n_obs):
                        y[b, k] = np.nan
                    break
                k_obs = _observe(y[b], obs_t[b], k_obs, n_obs, n * h, h, x, x_new, f, f_new)
                g_new = nd + n + 1
                mids[(g_new - 1) % size] = 0.5 * (x + x_new) + h / 8.0 * (f - f_new)
                xs[g_new % size] = x_new
                x = x_new
                f = f_new
                n += 1
        return y, status

    return _compile(retarded, rhs, prepare)


def _neutral(rhs: RightHandSide, prepare: Prepare) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    fingerprint = _fingerprint(rhs, prepare)

    def neutral(
        params: np.ndarray,
        steps: np.ndarray,
        n_delay: np.ndarray,
        hist: np.ndarray,
        hist_mid: np.ndarray,
        dhist: np.ndarray,
        dhist_mid: np.ndarray,
        obs_t: np.ndarray,
        obs_len: np.ndarray,
        bound: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integrate neutral DDEs ``x' = rhs(p, x, x(t - tau), x'(t - tau))``.

        The delayed derivative jumps at every breakpoint ``k tau``; the kernel keeps the left and
        right derivative at each grid point and uses the one that belongs to the step at hand.
        Arguments as in the ``retarded`` kernel, plus ``dhist`` and ``dhist_mid``: the history's
        derivative at the same points.
        """
        fingerprint  # noqa: B018  (part of numba's cache key, see _fingerprint)
        batch, n_obs_max = obs_t.shape
        y = np.full((batch, n_obs_max), np.nan)
        status = np.zeros(batch, dtype=np.int8)
        for b in prange(batch):
            h = steps[b]
            nd = n_delay[b]
            size = nd + 1
            p = prepare(params[b])
            xs = np.empty(size)
            f_left = np.empty(size)
            f_right = np.empty(size)
            x_mid = np.empty(size)
            f_mid = np.empty(size)
            for j in range(nd + 1):
                xs[j] = hist[b, j]
                f_left[j] = dhist[b, j]
                f_right[j] = dhist[b, j]
            for j in range(nd):
                x_mid[j] = hist_mid[b, j]
                f_mid[j] = dhist_mid[b, j]
            x = xs[nd]
            # At t = 0 the solution's right derivative comes from the equation, not the history.
            f_right[nd] = rhs(p, x, xs[0], f_right[0])
            f = f_right[nd]
            k_obs = 0
            n_obs = obs_len[b]
            n = 0
            while k_obs < n_obs:
                i_mid = n % size
                i_end = (n + 1) % size
                xdm = x_mid[i_mid]
                fdm = f_mid[i_mid]
                xd1 = xs[i_end]
                fd1_left = f_left[i_end]
                fd1_right = f_right[i_end]
                k1 = f
                k2 = rhs(p, x + 0.5 * h * k1, xdm, fdm)
                k3 = rhs(p, x + 0.5 * h * k2, xdm, fdm)
                k4 = rhs(p, x + h * k3, xd1, fd1_left)
                x_new = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
                fl_new = rhs(p, x_new, xd1, fd1_left)
                fr_new = rhs(p, x_new, xd1, fd1_right)
                st = _check(x_new, bound)
                if st != STATUS_OK:
                    status[b] = st
                    for k in range(n_obs):
                        y[b, k] = np.nan
                    break
                k_obs = _observe(y[b], obs_t[b], k_obs, n_obs, n * h, h, x, x_new, f, fl_new)
                g_new = nd + n + 1
                xm = 0.5 * (x + x_new) + h / 8.0 * (f - fl_new)
                fm = rhs(p, xm, xdm, fdm)
                x_mid[(g_new - 1) % size] = xm
                f_mid[(g_new - 1) % size] = fm
                xs[g_new % size] = x_new
                f_left[g_new % size] = fl_new
                f_right[g_new % size] = fr_new
                x = x_new
                f = fr_new
                n += 1
        return y, status

    return _compile(neutral, rhs, prepare)


@njit(cache=True, inline="always")
def _matvec(m: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    n = v.shape[0]
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += m[i, j] * v[j]
        out[i] = acc


def _reaction_diffusion(
    reaction: RightHandSide, prepare: Prepare
) -> Callable[..., tuple[np.ndarray, np.ndarray]]:
    fingerprint = _fingerprint(reaction, prepare)

    def reaction_diffusion(
        params: np.ndarray,
        steps: np.ndarray,
        n_delay: np.ndarray,
        laplacian: np.ndarray,
        prop_half: np.ndarray,
        hist: np.ndarray,
        hist_mid: np.ndarray,
        obs_t: np.ndarray,
        obs_len: np.ndarray,
        bound: float,
    ) -> tuple[np.ndarray, np.ndarray]:
        """Integrate ``u_t = D L u + reaction(p, u, u(t - tau))`` on X points (method of lines).

        The stiff diffusion is integrated exactly by an integrating factor (Lawson's RK4): with
        ``E = exp(h D L / 2)`` per trajectory the scheme is stable at any step, and fourth order.

        Args:
            params: the parameters but ``tau``, ``D`` first, shape (B, P).
            laplacian: the zero-flux Laplacian matrix ``L`` (without ``D``), shape (X, X).
            prop_half: ``exp(h_b D_b L / 2)`` per trajectory, shape (B, X, X).
            hist: shape (B, max N + 1, X); ``hist_mid``: shape (B, max N, X).
            Others as in the ``retarded`` kernel.

        Returns:
            ``(y, status)`` with ``y`` of shape (B, T, X).
        """
        fingerprint  # noqa: B018  (part of numba's cache key, see _fingerprint)
        batch, n_obs_max = obs_t.shape
        nx = laplacian.shape[0]
        y = np.full((batch, n_obs_max, nx), np.nan)
        status = np.zeros(batch, dtype=np.int8)
        for b in prange(batch):
            h = steps[b]
            nd = n_delay[b]
            size = nd + 1
            p = prepare(params[b])
            diff = params[b, 0]
            e2 = prop_half[b]
            us = np.empty((size, nx))
            mids = np.empty((size, nx))
            for j in range(nd + 1):
                us[j] = hist[b, j]
            for j in range(nd):
                mids[j] = hist_mid[b, j]
            u = us[nd].copy()
            lu = np.empty(nx)
            f = np.empty(nx)
            _matvec(laplacian, u, lu)
            for i in range(nx):
                f[i] = diff * lu[i] + reaction(p, u[i], us[0, i])
            a = np.empty(nx)
            k1 = np.empty(nx)
            k2 = np.empty(nx)
            k3 = np.empty(nx)
            k4 = np.empty(nx)
            e2k1 = np.empty(nx)
            tmp = np.empty(nx)
            tmp2 = np.empty(nx)
            u_new = np.empty(nx)
            f_new = np.empty(nx)
            k_obs = 0
            n_obs = obs_len[b]
            n = 0
            while k_obs < n_obs:
                ud0 = us[n % size]
                udm = mids[n % size]
                ud1 = us[(n + 1) % size]
                for i in range(nx):
                    k1[i] = reaction(p, u[i], ud0[i])
                _matvec(e2, u, a)
                _matvec(e2, k1, e2k1)
                for i in range(nx):
                    tmp[i] = a[i] + 0.5 * h * e2k1[i]
                    k2[i] = reaction(p, tmp[i], udm[i])
                for i in range(nx):
                    tmp[i] = a[i] + 0.5 * h * k2[i]
                    k3[i] = reaction(p, tmp[i], udm[i])
                for i in range(nx):
                    tmp[i] = a[i] + h * k3[i]
                _matvec(e2, tmp, tmp2)
                for i in range(nx):
                    k4[i] = reaction(p, tmp2[i], ud1[i])
                for i in range(nx):
                    tmp[i] = a[i] + h / 6.0 * e2k1[i] + h / 3.0 * (k2[i] + k3[i])
                _matvec(e2, tmp, u_new)
                for i in range(nx):
                    u_new[i] += h / 6.0 * k4[i]
                _matvec(laplacian, u_new, lu)
                st = STATUS_OK
                for i in range(nx):
                    f_new[i] = diff * lu[i] + reaction(p, u_new[i], ud1[i])
                    si = _check(u_new[i], bound)
                    if si != STATUS_OK:
                        st = si
                if st != STATUS_OK:
                    status[b] = st
                    for k in range(n_obs):
                        for i in range(nx):
                            y[b, k, i] = np.nan
                    break
                t0 = n * h
                while k_obs < n_obs and obs_t[b, k_obs] <= t0 + h:
                    s = (obs_t[b, k_obs] - t0) / h
                    for i in range(nx):
                        y[b, k_obs, i] = _hermite(u[i], u_new[i], f[i], f_new[i], h, s)
                    k_obs += 1
                g_new = nd + n + 1
                for i in range(nx):
                    mids[(g_new - 1) % size, i] = 0.5 * (u[i] + u_new[i]) + h / 8.0 * (
                        f[i] - f_new[i]
                    )
                    us[g_new % size, i] = u_new[i]
                    u[i] = u_new[i]
                    f[i] = f_new[i]
                n += 1
        return y, status

    return _compile(reaction_diffusion, reaction, prepare)


@dataclass(frozen=True)
class Kernel:
    """One template of the method and what it asks of a family's right-hand side.

    Attributes:
        name: how a family names it (``Family.kernel``).
        arguments: the right-hand side's arguments, in order.
        spatial: the state is a field on a grid, the diffusion coefficient ``D`` first in ``p``.
        build: the template: (right-hand side, prepare) -> compiled kernel.
    """

    name: str
    arguments: tuple[str, ...]
    spatial: bool
    build: Callable[[RightHandSide, Prepare], Callable[..., tuple[np.ndarray, np.ndarray]]]


#: The kernels, by name: ``x' = f(p, x, x(t-tau))``, ``x' = f(p, x, x(t-tau), x'(t-tau))`` and
#: ``u_t = D u_xx + f(p, u, u(t-tau))`` on a zero-flux grid.
KERNELS: dict[str, Kernel] = {
    kernel.name: kernel
    for kernel in (
        Kernel("retarded", ("p", "x", "x_delayed"), False, _retarded),
        Kernel("neutral", ("p", "x", "x_delayed", "slope_delayed"), False, _neutral),
        Kernel("reaction_diffusion", ("p", "u", "u_delayed"), True, _reaction_diffusion),
    )
}


@functools.cache
def compiled(kernel: str, rhs: RightHandSide, prepare: Prepare = as_given) -> Callable[..., Any]:
    """The kernel ``kernel`` over the right-hand side ``rhs``, built once per process.

    numba compiles it at its first call, or loads it from its disk cache.

    Raises:
        ValueError: ``kernel`` is not one of :data:`KERNELS` (a family declaration checks this
            when it is made, so a solve never reaches here with an unknown kernel).
    """
    if kernel not in KERNELS:
        raise ValueError(f"unknown kernel {kernel!r}; expected one of: {', '.join(KERNELS)}")
    return KERNELS[kernel].build(rhs, prepare)
