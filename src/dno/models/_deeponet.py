"""``deeponet``: a branch net on the history and τ, a trunk net on (θ, x) coordinates."""

from __future__ import annotations

import math

import torch
from torch import nn

from dno.models._base import OUT_GAIN, DelayOperator, check_int, check_m, common_config
from dno.models._layers import MLP, new_slice_times, x_coordinates

__all__ = ["DeepONet"]


class DeepONet(DelayOperator):
    """Baseline DeepONet: ``delta(s, x) = sum_k b_k(history, cond) t_k(s, x) + bias``.

    The branch MLP sees the whole flattened window and the conditioning vector; the trunk MLP
    sees the coordinates of each new slice point, ``s = (j + 1) / (S - 1)`` (time after now in
    units of τ) and ``x`` in [0, 1]; there are ``basis`` terms per channel.
    ``next = u(t) + scale * delta``.

    Args:
        S, X, channels, cond_dim: data dimensions (history (B, S, X, C), cond (B, P)).
        m: new slices per step, ``1 <= m <= S``; default S.
        width: hidden size of both nets.
        layers: hidden layers of both nets.
        basis: number of basis functions per channel.
        dropout: dropout probability.
        spectral_norm: Lipschitz bound of every linear map, or None.
        output_scale: learn a per-channel output scale.
    """

    name = "deeponet"

    def __init__(
        self,
        *,
        S: int,
        X: int,
        channels: int,
        cond_dim: int,
        m: int | None = None,
        width: int = 64,
        layers: int = 3,
        basis: int = 32,
        dropout: float = 0.0,
        spectral_norm: float | None = None,
        output_scale: bool = False,
    ) -> None:
        super().__init__()
        c = common_config(locals())
        steps = check_m(m, c["S"], default=c["S"])
        n_basis = check_int("basis", basis)
        self._setup(m=steps, config={**c, "m": steps, "basis": n_basis})
        n_in = c["S"] * c["X"] * c["channels"] + c["cond_dim"]
        n_out = n_basis * c["channels"]
        w, depth, drop, bound = c["width"], c["layers"], c["dropout"], c["spectral_norm"]
        self.branch = MLP(n_in, w, n_out, depth, drop, bound)
        self.trunk = MLP(2, w, n_out, depth, drop, bound, final_activation=True)
        self.bias = nn.Parameter(torch.zeros(c["channels"]))
        with torch.no_grad():
            self.branch.out.weight.mul_(OUT_GAIN / math.sqrt(n_basis))
        s = new_slice_times(steps, c["S"])
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
