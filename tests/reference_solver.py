"""An independent reference DDE solver for tests: the method of steps with scipy's DOP853.

Each delay interval [k tau, (k+1) tau] is one ``solve_ivp`` call at tight tolerance whose delayed
state comes from the previous interval's dense output, so breakpoints are interval ends.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.integrate import solve_ivp


def method_of_steps(
    rhs: Callable[[float, np.ndarray, np.ndarray], np.ndarray],
    history: Callable[[float], np.ndarray],
    tau: float,
    t_out: np.ndarray,
    rtol: float = 1e-12,
    atol: float = 1e-13,
) -> np.ndarray:
    """Solve ``x' = rhs(t, x, x(t - tau))`` for ``x(t) = history(t)`` on ``t <= 0``.

    Returns:
        The state at ``t_out`` (sorted, >= 0), shape (T, X).
    """
    pieces: list[tuple[float, float, Callable[[float], np.ndarray]]] = []

    def delayed(t: float) -> np.ndarray:
        if t <= 0:
            return np.atleast_1d(history(t))
        # The last piece that starts at or before t (rounding may put t a hair past its end).
        for start, _end, dense in reversed(pieces):
            if start <= t + 1e-12:
                return dense(t)
        raise AssertionError(f"no piece covers t={t}")

    state = np.atleast_1d(history(0.0)).astype(float)
    t_end = float(np.max(t_out))
    start = 0.0
    while start < t_end:
        end = min(start + tau, t_end)
        sol = solve_ivp(
            lambda t, x: rhs(t, x, delayed(t - tau)),
            (start, end), state, method="DOP853", rtol=rtol, atol=atol, dense_output=True,
        )  # fmt: skip
        pieces.append((start, end, sol.sol))
        state = sol.y[:, -1]
        start = end
    return np.array([delayed(float(t)) if t > 0 else np.atleast_1d(history(0.0)) for t in t_out])
