"""Windows are built once per split and kept, read-only; different arguments build anew."""

from __future__ import annotations

import gc
from pathlib import Path

import numpy as np
import pytest

import dno.data as data
from dno.data import _windows


def test_windows_are_made_once_per_split(tmp_path: Path) -> None:
    path = tmp_path / "mackey.h5"
    data.generate_dataset("mackey", 6, 3, path)
    split = data.read_dataset(path).splits["train"]
    first = data.make_windows(split, 8, 2)
    assert data.make_windows(split, 8, 2) is first
    other = data.make_windows(split, 8, 4)
    assert other is not first and other.target.shape[1] == 4
    with pytest.raises(ValueError, match="read-only"):
        first.history[0] = 0.0
    # The same split read again (a new object) gives the same windows, built anew.
    again = data.make_windows(data.read_dataset(path).splits["train"], 8, 2)
    assert again is not first
    np.testing.assert_array_equal(again.history, first.history)
    # Entries go with their split.
    count = len(_windows._MADE)
    del split, first, other, again
    gc.collect()
    assert len(_windows._MADE) < count
