"""``history_space``: a short step in the space of history windows, with exact shift-append.

The model predicts the window ``m h`` later as a field on the same θ-grid; its first ``S - m``
points are already known, so only the last m (the new slices) are kept and
:func:`~dno.models.shift_append` supplies the rest exactly.
"""

from __future__ import annotations

from typing import Any

import torch

from dno.models._arguments import MODES_THETA, MODES_X, declare, new_slices
from dno.models._fourier import FieldOperator
from dno.models._layers import window_features

__all__ = ["HistorySpace"]


class HistorySpace(FieldOperator):
    """Fourier layers over (θ, x) predict the shifted window; the last m slices are the output.

    ``next = u(t) + scale * Q(F(P(history, θ, x, cond)))[:, S-m:]`` with ``m < S``; ``width``
    is the channels of the hidden field.
    """

    name = "history_space"
    arguments = declare(
        m=new_slices(lambda S: max(1, S // 4), "max(1, S // 4)", below_s=True),
        modes_theta=MODES_THETA,
        modes_x=MODES_X,
    )

    def _build(self, c: dict[str, Any]) -> None:
        self._build_field(c, c["channels"] + 2 + c["cond_dim"])

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        field = self._field(window_features(history, cond).permute(0, 3, 2, 1), cond)
        delta = field[..., self.S - self.m :].permute(0, 3, 2, 1)  # (B, m, X, C)
        return self._residual(history, delta)
