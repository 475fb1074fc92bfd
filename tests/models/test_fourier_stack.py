"""The Fourier stack's three ways to compute its layers give the same function and gradients.

On a grid that is a line, the points-first path; on any grid, the general path with FiLM folded
into the maps or applied element-wise.
"""

from __future__ import annotations

import pytest
import torch

from dno.models import _layers
from dno.models._layers import FourierStack

WAYS = {"lines": (True, 0), "folded": (False, 0), "element-wise": (False, 10**9)}


@pytest.mark.parametrize(
    ("grid", "modes"), [((5, 8), (3, 4)), ((1, 12), (1, 5)), ((1, 9), (2, 5)), ((9,), (4,))]
)
def test_every_way_computes_the_same(
    grid: tuple[int, ...], modes: tuple[int, ...], monkeypatch: pytest.MonkeyPatch
) -> None:
    torch.manual_seed(0)
    stack = FourierStack(4, modes, layers=3, dropout=0.0, bound=None).double()
    h = torch.randn(2, 4, *grid, dtype=torch.float64)
    film = torch.randn(2, 3, 2, 4, dtype=torch.float64)
    results = {}
    for way, (lines, fold_threshold) in WAYS.items():
        stack.lines = lines
        monkeypatch.setattr(_layers, "FOLD_FILM_GRID", fold_threshold)
        stack.zero_grad()
        h_in, film_in = h.clone().requires_grad_(), film.clone().requires_grad_()
        out = stack(h_in, film_in)
        (out * torch.linspace(-1, 1, out.numel()).reshape(out.shape)).sum().backward()
        grads = [h_in.grad, film_in.grad] + [p.grad for p in stack.parameters()]
        results[way] = [out.detach(), *grads]
    for way in ("folded", "element-wise"):
        for a, b in zip(results["lines"], results[way], strict=True):
            torch.testing.assert_close(a, b)
