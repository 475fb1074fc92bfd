"""Shared fixtures: a throwaway PostgreSQL server for the many-machine tests.

The server is installed (Debian's ``postgresql``, when running as root with apt) and started by
the fixture itself in a temporary folder on a free port; tests that need it carry the
``postgres`` marker and are skipped, with the reason, where that is impossible (under CI they
fail instead: see ``services.py``). Set
``DNO_TEST_POSTGRES_URL`` to use an existing server instead.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from services import unavailable


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _initdb() -> str | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return found[-1] if found else None


def _install_postgres() -> str:
    """Install Debian's postgresql if we can; returns '' on success or the reason we cannot."""
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        return "PostgreSQL is not installed and this is not a root shell with apt-get"
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for command in (
        ["apt-get", "update", "-qq"],
        ["apt-get", "install", "-y", "-qq", "postgresql"],
    ):
        done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            return f"{' '.join(command)} failed: {done.stderr.strip()[-300:]}"
    return ""


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A PostgreSQL URL for tests: an existing server, or one started for this session."""
    if os.environ.get("DNO_TEST_POSTGRES_URL"):
        yield os.environ["DNO_TEST_POSTGRES_URL"]
        return
    try:
        import psycopg  # noqa: F401
    except ImportError:
        unavailable("psycopg is not installed (pip install -e '.[test]')")
    if _initdb() is None:
        reason = _install_postgres()
        if reason or _initdb() is None:
            unavailable(f"no PostgreSQL server: {reason or 'initdb not found after install'}")
    bin_dir = Path(str(_initdb())).parent
    # Not under pytest's own temporary folder: as root that is private to root, and initdb
    # refuses to run as root, so the server runs as the postgres user in a folder of its own.
    data = Path(tempfile.mkdtemp(prefix="dno-test-pg-"))
    as_postgres: list[str] = []
    if os.geteuid() == 0:
        shutil.chown(data, "postgres")
        as_postgres = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    subprocess.run(
        [*as_postgres, str(bin_dir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres"],
        check=True, capture_output=True, timeout=300,
    )  # fmt: skip
    options = f"-p {port} -k {data} -c listen_addresses=127.0.0.1"
    start = subprocess.run(
        [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-o", options,
         "-l", str(data / "server.log"), "-w", "start"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    if start.returncode != 0:
        unavailable(f"PostgreSQL did not start: {start.stderr.strip()[-300:]}")
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        subprocess.run(
            [*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"],
            capture_output=True, timeout=120,
        )  # fmt: skip
        shutil.rmtree(data, ignore_errors=True)


@pytest.fixture
def python_on_path(monkeypatch: pytest.MonkeyPatch) -> None:
    """Program sweeps run ``${interpreter}`` as W&B does: ``python`` from the PATH; this puts the
    test environment's Python first on it, as an activated environment would."""
    import sys

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
