"""The fault suite's fixtures (a tiny dataset and search space), and the ``slow_fault`` tests
that only ``make faults`` runs (the helpers are in ``faultkit.py``).

A test marked ``slow_fault`` (a database restart, a full tmpfs, memory caps, signals to
process groups) is skipped unless ``DNO_FAULTS`` is set, as ``make faults`` sets it.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

import dno.data as data
from faults.faultkit import TINY_SPACE


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if os.environ.get("DNO_FAULTS"):
        return
    skip = pytest.mark.skip(reason="a slow fault: run by make faults (DNO_FAULTS=1)")
    for item in items:
        if item.get_closest_marker("slow_fault") is not None:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "mackey.h5"
    data.generate_dataset("mackey", 16, 0, path, t_end=120.0)
    return path


@pytest.fixture(scope="session")
def tiny_space(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("faults") / "space.yaml"
    path.write_text(yaml.safe_dump(TINY_SPACE))
    return path
