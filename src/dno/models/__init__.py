"""Neural operators for delay differential equations, all behind one interface.

Every model maps history windows and their conditioning to the next slices::

    history (batch, S, X, C), cond (batch, P)  ->  next (batch, m, X, C)

and rolls out with :func:`shift_append` (drop the m oldest slices, append the m new ones). Models
are built by name from a config (:func:`build`); a checkpoint carries the name, the config and
the dno version, so :func:`load` rebuilds a model from the file alone.

Models (see each class for its arguments and defaults):

- ``stacked_history`` (:class:`StackedHistory`): Fourier layers over (θ, x), θ read-out to m.
- ``method_of_steps`` (:class:`MethodOfSteps`): the next delay interval (m = S) from the history.
- ``memory_kernel`` (:class:`MemoryKernel`): distributed-delay memory + local dynamics, integrated.
- ``fno`` (:class:`FNO`): baseline on the current state only.
- ``lag_stack`` (:class:`LagStack`): baseline on a few lagged states.
- ``deeponet`` (:class:`DeepONet`): branch net on the history and τ, trunk net on (s, x).
- ``history_space`` (:class:`HistorySpace`): m < S new slices, exact shift-append.

Example:
    >>> import torch
    >>> from dno.models import build
    >>> model = build("method_of_steps", S=16, X=1, channels=1, cond_dim=1)
    >>> model(torch.zeros(4, 16, 1, 1), torch.zeros(4, 1)).shape
    torch.Size([4, 16, 1, 1])
"""

from __future__ import annotations

from dno.models._base import DelayOperator, roll_out
from dno.models._checkpoint import load, load_checkpoint, save
from dno.models._compile import CompiledModel
from dno.models._deeponet import DeepONet
from dno.models._fno import FNO
from dno.models._history_space import HistorySpace
from dno.models._lag_stack import LagStack
from dno.models._memory_kernel import MemoryKernel
from dno.models._method_of_steps import MethodOfSteps
from dno.models._registry import accepted_keys, available, build, model_class
from dno.models._shift import shift_append
from dno.models._spectral import (
    ChannelMLP,
    SpectralConv,
    SpectralConv1d,
    SpectralConv2d,
    gram_spectral_bound,
)
from dno.models._stacked_history import StackedHistory

__all__ = [
    "FNO",
    "ChannelMLP",
    "CompiledModel",
    "DeepONet",
    "DelayOperator",
    "HistorySpace",
    "LagStack",
    "MemoryKernel",
    "MethodOfSteps",
    "SpectralConv",
    "SpectralConv1d",
    "SpectralConv2d",
    "StackedHistory",
    "accepted_keys",
    "available",
    "build",
    "gram_spectral_bound",
    "load",
    "load_checkpoint",
    "model_class",
    "roll_out",
    "save",
    "shift_append",
]
