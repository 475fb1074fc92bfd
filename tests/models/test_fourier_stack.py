"""The Fourier stack computes the same function whether FiLM is folded into its maps or not."""

from __future__ import annotations

import pytest
import torch

from dno.models import _layers
from dno.models._layers import FourierStack


@pytest.mark.parametrize(("grid", "modes"), [((5, 8), (3, 4)), ((1, 12), (1, 5)), ((9,), (4,))])
def test_folded_film_is_the_elementwise_film(
    grid: tuple[int, ...], modes: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    stack = FourierStack(4, modes, layers=3, dropout=0.0, bound=None).double()
    h = torch.randn(2, 4, *grid, dtype=torch.float64)
    film = torch.randn(2, 3, 2, 4, dtype=torch.float64)
    results = []
    for threshold in (0, 10**9):  # every grid folded, then none
        monkeypatch.setattr(_layers, "FOLD_FILM_GRID", threshold)
        stack.zero_grad()
        h_in, film_in = h.clone().requires_grad_(), film.clone().requires_grad_()
        out = stack(h_in, film_in)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        grads = [h_in.grad, film_in.grad] + [p.grad for p in stack.parameters()]
        results.append((out.detach(), grads))
    torch.testing.assert_close(results[0][0], results[1][0])
    for a, b in zip(results[0][1], results[1][1], strict=True):
        torch.testing.assert_close(a, b)
