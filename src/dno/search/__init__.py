"""Hyperparameter search on Optuna: grid, random, Bayesian (TPE) and multi-objective studies,
pruned, resumable, from one process to many machines sharing a PostgreSQL database.

Honest by construction: the objective is computed on the validation split; the test split is
read once, for the top configurations re-run on fresh seeds after the search.
"""

from __future__ import annotations

from dno.search import _inspect, _runner, _search, _space, _storage, _study_lifecycle, _summary
from dno.search._inspect import *  # noqa: F403
from dno.search._runner import *  # noqa: F403
from dno.search._search import *  # noqa: F403
from dno.search._space import *  # noqa: F403
from dno.search._storage import *  # noqa: F403
from dno.search._study_lifecycle import *  # noqa: F403
from dno.search._summary import *  # noqa: F403

__all__ = [
    *_inspect.__all__,
    *_runner.__all__,
    *_search.__all__,
    *_space.__all__,
    *_storage.__all__,
    *_study_lifecycle.__all__,
    *_summary.__all__,
]
