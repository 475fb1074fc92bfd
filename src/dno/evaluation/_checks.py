"""Validation at the boundary of the metric functions: shapes, dtypes, masks.

Every metric calls these first, so a bad argument fails with one line that names the bad value
and what was expected, and the maths inside can trust its inputs.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from dno.errors import UsageError

__all__ = [
    "ShiftAppend",
    "Step",
    "as_field",
    "check_pair",
    "rollout",
    "time_mask",
]


def as_field(array: object, name: str) -> np.ndarray:
    """Return ``array`` as a float64 numpy array, or raise for non-real or empty input.

    Non-finite values are allowed here: the metrics report them (NaN in, NaN or a finding out).
    """
    values = np.asarray(array)
    if values.dtype == object or not (
        np.issubdtype(values.dtype, np.number) or values.dtype == bool
    ):
        raise UsageError(f"{name} has dtype {values.dtype}; expected real numbers")
    if np.iscomplexobj(values):
        raise UsageError(f"{name} has complex dtype {values.dtype}; expected real numbers")
    if values.size == 0:
        raise UsageError(f"{name} is empty (shape {values.shape}); expected at least one value")
    return values.astype(np.float64, copy=False)


def check_pair(
    prediction: object, truth: object, *, min_rank: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """Return ``(prediction, truth)`` as float64 arrays of equal shape and rank >= ``min_rank``."""
    pred = as_field(prediction, "prediction")
    true = as_field(truth, "truth")
    if pred.shape != true.shape:
        raise UsageError(
            f"prediction has shape {pred.shape}, truth has shape {true.shape}; "
            "expected equal shapes"
        )
    if pred.ndim < min_rank:
        raise UsageError(
            f"prediction has shape {pred.shape} (rank {pred.ndim}); expected rank >= {min_rank} "
            "(batch, time, ...)"
        )
    return pred, true


def time_mask(
    shape: tuple[int, ...], mask: object | None, lengths: object | None
) -> np.ndarray | None:
    """The valid (batch, time) entries as a bool array of shape ``shape[:2]``, or None if all are.

    Args:
        shape: shape of the data, (B, T, ...).
        mask: bool array of shape (B, T), True where a time step is real (not padding).
        lengths: int array of shape (B,): trajectory b is real for time steps ``< lengths[b]``.

    Returns:
        Bool array of shape (B, T), or None when neither ``mask`` nor ``lengths`` is given.
    """
    if mask is not None and lengths is not None:
        raise UsageError("both mask and lengths were given; expected at most one of them")
    if mask is None and lengths is None:
        return None
    if len(shape) < 2:
        raise UsageError(f"data have shape {shape}; a mask needs at least (batch, time) axes")
    batch, steps = shape[0], shape[1]
    if mask is not None:
        valid = np.asarray(mask)
        if valid.shape != (batch, steps):
            raise UsageError(
                f"mask has shape {valid.shape}; expected (batch, time) = {(batch, steps)}"
            )
        return valid.astype(bool, copy=False)
    counts = np.asarray(lengths)
    if counts.shape != (batch,) or not np.issubdtype(counts.dtype, np.integer):
        raise UsageError(
            f"lengths has shape {counts.shape} and dtype {counts.dtype}; "
            f"expected integers of shape ({batch},)"
        )
    if np.any(counts < 0) or np.any(counts > steps):
        raise UsageError(
            f"lengths range over [{counts.min()}, {counts.max()}]; expected values in [0, {steps}]"
        )
    return np.arange(steps)[None, :] < counts[:, None]


ShiftAppend = Callable[[np.ndarray, np.ndarray, int], np.ndarray]
Step = Callable[[np.ndarray], np.ndarray]


def rollout(
    step: Step, history: np.ndarray, steps: int, shift_append: ShiftAppend | None = None
) -> np.ndarray:
    """:func:`dno.models.roll_out` of ``step`` on float64 arrays, every step's output checked.

    Args:
        step: history (B, S, X, C) -> next slices (B, m, X, C).
        history: initial history, shape (B, S, X, C).
        steps: number of steps K >= 1.
        shift_append: ``(history, new, m) -> history``; None: :func:`dno.models.shift_append`
            (imported on first use, so that the metrics do not import torch).

    Returns:
        The predicted future, shape (B, K*m, X, C).
    """
    from dno.models import roll_out
    from dno.models import shift_append as default

    if isinstance(steps, bool) or not isinstance(steps, (int, np.integer)) or steps < 1:
        raise UsageError(f"steps is {steps!r}; expected an integer >= 1")
    current = np.asarray(history, dtype=np.float64)
    if current.ndim != 4:
        raise UsageError(f"history has shape {current.shape}; expected (batch, S, X, C), rank 4")
    expected = (current.shape[0], current.shape[2], current.shape[3])

    def checked(window: np.ndarray) -> np.ndarray:
        new = np.asarray(step(window), dtype=np.float64)
        if new.ndim != 4 or (new.shape[0], new.shape[2], new.shape[3]) != expected:
            raise UsageError(
                f"step returned shape {new.shape}; expected (batch, m, X, C) with "
                f"batch, X, C = {expected}"
            )
        return new

    return roll_out(checked, current, int(steps), shift_append or default)
