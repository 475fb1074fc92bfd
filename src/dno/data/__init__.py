"""Datasets on disk: the HDF5 schema, generation, legacy import and summaries.

See :mod:`dno.data._schema` (and the README, "Dataset files") for the layout.
"""

from __future__ import annotations

from dno.data import _epochs, _schema
from dno.data._epochs import *  # noqa: F403  (train windows at any size, an epoch's order)
from dno.data._generate import generate_dataset
from dno.data._info import describe_dataset
from dno.data._legacy import RestrictedUnpickler, import_legacy, load_legacy_pickle
from dno.data._schema import *  # noqa: F403  (the file format, its checks)
from dno.data._windows import (
    MAX_EVALUATION_TRAJECTORIES,
    Moments,
    Normalizer,
    WindowSet,
    make_windows,
)

__all__ = [
    *_epochs.__all__,
    *_schema.__all__,
    "MAX_EVALUATION_TRAJECTORIES",
    "Moments",
    "Normalizer",
    "RestrictedUnpickler",
    "WindowSet",
    "describe_dataset",
    "generate_dataset",
    "import_legacy",
    "load_legacy_pickle",
    "make_windows",
]
