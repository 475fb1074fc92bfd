"""Compiled integration kernels: classical RK4 by the method of steps, one trajectory per thread.

Every trajectory ``b`` has its own step ``h_b = tau_b / N_b`` that divides its own delay, so the
delayed state at a grid time is a stored grid value and every breakpoint ``k tau_b`` is a grid
point. The delayed state at a stage midpoint is the cubic Hermite interpolant of the stored grid
values and derivatives (error ``O(h^4)``), which keeps the scheme fourth order. Memory is a ring
buffer of one delay's worth of steps (``N_b + 1`` slots), whatever the horizon.

Observations are produced on the fly by the same Hermite interpolant (dense output), at any
sorted times ``0 <= t_1 <= ... <= t_T``.

Status codes per trajectory: 0 ok, 1 a non-finite value, 2 ``|x|`` exceeded the bound.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

__all__ = [
    "STATUS_BOUND",
    "STATUS_NONFINITE",
    "STATUS_OK",
    "neutral",
    "reaction_diffusion",
    "retarded",
]

STATUS_OK = 0
STATUS_NONFINITE = 1
STATUS_BOUND = 2


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


@njit(cache=True, inline="always")
def _power(x: float, exponent: float, integer: int) -> float:
    """``x ** exponent``, by repeated squaring when the exponent is a small whole number."""
    if integer < 0:
        return x**exponent
    result = 1.0
    base = x
    k = integer
    while k > 0:
        if k & 1:
            result *= base
        base *= base
        k >>= 1
    return result


@njit(cache=True, inline="always")
def _rhs_retarded(code: int, p: np.ndarray, n_int: int, x: float, xd: float) -> float:
    if code == 0:  # Mackey-Glass: beta, gamma, n
        return p[0] * xd / (1.0 + _power(xd, p[2], n_int)) - p[1] * x
    # Hutchinson's delayed logistic: r, K
    return p[0] * x * (1.0 - xd / p[1])


@njit(cache=True, inline="always")
def _check(x: float, bound: float) -> int:
    if not np.isfinite(x):
        return STATUS_NONFINITE
    if abs(x) > bound:
        return STATUS_BOUND
    return STATUS_OK


@njit(cache=True, parallel=True)
def retarded(
    code: int,
    params: np.ndarray,
    steps: np.ndarray,
    n_delay: np.ndarray,
    hist: np.ndarray,
    hist_mid: np.ndarray,
    obs_t: np.ndarray,
    obs_len: np.ndarray,
    bound: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Integrate scalar retarded DDEs ``x' = f(x, x(t - tau))``.

    Args:
        code: right-hand side (0 Mackey-Glass, 1 delayed logistic).
        params: shape (B, P).
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
    batch, n_obs_max = obs_t.shape
    y = np.full((batch, n_obs_max), np.nan)
    status = np.zeros(batch, dtype=np.int8)
    for b in prange(batch):
        h = steps[b]
        nd = n_delay[b]
        size = nd + 1
        p = params[b]
        # Mackey-Glass' Hill exponent as a whole number, if it is one (pow() dominates otherwise).
        n_int = -1
        if code == 0 and p[2] == np.floor(p[2]) and 0.0 <= p[2] <= 64.0:
            n_int = int(p[2])
        # Ring buffers indexed by global grid index g mod size (g = 0 is t = -tau).
        xs = np.empty(size)
        mids = np.empty(size)
        for j in range(nd + 1):
            xs[j] = hist[b, j]
        for j in range(nd):
            mids[j] = hist_mid[b, j]
        x = xs[nd]
        f = _rhs_retarded(code, p, n_int, x, xs[0])
        k_obs = 0
        n_obs = obs_len[b]
        n = 0
        while k_obs < n_obs:
            xdm = mids[n % size]
            xd1 = xs[(n + 1) % size]
            k1 = f
            k2 = _rhs_retarded(code, p, n_int, x + 0.5 * h * k1, xdm)
            k3 = _rhs_retarded(code, p, n_int, x + 0.5 * h * k2, xdm)
            k4 = _rhs_retarded(code, p, n_int, x + h * k3, xd1)
            x_new = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            f_new = _rhs_retarded(code, p, n_int, x_new, xd1)
            st = _check(x_new, bound)
            if st != STATUS_OK:
                status[b] = st
                for k in range(n_obs):
                    y[b, k] = np.nan
                break
            t0 = n * h
            while k_obs < n_obs and obs_t[b, k_obs] <= t0 + h:
                s = (obs_t[b, k_obs] - t0) / h
                y[b, k_obs] = _hermite(x, x_new, f, f_new, h, s)
                k_obs += 1
            g_new = nd + n + 1
            mids[(g_new - 1) % size] = 0.5 * (x + x_new) + h / 8.0 * (f - f_new)
            xs[g_new % size] = x_new
            x = x_new
            f = f_new
            n += 1
    return y, status


@njit(cache=True, parallel=True)
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
    """Integrate ``x' = a x + b x(t - tau) + c x'(t - tau)`` (neutral, ``|c| < 1``).

    The delayed derivative jumps at every breakpoint ``k tau``; the kernel keeps the left and
    right derivative at each grid point and uses the one that belongs to the step at hand.
    Arguments as in :func:`retarded`, plus ``dhist`` and ``dhist_mid``: the history's derivative
    at the same points. ``params`` columns are ``a, b, c``.
    """
    batch, n_obs_max = obs_t.shape
    y = np.full((batch, n_obs_max), np.nan)
    status = np.zeros(batch, dtype=np.int8)
    for b in prange(batch):
        h = steps[b]
        nd = n_delay[b]
        size = nd + 1
        a = params[b, 0]
        bb = params[b, 1]
        c = params[b, 2]
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
        f_right[nd] = a * x + bb * xs[0] + c * f_right[0]
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
            k2 = a * (x + 0.5 * h * k1) + bb * xdm + c * fdm
            k3 = a * (x + 0.5 * h * k2) + bb * xdm + c * fdm
            k4 = a * (x + h * k3) + bb * xd1 + c * fd1_left
            x_new = x + h / 6.0 * (k1 + 2.0 * k2 + 2.0 * k3 + k4)
            fl_new = a * x_new + bb * xd1 + c * fd1_left
            fr_new = a * x_new + bb * xd1 + c * fd1_right
            st = _check(x_new, bound)
            if st != STATUS_OK:
                status[b] = st
                for k in range(n_obs):
                    y[b, k] = np.nan
                break
            t0 = n * h
            while k_obs < n_obs and obs_t[b, k_obs] <= t0 + h:
                s = (obs_t[b, k_obs] - t0) / h
                y[b, k_obs] = _hermite(x, x_new, f, fl_new, h, s)
                k_obs += 1
            g_new = nd + n + 1
            xm = 0.5 * (x + x_new) + h / 8.0 * (f - fl_new)
            fm = a * xm + bb * xdm + c * fdm
            x_mid[(g_new - 1) % size] = xm
            f_mid[(g_new - 1) % size] = fm
            xs[g_new % size] = x_new
            f_left[g_new % size] = fl_new
            f_right[g_new % size] = fr_new
            x = x_new
            f = fr_new
            n += 1
    return y, status


@njit(cache=True, inline="always")
def _matvec(m: np.ndarray, v: np.ndarray, out: np.ndarray) -> None:
    n = v.shape[0]
    for i in range(n):
        acc = 0.0
        for j in range(n):
            acc += m[i, j] * v[j]
        out[i] = acc


@njit(cache=True, parallel=True)
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
    """Integrate ``u_t = D L u + r u (1 - u(t - tau))`` on X points (method of lines).

    The stiff diffusion is integrated exactly by an integrating factor (Lawson's RK4): with
    ``E = exp(h D L / 2)`` per trajectory the scheme is stable at any step, and fourth order.

    Args:
        params: columns ``D, r``, shape (B, 2).
        laplacian: the zero-flux Laplacian matrix ``L`` (without ``D``), shape (X, X).
        prop_half: ``exp(h_b D_b L / 2)`` per trajectory, shape (B, X, X).
        hist: shape (B, max N + 1, X); ``hist_mid``: shape (B, max N, X).
        Others as in :func:`retarded`.

    Returns:
        ``(y, status)`` with ``y`` of shape (B, T, X).
    """
    batch, n_obs_max = obs_t.shape
    nx = laplacian.shape[0]
    y = np.full((batch, n_obs_max, nx), np.nan)
    status = np.zeros(batch, dtype=np.int8)
    for b in prange(batch):
        h = steps[b]
        nd = n_delay[b]
        size = nd + 1
        diff = params[b, 0]
        r = params[b, 1]
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
            f[i] = diff * lu[i] + r * u[i] * (1.0 - us[0, i])
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
                k1[i] = r * u[i] * (1.0 - ud0[i])
            _matvec(e2, u, a)
            _matvec(e2, k1, e2k1)
            for i in range(nx):
                tmp[i] = a[i] + 0.5 * h * e2k1[i]
                k2[i] = r * tmp[i] * (1.0 - udm[i])
            for i in range(nx):
                tmp[i] = a[i] + 0.5 * h * k2[i]
                k3[i] = r * tmp[i] * (1.0 - udm[i])
            for i in range(nx):
                tmp[i] = a[i] + h * k3[i]
            _matvec(e2, tmp, tmp2)
            for i in range(nx):
                k4[i] = r * tmp2[i] * (1.0 - ud1[i])
            for i in range(nx):
                tmp[i] = a[i] + h / 6.0 * e2k1[i] + h / 3.0 * (k2[i] + k3[i])
            _matvec(e2, tmp, u_new)
            for i in range(nx):
                u_new[i] += h / 6.0 * k4[i]
            _matvec(laplacian, u_new, lu)
            st = STATUS_OK
            for i in range(nx):
                f_new[i] = diff * lu[i] + r * u_new[i] * (1.0 - ud1[i])
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
                mids[(g_new - 1) % size, i] = 0.5 * (u[i] + u_new[i]) + h / 8.0 * (f[i] - f_new[i])
                us[g_new % size, i] = u_new[i]
                u[i] = u_new[i]
                f[i] = f_new[i]
            n += 1
    return y, status
