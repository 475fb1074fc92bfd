"""``shift_append``: the one rollout primitive.

A history window holds S slices on the θ-grid, oldest first. One step predicts m new slices at
``t + h, ..., t + m h`` (``h = tau / (S - 1)``); ``shift_append`` drops the m oldest slices and
appends the new ones, so the result is the window ending at ``t + m h``.
"""

from __future__ import annotations

import operator
from typing import TypeVar

import numpy as np
import torch

from dno.errors import UsageError

__all__ = ["shift_append"]

ArrayT = TypeVar("ArrayT", torch.Tensor, np.ndarray)


def shift_append(history: ArrayT, new: ArrayT, m: int) -> ArrayT:
    """Drop the ``m`` oldest slices of ``history`` and append the ``m`` slices of ``new``.

    Works on torch tensors (differentiably) and on numpy arrays; both arguments must be of the
    same kind.

    Args:
        history: the current windows, shape (batch, S, X, C) (any trailing axes).
        new: the new slices, oldest first, shape (batch, m, X, C).
        m: number of new slices, ``1 <= m <= S``.

    Returns:
        The shifted windows, shape (batch, S, X, C): ``history[:, m:]`` followed by ``new``.

    Raises:
        UsageError: ``m`` out of range, or shapes that do not match.

    Example:
        >>> import numpy as np
        >>> history = np.arange(4.0).reshape(1, 4, 1, 1)
        >>> shift_append(history, np.full((1, 1, 1, 1), 9.0), 1)[0, :, 0, 0]
        array([1., 2., 3., 9.])
    """
    _check(history, new, m)
    if isinstance(history, torch.Tensor):
        return torch.cat([history[:, m:], new], dim=1)
    return np.concatenate([history[:, m:], new], axis=1)


def _check(history: torch.Tensor | np.ndarray, new: torch.Tensor | np.ndarray, m: int) -> None:
    if isinstance(history, torch.Tensor) != isinstance(new, torch.Tensor):
        raise UsageError(
            f"history is a {type(history).__name__} but new is a {type(new).__name__}; "
            "pass two torch tensors or two numpy arrays"
        )
    try:
        m = operator.index(m)
    except TypeError:
        raise UsageError(f"m must be an int, got {m!r}") from None
    if history.ndim < 2:
        raise UsageError(f"history has shape {tuple(history.shape)}, expected (batch, S, ...)")
    n_slices = history.shape[1]
    if not 1 <= m <= n_slices:
        raise UsageError(f"m={m} is out of range: need 1 <= m <= S={n_slices}")
    expected = (history.shape[0], m, *history.shape[2:])
    if tuple(new.shape) != expected:
        names = ["batch", "m", "X", "C"] if len(expected) == 4 else ["batch", "m"]
        names += ["..."] * (len(expected) - len(names))
        described = ", ".join(
            f"{name}={size}" if name != "..." else str(size)
            for name, size in zip(names, expected, strict=True)
        )
        raise UsageError(f"new has shape {tuple(new.shape)}, expected ({described})")
