"""Servers for tests, and what a test does when one cannot be had: skip, or fail under CI.

A developer's machine without root may lack PostgreSQL or Chromium: those tests are skipped
with the reason. Under CI (``CI`` set to ``true`` or ``1``, as CI services set it) the test set-up
must have installed them, so a missing one fails the run instead of passing it silently.

:class:`PostgresServer` is a throwaway PostgreSQL server in a temporary folder on a free port
(Debian's ``postgresql``, installed when running as root with apt); the fault suite stops and
restarts one of its own.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

__all__ = ["PostgresServer", "unavailable"]


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when running under CI."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{reason} (required under CI)", pytrace=False)
    pytest.skip(reason)


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


class PostgresServer:
    """A PostgreSQL server of its own: ``start()`` (installing PostgreSQL where it can, else
    :func:`unavailable`), ``url``, ``stop()``, ``restart()``, ``remove()``."""

    def __init__(self) -> None:
        try:
            import psycopg  # noqa: F401
        except ImportError:
            unavailable("psycopg is not installed (pip install -e '.[test]')")
        if _initdb() is None:
            reason = _install_postgres()
            if reason or _initdb() is None:
                unavailable(f"no PostgreSQL server: {reason or 'initdb not found after install'}")
        self.bin = Path(str(_initdb())).parent
        # Not under pytest's own temporary folder: as root that is private to root, and initdb
        # refuses to run as root, so the server runs as the postgres user in a folder of its own.
        self.data = Path(tempfile.mkdtemp(prefix="dno-test-pg-"))
        self.as_postgres: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.data, "postgres")
            self.as_postgres = ["runuser", "-u", "postgres", "--"]
        self.port = _free_port()
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"
        subprocess.run(
            [*self.as_postgres, str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust",
             "-U", "postgres"],
            check=True, capture_output=True, timeout=300,
        )  # fmt: skip

    def _ctl(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*self.as_postgres, str(self.bin / "pg_ctl"), "-D", str(self.data), *args],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    def start(self) -> str:
        """Start the server (waiting until it accepts connections); its URL."""
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1"
        done = self._ctl("-o", options, "-l", str(self.data / "server.log"), "-w", "start")
        if done.returncode != 0:
            unavailable(f"PostgreSQL did not start: {done.stderr.strip()[-300:]}")
        return self.url

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: clients are disconnected, as in a restart)."""
        self._ctl("-m", mode, "-w", "stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.data, ignore_errors=True)
