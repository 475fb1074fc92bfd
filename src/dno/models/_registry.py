"""The registry of models by name: the one place that turns a config into a model.

A new model is its own file (a :class:`~dno.models.DelayOperator` subclass with a ``name``, its
``arguments`` and ``_build`` / ``_predict``) plus its line here: the import, the entry in
``MODELS`` and the name in ``__all__`` (so ``dno.models`` exports it).
"""

from __future__ import annotations

from typing import Any

from dno.errors import unknown_name
from dno.models._base import DelayOperator
from dno.models._deeponet import DeepONet
from dno.models._fno import FNO
from dno.models._history_space import HistorySpace
from dno.models._lag_stack import LagStack
from dno.models._memory_kernel import MemoryKernel
from dno.models._method_of_steps import MethodOfSteps
from dno.models._stacked_history import StackedHistory

__all__ = [
    "FNO",
    "DeepONet",
    "HistorySpace",
    "LagStack",
    "MemoryKernel",
    "MethodOfSteps",
    "StackedHistory",
    "accepted_keys",
    "available",
    "build",
    "model_class",
]

MODELS: tuple[type[DelayOperator], ...] = (
    StackedHistory,
    MethodOfSteps,
    MemoryKernel,
    FNO,
    LagStack,
    DeepONet,
    HistorySpace,
)

_BY_NAME = {cls.name: cls for cls in MODELS}


def available() -> list[str]:
    """The model names, sorted."""
    return sorted(_BY_NAME)


def model_class(name: str) -> type[DelayOperator]:
    """The class registered as ``name``; a UsageError naming the known ones otherwise."""
    try:
        return _BY_NAME[name]
    except (KeyError, TypeError):
        raise unknown_name("model", name, _BY_NAME) from None


def accepted_keys(name: str) -> list[str]:
    """The config keys model ``name`` accepts, in config order."""
    return list(model_class(name).arguments)


def build(name: str, **config: Any) -> DelayOperator:
    """Build model ``name`` from its config.

    Args:
        name: one of :func:`available`.
        **config: constructor arguments; ``S``, ``X``, ``channels`` and ``cond_dim`` are
            required, the rest have defaults (see each model class).

    Returns:
        The model, with ``model.config`` the resolved arguments.

    Raises:
        UsageError: an unknown model, a key the model does not use, a missing dimension or a
            bad value; one line naming it.

    Example:
        >>> model = build("fno", S=32, X=1, channels=1, cond_dim=1)
        >>> model.m
        32
    """
    return model_class(name)(**config)
