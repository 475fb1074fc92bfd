"""Neural operators for delay differential equations, all behind one interface.

Every model maps history windows and their conditioning to the next slices::

    history (batch, S, X, C), cond (batch, P)  ->  next (batch, m, X, C)

and rolls out with :func:`shift_append` (drop the m oldest slices, append the m new ones). Models
are built by name from a config (:func:`build`); a checkpoint carries the name, the config and
the dno version, so :func:`load` rebuilds a model from the file alone.

The models are listed by :func:`available` and built by :func:`build`; each model's class
(:func:`model_class`) documents what it computes and its arguments. A new model is one file and
one entry in ``_registry.py``.

Example:
    >>> import torch
    >>> from dno.models import build
    >>> model = build("method_of_steps", S=16, X=1, channels=1, cond_dim=1)
    >>> model(torch.zeros(4, 16, 1, 1), torch.zeros(4, 1)).shape
    torch.Size([4, 16, 1, 1])
"""

from __future__ import annotations

from dno.models import _base, _checkpoint, _compile, _fourier, _registry, _shift, _spectral
from dno.models._base import *  # noqa: F403
from dno.models._checkpoint import *  # noqa: F403
from dno.models._compile import *  # noqa: F403
from dno.models._fourier import *  # noqa: F403
from dno.models._registry import *  # noqa: F403
from dno.models._shift import *  # noqa: F403
from dno.models._spectral import *  # noqa: F403

__all__ = [
    *_base.__all__,
    *_checkpoint.__all__,
    *_compile.__all__,
    *_fourier.__all__,
    *_registry.__all__,
    *_shift.__all__,
    *_spectral.__all__,
]
