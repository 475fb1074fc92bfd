"""Spectral convolution against a direct DFT, mode clamping, and the spectral-norm bounds."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from dno.models import SpectralConv, SpectralConv1d, SpectralConv2d, _spectral, gram_spectral_bound
from dno.models._spectral import BoundedLinear


def _direct(x: np.ndarray, weight: np.ndarray, modes: tuple[int, ...]) -> np.ndarray:
    """Spectral convolution written out with explicit DFT sums (float64).

    Keeps |k0| < modes_0 (both signs, the Nyquist bin once) and 0 <= k1 < modes_1, multiplies
    each mode by its (I, O) complex matrix and sums the inverse DFT with the conjugate half.
    """
    batch, _, *grid = x.shape
    if len(grid) == 1:
        x, grid = x[:, :, None, :], [1, grid[0]]
    n0, n1 = grid
    out_channels = weight.shape[-1] // 2
    w = weight[..., :out_channels] + 1j * weight[..., out_channels:]  # (M1, K0, I, O)
    m1 = min(modes[-1], n1 // 2 + 1)
    m0 = min(modes[0], n0 // 2 + 1) if len(modes) == 2 else 1
    center = modes[0] - 1 if len(modes) == 2 else 0
    low = -(m0 - 2) if n0 % 2 == 0 and m0 == n0 // 2 + 1 else -(m0 - 1)
    a, b = np.arange(n0)[:, None], np.arange(n1)[None, :]
    y = np.zeros((batch, out_channels, n0, n1))
    for k0, k1 in itertools.product(range(low, m0), range(m1)):
        wave = np.exp(2j * np.pi * (k0 * a / n0 + k1 * b / n1))  # (n0, n1)
        coef = np.einsum("nipq,pq->ni", x, np.conj(wave))  # forward DFT at (k0, k1)
        out = coef @ w[k1, center + k0]  # (B, O)
        half = 1.0 if k1 == 0 or 2 * k1 == n1 else 2.0
        y += half * np.real(out[:, :, None, None] * wave) / (n0 * n1)
    return y[:, :, 0] if len(modes) == 1 else y


CASES_2D = [
    ((6, 8), (2, 3)),
    ((5, 7), (3, 4)),
    ((6, 8), (4, 5)),
    ((1, 9), (1, 3)),
    ((4, 4), (3, 3)),
    ((6, 20), (3, 10)),  # more last-axis modes than FEW_LAST_MODES: the other first-axis path
    ((5, 18), (2, 9)),
]


@pytest.mark.parametrize(("grid", "modes"), CASES_2D)
def test_2d_matches_direct_dft(grid: tuple[int, int], modes: tuple[int, int]) -> None:
    torch.manual_seed(0)
    layer = SpectralConv2d(3, 2, modes)
    x = torch.randn(2, 3, *grid, dtype=torch.float64)
    with torch.no_grad():
        got = layer.double()(x).numpy()
    np.testing.assert_allclose(
        got, _direct(x.numpy(), layer.weight.detach().numpy(), modes), atol=1e-10
    )


@pytest.mark.parametrize(("n", "modes"), [(16, 5), (7, 3), (8, 5), (1, 1)])
def test_1d_matches_direct_dft(n: int, modes: int) -> None:
    torch.manual_seed(1)
    layer = SpectralConv1d(3, 4, modes).double()
    x = torch.randn(2, 3, n, dtype=torch.float64)
    with torch.no_grad():
        got = layer(x).numpy()
    np.testing.assert_allclose(
        got, _direct(x.numpy(), layer.weight.detach().numpy(), (modes,)), atol=1e-10
    )


def test_negative_frequencies_of_the_first_axis_are_kept() -> None:
    """A plane wave at (k0, k1) = (-2, 1) passes an identity-weighted layer unchanged."""
    layer = SpectralConv2d(1, 1, (3, 2))
    with torch.no_grad():
        layer.weight.zero_()
        layer.weight[..., 0] = 1.0  # real part 1: identity on every retained mode
    a, b = torch.meshgrid(torch.arange(8.0), torch.arange(10.0), indexing="ij")
    wave = torch.cos(2 * math.pi * (-2 * a / 8 + b / 10))[None, None]
    with torch.no_grad():
        torch.testing.assert_close(layer(wave), wave, atol=1e-5, rtol=0)


def test_modes_are_clamped_to_the_grid() -> None:
    torch.manual_seed(2)
    big = SpectralConv2d(2, 2, (9, 9))
    exact = SpectralConv2d(2, 2, (4, 5))  # the most a (6, 8) grid supports
    with torch.no_grad():
        exact.weight.copy_(big.weight[:5, 8 - 3 : 8 + 4])
    x = torch.randn(3, 2, 6, 8)
    with torch.no_grad():
        torch.testing.assert_close(big(x), exact(x))


def test_extra_axes_are_treated_like_the_batch() -> None:
    layer = SpectralConv1d(2, 3, 4)
    x = torch.randn(2, 2, 5, 12)
    with torch.no_grad():
        stacked = torch.stack([layer(x[:, :, j]) for j in range(5)], dim=2)
        torch.testing.assert_close(layer(x), stacked)


def _operator_norm(layer: torch.nn.Module, in_shape: tuple[int, ...]) -> float:
    """Largest singular value of a linear layer on the grid, from its dense matrix."""
    n = math.prod(in_shape)
    basis = torch.eye(n, dtype=torch.float64).reshape(n, *in_shape)
    with torch.no_grad():
        matrix = layer(basis).reshape(n, -1)
    return float(torch.linalg.matrix_norm(matrix, ord=2))


@pytest.mark.parametrize("bound", [0.5, 2.0])
def test_spectral_norm_bound_holds_for_the_layer(bound: float) -> None:
    torch.manual_seed(3)
    layer = SpectralConv(3, 3, (3, 4), bound=bound).double()
    with torch.no_grad():
        layer.weight.mul_(10.0)  # far above the bound before normalization
    norm = _operator_norm(layer, (3, 6, 8))
    assert norm <= bound * (1 + 1e-9)
    assert norm >= 0.9 * bound  # and the bound is nearly reached (tight, not Frobenius)


def test_bounded_linear_respects_its_bound() -> None:
    torch.manual_seed(4)
    linear = BoundedLinear(7, 5, bound=1.5)
    with torch.no_grad():
        linear.weight.mul_(5.0)
    sigma = float(torch.linalg.matrix_norm(linear.effective_weight().detach(), ord=2))
    assert 0.95 * 1.5 <= sigma <= 1.5 * (1 + 1e-6)


def test_bound_cache_follows_weight_updates() -> None:
    linear = BoundedLinear(4, 4, bound=1.0)
    optimizer = torch.optim.SGD(linear.parameters(), lr=10.0)
    for _ in range(3):
        optimizer.zero_grad()
        linear(torch.randn(8, 4)).sum().backward()
        optimizer.step()
        sigma = float(torch.linalg.matrix_norm(linear.effective_weight().detach(), ord=2))
        assert sigma <= 1.0 + 1e-6


def test_gram_bound_is_an_upper_bound_and_tight() -> None:
    torch.manual_seed(5)
    real, imag = torch.randn(50, 16, 12, dtype=torch.float64), torch.randn(50, 16, 12)
    exact = torch.linalg.matrix_norm(torch.complex(real, imag.double()), ord=2)
    bound = gram_spectral_bound(real, imag.double())
    assert torch.all(bound >= exact * (1 - 1e-12))
    assert torch.all(bound <= exact * 12 ** (1 / 128) + 1e-9)


def _assert_same_values_and_gradients(
    got: torch.Tensor, want: torch.Tensor, inputs: tuple[torch.Tensor, ...]
) -> None:
    """``got`` equals ``want``, and so do their gradients against ``inputs``."""
    torch.testing.assert_close(got, want)
    target = torch.randn_like(want)
    for y_got, y_want in zip(
        torch.autograd.grad((got * target).sum(), inputs, retain_graph=True),
        torch.autograd.grad((want * target).sum(), inputs, retain_graph=True),
        strict=True,
    ):
        torch.testing.assert_close(y_got, y_want)


@pytest.mark.parametrize("modes", [(3, 4), (4, 11)])
def test_both_first_axis_paths_are_the_same_convolution(
    modes: tuple[int, int], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The 2-D transform of the first axis as one product after a copy (few last-axis modes)
    and as products from the left on a view (more): the same values and gradients."""
    torch.manual_seed(4)
    layer = SpectralConv2d(3, 4, modes).double()
    x = torch.randn(2, 3, 7, 24, dtype=torch.float64, requires_grad=True)
    scale = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    shift = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    results = []
    for few in (0, 100):  # every grid takes the view path, then every grid the copy path
        monkeypatch.setattr(_spectral, "FEW_LAST_MODES", few)
        results.append(layer(x, scale, shift))
    _assert_same_values_and_gradients(*results, (x, scale, shift, layer.weight))


@pytest.mark.parametrize(("shape", "modes"), [((2, 3, 6, 8), (2, 3)), ((2, 3, 4, 9), (5,))])
def test_scale_and_shift_are_the_film_modulation(
    shape: tuple[int, ...], modes: tuple[int, ...]
) -> None:
    """``layer(x, scale, shift)`` is ``layer(x) * scale + shift``, and so are its gradients."""
    torch.manual_seed(3)
    layer = SpectralConv(3, 4, modes).double()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    scale = torch.randn(shape[0], 4, dtype=torch.float64, requires_grad=True)
    shift = torch.randn(shape[0], 4, dtype=torch.float64, requires_grad=True)
    view = (shape[0], 4) + (1,) * (len(shape) - 2)
    folded = layer(x, scale, shift)
    plain = layer(x) * scale.reshape(view) + shift.reshape(view)
    _assert_same_values_and_gradients(folded, plain, (x, scale, shift, layer.weight))


def test_pointwise_scale_multiplies_the_product() -> None:
    from dno.models._spectral import PointwiseLinear

    torch.manual_seed(4)
    layer = PointwiseLinear(3, 4).double()
    x, add = torch.randn(2, 3, 5, 6).double(), torch.randn(2, 4, 5, 6).double()
    scale = torch.randn(2, 4).double()
    plain = add + (layer(x) - layer.bias[:, None, None]) * scale[:, :, None, None]
    torch.testing.assert_close(layer(x, add, scale), plain + layer.bias[:, None, None])


@pytest.mark.parametrize(
    ("shape", "modes"), [((3, 4, 12), (5,)), ((3, 4, 1, 9), (1, 4)), ((3, 4, 1, 8), (3, 5))]
)
def test_lines_layout_is_the_same_convolution(
    shape: tuple[int, ...], modes: tuple[int, ...]
) -> None:
    """``forward_lines`` on (n, batch, I) computes ``forward`` on (batch, I, [1,] n)."""
    torch.manual_seed(5)
    layer = SpectralConv(4, 3, modes).double()
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    lines = x.reshape(shape[0], 4, shape[-1]).permute(2, 0, 1)
    got = layer.forward_lines(lines).permute(1, 2, 0).reshape(shape[0], 3, *shape[2:])
    want = layer(x)
    _assert_same_values_and_gradients(got, want, (x, layer.weight))
