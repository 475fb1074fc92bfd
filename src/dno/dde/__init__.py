"""DDE families, parameter priors, random initial histories and the batched solver.

Each family is one declaration (a :class:`Family` in :data:`FAMILIES`; ``dno generate --help``
lists them) that the solver, the priors and the sampler read. :func:`solve` integrates one
explicit problem or a batch of them; :func:`sample_trajectories` draws and solves random ones.

This package knows nothing of files or models.
"""

from __future__ import annotations

from dno.dde import _families, _history, _priors, _sampling, _solver
from dno.dde._families import *  # noqa: F403
from dno.dde._history import *  # noqa: F403
from dno.dde._priors import *  # noqa: F403
from dno.dde._sampling import *  # noqa: F403
from dno.dde._solver import *  # noqa: F403

__all__ = [
    *_families.__all__,
    *_history.__all__,
    *_priors.__all__,
    *_sampling.__all__,
    *_solver.__all__,
]
