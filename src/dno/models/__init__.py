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

from dno.models import (
    _base,
    _checkpoint,
    _compile,
    _deeponet,
    _fno,
    _history_space,
    _lag_stack,
    _memory_kernel,
    _method_of_steps,
    _registry,
    _shift,
    _spectral,
    _stacked_history,
)
from dno.models._base import *  # noqa: F403
from dno.models._checkpoint import *  # noqa: F403
from dno.models._compile import *  # noqa: F403
from dno.models._deeponet import *  # noqa: F403
from dno.models._fno import *  # noqa: F403
from dno.models._history_space import *  # noqa: F403
from dno.models._lag_stack import *  # noqa: F403
from dno.models._memory_kernel import *  # noqa: F403
from dno.models._method_of_steps import *  # noqa: F403
from dno.models._registry import *  # noqa: F403
from dno.models._shift import *  # noqa: F403
from dno.models._spectral import *  # noqa: F403
from dno.models._stacked_history import *  # noqa: F403

__all__ = [
    *_base.__all__,
    *_checkpoint.__all__,
    *_compile.__all__,
    *_deeponet.__all__,
    *_fno.__all__,
    *_history_space.__all__,
    *_lag_stack.__all__,
    *_memory_kernel.__all__,
    *_method_of_steps.__all__,
    *_registry.__all__,
    *_shift.__all__,
    *_spectral.__all__,
    *_stacked_history.__all__,
]
