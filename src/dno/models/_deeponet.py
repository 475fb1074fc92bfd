"""``deeponet``: a branch net on the history and τ, a trunk net on (θ, x) coordinates."""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import nn

from dno.models._arguments import M_WINDOW, Argument, declare, positive
from dno.models._base import OUT_GAIN, DelayOperator
from dno.models._layers import MLP, new_slice_times, x_coordinates

__all__ = ["DeepONet"]


class DeepONet(DelayOperator):
    """Baseline DeepONet: ``delta(s, x) = sum_k b_k(history, cond) t_k(s, x) + bias``.

    The branch MLP sees the whole flattened window and the conditioning vector; the trunk MLP
    sees the coordinates of each new slice point, ``s = (j + 1) / (S - 1)`` (time after now in
    units of τ) and ``x`` in [0, 1]; there are ``basis`` terms per channel.
    ``next = u(t) + scale * delta``; ``width`` and ``layers`` are the hidden size and hidden
    layers of both nets.
    """

    name = "deeponet"
    arguments = declare(
        m=M_WINDOW, width=64, basis=Argument(32, positive, "basis functions per channel")
    )

    def _build(self, c: dict[str, Any]) -> None:
        n_basis, n_c = c["basis"], c["channels"]
        n_in = c["S"] * c["X"] * n_c + c["cond_dim"]
        w, depth, drop, bound = c["width"], c["layers"], c["dropout"], c["spectral_norm"]
        self.branch = MLP(n_in, w, n_basis * n_c, depth, drop, bound)
        self.trunk = MLP(2, w, n_basis * n_c, depth, drop, bound, final_activation=True)
        self.bias = nn.Parameter(torch.zeros(n_c))
        with torch.no_grad():
            self.branch.out.weight.mul_(OUT_GAIN / math.sqrt(n_basis))
        s = new_slice_times(self.m, c["S"])
        x = x_coordinates(c["X"])
        coords = torch.stack(torch.meshgrid(s, x, indexing="ij"), dim=-1)  # (m, X, 2)
        self.register_buffer("coords", coords, persistent=False)
        self._n_basis = n_basis

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        batch, _, n_x, n_c = history.shape
        branch_in = torch.cat([history.reshape(batch, -1), cond], dim=-1)
        b = self.branch(branch_in).reshape(batch, self._n_basis, n_c)
        t = self.trunk(self.coords.to(history)).reshape(self.m, n_x, self._n_basis, n_c)
        delta = torch.einsum("bkc,jxkc->bjxc", b, t) + self.bias
        return self._residual(history, delta)
