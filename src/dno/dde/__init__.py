"""DDE families, parameter priors, random initial histories and the batched solver.

Four families (see :data:`FAMILIES`): ``mackey`` (Mackey-Glass), ``delayed_logistic``
(Hutchinson), ``neutral`` and ``reaction_diffusion``. :func:`solve` integrates one explicit
problem or a batch of them; :func:`sample_trajectories` draws and solves random ones.

This package knows nothing of files or models.
"""

from __future__ import annotations

from dno.dde._families import FAMILIES, Family, get_family
from dno.dde._history import FourierHistory, sample_histories
from dno.dde._priors import Priors, parse_prior, resolve_priors, sample_parameters
from dno.dde._sampling import (
    SamplingSettings,
    TrajectorySet,
    sample_batches,
    sample_trajectories,
)
from dno.dde._solver import Solution, delay_steps, neumann_laplacian, solve, spatial_grid

__all__ = [
    "FAMILIES",
    "Family",
    "FourierHistory",
    "Priors",
    "SamplingSettings",
    "Solution",
    "TrajectorySet",
    "delay_steps",
    "get_family",
    "neumann_laplacian",
    "parse_prior",
    "resolve_priors",
    "sample_batches",
    "sample_histories",
    "sample_parameters",
    "sample_trajectories",
    "solve",
    "spatial_grid",
]
