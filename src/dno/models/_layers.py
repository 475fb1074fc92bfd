"""Building blocks shared by the models: grid coordinates, FiLM conditioning, a Fourier stack."""

from __future__ import annotations

import functools
import itertools
import math
from typing import cast

import torch
from torch import nn

from dno.models._spectral import BoundedLinear, PointwiseLinear, SpectralConv

__all__ = [
    "MLP",
    "FiLM",
    "FourierStack",
    "new_slice_times",
    "theta_coordinates",
    "window_features",
    "x_coordinates",
]


def theta_coordinates(S: int) -> torch.Tensor:
    """θ / τ on the history grid, from -1 (oldest) to 0 (now), shape (S,)."""
    return torch.linspace(-1.0, 0.0, S)


def x_coordinates(X: int) -> torch.Tensor:
    """Spatial points scaled to [0, 1], shape (X,); ``[0.0]`` for a scalar state."""
    return torch.linspace(0.0, 1.0, X) if X > 1 else torch.zeros(1)


def new_slice_times(m: int, S: int) -> torch.Tensor:
    """Times of the new slices after now, in units of τ: ``(j + 1) / (S - 1)``, shape (m,)."""
    return torch.arange(1, m + 1, dtype=torch.float32) / (S - 1)


def window_features(history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """The history with θ / τ, x and the conditioning appended as channels.

    Args:
        history: shape (batch, S, X, C).
        cond: shape (batch, P).

    Returns:
        Channels-last features, shape (batch, S, X, C + 2 + P).
    """
    batch, n_theta, n_x, _ = history.shape
    if torch.compiler.is_compiling():  # a compiled graph keeps its constants itself
        grid = _make_grid_channels(n_theta, n_x, history.dtype, history.device)
    else:
        inference = torch.is_inference_mode_enabled()
        grid = _grid_channels(n_theta, n_x, history.dtype, history.device, inference)
    return torch.cat(
        [
            history,
            grid.expand(batch, -1, -1, -1),
            cond[:, None, None, :].expand(batch, n_theta, n_x, cond.shape[1]),
        ],
        dim=-1,
    )


@functools.lru_cache(maxsize=64)
def _grid_channels(
    n_theta: int, n_x: int, dtype: torch.dtype, device: torch.device, inference: bool
) -> torch.Tensor:
    """θ / τ and x at every window point, shape (1, S, X, 2); made once per grid and device.

    ``inference`` keys tensors made under ``torch.inference_mode`` apart (they cannot enter
    autograd).
    """
    return _make_grid_channels(n_theta, n_x, dtype, device)


def _make_grid_channels(
    n_theta: int, n_x: int, dtype: torch.dtype, device: torch.device
) -> torch.Tensor:
    theta = theta_coordinates(n_theta).to(dtype=dtype, device=device)
    x = x_coordinates(n_x).to(dtype=dtype, device=device)
    return torch.stack(torch.meshgrid(theta, x, indexing="ij"), dim=-1)[None]


class FiLM(nn.Module):
    """Feature-wise affine modulation from the conditioning vector: one (scale, shift) per layer.

    ``h -> h * (1 + gamma(cond)) + beta(cond)``. The last map starts small but not zero, so the
    conditioning (τ first) affects the output from the start.

    Args:
        cond_dim: P.
        width: channels modulated.
        n_layers: number of (gamma, beta) pairs.
        bound: spectral-norm bound of the linear maps, or None.
    """

    def __init__(self, cond_dim: int, width: int, n_layers: int, bound: float | None) -> None:
        super().__init__()
        self.width = width
        self.n_layers = n_layers
        self.hidden = BoundedLinear(cond_dim, width, bound, gain=math.sqrt(2.0))
        self.out = BoundedLinear(width, 2 * width * n_layers, bound)
        with torch.no_grad():
            self.out.weight.mul_(0.3)

    def forward(self, cond: torch.Tensor) -> torch.Tensor:
        """Modulation parameters, shape (batch, n_layers, 2, width): [gamma, beta] per layer."""
        params = self.out(nn.functional.gelu(self.hidden(cond)))
        return params.reshape(cond.shape[0], self.n_layers, 2, self.width)

    @staticmethod
    def modulate(h: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """Apply one layer's (gamma, beta), shape (batch, 2, width), to h (batch, width, *grid)."""
        view = (*params.shape[:1], params.shape[2]) + (1,) * (h.ndim - 2)
        return torch.addcmul(params[:, 1].reshape(view), h, 1.0 + params[:, 0].reshape(view))


#: Fold FiLM into the Fourier layers' maps when a sample's grid has at least this many points
#: per channel of width (below, an element-wise modulation is cheaper; see FourierStack.forward).
FOLD_FILM_GRID = 4


class FourierStack(nn.Module):
    """Fourier layers ``h <- act(FiLM(K h + W h))`` on channels-first features (no act at the end).

    Args:
        width: channels.
        modes: modes per grid axis, see :class:`~dno.models._spectral.SpectralConv`.
        layers: number of layers.
        dropout: dropout after each inner activation.
        bound: spectral-norm bound of every linear map, or None.

    Shapes:
        ``h``: (batch, width, *extra, *grid); ``film``: (batch, layers, 2, width).
    """

    def __init__(
        self,
        width: int,
        modes: tuple[int, ...],
        layers: int,
        dropout: float,
        bound: float | None,
    ) -> None:
        super().__init__()
        self.spectral = nn.ModuleList(
            SpectralConv(width, width, modes, bound) for _ in range(layers)
        )
        # No bias on the skip path: the FiLM shift follows.
        self.skip = nn.ModuleList(
            PointwiseLinear(width, width, bound, bias=False) for _ in range(layers)
        )
        self.dropout = nn.Dropout(dropout)
        self.lines = True  # the points-first path on line grids (False: the general path)

    def forward(self, h: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        if self.lines and math.prod(h.shape[2:-1]) == 1:
            return self._forward_lines(h, film)
        last = len(self.spectral) - 1
        # FiLM(K h + W h) = (K h + W h) * scale + shift. On a large grid the modulation is folded
        # into both maps (the scale into the retained modes and a per-sample skip weight, the
        # shift into the inverse transform): no pass over the grid, at the price of a
        # (batch, width, width) weight and a few more small operations, which on a grid of few
        # points cost more than the pass they save (measured: benchmarks/bench_train.py).
        fold = math.prod(h.shape[2:]) >= FOLD_FILM_GRID * h.shape[1]
        view = (1,) * (h.ndim - 2)
        scales = torch.unbind((1.0 + film[:, :, 0]).reshape(*film.shape[:2], -1, *view), dim=1)
        shifts = torch.unbind(film[:, :, 1].reshape(*film.shape[:2], -1, *view), dim=1)
        for layer, (spectral, skip) in enumerate(zip(self.spectral, self.skip, strict=True)):
            scale, shift = scales[layer], shifts[layer]  # (batch, width, 1, ...)
            if fold:
                flat_scale = scale.flatten(1)
                h = skip(h, add=spectral(h, flat_scale, shift.flatten(1)), scale=flat_scale)
            else:
                h = torch.addcmul(shift, skip(h, add=spectral(h)), scale)
            if layer < last:
                h = self.dropout(nn.functional.gelu(h))
        return h

    def _forward_lines(self, h: torch.Tensor, film: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` on a grid that is a line (every axis but the last has one point).

        Points first, ``(n, batch, width)``: each spectral convolution is five matrix products
        (:meth:`SpectralConv.forward_lines`) and each skip map one, with no permutation inside
        the stack. On such short grids the number of operations, not the arithmetic, sets the
        time (see benchmarks/bench_train.py).
        """
        batch, width, *grid = h.shape
        n = grid[-1]
        t = h.reshape(batch, width, n).permute(2, 0, 1).contiguous()  # (n, B, W)
        scales, shifts = (1.0 + film[:, :, 0]).unbind(1), film[:, :, 1].unbind(1)
        last = len(self.spectral) - 1
        for layer, (spectral, skip) in enumerate(zip(self.spectral, self.skip, strict=True)):
            flat = t.reshape(n * batch, width)
            y = cast(SpectralConv, spectral).forward_lines(t).reshape(n * batch, width)
            y = torch.addmm(y, flat, cast(PointwiseLinear, skip).effective_weight().T)
            t = torch.addcmul(shifts[layer], y.reshape(n, batch, width), scales[layer])
            if layer < last:
                t = self.dropout(nn.functional.gelu(t))
        return t.permute(1, 2, 0).reshape(batch, width, *grid)


class MLP(nn.Module):
    """A plain MLP over the last axis: ``layers`` hidden layers of GELU, then a linear output.

    Args:
        in_features: input size.
        hidden: hidden size.
        out_features: output size.
        layers: number of hidden layers (at least 1).
        dropout: dropout after each hidden activation.
        bound: spectral-norm bound of each linear map, or None.
        final_activation: apply GELU to the output too.
        out_gain: initial scale of the output layer.

    Shapes:
        ``x``: (..., in_features) -> (..., out_features).
    """

    def __init__(
        self,
        in_features: int,
        hidden: int,
        out_features: int,
        layers: int,
        dropout: float,
        bound: float | None,
        final_activation: bool = False,
        out_gain: float = 1.0,
    ) -> None:
        super().__init__()
        sizes = [in_features] + [hidden] * layers
        self.hidden = nn.ModuleList(
            BoundedLinear(a, b, bound, gain=math.sqrt(2.0)) for a, b in itertools.pairwise(sizes)
        )
        self.out = BoundedLinear(hidden, out_features, bound, gain=out_gain)
        self.dropout = nn.Dropout(dropout)
        self.final_activation = final_activation

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for linear in self.hidden:
            x = self.dropout(nn.functional.gelu(linear(x)))
        x = self.out(x)
        return nn.functional.gelu(x) if self.final_activation else x
