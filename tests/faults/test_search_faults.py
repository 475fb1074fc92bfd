"""Faults of a search, tried as an operator meets them: a torn journal, a full disk, a killed
process, a read-only or redirected results folder, too many workers. Each test checks that
nothing complete was lost, that the results equal a run without the fault where that is the
promise, and that the user saw one line, never a traceback (docs/reliability.md)."""

from __future__ import annotations

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import torch

import dno._io as dno_io
from dno.cli import describe_os_error
from dno.errors import DnoWarning
from dno.search import connection_lost, open_storage
from dno.tracking import write_json
from faults.faultkit import dno, dno_process, one_line, outcomes, search_args, trials


@pytest.fixture(scope="module")
def reference(tiny_data: Path, tiny_space: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny search without any fault."""
    results = tmp_path_factory.mktemp("reference")
    assert dno_process(search_args(tiny_data, tiny_space, results))[0] == 0
    return results


@pytest.mark.slow
def test_torn_journal_keeps_every_complete_trial_and_resumes(
    tiny_data: Path, tiny_space: Path, reference: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    results = tmp_path / "r"
    assert dno_process(search_args(tiny_data, tiny_space, results))[0] == 0  # then "crashes"
    journal = results / "s" / "study.journal"
    original = journal.read_bytes()
    journal.write_bytes(original[:-25])  # a write cut short: the last record is torn
    args = [a for a in search_args(tiny_data, tiny_space, results) if a != "-q"]
    code, err = dno(args, capsys)
    assert code == 0
    assert "study.journal ended in a torn record (" in one_line(err, "warning")
    (copy,) = results.glob("s/study.journal.torn-*")
    assert copy.read_bytes() == original[:-25]
    assert outcomes(results) == outcomes(reference)  # the torn trial ran again, the same
    code, err = dno(["trials", str(results / "s")], capsys)
    assert code == 0 and "Traceback" not in err


def _fill_disk_on(monkeypatch: pytest.MonkeyPatch, trial: str) -> list[str]:
    """Make torch.save fail as it does on a full disk (a RuntimeError naming no file) for the
    checkpoints of ``trial``; the disk then reads as full. The paths it failed on."""
    real_save, failed = torch.save, []

    def save(obj: object, path: object, *args: object, **kwargs: object) -> None:
        if f"{os.sep}trials{os.sep}{trial}{os.sep}" in str(Path(str(path)).parent.parent) + os.sep:
            failed.append(str(path))
            raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576")
        real_save(obj, path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(torch, "save", save)
    monkeypatch.setattr(dno_io, "_disk_full", lambda folder: bool(failed))
    return failed


@pytest.mark.slow
def test_full_disk_interrupts_the_trial_and_a_rerun_retries_it(
    tiny_data: Path, tiny_space: Path, reference: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    results = tmp_path / "r"
    failed = _fill_disk_on(monkeypatch, "1")
    code, err = dno(search_args(tiny_data, tiny_space, results), capsys)
    assert code == 1 and failed
    line = one_line(err)
    assert f"trial 1 stopped: no space left on the device writing {str(results)!r}"[:-1] in line
    assert "artifacts" in line and "rerun the same command" in line
    (interrupted,) = [t for t in trials(results) if t.number == 1]
    assert interrupted.state == optuna.trial.TrialState.FAIL
    assert "no space left" in interrupted.user_attrs["dno:interrupted"]  # not "failed"
    monkeypatch.undo()  # space is freed
    code, err = dno(search_args(tiny_data, tiny_space, results), capsys)
    assert code == 0 and "dno: error" not in err
    assert outcomes(results) == outcomes(reference)


def test_full_disk_message_names_the_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object, **kwargs: object) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")  # as write() raises it: no file

    target = tmp_path / "d.json"
    monkeypatch.setattr(Path, "write_text", full)
    with pytest.raises(OSError) as caught:
        write_json(target, {"a": 1})
    assert caught.value.errno == errno.ENOSPC and caught.value.filename == str(target)
    assert describe_os_error(caught.value) == f"no space left on the device: {str(target)!r}"
    assert list(tmp_path.iterdir()) == []  # no temporary left behind


@pytest.mark.slow_fault  # tests/search/test_search.py kills searches in make test already
def test_sigkill_mid_trial_keeps_the_finished_trials_and_resumes(
    tiny_data: Path, tiny_space: Path, reference: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    results = tmp_path / "r"
    args = search_args(tiny_data, tiny_space, results)
    args[args.index("--max-epochs") + 1] = "1"
    child = subprocess.Popen([sys.executable, "-m", "dno", *args], stderr=subprocess.DEVNULL)
    started = results / "s" / "trials" / "1" / "trial.json"
    deadline = time.monotonic() + 300
    while not started.exists() and child.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    child.send_signal(signal.SIGKILL)  # during trial 1
    child.wait()
    assert child.returncode == -signal.SIGKILL, "the search ended before it could be killed"
    code, err = dno(args, capsys)
    assert code == 0 and "Traceback" not in err
    assert outcomes(results) == outcomes(reference)


def _immutable(folder: Path) -> None:
    """Make ``folder`` unwritable, even for root (chattr +i); skip where that is impossible."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
    elif subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder unwritable here (root without chattr)")


def _writable(folder: Path) -> None:
    if os.geteuid() != 0:
        folder.chmod(0o755)
    else:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_read_only_results_folder_is_one_line_and_changes_nothing(
    tiny_data: Path, tiny_space: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r"
    results.mkdir()
    _immutable(results)
    try:
        code, err = dno(search_args(tiny_data, tiny_space, results), capsys)
    finally:
        _writable(results)
    assert code == 1  # EACCES for a user, EPERM for root and an immutable folder
    line = one_line(err).replace("operation not permitted", "permission denied")
    assert line == f"dno: error: permission denied: {str(results / 's')!r}"
    assert list(results.iterdir()) == []


def test_a_link_out_of_the_results_folder_is_not_written_through(
    tiny_data: Path, tiny_space: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results, elsewhere = tmp_path / "r", tmp_path / "elsewhere"
    (results / "s").mkdir(parents=True)
    elsewhere.mkdir()
    (results / "s" / "trials").symlink_to(elsewhere)
    code, err = dno(search_args(tiny_data, tiny_space, results), capsys)
    assert code == 1
    assert f"is a symbolic link to {str(elsewhere)!r}, outside the results folder" in one_line(err)
    assert list(elsewhere.iterdir()) == []


def test_a_link_inside_the_results_folder_is_fine(
    tiny_data: Path, tiny_space: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "r"
    (results / "s" / "kept").mkdir(parents=True)
    (results / "s" / "trials").symlink_to(results / "s" / "kept")
    args = search_args(tiny_data, tiny_space, results)
    args[args.index("--n-trials") + 1] = "1"
    code, err = dno(args, capsys)
    assert code == 0 and "dno: error" not in err
    assert (results / "s" / "kept" / "0" / "final_results.json").is_file()


@pytest.mark.parametrize(
    ("extra", "message"),
    [(["--workers", "100000"], "--workers 100,000 is beyond this machine's limit of"),
     (["--family", "neutral"], "holds 'mackey' data, not 'neutral'")],
)  # fmt: skip
def test_a_refused_search_creates_nothing(
    tiny_data: Path, tiny_space: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    extra: list[str], message: str,
) -> None:  # fmt: skip
    code, err = dno(search_args(tiny_data, tiny_space, tmp_path / "r", *extra), capsys)
    assert code == 2 and message in one_line(err)
    assert not (tmp_path / "r").exists()


def test_a_torn_journal_in_a_folder_dno_may_not_write_is_read_without_its_tear(
    tmp_path: Path,
) -> None:
    storage, _ = open_storage(None, tmp_path, "s")
    study = optuna.create_study(study_name="s", storage=storage)
    study.enqueue_trial({"x": 1.0})
    study.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=0.5))
    journal = tmp_path / "s" / "study.journal"
    whole = journal.read_bytes()
    journal.write_bytes(whole + b'{"op_code":6,"worker_id":"w","tri')  # a tear after them
    _immutable(journal.parent)
    try:
        with pytest.warns(DnoWarning, match="ends in a torn record; it cannot be mended here"):
            storage, _ = open_storage(None, tmp_path, "s")
        loaded = optuna.load_study(study_name="s", storage=storage)
        assert [t.state.name for t in loaded.get_trials()] == ["WAITING", "COMPLETE"]
    finally:
        _writable(journal.parent)
    assert sorted(p.name for p in journal.parent.iterdir()) == ["study.journal"]


def test_what_counts_as_a_lost_database() -> None:
    import sqlite3

    import psycopg
    import sqlalchemy.exc as exc

    class Deadlock(psycopg.OperationalError):
        sqlstate = "40P01"

    class AdminShutdown(psycopg.OperationalError):
        sqlstate = "57P01"

    refused = psycopg.OperationalError("connection failed: Connection refused")
    lost = [exc.OperationalError("q", {}, refused), exc.OperationalError("q", {}, AdminShutdown()),
            exc.DisconnectionError("gone")]  # fmt: skip
    kept = [exc.OperationalError("q", {}, Deadlock()), ValueError("x"),
            exc.OperationalError("q", {}, sqlite3.OperationalError("no such table"))]  # fmt: skip
    assert all(connection_lost(e) for e in lost) and not any(connection_lost(e) for e in kept)
    try:
        try:
            raise lost[0]
        except exc.OperationalError as error:  # as Optuna wraps what fails in a commit
            raise optuna.exceptions.StorageInternalError("commit failed") from error
    except optuna.exceptions.StorageInternalError as wrapped:
        assert connection_lost(wrapped) == "connection failed: Connection refused"
