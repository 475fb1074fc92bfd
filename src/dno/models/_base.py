"""The one model interface, :class:`DelayOperator`, and the checks of constructor arguments.

Every model maps a batch of history windows and their conditioning to the next slices::

    history (batch, S, X, C), cond (batch, P)  ->  next (batch, m, X, C)

The θ-grid of a window is ``theta_i = -tau + i h``, ``i = 0 .. S-1``, ``h = tau / (S - 1)``
(oldest first, the last slice is now, ``t``). The m new slices are at ``t + h, ..., t + m h``;
:func:`~dno.models.shift_append` turns them into the window ending at ``t + m h``. With
``m = S`` (the method of steps) the new window shares no point with the old one. ``cond[:, 0]`` is
the normalized τ, further columns the family's (normalized) parameters.
"""

from __future__ import annotations

import inspect
import math
import numbers
import operator
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from dno.errors import UsageError
from dno.models._shift import ArrayT, shift_append
from dno.models._spectral import OutputScale

__all__ = ["DelayOperator", "roll_out"]

# Initial scale of every model's output layer: small, so that ``next = u(t) + delta`` starts near
# persistence (and still depends on the history and the conditioning).
OUT_GAIN = 0.1


def roll_out(
    step: Callable[[ArrayT], ArrayT],
    history: ArrayT,
    steps: int,
    shift: Callable[[ArrayT, ArrayT, int], ArrayT] = shift_append,
) -> ArrayT:
    """The one rollout loop: ``steps`` times ``new = step(history)``, then
    ``history = shift(history, new, m)``; torch tensors or numpy arrays.

    Args:
        step: windows (batch, S, X, C) -> the next m slices (batch, m, X, C).
        history: the starting windows, shape (batch, S, X, C).
        steps: the number of steps.
        shift: the shift (default :func:`~dno.models.shift_append`).

    Returns:
        The predicted slices, shape (batch, steps * m, X, C).
    """
    predicted = []
    for _ in range(steps):
        new = step(history)
        predicted.append(new)
        history = shift(history, new, new.shape[1])
    if isinstance(predicted[0], torch.Tensor):
        return torch.cat(predicted, dim=1)
    return np.concatenate(predicted, axis=1)


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (bools refused), else a UsageError naming it."""
    if isinstance(value, bool):
        raise UsageError(f"{name} must be an int >= {minimum}, got {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise UsageError(f"{name} must be an int >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise UsageError(f"{name} must be an int >= {minimum}, got {number}")
    return int(number)


def check_modes(name: str, value: object, n: int, n_name: str, default: int) -> int:
    """Modes on an axis of ``n`` points: at most ``n // 2 + 1``; None means ``default`` clamped."""
    if value is None:
        return min(default, n // 2 + 1)
    modes = check_int(name, value)
    if modes > n // 2 + 1:
        raise UsageError(
            f"{name}={modes} exceeds {n_name}={n} (at most {n_name}//2+1={n // 2 + 1})"
        )
    return modes


def check_float(name: str, value: object, low: float, high: float | None = None) -> float:
    """A real number in ``[low, high)`` (``[low, inf)`` without ``high``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan  # type: ignore[arg-type]
    inside = low <= number and (high is None or number < high)
    if not inside:
        wanted = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise UsageError(f"{name} must be a number {wanted}, got {value!r}")
    return number


def check_bound(value: object) -> float | None:
    """The spectral-norm bound: None (off) or a positive number."""
    if value is None:
        return None
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    bound = float(value) if real else math.nan  # type: ignore[arg-type]
    if not (math.isfinite(bound) and bound > 0.0):
        raise UsageError(f"spectral_norm must be a positive number or None, got {value!r}")
    return bound


def check_bool(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be true or false, got {value!r}")
    return value


def common_config(arguments: Mapping[str, Any]) -> dict[str, Any]:
    """The validated common constructor arguments, as a dict in the recorded order.

    ``arguments`` holds every model's common arguments (a constructor's ``locals()``): S, X,
    channels, cond_dim, width, layers, dropout, spectral_norm and output_scale; others are
    left to the model.
    """
    a = arguments
    return {
        "S": check_int("S", a["S"], minimum=2),
        "X": check_int("X", a["X"]),
        "channels": check_int("channels", a["channels"]),
        "cond_dim": check_int("cond_dim", a["cond_dim"]),
        "width": check_int("width", a["width"]),
        "layers": check_int("layers", a["layers"]),
        "dropout": check_float("dropout", a["dropout"], 0.0, 1.0),
        "spectral_norm": check_bound(a["spectral_norm"]),
        "output_scale": check_bool("output_scale", a["output_scale"]),
    }


def check_m(value: object, S: int, default: int, below_s: bool = False) -> int:
    """New slices per step: ``1 <= m <= S`` (``m < S`` if ``below_s``); None means ``default``."""
    if value is None:
        return default
    m = check_int("m", value)
    if m > S or (below_s and m == S):
        need = "1 <= m < S" if below_s else "1 <= m <= S"
        raise UsageError(f"m={m} is out of range: need {need}={S}")
    return m


class DelayOperator(nn.Module):
    """Base class of every model: ``forward(history, cond) -> next``, plus steps and rollouts.

    Subclasses set :attr:`name`, call :meth:`_setup` from their constructor with the validated,
    resolved constructor arguments (they become :attr:`config`) and implement :meth:`_predict`.
    Most models predict a change from the current state, ``next = u(t) + scale * delta``
    (:meth:`_residual`), so at initialization every model starts near persistence.

    Shapes:
        ``history``: (batch, S, X, C); ``cond``: (batch, P); output: (batch, m, X, C).
    """

    name: ClassVar[str] = ""
    #: Points on the history window's θ-grid.
    S: int
    #: Spatial points.
    X: int
    #: Channels C of the state.
    channels: int
    #: Length P of the conditioning vector (τ first).
    cond_dim: int
    #: New slices predicted per step.
    m: int

    def _setup(self, *, m: int, config: dict[str, Any]) -> None:
        """Record the validated configuration (see :func:`common_config`) and ``m``."""
        self.S, self.X, self.m = config["S"], config["X"], m
        self.channels, self.cond_dim = config["channels"], config["cond_dim"]
        # Record in constructor order, so the config reads like the signature.
        keys = inspect.signature(type(self).__init__).parameters
        self._config: dict[str, Any] = {k: config[k] for k in keys if k in config}
        self.out_scale = OutputScale(self.channels, config["output_scale"])

    @property
    def config(self) -> dict[str, Any]:
        """The constructor arguments (resolved, JSON-able): ``build(name, **config)`` rebuilds."""
        return dict(self._config)

    def check_data(
        self, *, S: int, X: int, channels: int, cond_dim: int, source: str = "the data"
    ) -> None:
        """Raise a one-line UsageError unless data of these dimensions fits this model."""
        got = {"S": S, "X": X, "C": channels, "P": cond_dim}
        want = {"S": self.S, "X": self.X, "C": self.channels, "P": self.cond_dim}
        if got != want:
            bad = ", ".join(f"{k}={got[k]} (model: {want[k]})" for k in got if got[k] != want[k])
            raise UsageError(f"{source} does not match the '{self.name}' model: {bad}")

    def check_shapes(self, history_shape: tuple[int, ...], cond_shape: tuple[int, ...]) -> None:
        """Raise a one-line UsageError unless the shapes are (B, S, X, C) and (B, P)."""
        expected = (self.S, self.X, self.channels)
        if len(history_shape) != 4 or tuple(history_shape[1:]) != expected:
            raise UsageError(
                f"history has shape {tuple(history_shape)}, expected "
                f"(batch, S={self.S}, X={self.X}, C={self.channels})"
            )
        if tuple(cond_shape) != (history_shape[0], self.cond_dim):
            raise UsageError(
                f"cond has shape {tuple(cond_shape)}, expected "
                f"(batch={history_shape[0]}, P={self.cond_dim})"
            )

    def forward(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """Predict the next m slices.

        Args:
            history: windows, oldest slice first, shape (batch, S, X, C).
            cond: conditioning, normalized τ first, shape (batch, P).

        Returns:
            The slices at ``t + h, ..., t + m h``, shape (batch, m, X, C).
        """
        self.check_shapes(tuple(history.shape), tuple(cond.shape))
        dtype = next(self.parameters()).dtype
        return self._predict(history.to(dtype), cond.to(dtype))

    def _predict(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _residual(self, history: torch.Tensor, delta: torch.Tensor) -> torch.Tensor:
        """The current state plus a (scaled) change: (batch, S, X, C), (batch, m, X, C)."""
        out_scale: OutputScale = self.out_scale
        return history[:, -1:] + out_scale(delta)

    def advance(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        """One step: the window ending at ``t + m h``, shape (batch, S, X, C)."""
        return shift_append(history, self(history, cond), self.m)

    def rollout(
        self,
        history: torch.Tensor,
        cond: torch.Tensor,
        steps: int | None = None,
        *,
        horizon: int | None = None,
    ) -> torch.Tensor:
        """Repeat steps with :func:`shift_append`; give ``steps`` or ``horizon``, not both.

        Args:
            history: starting windows, shape (batch, S, X, C).
            cond: conditioning, shape (batch, P); constant along the rollout.
            steps: number of model steps; the result has ``steps * m`` slices.
            horizon: number of slices wanted; ``ceil(horizon / m)`` steps are taken and the
                result is cut to ``horizon`` slices, so models with different m are scored on
                the same horizon.

        Returns:
            The predicted slices after now, shape (batch, steps * m or horizon, X, C).
        """
        if (steps is None) == (horizon is None):
            raise UsageError("rollout needs exactly one of steps and horizon")
        if steps is not None:
            n_steps = check_int("steps", steps)
        else:
            n_steps = math.ceil(check_int("horizon", horizon) / self.m)
        out = roll_out(lambda window: self(window, cond), history, n_steps)
        return out if horizon is None else out[:, :horizon]
