"""``stacked_history``: the history axis as another spatial dimension.

The window is a field on (θ, x); Fourier layers act on both axes at once and a learned linear
read-out along θ maps the S history points to the m new slices.
"""

from __future__ import annotations

from typing import Any

import torch

from dno.models._base import OUT_GAIN, DelayOperator, check_m, check_modes, common_config
from dno.models._layers import FiLM, FourierStack, window_features
from dno.models._spectral import BoundedLinear, ChannelMLP, PointwiseLinear

__all__ = ["FieldOperator", "StackedHistory"]


class FieldOperator(DelayOperator):
    """A model whose core is a field on (θ, x): a lift P, Fourier layers F over both axes with
    FiLM conditioning, and a projection Q back to C channels (shared with ``history_space`` and
    ``method_of_steps``)."""

    def _build_field(self, c: dict[str, Any], n_in: int, modes: tuple[int, int]) -> None:
        """Create P (``n_in`` input features), the FiLM, F (``modes`` = (x, θ)) and Q."""
        w, bound = c["width"], c["spectral_norm"]
        self.lift = PointwiseLinear(n_in, w, bound)
        self.film = FiLM(c["cond_dim"], w, c["layers"], bound)
        self.fourier = FourierStack(w, modes, c["layers"], c["dropout"], bound)
        self.project = ChannelMLP(
            w, w, c["channels"], bound, c["dropout"], channels_first=True, out_gain=OUT_GAIN
        )

    def _field(self, features: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``Q(F(P(features)))``: features (B, n_in, X, S) -> field (B, C, X, S)."""
        return self.project(self.fourier(self.lift(features), self.film(cond)))


class StackedHistory(FieldOperator):
    """Spectral convolution over (θ, x), then a learned θ read-out to the m new slices.

    ``next = u(t) + scale * R(Q(F(P(history, θ, x, cond))))``: P lifts each point to ``width``
    channels, F is ``layers`` Fourier layers over (θ, x) with FiLM conditioning, Q projects back
    to C channels and R is a linear map along θ from S points to m slices.

    Args:
        S, X, channels, cond_dim: data dimensions (history (B, S, X, C), cond (B, P)).
        m: new slices per step, ``1 <= m <= S``; default S.
        width: channels of the hidden field.
        modes_theta: θ-frequencies kept, at most S//2+1; default min(16, S//2+1).
        modes_x: x-frequencies kept, at most X//2+1; default min(8, X//2+1).
        layers: Fourier layers.
        dropout: dropout probability.
        spectral_norm: Lipschitz bound of every linear map, or None.
        output_scale: learn a per-channel output scale.
    """

    name = "stacked_history"

    def __init__(
        self,
        *,
        S: int,
        X: int,
        channels: int,
        cond_dim: int,
        m: int | None = None,
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
        steps = check_m(m, c["S"], default=c["S"])
        mt = check_modes("modes_theta", modes_theta, c["S"], "S", 16)
        mx = check_modes("modes_x", modes_x, c["X"], "X", 8)
        self._setup(m=steps, config={**c, "m": steps, "modes_theta": mt, "modes_x": mx})
        self._build_field(c, c["channels"] + 2 + c["cond_dim"], (mx, mt))
        self.readout = BoundedLinear(c["S"], steps, c["spectral_norm"])

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        field = self._field(window_features(history, cond).permute(0, 3, 2, 1), cond)
        delta = self.readout(field).permute(0, 3, 2, 1)  # (B, m, X, C)
        return self._residual(history, delta)
