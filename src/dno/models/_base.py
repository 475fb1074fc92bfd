"""The one model interface, :class:`DelayOperator`, and the one rollout loop, :func:`roll_out`.

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
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from dno.errors import UsageError
from dno.models._arguments import Argument, check_int, describe, resolve
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


class DelayOperator(nn.Module):
    """Base class of every model: ``forward(history, cond) -> next``, plus steps and rollouts.

    Subclasses set :attr:`name` and :attr:`arguments` (:func:`~dno.models._arguments.declare`),
    create their layers in :meth:`_build` from the checked arguments (they become
    :attr:`config`) and implement :meth:`_predict`. Most models predict a change from the
    current state, ``next = u(t) + scale * delta`` (:meth:`_residual`), so at initialization
    every model starts near persistence.

    Shapes:
        ``history``: (batch, S, X, C); ``cond``: (batch, P); output: (batch, m, X, C).
    """

    name: ClassVar[str] = ""
    #: The constructor arguments (keyword-only), their defaults and checks, in config order.
    arguments: ClassVar[Mapping[str, Argument]] = {}
    #: Points on the history window's θ-grid.
    S: int
    #: Spatial points.
    X: int
    #: Channels C of the state.
    channels: int
    #: Length P of the conditioning vector (τ first).
    cond_dim: int
    #: New slices predicted per step (S for a model without an ``m`` argument).
    m: int

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if "arguments" in cls.__dict__:  # the declaration is the documentation
            cls.__doc__ = f"{inspect.cleandoc(cls.__doc__ or '')}\n\n{describe(cls.arguments)}"

    def __init__(self, **config: Any) -> None:
        """Check ``config`` against :attr:`arguments` (see the class for them), build the layers.

        Raises:
            UsageError: a key the model does not use, a missing data dimension or a bad value;
                one line naming it.
        """
        super().__init__()
        checked = resolve(self.name, self.arguments, config)
        self.S, self.X, self.m = checked["S"], checked["X"], checked.get("m", checked["S"])
        self.channels, self.cond_dim = checked["channels"], checked["cond_dim"]
        self._config: dict[str, Any] = checked
        self.out_scale = OutputScale(self.channels, checked["output_scale"])
        self._build(checked)

    def _build(self, config: dict[str, Any]) -> None:
        """Create the layers for the checked arguments ``config`` (after :attr:`out_scale`)."""
        raise NotImplementedError

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
