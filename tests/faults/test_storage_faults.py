"""The study's storage fails under a running search: a PostgreSQL server restarted (a short
outage is survived, no trial lost), stopped for longer (one line; a rerun resumes), and a disk
that fills up (one line naming the file; a rerun after space is freed resumes). Each run's
complete trials equal those of the same search without the fault."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from faults.faultkit import dno, dno_process, one_line, outcomes, search_args
from services import PostgresServer

pytestmark = pytest.mark.slow_fault

#: ``dno`` with a lost database given up after 3 s instead of 60 s.
SHORT_PATIENCE = (
    "import sys, dno.search._storage as storage; storage.STORAGE_OUTAGE = 3.0; "
    "from dno.cli import main; sys.exit(main(sys.argv[1:]))"
)


@pytest.fixture(scope="module")
def reference(tiny_data: Path, tiny_space: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """The trials of the search below without any fault (on a journal file)."""
    results = tmp_path_factory.mktemp("reference")
    assert dno_process(_search(tiny_data, tiny_space, results))[0] == 0
    return outcomes(results)


def _search(data: Path, space: Path, results: Path, *extra: str) -> list[str]:
    """4 trials of 3 epochs: long enough to be caught in the middle."""
    args = search_args(data, space, results, *extra)
    args[args.index("--n-trials") + 1] = "4"
    args[args.index("--max-epochs") + 1] = "3"
    return args


@pytest.fixture
def server() -> Iterator[PostgresServer]:
    """A PostgreSQL server of this test's own (it is stopped and restarted)."""
    if os.environ.get("DNO_TEST_POSTGRES_URL"):
        pytest.skip("restarting needs a server of the test's own, not DNO_TEST_POSTGRES_URL")
    own = PostgresServer()
    own.start()
    try:
        yield own
    finally:
        own.remove()


def _start(argv: list[str]) -> subprocess.Popen[str]:
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _wait_for(path: Path, child: subprocess.Popen[str], timeout: float = 300.0) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert child.poll() is None, child.communicate()[1]
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.05)


def test_a_short_database_restart_loses_no_trial(
    server: PostgresServer, tiny_data: Path, tiny_space: Path, tmp_path: Path, reference: dict
) -> None:
    results = tmp_path / "r"
    args = _search(tiny_data, tiny_space, results, "--storage", server.url)
    child = _start([sys.executable, "-m", "dno", *args])
    _wait_for(results / "s" / "trials" / "1" / "metrics.csv", child)  # trial 1 is training
    server.restart()
    _, err = child.communicate(timeout=600)
    assert child.returncode == 0, err
    assert "Traceback" not in err and "dno: error" not in err
    assert outcomes(results, server.url) == reference


def test_a_long_database_outage_is_one_line_and_a_rerun_resumes(
    server: PostgresServer, tiny_data: Path, tiny_space: Path, tmp_path: Path, reference: dict,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    results = tmp_path / "r"
    args = _search(tiny_data, tiny_space, results, "--storage", server.url)
    child = _start([sys.executable, "-c", SHORT_PATIENCE, *args])
    _wait_for(results / "s" / "trials" / "1" / "metrics.csv", child)
    server.stop()
    _, err = child.communicate(timeout=600)
    server.start()
    assert child.returncode == 1
    assert one_line(err).startswith(
        f"dno: error: lost the connection to storage {server.url} for 3 s ("
    )
    code, err = dno(args, capsys)
    assert code == 0 and "dno: error" not in err
    assert outcomes(results, server.url) == reference


def test_a_full_disk_is_one_line_and_a_rerun_resumes(
    tiny_data: Path, tiny_space: Path, tmp_path: Path, reference: dict
) -> None:
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    # about one trial's files (a trial writes 120-135 KB, in 4 KB pages about 150 KB)
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(disk)])
    if mounted.returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        args = _search(tiny_data, tiny_space, disk / "r")
        code, err = dno_process(args)
        assert code == 1
        line = one_line(err)
        assert "no space left on the device" in line and f"{disk / 'r'!s}" in line
        subprocess.run(["mount", "-o", "remount,size=20m", str(disk)], check=True)  # freed
        code, err = dno_process(args)
        assert code == 0, err
        assert "Traceback" not in err and "dno: error" not in err
        assert outcomes(disk / "r") == reference
    finally:
        subprocess.run(["umount", str(disk)], check=False)
