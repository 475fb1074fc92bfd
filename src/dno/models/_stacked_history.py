"""``stacked_history``: the history axis as another spatial dimension.

The window is a field on (θ, x); Fourier layers act on both axes at once and a learned linear
read-out along θ maps the S history points to the m new slices.
"""

from __future__ import annotations

from typing import Any

import torch

from dno.models._arguments import M_WINDOW, MODES_THETA, MODES_X, declare
from dno.models._fourier import FieldOperator
from dno.models._layers import window_features
from dno.models._spectral import BoundedLinear

__all__ = ["StackedHistory"]


class StackedHistory(FieldOperator):
    """Spectral convolution over (θ, x), then a learned θ read-out to the m new slices.

    ``next = u(t) + scale * R(Q(F(P(history, θ, x, cond))))``: P lifts each point to ``width``
    channels, F is ``layers`` Fourier layers over (θ, x) with FiLM conditioning, Q projects back
    to C channels and R is a linear map along θ from S points to m slices.
    """

    name = "stacked_history"
    arguments = declare(m=M_WINDOW, modes_theta=MODES_THETA, modes_x=MODES_X)

    def _build(self, c: dict[str, Any]) -> None:
        self._build_field(c, c["channels"] + 2 + c["cond_dim"])
        self.readout = BoundedLinear(c["S"], self.m, c["spectral_norm"])

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        field = self._field(window_features(history, cond).permute(0, 3, 2, 1), cond)
        delta = self.readout(field).permute(0, 3, 2, 1)  # (B, m, X, C)
        return self._residual(history, delta)
