"""The registry of models by name: the one place that turns a config into a model."""

from __future__ import annotations

import inspect
from typing import Any

from dno.errors import UsageError
from dno.models._base import DelayOperator
from dno.models._deeponet import DeepONet
from dno.models._fno import FNO
from dno.models._history_space import HistorySpace
from dno.models._lag_stack import LagStack
from dno.models._memory_kernel import MemoryKernel
from dno.models._method_of_steps import MethodOfSteps
from dno.models._stacked_history import StackedHistory

__all__ = ["accepted_keys", "available", "build", "model_class"]

_MODELS: dict[str, type[DelayOperator]] = {
    cls.name: cls
    for cls in (
        StackedHistory,
        MethodOfSteps,
        MemoryKernel,
        FNO,
        LagStack,
        DeepONet,
        HistorySpace,
    )
}

_REQUIRED_HELP = {
    "S": "points on the history window's θ-grid",
    "X": "spatial points",
    "channels": "channels C of the state",
    "cond_dim": "length P of the conditioning vector",
}


def available() -> list[str]:
    """The model names, sorted."""
    return sorted(_MODELS)


def model_class(name: str) -> type[DelayOperator]:
    """The class registered as ``name``; a UsageError listing the known names otherwise."""
    try:
        return _MODELS[name]
    except (KeyError, TypeError):
        raise UsageError(
            f"unknown model {name!r}; known models: {', '.join(available())}"
        ) from None


def accepted_keys(name: str) -> list[str]:
    """The config keys model ``name`` accepts, in constructor order."""
    parameters = inspect.signature(model_class(name).__init__).parameters
    return [key for key, p in parameters.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]


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
    accepted = accepted_keys(name)
    unknown = [key for key in config if key not in accepted]
    if unknown:
        keys = ", ".join(repr(k) for k in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise UsageError(
            f"model {name!r} does not use config key{plural} {keys}; "
            f"accepted keys: {', '.join(accepted)}"
        )
    missing = [key for key in _REQUIRED_HELP if key not in config]
    if missing:
        described = ", ".join(f"{key} ({_REQUIRED_HELP[key]})" for key in missing)
        raise UsageError(f"model {name!r} needs {described}")
    return model_class(name)(**config)
