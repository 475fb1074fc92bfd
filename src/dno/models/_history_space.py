"""``history_space``: a short step in the space of history windows, with exact shift-append.

The model predicts the window ``m h`` later as a field on the same θ-grid; its first ``S - m``
points are already known, so only the last m (the new slices) are kept and
:func:`~dno.models.shift_append` supplies the rest exactly.
"""

from __future__ import annotations

import torch

from dno.models._base import check_m, check_modes, common_config
from dno.models._layers import window_features
from dno.models._stacked_history import FieldOperator

__all__ = ["HistorySpace"]


class HistorySpace(FieldOperator):
    """Fourier layers over (θ, x) predict the shifted window; the last m slices are the output.

    ``next = u(t) + scale * Q(F(P(history, θ, x, cond)))[:, S-m:]`` with ``m < S``.

    Args:
        S, X, channels, cond_dim: data dimensions (history (B, S, X, C), cond (B, P)).
        m: new slices per step, ``1 <= m < S``; default max(1, S // 4).
        width: channels of the hidden field.
        modes_theta: θ-frequencies kept, at most S//2+1; default min(16, S//2+1).
        modes_x: x-frequencies kept, at most X//2+1; default min(8, X//2+1).
        layers: Fourier layers.
        dropout: dropout probability.
        spectral_norm: Lipschitz bound of every linear map, or None.
        output_scale: learn a per-channel output scale.
    """

    name = "history_space"

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
        steps = check_m(m, c["S"], default=max(1, c["S"] // 4), below_s=True)
        mt = check_modes("modes_theta", modes_theta, c["S"], "S", 16)
        mx = check_modes("modes_x", modes_x, c["X"], "X", 8)
        self._setup(m=steps, config={**c, "m": steps, "modes_theta": mt, "modes_x": mx})
        self._build_field(c, c["channels"] + 2 + c["cond_dim"], (mx, mt))

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        field = self._field(window_features(history, cond).permute(0, 3, 2, 1), cond)
        delta = field[..., self.S - self.m :].permute(0, 3, 2, 1)  # (B, m, X, C)
        return self._residual(history, delta)
