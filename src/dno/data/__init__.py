"""Datasets on disk: the HDF5 schema, generation, legacy import and summaries.

See :mod:`dno.data._schema` (and the README, "Dataset files") for the layout.
"""

from __future__ import annotations

from dno.data._generate import generate_dataset
from dno.data._info import describe_dataset
from dno.data._legacy import RestrictedUnpickler, import_legacy, load_legacy_pickle
from dno.data._schema import (
    FORMAT,
    FORMAT_VERSION,
    MIN_OBSERVATIONS_PER_DELAY,
    SPLITS,
    Dataset,
    Split,
    observations_per_delay,
    read_dataset,
    split_indices,
    undersampling,
    value_problems,
    write_dataset,
)
from dno.data._windows import Normalizer, WindowSet, make_windows

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "MIN_OBSERVATIONS_PER_DELAY",
    "SPLITS",
    "Dataset",
    "Normalizer",
    "RestrictedUnpickler",
    "Split",
    "WindowSet",
    "describe_dataset",
    "generate_dataset",
    "import_legacy",
    "load_legacy_pickle",
    "make_windows",
    "observations_per_delay",
    "read_dataset",
    "split_indices",
    "undersampling",
    "value_problems",
    "write_dataset",
]
