"""``lag_stack``: the baseline that sees a few lagged states as channels."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from dno.errors import UsageError
from dno.models._arguments import M_WINDOW, MODES_X, Argument, check_int, declare
from dno.models._fourier import LaggedFNO

__all__ = ["LagStack", "lag_indices"]


def lag_indices(S: int, lags: int) -> list[int]:
    """``lags`` θ-grid indices spread evenly from now (S-1) back to ``-τ`` (0), ascending."""
    return sorted({int(i) for i in np.rint(np.linspace(S - 1, 0, lags))})


def _check_lags(name: str, value: object, dims: Mapping[str, Any]) -> int:
    S = dims["S"]
    lags = min(4, S) if value is None else check_int(name, value)
    if lags > S:
        raise UsageError(f"{name}={lags} exceeds S={S} (at most S history points)")
    return lags


class LagStack(LaggedFNO):
    """Baseline: a 1-D FNO over x on the states at ``lags`` evenly spread θ-grid points.

    With ``lags >= 2`` the inputs include ``u(t)`` and the delayed state ``u(t - τ)``;
    ``width`` is the hidden channels.
    """

    name = "lag_stack"
    arguments = declare(
        m=M_WINDOW,
        modes_x=MODES_X,
        lags=Argument(None, _check_lags, "lagged states, ``1 <= lags <= S``; default min(4, S)"),
    )

    def _build(self, c: dict[str, Any]) -> None:
        self._build_lagged(c, lag_indices(c["S"], c["lags"]))
