"""``lag_stack``: the baseline that sees a few lagged states as channels."""

from __future__ import annotations

import numpy as np

from dno.errors import UsageError
from dno.models._base import check_int, check_m, check_modes, common_config
from dno.models._fno import LaggedFNO

__all__ = ["LagStack", "lag_indices"]


def lag_indices(S: int, lags: int) -> list[int]:
    """``lags`` θ-grid indices spread evenly from now (S-1) back to ``-τ`` (0), ascending."""
    return sorted({int(i) for i in np.rint(np.linspace(S - 1, 0, lags))})


class LagStack(LaggedFNO):
    """Baseline: a 1-D FNO over x on the states at ``lags`` evenly spread θ-grid points.

    With ``lags >= 2`` the inputs include ``u(t)`` and the delayed state ``u(t - τ)``.

    Args:
        S, X, channels, cond_dim: data dimensions (history (B, S, X, C), cond (B, P)).
        m: new slices per step, ``1 <= m <= S``; default S.
        width: hidden channels.
        modes_x: x-frequencies kept, at most X//2+1; default min(8, X//2+1).
        layers: Fourier layers.
        lags: number of lagged states, ``1 <= lags <= S``; default min(4, S).
        dropout: dropout probability.
        spectral_norm: Lipschitz bound of every linear map, or None.
        output_scale: learn a per-channel output scale.
    """

    name = "lag_stack"

    def __init__(
        self,
        *,
        S: int,
        X: int,
        channels: int,
        cond_dim: int,
        m: int | None = None,
        width: int = 32,
        modes_x: int | None = None,
        layers: int = 3,
        lags: int | None = None,
        dropout: float = 0.0,
        spectral_norm: float | None = None,
        output_scale: bool = False,
    ) -> None:
        super().__init__()
        c = common_config(locals())
        steps = check_m(m, c["S"], default=c["S"])
        mx = check_modes("modes_x", modes_x, c["X"], "X", 8)
        n_lags = min(4, c["S"]) if lags is None else check_int("lags", lags)
        if n_lags > c["S"]:
            raise UsageError(f"lags={n_lags} exceeds S={c['S']} (at most S history points)")
        self._setup(m=steps, config={**c, "m": steps, "modes_x": mx, "lags": n_lags})
        self._build(c, steps, mx, lag_indices(c["S"], n_lags))
