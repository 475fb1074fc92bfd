"""The rollout primitive keeps its contract: shapes checked, 1 <= m <= S, oldest slices dropped."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from dno.errors import UsageError
from dno.models import shift_append


def _windows(batch: int = 2, S: int = 6, X: int = 3, C: int = 1) -> torch.Tensor:
    return torch.arange(batch * S * X * C, dtype=torch.float32).reshape(batch, S, X, C)


@pytest.mark.parametrize("m", [1, 2, 6])
def test_drops_the_oldest_and_appends_in_order(m: int) -> None:
    history = _windows()
    new = -torch.arange(2 * m * 3, dtype=torch.float32).reshape(2, m, 3, 1) - 1
    out = shift_append(history, new, m)
    assert out.shape == history.shape
    torch.testing.assert_close(out[:, : 6 - m], history[:, m:])
    torch.testing.assert_close(out[:, 6 - m :], new)


def test_numpy_arrays_work_the_same() -> None:
    history = _windows().numpy()
    new = np.full((2, 2, 3, 1), -1.0, dtype=np.float32)
    out = shift_append(history, new, 2)
    assert isinstance(out, np.ndarray)
    np.testing.assert_array_equal(out, np.concatenate([history[:, 2:], new], axis=1))


def test_gradient_flows_through_both_inputs() -> None:
    history = _windows().requires_grad_()
    new = torch.ones(2, 1, 3, 1, requires_grad=True)
    shift_append(history, new, 1).sum().backward()
    assert history.grad is not None and new.grad is not None
    assert history.grad[:, 0].abs().sum() == 0  # the dropped slice does not matter
    assert history.grad[:, 1:].abs().min() == 1


@pytest.mark.parametrize("m", [0, -1, 7])
def test_m_out_of_range_is_refused(m: int) -> None:
    with pytest.raises(UsageError, match=rf"m={m} is out of range: need 1 <= m <= S=6"):
        shift_append(_windows(), torch.zeros(2, max(m, 1), 3, 1), m)


def test_wrong_new_shape_names_both_shapes() -> None:
    with pytest.raises(UsageError) as error:
        shift_append(_windows(), torch.zeros(2, 2, 4, 1), 2)
    assert str(error.value) == "new has shape (2, 2, 4, 1), expected (batch=2, m=2, X=3, C=1)"


def test_m_must_match_the_new_slices() -> None:
    with pytest.raises(UsageError, match=r"expected \(batch=2, m=3, X=3, C=1\)"):
        shift_append(_windows(), torch.zeros(2, 2, 3, 1), 3)


def test_mixed_array_kinds_are_refused() -> None:
    with pytest.raises(UsageError, match="two torch tensors or two numpy arrays"):
        shift_append(_windows(), np.zeros((2, 1, 3, 1)), 1)  # type: ignore[type-var]
