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

import torch
from torch import nn

from dno.models._base import OUT_GAIN, DelayOperator, check_m, check_modes, common_config
from dno.models._layers import MLP, FiLM, window_features
from dno.models._spectral import BoundedLinear, ChannelMLP, SpectralConv1d

__all__ = ["MemoryKernel"]


class MemoryKernel(DelayOperator):
    """Memory kernel in frequency space over the history, plus local dynamics, integrated.

    Args:
        S, X, channels, cond_dim: data dimensions (history (B, S, X, C), cond (B, P)).
        m: new slices per step, ``1 <= m <= S``; default S.
        width: channels of the memory features and hidden size of the local MLP.
        modes_theta: θ-frequencies of the memory kernel (on the history grid), at most S//2+1;
            default min(16, S//2+1).
        layers: hidden layers of the local-dynamics MLP.
        dropout: dropout probability.
        spectral_norm: Lipschitz bound of every linear map, or None.
        output_scale: learn a per-channel scale of the rate.
    """

    name = "memory_kernel"

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
        layers: int = 2,
        dropout: float = 0.0,
        spectral_norm: float | None = None,
        output_scale: bool = False,
    ) -> None:
        super().__init__()
        c = common_config(locals())
        steps = check_m(m, c["S"], default=c["S"])
        mt = check_modes("modes_theta", modes_theta, c["S"], "S", 16)
        self._setup(m=steps, config={**c, "m": steps, "modes_theta": mt})
        w, n_c, p, bound = c["width"], c["channels"], c["cond_dim"], c["spectral_norm"]
        self.encode = ChannelMLP(n_c + 2 + p, w, w, bound, c["dropout"])
        # The same bandwidth on the 2S-point padded grid needs twice the frequency index.
        self.kernel = SpectralConv1d(w, w, 2 * mt - 1, bound)
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
