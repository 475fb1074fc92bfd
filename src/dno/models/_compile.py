"""``torch.compile`` for a model's training steps, with the eager model as the fallback.

Compiling fuses the many small element-wise operations of a step (FiLM, activations, the
re-arrangements around the spectral transforms) into a few kernels; on 2 CPU cores it roughly
halves a step at the seed's sizes, but the first compiled step takes tens of seconds, so it pays
only for runs of many steps (the trainer's ``compile`` option). Wherever compiling fails (no C++
compiler, an unsupported operation or device), the step falls back to the eager model, once, with
a warning, and computes the same function.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch

from dno.errors import DnoError
from dno.models._base import DelayOperator

__all__ = ["CompiledModel"]


class CompiledModel:
    """Call ``model`` through ``torch.compile`` if ``enabled``; the eager model otherwise.

    The parameters are the model's own (checkpoints save ``model``, not this wrapper).

    Shapes:
        ``history`` (batch, S, X, C), ``cond`` (batch, P) -> (batch, m, X, C), as the model.
    """

    def __init__(self, model: DelayOperator, enabled: bool) -> None:
        self.model = model
        self.failure: str | None = None
        self._compiled: Any = None
        if enabled:
            try:
                self._compiled = torch.compile(model)
            except Exception as error:  # an unsupported platform refuses at compile time
                self._fall_back(error)

    @property
    def compiled(self) -> bool:
        """True while calls go through the compiled model."""
        return self._compiled is not None

    def __call__(self, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        if self._compiled is not None:
            try:
                return self._compiled(history, cond)
            except DnoError:  # the model's own checks (bad shapes): not a compiler failure
                raise
            except Exception as error:  # compilation happens at the first call
                self._fall_back(error)
        return self.model(history, cond)

    def _fall_back(self, error: BaseException) -> None:
        self._compiled = None
        self.failure = f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"
        warnings.warn(
            f"torch.compile failed ({self.failure}); training continues with the eager model",
            RuntimeWarning,
            stacklevel=3,
        )
