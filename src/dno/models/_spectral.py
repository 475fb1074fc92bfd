"""Shared spectral layers: spectral convolution, bounded linear maps, channel MLP, output scale.

Spectral convolution (:class:`SpectralConv`) acts on channels-first tensors
``(batch, channels, *grid)`` over the last one or two grid axes. It multiplies the retained
Fourier modes of the input by learned complex matrices (one ``in x out`` matrix per mode) and
transforms back, with every other mode set to zero.

Modes convention (the same for every axis): ``modes`` counts the non-negative frequencies kept on
that axis, ``k = 0 .. modes-1``. The last axis is the real-FFT axis (its negative frequencies are
the complex conjugates); on the other axis of a 2-D convolution both signs are kept,
``k = -(modes-1) .. modes-1``, so the retained set is the whole box ``|k_0| < modes_0,
|k_1| < modes_1``, not one corner. A grid of ``n`` points supports at most ``n // 2 + 1`` modes;
larger values are clamped to the grid at call time, so a layer runs on any grid.

The forward and inverse transforms are the real FFT restricted to the retained modes, computed as
products with small cached DFT matrices (exactly ``torch.fft.rfft``'s coefficients for those modes,
and ``irfft``'s reconstruction from them). With few modes this costs ``O(n * modes)`` per axis in
dense matrix products, which on CPU beats a full FFT followed by truncation.

Spectral normalization: with a bound ``L``, each linear map ``W`` is used as
``W / max(1, s(W) / L)``, where ``s(W)`` is a guaranteed upper bound on the largest singular value
from Gram iteration (Delattre et al., 2023; at most ``rank ** (1/128)`` above it). For a spectral
convolution the bound is per mode, which bounds the whole layer's operator norm on the grid by
``L`` (Parseval). The scale is computed without gradient (a projection onto the bound) and cached
until the weights change. The bound holds per linear map, not for a whole network (activations,
FiLM scaling and the output scale enter too).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

__all__ = [
    "BoundedLinear",
    "ChannelMLP",
    "OutputScale",
    "PointwiseLinear",
    "SpectralConv",
    "SpectralConv1d",
    "SpectralConv2d",
    "gram_spectral_bound",
]

GRAM_STEPS = 6

#: A 2-D convolution keeping at most this many frequencies on its last axis transforms its first
#: axis by one plain matrix product after a permuting copy; with more, by products from the left
#: on a view (the faster of the two on each side, forward and backward, 2 threads:
#: ``benchmarks/bench_train.py --transforms``).
FEW_LAST_MODES = 8


def gram_spectral_bound(
    real: torch.Tensor, imag: torch.Tensor | None = None, steps: int = GRAM_STEPS
) -> torch.Tensor:
    """Upper bound on the largest singular value of a batch of matrices, by Gram iteration.

    ``G_1 = W^H W``, ``G_{t+1} = G_t^2``; then ``sigma_max <= ||G_t||_F ** (1 / 2**t)``, at most
    ``rank ** (1 / 2**(t+1))`` above the true value.

    Args:
        real: real part, shape (batch, rows, cols).
        imag: imaginary part, shape (batch, rows, cols), or None for real matrices.
        steps: number of Gram products ``t``.

    Returns:
        The bounds, shape (batch,).
    """
    a = real.mT @ real
    b = None
    if imag is not None:
        a = a + imag.mT @ imag
        b = real.mT @ imag - imag.mT @ real
    log_scale = torch.zeros(a.shape[0], dtype=a.dtype, device=a.device)
    for _ in range(steps - 1):
        norm = _frobenius(a, b).clamp_min(torch.finfo(a.dtype).tiny)
        a = a / norm[:, None, None]
        log_scale = 2.0 * (log_scale + torch.log(norm))
        if b is None:
            a = a @ a
        else:
            b = b / norm[:, None, None]
            a, b = a @ a - b @ b, a @ b + b @ a
    log_norm = torch.log(_frobenius(a, b).clamp_min(torch.finfo(a.dtype).tiny))
    return torch.exp((log_norm + log_scale) / 2**steps)


def _frobenius(a: torch.Tensor, b: torch.Tensor | None) -> torch.Tensor:
    sq = (a * a).sum(dim=(-2, -1))
    if b is not None:
        sq = sq + (b * b).sum(dim=(-2, -1))
    return torch.sqrt(sq)


class _Bounded(nn.Module):
    """Base of bounded layers: the scale ``1 / max(1, s(W) / bound)``, cached per weight version."""

    bound: float | None

    def _init_bound(self, bound: float | None) -> None:
        self.bound = None if bound is None else float(bound)
        self._cache_key: tuple[int, int, str] | None = None
        self._cache_scale: torch.Tensor | None = None

    def _bound_scale(self, weight: torch.Tensor) -> torch.Tensor | None:
        """Per-matrix scale, shape (batch,), or None without a bound."""
        if self.bound is None:
            return None
        # Cached in eval mode only: a fused optimizer steps in place without bumping _version.
        key = (weight._version, weight.data_ptr(), str(weight.device))
        if self.training or key != self._cache_key or self._cache_scale is None:
            with torch.no_grad():
                self._cache_scale = 1.0 / torch.clamp(
                    self._weight_bound(weight) / self.bound, min=1.0
                )
            self._cache_key = key
        return self._cache_scale

    def train(self, mode: bool = True) -> _Bounded:
        self._cache_key = None  # the weights may have changed since the last eval
        return super().train(mode)

    def _weight_bound(self, weight: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


class BoundedLinear(_Bounded):
    """A linear map over the last axis (like ``nn.Linear``), optionally with a Lipschitz bound.

    Args:
        in_features: input size.
        out_features: output size.
        bound: spectral-norm bound ``L`` on the weight, or None (off).
        bias: add a learned bias.
        gain: initial weights are normal with standard deviation ``gain / sqrt(in_features)``
            (``sqrt(2)`` before a GELU keeps the activations' scale).

    Shapes:
        ``x``: (..., in_features) -> (..., out_features).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bound: float | None = None,
        bias: bool = True,
        gain: float = 1.0,
    ) -> None:
        super().__init__()
        self.in_features = in_features
        self.out_features = out_features
        std = gain / math.sqrt(in_features)
        self.weight = nn.Parameter(torch.randn(out_features, in_features) * std)
        self.bias = nn.Parameter(torch.zeros(out_features)) if bias else None
        self._init_bound(bound)

    def _weight_bound(self, weight: torch.Tensor) -> torch.Tensor:
        return gram_spectral_bound(weight[None])

    def effective_weight(self) -> torch.Tensor:
        """The weight actually applied, shape (out_features, in_features)."""
        scale = self._bound_scale(self.weight)
        return self.weight if scale is None else self.weight * scale[0]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return nn.functional.linear(x, self.effective_weight(), self.bias)


class PointwiseLinear(BoundedLinear):
    """A linear map over the channel axis of a channels-first tensor (a 1x1 convolution).

    ``scale`` (optional) multiplies the product per sample and output channel, ``y = add +
    (scale * W) x + bias``: a FiLM scale folded into the (per-sample) weight, so it costs no pass
    over the grid.

    Shapes:
        ``x``: (batch, in_features, *grid) -> (batch, out_features, *grid); ``add`` (optional,
        added to the result in the same product): (batch, out_features, *grid); ``scale``
        (optional): (batch, out_features).
    """

    def forward(
        self, x: torch.Tensor, add: torch.Tensor | None = None, scale: torch.Tensor | None = None
    ) -> torch.Tensor:
        batch, _, *grid = x.shape
        flat = x.reshape(batch, self.in_features, -1)
        weight = self.effective_weight()
        weight = weight.expand(batch, -1, -1) if scale is None else weight * scale[:, :, None]
        if add is not None:
            y = torch.baddbmm(add.reshape(batch, self.out_features, -1), weight, flat)
            y = y if self.bias is None else y + self.bias[:, None]
        elif self.bias is not None:
            y = torch.baddbmm(self.bias[:, None], weight, flat)
        else:
            y = torch.bmm(weight, flat)
        return y.reshape(batch, self.out_features, *grid)


class ChannelMLP(nn.Module):
    """A pointwise two-layer MLP over channels: linear, GELU, dropout, linear.

    Args:
        in_channels: input channels.
        hidden: hidden channels.
        out_channels: output channels.
        bound: spectral-norm bound of each linear map, or None.
        dropout: dropout probability after the activation.
        channels_first: act on axis 1 of ``(batch, channels, *grid)`` instead of the last axis.
        out_gain: initial scale of the output layer (small for a model's output head, so a
            residual model starts near persistence).

    Shapes:
        ``x``: (batch, in_channels, *grid) if ``channels_first`` else (..., in_channels).
    """

    def __init__(
        self,
        in_channels: int,
        hidden: int,
        out_channels: int,
        bound: float | None = None,
        dropout: float = 0.0,
        channels_first: bool = False,
        out_gain: float = 1.0,
    ) -> None:
        super().__init__()
        kind = PointwiseLinear if channels_first else BoundedLinear
        self.first = kind(in_channels, hidden, bound, gain=math.sqrt(2.0))
        self.second = kind(hidden, out_channels, bound, gain=out_gain)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.second(self.dropout(nn.functional.gelu(self.first(x))))


class OutputScale(nn.Module):
    """A learnable per-channel output scale (initially 1), or the identity when disabled.

    Shapes:
        ``x``: (..., channels) -> (..., channels).
    """

    def __init__(self, channels: int, enabled: bool) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(channels)) if enabled else None

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.scale is None else x * self.scale


class SpectralConv(_Bounded):
    """Spectral convolution over the last one or two grid axes of a channels-first tensor.

    Args:
        in_channels: input channels ``I``.
        out_channels: output channels ``O``.
        modes: non-negative frequencies kept per axis, ``(modes_last,)`` for 1-D or
            ``(modes_0, modes_last)`` for 2-D; see the module docstring.
        bound: per-mode spectral-norm bound ``L`` (so the layer's operator norm is at most
            ``L``), or None.

    Shapes:
        ``x``: (batch, I, *extra, *grid) -> (batch, O, *extra, *grid), where ``grid`` is the last
        ``len(modes)`` axes and ``extra`` axes (if any) are treated like the batch. ``scale`` and
        ``shift`` (optional, (batch, O)): the output becomes ``out * scale + shift`` per sample
        and channel (a FiLM modulation), the scale applied to the retained modes and the shift
        added in the inverse transform, so neither costs a pass over the grid.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: Sequence[int],
        bound: float | None = None,
    ) -> None:
        super().__init__()
        self.modes = tuple(int(m) for m in modes)
        if len(self.modes) not in (1, 2) or min(self.modes) < 1:
            raise ValueError(f"modes must be 1 or 2 positive ints, got {tuple(modes)}")
        self.in_channels = in_channels
        self.out_channels = out_channels
        n_full = 2 * self.modes[0] - 1 if len(self.modes) == 2 else 1
        std = math.sqrt(1.0 / (2 * in_channels))  # complex variance 1/I per entry
        shape = (self.modes[-1], n_full, in_channels, 2 * out_channels)  # last dim: [real | imag]
        self.weight = nn.Parameter(torch.randn(shape) * std)
        self._matrices: dict[tuple[object, ...], torch.Tensor] = {}
        self._init_bound(bound)

    def _weight_bound(self, weight: torch.Tensor) -> torch.Tensor:
        o = self.out_channels
        flat = weight.reshape(-1, self.in_channels, 2 * o)
        return gram_spectral_bound(flat[..., :o], flat[..., o:]).reshape(weight.shape[:2])

    def effective_weight(self) -> torch.Tensor:
        """The weight actually applied, shape (modes_last, n_full, I, 2*O): real | imaginary."""
        scale = self._bound_scale(self.weight)
        return self.weight if scale is None else self.weight * scale[..., None, None]

    def forward(
        self, x: torch.Tensor, scale: torch.Tensor | None = None, shift: torch.Tensor | None = None
    ) -> torch.Tensor:
        d = len(self.modes)
        batch, channels, *rest = x.shape
        if channels != self.in_channels or len(rest) < d:
            raise ValueError(
                f"input has shape {tuple(x.shape)}, expected (batch, {self.in_channels}, *grid) "
                f"with {d} grid axes"
            )
        grid, extra = rest[len(rest) - d :], rest[: len(rest) - d]
        n_last = grid[-1]
        last = range(min(self.modes[-1], n_last // 2 + 1))
        full = self._full_freqs(grid[0]) if d == 2 else range(1)
        if d == 2 and grid[0] == 1:
            # A one-point axis keeps only its zero frequency, whose transforms are the identity:
            # the 1-D path computes the same, without two transforms and four permutations.
            d = 1
        i, o = self.in_channels, self.out_channels
        if d == 1 and scale is None and shift is None and math.prod(extra) == 1:
            # A line: points first costs two permutations of the field but no block weights
            # and no permutations of the spectrum, which is faster (measured).
            t = self.forward_lines(x.reshape(batch, i, n_last).permute(2, 0, 1).contiguous())
            return t.permute(1, 2, 0).reshape(batch, o, *extra, *grid)
        # Complex numbers travel as [real | imaginary] halves of one axis, so each transform and
        # the channel mixing are single real matrix products with block matrices.
        rfft = self._matrix("rfft", n_last, last, x)
        z = x.reshape(-1, n_last) @ rfft
        if d == 2:
            n0 = grid[0]
            fft = self._matrix("fft_left", n0, full, x)  # (2*n_full, 2*n0)
            if len(last) <= FEW_LAST_MODES:
                # One matrix product over rows (batch*I*extra, m_last), after a permuting copy:
                # from the left it would be thousands of tiny products (measured).
                z = z.reshape(-1, n0, 2, len(last)).permute(0, 3, 1, 2).reshape(-1, 2 * n0)
                z = z @ fft.T  # columns (re|im, k0)
                z = z.reshape(batch, i, -1, len(last), 2, len(full)).permute(3, 5, 0, 2, 4, 1)
            else:
                # From the left on (batch*I*extra, [n0, re|im], m_last) as a view: with more
                # modes the products are large enough and the copy would cost more (measured).
                z = torch.matmul(fft, z.reshape(-1, 2 * n0, len(last)))  # rows (re|im, k0)
                z = z.reshape(batch, i, -1, 2, len(full), len(last)).permute(5, 4, 0, 2, 3, 1)
        else:
            z = z.reshape(batch, i, -1, 2, len(last)).permute(4, 0, 2, 3, 1)
        n_modes = len(last) * len(full)
        weight = self._kept_weight(last, full).reshape(n_modes, i, 2 * o)
        z = torch.bmm(z.reshape(n_modes, -1, 2 * i), _blocks(weight))
        z = z.reshape(len(last), len(full), batch, -1, 2, o)  # (m_last, n_full, B, extra, 2, O)
        if scale is not None:
            z = z * scale[:, None, None, :]
        if d == 2:
            n0 = grid[0]
            z = z.permute(2, 5, 3, 0, 4, 1).reshape(-1, 2 * len(full))
            z = z @ self._matrix("ifft", n0, full, x)  # (batch*O*extra*m_last, 2*n0)
            # Transform along the last axis from (batch*O*extra, n0, [m_last, 2]) as a view:
            # cheaper than permuting the spectrum first (measured).
            z = z.reshape(-1, 2 * len(last), n0).mT
            inverse = self._matrix("irfft_pairs", n_last, last, x)
            z = torch.matmul(z, inverse)
            if shift is not None:  # a plain add: baddbmm's backward made ~2,000 tiny copies
                z = z.reshape(batch, o, -1) + shift[:, :, None]
            return z.reshape(batch, o, *extra, *grid)
        z = z.permute(2, 5, 3, 4, 0, 1)
        z = z.reshape(-1, 2 * len(last))  # rows (B, O, extra)
        if shift is None:
            z = z @ self._matrix("irfft", n_last, last, x)
        else:
            rows = shift[:, :, None].expand(batch, o, z.shape[0] // (batch * o)).reshape(-1, 1)
            z = torch.addmm(rows, z, self._matrix("irfft", n_last, last, x))
        return z.reshape(batch, o, *extra, *grid)

    def forward_lines(self, t: torch.Tensor) -> torch.Tensor:
        """The convolution along lines, in a points-first layout: (n, R, I) -> (n, R, O).

        For a grid whose axes other than the last have one point each (``R`` counts the samples;
        the same function as :meth:`forward` on ``t.permute(1, 2, 0)``). Five matrix products,
        no permutation and no block weights: the real and imaginary weights mix the spectrum
        separately and the inverse transform combines them.
        """
        n, rows, i = t.shape
        o = self.out_channels
        last = range(min(self.modes[-1], n // 2 + 1))
        full = self._full_freqs(1) if len(self.modes) == 2 else range(1)
        m = len(last)
        real, imag = self._kept_weight(last, full).reshape(m, i, 2 * o).split(o, dim=-1)
        z = self._matrix("rfft_lines", n, last, t) @ t.reshape(n, rows * i)  # (k, re|im) rows
        z = z.reshape(m, 2 * rows, i)
        by_real = torch.bmm(z, real).reshape(2 * m, rows * o)
        by_imag = torch.bmm(z, imag).reshape(2 * m, rows * o)
        y = self._matrix("irfft_lines", n, last, t) @ by_real
        y = torch.addmm(y, self._matrix("irfft_lines_swap", n, last, t), by_imag)
        return y.reshape(n, rows, o)

    def _full_freqs(self, n: int) -> range:
        """Frequencies kept on the two-sided axis, ``-(m-1) .. m-1`` clamped to the grid."""
        m = min(self.modes[0], n // 2 + 1)
        low = -(m - 2) if n % 2 == 0 and m == n // 2 + 1 else -(m - 1)  # Nyquist counted once
        return range(low, m)

    def _kept_weight(self, last: range, full: range) -> torch.Tensor:
        """The weights of the modes a grid keeps, shape (len(last), len(full), I, 2*O)."""
        center = self.modes[0] - 1 if len(self.modes) == 2 else 0
        weight = self.effective_weight()
        if len(last) < weight.shape[0] or len(full) < weight.shape[1]:  # a grid too short
            weight = weight[: len(last), center + full.start : center + full.stop]
        return weight

    def _matrix(self, kind: str, n: int, freqs: range, like: torch.Tensor) -> torch.Tensor:
        """A cached real DFT matrix for ``n`` grid points and the given frequencies.

        With ``C = cos(2 pi x k / n)`` and ``S = sin(...)``, shape (n, len(freqs)):
        ``rfft`` (n, 2m) = [C | -S]; ``fft`` (2n, 2k) = [[C, -S], [S, C]] (complex input);
        ``ifft`` (2k, 2n) = [[C.T, S.T], [-S.T, C.T]] / n; ``irfft`` (2m, n) = [c C.T ; -c S.T] / n
        with c = 1 for the zero and Nyquist frequencies and 2 otherwise (the conjugate half);
        ``fft_left`` (2k, 2n): ``fft.T`` with columns in (point, real | imaginary) order;
        ``irfft_pairs``: ``irfft``'s rows in (frequency, real | imaginary) order. For
        :meth:`forward_lines`: ``rfft_lines`` (2m, n), ``rfft.T`` with rows in that order;
        ``irfft_lines`` (n, 2m), ``irfft_pairs.T``; ``irfft_lines_swap`` (n, 2m), the same with
        each pair's columns (real, imaginary) replaced by (imaginary, -real).
        """
        key = (kind, n, freqs.start, freqs.stop, like.dtype, like.device)
        matrix = self._matrices.get(key)
        if matrix is None:
            k = torch.arange(freqs.start, freqs.stop, dtype=torch.float64)
            phase = 2.0 * math.pi * torch.outer(torch.arange(n, dtype=torch.float64), k) / n
            cos, sin = torch.cos(phase), torch.sin(phase)  # (n, len(freqs))
            if kind == "rfft":
                matrix = torch.cat([cos, -sin], dim=1)
            elif kind == "rfft_lines":
                matrix = torch.stack([cos.T, -sin.T], dim=1).reshape(-1, n)
            elif kind in ("fft", "fft_left"):
                matrix = torch.cat([torch.cat([cos, -sin], 1), torch.cat([sin, cos], 1)], 0)
                if kind == "fft_left":
                    matrix = matrix.reshape(2, n, -1).permute(2, 1, 0).reshape(-1, 2 * n)
            elif kind == "ifft":
                top = torch.cat([cos.T, sin.T], 1)
                matrix = torch.cat([top, torch.cat([-sin.T, cos.T], 1)], 0) / n
            else:
                weight = torch.where((k == 0) | (2 * k == n), 1.0, 2.0)[:, None] / n
                matrix = torch.cat([weight * cos.T, -weight * sin.T], dim=0)
                if kind != "irfft":  # rows in (frequency, real | imaginary) order
                    matrix = matrix.reshape(2, len(freqs), n).transpose(0, 1)
                if kind == "irfft_lines_swap":  # (k, re) -> the imaginary row, (k, im) -> -real
                    matrix = torch.stack([matrix[:, 1], -matrix[:, 0]], dim=1)
                matrix = matrix.reshape(-1, n)
                if kind != "irfft" and kind != "irfft_pairs":
                    matrix = matrix.T.contiguous()
            matrix = matrix.to(dtype=like.dtype, device=like.device)
            self._matrices[key] = matrix
        return matrix


def _blocks(weight: torch.Tensor) -> torch.Tensor:
    """Per-mode real blocks [[Wr, Wi], [-Wi, Wr]] of complex weights [Wr | Wi].

    Shapes: ``weight`` (n_modes, I, 2*O) -> (n_modes, 2*I, 2*O).
    """
    o = weight.shape[-1] // 2
    return torch.cat([weight, torch.cat([-weight[..., o:], weight[..., :o]], dim=-1)], dim=-2)


class SpectralConv1d(SpectralConv):
    """:class:`SpectralConv` over the last axis: (batch, I, *extra, n) -> (batch, O, *extra, n)."""

    def __init__(
        self, in_channels: int, out_channels: int, modes: int, bound: float | None = None
    ) -> None:
        super().__init__(in_channels, out_channels, (modes,), bound)


class SpectralConv2d(SpectralConv):
    """:class:`SpectralConv` over the last two axes: (batch, I, *extra, n0, n1) -> (batch, O, ...).

    ``modes = (modes_0, modes_1)``: both signs are kept on axis ``n0``, ``0 .. modes_1 - 1`` on
    the real-FFT axis ``n1``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        modes: tuple[int, int],
        bound: float | None = None,
    ) -> None:
        super().__init__(in_channels, out_channels, modes, bound)
