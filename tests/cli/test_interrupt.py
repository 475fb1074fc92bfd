"""Ctrl-C: one line saying what was kept and how to resume, exit status 130, and no trial left
"running" in ``dno trials``. Real processes, real training, a real SIGINT."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

import dno.data as data
from dno.search._inspect import trial_table
from dno.search._study_lifecycle import StudySpec

#: trials long enough to be interrupted (60 epochs), each epoch a fraction of a second
SPACE = {"S": {"value": 16}, "layers": {"value": 1}, "patience": {"value": 0},
         "width": {"type": "categorical", "choices": [4, 8]}}  # fmt: skip


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("interrupt")
    path = folder / "mackey.h5"
    data.generate_dataset("mackey", 16, 0, path, t_end=120.0)
    (folder / "space.yaml").write_text(yaml.safe_dump({"parameters": SPACE}))
    return path


def dno(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "dno", *argv], capture_output=True, text=True,
                          timeout=300)  # fmt: skip


def interrupt_when(argv: list[str], ready: Path) -> tuple[int, str]:
    """Start ``dno ARGV``, press Ctrl-C (SIGINT) once ``ready`` holds an epoch's row; return the
    exit status and standard error."""
    # SIGINT as a terminal sends it, even where this test runs in a background job (whose
    # children inherit SIGINT ignored, so Python would not turn it into KeyboardInterrupt)
    process = subprocess.Popen(
        [sys.executable, "-m", "dno", *argv], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )  # fmt: skip
    deadline = time.time() + 120
    while not (ready.is_file() and len(ready.read_text().splitlines()) >= 2):
        assert process.poll() is None and time.time() < deadline, process.communicate()[1]
        time.sleep(0.1)
    os.kill(process.pid, signal.SIGINT)
    _, err = process.communicate(timeout=120)
    return process.returncode, err


def search_argv(dataset: Path, results: Path, *extra: str) -> list[str]:
    return ["search", "--data", str(dataset), "--space", str(dataset.parent / "space.yaml"),
            "--search", "grid", "--study", "k", "--max-epochs", "60", "--confirm-top", "0",
            "--results", str(results), "--device", "cpu", "-q", *extra]  # fmt: skip


@pytest.mark.slow
@pytest.mark.parametrize("workers", [1, 2])
def test_ctrl_c_in_dno_search_says_what_was_kept_and_the_trial_is_interrupted(
    dataset: Path, tmp_path: Path, workers: int
) -> None:
    results = tmp_path / "r"
    argv = search_argv(dataset, results, "--workers", str(workers))
    status, err = interrupt_when(argv, results / "k" / "trials" / "0" / "metrics.csv")
    assert status == 130
    assert err.splitlines()[-1] == (
        f"dno: interrupted: finished trials are kept in {results}/k/; rerun the same command to "
        "resume (an interrupted trial runs again with its parameters; dno trials lists them)"
    )
    assert err.count("dno: interrupted") == 1  # the workers of a search say nothing themselves
    listed = dno("trials", str(results / "k")).stdout.splitlines()
    rows = [line.split() for line in listed[2:]]
    assert "running" not in [row[1] for row in rows], listed
    interrupted = [" ".join(row) for row in rows if row[1] == "interrupted"]
    assert interrupted and all(row.endswith("interrupted by the user") for row in interrupted)
    # the same command resumes from the queue: the interrupted trial waits there again (a rerun
    # runs it: tests/search/test_search.py, test_search_killed_mid_trial_resumes_and_reruns_it)
    assert [row[1] for row in rows].count("waiting") >= 1


@pytest.mark.slow
def test_ctrl_c_in_dno_train_says_how_to_resume(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    argv = ["train", "--model", "method_of_steps", "--data", str(dataset), "--set", "S=16",
            "--set", "layers=1", "--set", "patience=0", "--max-epochs", "200", "--out", str(out),
            "--device", "cpu", "-q"]  # fmt: skip
    status, err = interrupt_when(argv, out / "metrics.csv")
    assert status == 130
    assert err.splitlines()[-1] == (
        f"dno: interrupted: the run folder {out} keeps its last finished epoch "
        "(artifacts/last.pt); rerun the same command with --resume to resume from it"
    )
    resumed = dno(*argv, "--resume", "--max-epochs", "3")
    assert resumed.returncode == 0, resumed.stderr


def test_a_running_trial_whose_process_is_gone_is_listed_as_interrupted() -> None:
    """A trial left RUNNING by a process that died without a word (SIGKILL, power loss)."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    study = optuna.create_study()
    study.enqueue_trial({})
    trial = study.ask()
    study._storage.set_trial_user_attr(
        trial._trial_id, "dno:worker", {"host": socket.gethostname(), "pid": dead.pid}
    )
    spec = StudySpec(name="k", model="fno", family="mackey", data="", search="random", space={},
                     objectives=["val_rel_l2"], directions=["minimize"], n_trials=1,
                     max_epochs=1, seeds=1, pruner={}, sampler_seed=0)  # fmt: skip
    (row,) = trial_table(study, spec).splitlines()[1:]
    assert row.split()[:2] == ["0", "interrupted"]
    assert row.endswith(
        f"its process {dead.pid} on {socket.gethostname()} is gone; the next dno search re-runs it"
    )


@pytest.mark.slow
def test_ctrl_c_in_dno_compare_says_what_was_kept(dataset: Path, tmp_path: Path) -> None:
    plan = tmp_path / "ab.yaml"
    plan.write_text(yaml.safe_dump({
        "family": "mackey", "data": str(dataset), "seeds": 6, "metric": {"name": "val_rel_l2"},
        "max_epochs": 200, "S": 16, "layers": 1, "patience": 0, "device": "cpu",
        "baseline": "a", "approaches": {"a": {"model": "method_of_steps"},
                                        "b": {"model": "method_of_steps", "set": {"width": 4}}},
    }))  # fmt: skip
    out = tmp_path / "cmp"
    argv = ["compare", str(plan), "--out", str(out), "-q"]
    status, err = interrupt_when(argv, out / "ab" / "a" / "seed-0" / "metrics.csv")
    assert status == 130
    assert err.splitlines()[-1] == (
        f"dno: interrupted: finished runs are kept in {out / 'ab'}; rerun the same command to "
        "resume (an interrupted run continues from its last finished epoch)"
    )
