"""``memory_kernel``: a distributed-delay memory term plus learned local dynamics, integrated.

The rate of change at each new slice is ``f(u, D_xx u, cond) + M_j``: ``f`` is a pointwise MLP
of the current state and its discrete second difference in x (local dynamics; zero-flux ends);
``M_j`` is a memory term, a convolution over the history with a kernel learned in frequency space,

    M(t + s_j) = sum_i k(s_j - theta_i) phi(u(t + theta_i)),

evaluated for all new slices at once (the history is zero-padded to 2S points, so the
convolution is linear, not periodic). The state is integrated across the m new slices with
explicit Euler steps of ``h`` (in units of τ: ``1 / (S - 1)``).
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from dno.models._arguments import M_WINDOW, MODES_THETA, declare
from dno.models._base import OUT_GAIN, DelayOperator
from dno.models._layers import MLP, FiLM, window_features
from dno.models._spectral import BoundedLinear, ChannelMLP, SpectralConv1d

__all__ = ["MemoryKernel"]


class MemoryKernel(DelayOperator):
    """Memory kernel in frequency space over the history, plus local dynamics, integrated.

    ``width`` is the channels of the memory features and the hidden size of the local MLP,
    ``layers`` the hidden layers of the local-dynamics MLP, ``modes_theta`` the θ-frequencies of
    the memory kernel (on the history grid) and ``output_scale`` a per-channel scale of the rate.
    """

    name = "memory_kernel"
    arguments = declare(m=M_WINDOW, modes_theta=MODES_THETA, layers=2)

    def _build(self, c: dict[str, Any]) -> None:
        w, n_c, p, bound = c["width"], c["channels"], c["cond_dim"], c["spectral_norm"]
        self.encode = ChannelMLP(n_c + 2 + p, w, w, bound, c["dropout"])
        # The same bandwidth on the 2S-point padded grid needs twice the frequency index.
        self.kernel = SpectralConv1d(w, w, 2 * c["modes_theta"] - 1, bound)
        self.memory_film = FiLM(p, w, 1, bound)
        self.memory_out = BoundedLinear(w, n_c, bound, gain=OUT_GAIN)
        self.local = MLP(2 * n_c + p, w, n_c, c["layers"], c["dropout"], bound, out_gain=OUT_GAIN)

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        memory = self._memory(history, cond)  # (B, m, X, C)
        cond_x = cond[:, None, :].expand(-1, self.X, -1)
        u = history[:, -1]  # (B, X, C)
        step = 1.0 / (self.S - 1)
        states = []
        for j in range(self.m):
            rate = self.local(torch.cat([u, _second_difference(u), cond_x], dim=-1)) + memory[:, j]
            u = u + step * self.out_scale(rate)
            states.append(u)
        return torch.stack(states, dim=1)

    def _memory(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """The memory term at the m new slices, shape (batch, m, X, C)."""
        phi = self.encode(window_features(history, cond)).permute(0, 3, 2, 1)  # (B, W, X, S)
        padded = nn.functional.pad(phi, (0, self.S))  # (B, W, X, 2S)
        # Padded index S + j is time t + (j + 1) h: lags (j + 1) h .. (S + j) h, no wrap-around.
        memory = self.kernel(padded)[..., self.S : self.S + self.m]
        memory = FiLM.modulate(memory, self.memory_film(cond)[:, 0])
        return self.memory_out(memory.permute(0, 3, 2, 1))


def _second_difference(u: torch.Tensor) -> torch.Tensor:
    """``u[x-1] - 2 u[x] + u[x+1]`` with zero-flux (mirrored) ends; (B, X, C) -> (B, X, C)."""
    if u.shape[1] == 1:
        return torch.zeros_like(u)
    padded = torch.cat([u[:, 1:2], u, u[:, -2:-1]], dim=1)
    return padded[:, :-2] - 2.0 * u + padded[:, 2:]
