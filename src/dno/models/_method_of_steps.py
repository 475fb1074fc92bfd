"""``method_of_steps``: (history on one delay interval, τ) -> the next interval.

As in the method of steps for DDEs, the next interval's S slices at ``t + h, ..., t + S h`` are
the current state plus the integral of a rate; the rate at new point ``j`` is a Fourier-layer
function of the history (whose point ``j + 1`` is the delayed time ``t + (j+1) h - τ``), the
current state and the conditioning. Rollout is by whole intervals (m = S).
"""

from __future__ import annotations

from typing import Any

import torch

from dno.models._arguments import MODES_THETA, MODES_X, declare
from dno.models._fourier import FieldOperator
from dno.models._layers import window_features

__all__ = ["MethodOfSteps"]


class MethodOfSteps(FieldOperator):
    """Fourier layers over (θ, x) give a rate on the next interval, integrated from ``u(t)``.

    ``next_j = u(t) + scale * sum_{i <= j} g_i / (S - 1)``, ``g = Q(F(P(history, u(t), θ, x,
    cond)))``; always ``m = S`` (not a constructor argument); ``width`` is the channels of the
    hidden field.
    """

    name = "method_of_steps"
    arguments = declare(modes_theta=MODES_THETA, modes_x=MODES_X)

    def _build(self, c: dict[str, Any]) -> None:
        self._build_field(c, 2 * c["channels"] + 2 + c["cond_dim"])

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        now = history[:, -1:].expand_as(history)
        features = torch.cat([window_features(history, cond), now], dim=-1)
        rate = self._field(features.permute(0, 3, 2, 1), cond).permute(0, 3, 2, 1)  # (B, S, X, C)
        return self._residual(history, torch.cumsum(rate, dim=1) / (self.S - 1))
