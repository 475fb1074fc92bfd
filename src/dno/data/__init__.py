"""Datasets on disk: the HDF5 schema, generation, legacy import and summaries.

See :mod:`dno.data._schema` (and the README, "Dataset files") for the layout.
"""

from __future__ import annotations

from dno.data import _schema
from dno.data._generate import generate_dataset
from dno.data._info import describe_dataset
from dno.data._legacy import RestrictedUnpickler, import_legacy, load_legacy_pickle
from dno.data._schema import *  # noqa: F403  (the file format, its checks)
from dno.data._windows import Normalizer, WindowSet, make_windows

__all__ = [
    *_schema.__all__,
    "Normalizer",
    "RestrictedUnpickler",
    "WindowSet",
    "describe_dataset",
    "generate_dataset",
    "import_legacy",
    "load_legacy_pickle",
    "make_windows",
]
