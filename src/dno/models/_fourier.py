"""The Fourier core several models share: a lift P, Fourier layers F with FiLM, a projection Q.

``Q(F(P(features), FiLM(cond)))``: P lifts each point's input features to ``width`` channels, F
is ``layers`` Fourier layers (:class:`~dno.models._layers.FourierStack`) whose every layer is
modulated by the conditioning, Q is a pointwise two-layer MLP to the output channels, its last
map started small (``OUT_GAIN``) so the model starts near persistence. Two grids:

- :class:`FieldOperator`: the window as a field on (θ, x), Fourier layers over both axes
  (``stacked_history``, ``history_space``, ``method_of_steps``);
- :class:`LaggedFNO`: the states at a few θ-grid indices as channels, Fourier layers over x
  (``fno``, ``lag_stack``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dno.models._base import OUT_GAIN, DelayOperator
from dno.models._layers import FiLM, FourierStack, x_coordinates
from dno.models._spectral import BoundedLinear, ChannelMLP, PointwiseLinear

__all__ = ["FieldOperator", "FourierOperator", "LaggedFNO"]


class FourierOperator(DelayOperator):
    """A model whose core is ``Q(F(P(features), FiLM(cond)))`` (see the module)."""

    def _build_core(
        self, c: dict[str, Any], lift: nn.Module, modes: tuple[int, ...], n_out: int
    ) -> None:
        """Register ``lift`` as P, then create the FiLM, F (``modes`` per grid axis) and Q."""
        w, bound = c["width"], c["spectral_norm"]
        self.lift = lift
        self.film = FiLM(c["cond_dim"], w, c["layers"], bound)
        self.fourier = FourierStack(w, modes, c["layers"], c["dropout"], bound)
        self.project = ChannelMLP(
            w, w, n_out, bound, c["dropout"], channels_first=True, out_gain=OUT_GAIN
        )

    def _core(self, lifted: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``Q(F(lifted, FiLM(cond)))``: (B, width, *grid) -> (B, n_out, *grid)."""
        return self.project(self.fourier(lifted, self.film(cond)))


class FieldOperator(FourierOperator):
    """The Fourier core on the field over (θ, x), projected back to C channels."""

    def _build_field(self, c: dict[str, Any], n_in: int) -> None:
        """P from ``n_in`` input features per point; modes (modes_x, modes_theta)."""
        lift = PointwiseLinear(n_in, c["width"], c["spectral_norm"])
        self._build_core(c, lift, (c["modes_x"], c["modes_theta"]), c["channels"])

    def _field(self, features: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """``Q(F(P(features)))``: features (B, n_in, X, S) -> field (B, C, X, S)."""
        return self._core(self.lift(features), cond)


class LaggedFNO(FourierOperator):
    """A 1-D FNO over x whose input channels are the states at a few θ-grid indices.

    The m new slices are its ``m * C`` output channels: ``next = u(t) + scale * FNO_x(...)``.
    """

    lag_index: torch.Tensor

    def _build_lagged(self, c: dict[str, Any], lags: list[int]) -> None:
        """The core on the states at history indices ``lags`` (plus x and the conditioning)."""
        self.register_buffer("lag_index", torch.tensor(lags), persistent=False)
        n_in = len(lags) * c["channels"] + 1 + c["cond_dim"]
        lift = BoundedLinear(n_in, c["width"], c["spectral_norm"])
        self._build_core(c, lift, (c["modes_x"],), self.m * c["channels"])

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        batch, _, n_x, n_c = history.shape
        lagged = history[:, self.lag_index].permute(0, 2, 1, 3).reshape(batch, n_x, -1)
        x = x_coordinates(n_x).to(history)[None, :, None].expand(batch, n_x, 1)
        features = torch.cat([lagged, x, cond[:, None, :].expand(batch, n_x, -1)], dim=-1)
        h = self.lift(features).transpose(1, 2).contiguous()  # (B, W, X)
        out = self._core(h, cond)  # (B, m*C, X)
        delta = out.reshape(batch, self.m, n_c, n_x).transpose(2, 3)  # (B, m, X, C)
        return self._residual(history, delta)
