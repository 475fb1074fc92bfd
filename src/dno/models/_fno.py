"""``fno``: the baseline that sees only the current state ``u(t)`` (plus the conditioning).

A 1-D Fourier neural operator over x maps ``u(t)`` to the m new slices (as ``m * C`` output
channels). :class:`LaggedFNO` is shared with ``lag_stack``, which adds a few lagged states.
"""

from __future__ import annotations

from typing import Any

import torch

from dno.models._base import OUT_GAIN, DelayOperator, check_m, check_modes, common_config
from dno.models._layers import FiLM, FourierStack, x_coordinates
from dno.models._spectral import BoundedLinear, ChannelMLP

__all__ = ["FNO", "LaggedFNO"]


class LaggedFNO(DelayOperator):
    """A 1-D FNO over x whose input channels are the states at a few θ-grid indices."""

    lag_index: torch.Tensor

    def _build(self, c: dict[str, Any], steps: int, modes_x: int, lags: list[int]) -> None:
        """Create the layers for validated config ``c`` and history indices ``lags``."""
        w, bound, n_out = c["width"], c["spectral_norm"], steps * c["channels"]
        self.register_buffer("lag_index", torch.tensor(lags), persistent=False)
        self.lift = BoundedLinear(len(lags) * c["channels"] + 1 + c["cond_dim"], w, bound)
        self.film = FiLM(c["cond_dim"], w, c["layers"], bound)
        self.fourier = FourierStack(w, (modes_x,), c["layers"], c["dropout"], bound)
        self.project = ChannelMLP(
            w, w, n_out, bound, c["dropout"], channels_first=True, out_gain=OUT_GAIN
        )

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        batch, _, n_x, n_c = history.shape
        lagged = history[:, self.lag_index].permute(0, 2, 1, 3).reshape(batch, n_x, -1)
        x = x_coordinates(n_x).to(history)[None, :, None].expand(batch, n_x, 1)
        features = torch.cat([lagged, x, cond[:, None, :].expand(batch, n_x, -1)], dim=-1)
        h = self.lift(features).transpose(1, 2).contiguous()  # (B, W, X)
        out = self.project(self.fourier(h, self.film(cond)))  # (B, m*C, X)
        delta = out.reshape(batch, self.m, n_c, n_x).transpose(2, 3)  # (B, m, X, C)
        return self._residual(history, delta)


class FNO(LaggedFNO):
    """Baseline: ``next = u(t) + scale * FNO_x(u(t), x, cond)``; blind to the rest of the history.

    Args:
        S, X, channels, cond_dim: data dimensions (history (B, S, X, C), cond (B, P)).
        m: new slices per step, ``1 <= m <= S``; default S.
        width: hidden channels.
        modes_x: x-frequencies kept, at most X//2+1; default min(8, X//2+1).
        layers: Fourier layers.
        dropout: dropout probability.
        spectral_norm: Lipschitz bound of every linear map, or None.
        output_scale: learn a per-channel output scale.
    """

    name = "fno"

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
        dropout: float = 0.0,
        spectral_norm: float | None = None,
        output_scale: bool = False,
    ) -> None:
        super().__init__()
        c = common_config(locals())
        steps = check_m(m, c["S"], default=c["S"])
        mx = check_modes("modes_x", modes_x, c["X"], "X", 8)
        self._setup(m=steps, config={**c, "m": steps, "modes_x": mx})
        self._build(c, steps, mx, [c["S"] - 1])
