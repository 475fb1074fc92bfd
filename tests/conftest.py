"""Shared fixtures: a throwaway PostgreSQL server for the many-machine tests.

The server is installed (Debian's ``postgresql``, when running as root with apt) and started by
the fixture itself in a temporary folder on a free port; tests that need it carry the
``postgres`` marker and are skipped, with the reason, where that is impossible (under CI they
fail instead: see ``services.py``). Set
``DNO_TEST_POSTGRES_URL`` to use an existing server instead.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import PostgresServer


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL for tests: an existing server, or one started for this session."""
    if os.environ.get("DNO_TEST_POSTGRES_URL"):
        yield os.environ["DNO_TEST_POSTGRES_URL"]
        return
    server = PostgresServer()
    try:
        yield server.start()
    finally:
        server.remove()


@pytest.fixture
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Program sweeps run ``${interpreter}`` as W&B does: ``python`` from the PATH; this puts the
    test environment's Python first on it, as an activated environment would."""
    import sys

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
