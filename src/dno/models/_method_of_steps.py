"""``method_of_steps``: (history on one delay interval, τ) -> the next interval.

As in the method of steps for DDEs, the next interval's S slices at ``t + h, ..., t + S h`` are
the current state plus the integral of a rate; the rate at new point ``j`` is a Fourier-layer
function of the history (whose point ``j + 1`` is the delayed time ``t + (j+1) h - τ``), the
current state and the conditioning. Rollout is by whole intervals (m = S).
"""

from __future__ import annotations

import torch

from dno.models._base import check_modes, common_config
from dno.models._layers import window_features
from dno.models._stacked_history import FieldOperator

__all__ = ["MethodOfSteps"]


class MethodOfSteps(FieldOperator):
    """Fourier layers over (θ, x) give a rate on the next interval, integrated from ``u(t)``.

    ``next_j = u(t) + scale * sum_{i <= j} g_i / (S - 1)``, ``g = Q(F(P(history, u(t), θ, x,
    cond)))``; always ``m = S`` (not a constructor argument).

    Args:
        S, X, channels, cond_dim: data dimensions (history (B, S, X, C), cond (B, P)).
        width: channels of the hidden field.
        modes_theta: θ-frequencies kept, at most S//2+1; default min(16, S//2+1).
        modes_x: x-frequencies kept, at most X//2+1; default min(8, X//2+1).
        layers: Fourier layers.
        dropout: dropout probability.
        spectral_norm: Lipschitz bound of every linear map, or None.
        output_scale: learn a per-channel output scale.
    """

    name = "method_of_steps"

    def __init__(
        self,
        *,
        S: int,
        X: int,
        channels: int,
        cond_dim: int,
        width: int = 32,
        modes_theta: int | None = None,
        modes_x: int | None = None,
        layers: int = 3,
        dropout: float = 0.0,
        spectral_norm: float | None = None,
        output_scale: bool = False,
    ) -> None:
        super().__init__()
        c = common_config(locals())
        mt = check_modes("modes_theta", modes_theta, c["S"], "S", 16)
        mx = check_modes("modes_x", modes_x, c["X"], "X", 8)
        self._setup(m=c["S"], config={**c, "modes_theta": mt, "modes_x": mx})
        self._build_field(c, 2 * c["channels"] + 2 + c["cond_dim"], (mx, mt))

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        now = history[:, -1:].expand_as(history)
        features = torch.cat([window_features(history, cond), now], dim=-1)
        rate = self._field(features.permute(0, 3, 2, 1), cond).permute(0, 3, 2, 1)  # (B, S, X, C)
        return self._residual(history, torch.cumsum(rate, dim=1) / (self.S - 1))
