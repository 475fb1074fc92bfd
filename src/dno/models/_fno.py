"""``fno``: the baseline that sees only the current state ``u(t)`` (plus the conditioning).

A 1-D Fourier neural operator over x maps ``u(t)`` to the m new slices (as ``m * C`` output
channels); :class:`~dno.models.LaggedFNO` with the one index of now.
"""

from __future__ import annotations

from typing import Any

from dno.models._arguments import M_WINDOW, MODES_X, declare
from dno.models._fourier import LaggedFNO

__all__ = ["FNO"]


class FNO(LaggedFNO):
    """Baseline: ``next = u(t) + scale * FNO_x(u(t), x, cond)``; blind to the rest of the history.

    ``width`` is the hidden channels.
    """

    name = "fno"
    arguments = declare(m=M_WINDOW, modes_x=MODES_X)

    def _build(self, c: dict[str, Any]) -> None:
        self._build_lagged(c, [c["S"] - 1])
