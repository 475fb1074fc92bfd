"""Hyperparameter search on Optuna: grid, random, Bayesian (TPE) and multi-objective studies,
pruned, resumable, from one process to many machines sharing a PostgreSQL database.

Honest by construction: the objective is computed on the validation split; the test split is
read once, for the top configurations re-run on fresh seeds after the search.
"""

from __future__ import annotations

from dno.search._inspect import locate_study, replay_trial, trial_table
from dno.search._runner import OBJECTIVES, DnoModelRunner, TrialRunner
from dno.search._search import SearchOptions, build_spec, run_search, run_worker
from dno.search._space import SearchSpace, default_space, load_space, parse_space
from dno.search._storage import open_storage
from dno.search._study import SEARCHES, StudySpec, count_finished, load_spec
from dno.search._summary import CONFIRM_SEED_BASE, best_run

__all__ = [
    "CONFIRM_SEED_BASE",
    "OBJECTIVES",
    "SEARCHES",
    "DnoModelRunner",
    "SearchOptions",
    "SearchSpace",
    "StudySpec",
    "TrialRunner",
    "best_run",
    "build_spec",
    "count_finished",
    "default_space",
    "load_space",
    "load_spec",
    "locate_study",
    "open_storage",
    "parse_space",
    "replay_trial",
    "run_search",
    "run_worker",
    "trial_table",
]
