"""Processes: too many workers, two benchmarks on one folder, a link out of a benchmark folder,
and SIGTERM to a command whose workers train (every child ends, none is left behind)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from dno._io import folder_lock
from faults.faultkit import TINY_SPACE, dno, one_line

#: Two models, one seed, one epoch on a small neutral dataset (tests/benchmark's tiny one).
PROTOCOL: dict[str, Any] = {
    "name": "tiny", "family": "neutral", "data": {"n": 12, "seed": 0, "t_end": 12.0},
    "seeds": 2, "horizon_delays": 2, "evaluation": {"stability_windows": 4}, "baseline": "fno",
    "config": {"max_epochs": 1, "S": 16, "device": "cpu"},
    "models": {"method_of_steps": {"set": {"width": 8}}, "fno": {"set": {"width": 8}}},
}  # fmt: skip


def _protocol(folder: Path, **config: Any) -> Path:
    path = folder / "tiny.yaml"
    document = {**PROTOCOL, "config": {**PROTOCOL["config"], **config}}
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    return path


def test_too_many_benchmark_workers_are_refused_before_anything_is_made(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    code, err = dno(["benchmark", str(_protocol(tmp_path)), "--out", str(out), "--workers",
                     "1000"], capsys)  # fmt: skip
    assert code == 2
    assert "--workers 1,000 is beyond this machine's limit of" in one_line(err)
    assert not out.exists()


def test_a_second_benchmark_on_one_folder_refuses_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with folder_lock(out, "dno benchmark"):  # the first one, still running
        code, err = dno(["benchmark", str(_protocol(tmp_path)), "--out", str(out)], capsys)
    assert code == 1
    assert one_line(err) == (
        f"dno: error: {str(out)!r} is in use by another dno benchmark (process {os.getpid()} on "
        f"{os.uname().nodename}); wait for it to end, or give another folder"
    )
    assert [p.name for p in out.iterdir()] == [".dno.lock"]  # nothing else made


def test_a_link_out_of_a_benchmark_folder_is_not_written_through(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out, elsewhere = tmp_path / "out", tmp_path / "elsewhere"
    out.mkdir()
    elsewhere.mkdir()
    (out / "data").symlink_to(elsewhere)
    code, err = dno(["benchmark", str(_protocol(tmp_path)), "--out", str(out), "-q"], capsys)
    assert code == 1 and "outside the results folder" in one_line(err)
    assert list(elsewhere.iterdir()) == []


def _descendants(pid: int) -> set[int]:
    """The processes below ``pid`` (children, their children, ...), from /proc."""
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {child for child, parent in parents.items() if parent in frontier}
        found |= frontier
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _terminate_when_training(command: list[str], started: list[Path]) -> tuple[int, str, set[int]]:
    """Run ``dno COMMAND``, SIGTERM it once every path in ``started`` exists (its workers are
    training); its exit status, stderr and the processes it had started."""
    child = subprocess.Popen(
        [sys.executable, "-m", "dno", *command], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    deadline = time.monotonic() + 300
    while not all(p.exists() for p in started) and time.monotonic() < deadline:
        assert child.poll() is None, child.communicate()[1]
        time.sleep(0.2)
    below = _descendants(child.pid)
    assert below, "no worker process was running"
    child.send_signal(signal.SIGTERM)
    _, err = child.communicate(timeout=60)
    return child.returncode, err, below


@pytest.mark.slow_fault
def test_sigterm_ends_every_worker_of_a_search(tiny_data: Path, tmp_path: Path) -> None:
    space = tmp_path / "space.yaml"
    space.write_text(yaml.safe_dump(TINY_SPACE))
    results = tmp_path / "r"
    command = ["search", "--data", str(tiny_data), "--space", str(space), "--search", "random",
               "--n-trials", "4", "--max-epochs", "500", "--confirm-top", "0", "--study", "s",
               "--results", str(results), "--workers", "2", "--threads", "1", "-q"]  # fmt: skip
    started = [results / "s" / "trials" / str(n) / "metrics.csv" for n in (0, 1)]
    code, err, below = _terminate_when_training(command, started)
    assert code == 130 and "dno: interrupted" in err, err
    assert "Traceback" not in err and "dno: error" not in err
    time.sleep(0.5)
    assert _alive(below) == set(), "worker processes were left behind"


@pytest.mark.slow_fault
def test_sigterm_ends_every_worker_of_a_benchmark(tmp_path: Path) -> None:
    out = tmp_path / "out"
    command = ["benchmark", str(_protocol(tmp_path, max_epochs=500)), "--out", str(out),
               "--workers", "2", "--threads", "1", "-q", "--no-report"]  # fmt: skip
    started = [out / "runs" / m / "seed-0" / "metrics.csv" for m in ("method_of_steps", "fno")]
    code, err, below = _terminate_when_training(command, started)
    assert code == 130 and "dno: interrupted" in err, err
    assert "Traceback" not in err and "dno: error" not in err
    time.sleep(0.5)
    assert _alive(below) == set(), "worker processes were left behind"
