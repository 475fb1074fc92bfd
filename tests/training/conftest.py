"""Shared by the trainer's tests: a small linear delay equation."""

from __future__ import annotations

import pytest

import dno.data as data


@pytest.fixture(scope="session")
def linear_dde(tmp_path_factory: pytest.TempPathFactory) -> data.Dataset:
    """x' = b x(t - tau): the neutral family with a = c = 0, b and tau drawn per trajectory,
    10 time units long (tau 1 to 1.5)."""
    path = tmp_path_factory.mktemp("lin") / "lin.h5"
    data.generate_dataset(
        "neutral", 32, 0, path, ["a=0", "c=0", "b=-1:-0.5", "tau=1:1.5"], t_end=10.0
    )
    return data.read_dataset(path)
