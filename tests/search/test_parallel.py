"""Many processes on one study: no configuration twice, exactly n_trials, each process its share.

The program swept here is trivial (it reports its argument), so these tests exercise only the
coordination: processes started at the same instant, a worker killed mid-trial, and the core
budget a program trial sees.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import optuna
import pytest
import yaml

from dno.search import SearchOptions, build_spec, count_finished, open_storage, run_search
from dno.search._study_lifecycle import SPEC_ATTR
from dno.tracking import INTERRUPTED_ATTR, RETRY_ATTR

PROGRAM = r"""
import argparse, json, os, time
parser = argparse.ArgumentParser()
parser.add_argument("--x", type=float)
parser.add_argument("--sleep", type=float, default=0.0)
args, _ = parser.parse_known_args()
names = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
         "OMP_WAIT_POLICY")
with open(os.path.join(os.environ["DNO_TRIAL_DIR"], "env.json"), "w") as handle:
    json.dump({name: os.environ.get(name) for name in names}, handle)
print(json.dumps({"epoch": 1, "loss": args.x}), flush=True)
time.sleep(args.sleep)
print(json.dumps({"epoch": 2, "loss": args.x / 2}), flush=True)
"""


def sweep(folder: Path, sleep: float = 0.0, grid: bool = False) -> Path:
    """A random sweep of one continuous parameter (distinct streams give distinct values), or a
    grid of six values of it."""
    (folder / "train.py").write_text(PROGRAM)
    path = folder / ("grid.yaml" if grid else "sweep.yaml")
    x = {"values": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]} if grid else {
        "distribution": "uniform", "min": 0.0, "max": 1.0}  # fmt: skip
    document = {"program": "train.py", "method": "grid" if grid else "random",
                "metric": {"name": "loss", "goal": "minimize"},
                "parameters": {"x": x, "sleep": {"value": sleep}}}  # fmt: skip
    path.write_text(yaml.safe_dump(document))
    return path


def dno(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.Popen[bytes]:
    """Start ``dno ARGS`` in ``cwd`` (where the sweep's program is, as for W&B's agent)."""
    return subprocess.Popen(
        [sys.executable, "-m", "dno", *args], stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, env=env, cwd=cwd,
    )  # fmt: skip


def finish(processes: list[subprocess.Popen[bytes]], timeout: float = 300) -> list[int]:
    codes = []
    for process in processes:
        _, err = process.communicate(timeout=timeout)
        codes.append(process.returncode)
        assert process.returncode in (0, -signal.SIGKILL), err.decode()[-2000:]
    return codes


def load(storage: str | None, results: Path, name: str) -> optuna.Study:
    opened, _ = open_storage(storage, results, name)
    return optuna.load_study(study_name=name, storage=opened)


def check_distinct(study: optuna.Study, n_trials: int, reruns: int = 0) -> None:
    trials = study.get_trials()
    assert len(trials) == n_trials + reruns  # the queued trials (and re-runs), nothing else
    assert count_finished(study) == n_trials
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(complete) == n_trials
    assert len({t.params["x"] for t in complete}) == n_trials  # no configuration twice


def race(tmp_path: Path, storage: str | None) -> None:
    """Two `dno search` on one new study, started together; the race repeated three times (the
    third on a grid: its six points are queued once)."""
    spaces = [sweep(tmp_path), sweep(tmp_path), sweep(tmp_path, grid=True)]
    results = tmp_path / "r"
    tag = f"{os.getpid()}-{time.time_ns()}"
    names = [f"race-{tag}-{k}" for k in range(3)]
    extra = ["--storage", storage] if storage else []
    common = ["--results", str(results), "--n-trials", "6", "--threads", "1", "--pruner", "none",
              "-q", *extra]  # fmt: skip
    processes = [
        dno("search", "--study", name, "--space", str(space), *common, cwd=tmp_path)
        for name, space in zip(names, spaces, strict=True)
        for _ in range(2)
    ]
    finish(processes)
    for name in names:
        check_distinct(load(storage, results, name), 6)


def test_concurrent_starts_on_a_journal_sample_distinct_configurations(tmp_path: Path) -> None:
    race(tmp_path, None)


@pytest.mark.postgres
def test_concurrent_starts_on_postgresql_sample_distinct_configurations(
    tmp_path: Path, postgres_url: str
) -> None:
    race(tmp_path, postgres_url)


def test_a_program_trial_sees_its_workers_core_share(tmp_path: Path) -> None:
    space = sweep(tmp_path)
    results = tmp_path / "r"
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    env["MKL_NUM_THREADS"] = "7"  # set by the user: kept
    finish([dno("search", "--space", str(space), "--results", str(results), "--study", "env",
                "--n-trials", "2", "--workers", "2", "--threads", "1", "--pruner", "none", "-q",
                env=env, cwd=tmp_path)])  # fmt: skip
    for number in (0, 1):
        trial = results / "env" / "trials" / str(number)
        seen = json.loads((trial / "env.json").read_text())
        assert seen == {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "7",
                        "OPENBLAS_NUM_THREADS": "1", "NUMBA_NUM_THREADS": "1",
                        "OMP_WAIT_POLICY": None}  # OpenMP's own wait policy  # fmt: skip
        assert json.loads((trial / "final_results.json").read_text())["threads"] == 1


@pytest.mark.postgres
def test_eight_workers_one_killed_mid_trial_on_postgresql(
    tmp_path: Path, postgres_url: str
) -> None:
    """The load test: every trial accounted for, none twice, the killed one re-run as it was."""
    results, name, n_trials = tmp_path / "r", f"load-{os.getpid()}-{time.time_ns()}", 30
    # the study with its trials queued and none run (dno search --workers 0)
    options = SearchOptions(space=sweep(tmp_path, sleep=0.5), results=results, study=name,
                            n_trials=n_trials, storage=postgres_url, pruner="none", workers=0,
                            progress=False, workdir=tmp_path)  # fmt: skip
    run_search(options, log=lambda _: None)
    study = load(postgres_url, results, name)
    assert count_finished(study) == 0 and len(study.get_trials()) == n_trials
    command = ["worker", "--storage", postgres_url, "--study", name, "--results", str(results),
               "--threads", "1", "-q"]  # fmt: skip
    workers = [dno(*command, cwd=tmp_path) for _ in range(8)]
    pids = {w.pid for w in workers}
    victim = None
    deadline = time.time() + 240
    while victim is None and time.time() < deadline:
        for trial in study.get_trials(states=(optuna.trial.TrialState.RUNNING,)):
            pid = trial.user_attrs.get("dno:worker", {}).get("pid")
            started = results / name / "trials" / str(trial.number) / "env.json"
            if pid in pids and started.exists():  # its program runs: kill the worker now
                os.kill(pid, signal.SIGKILL)
                victim = trial
                break
        time.sleep(0.05)
    assert victim is not None, "no trial was seen running"
    codes = finish(workers)
    assert sorted(codes) == [-signal.SIGKILL] + [0] * 7
    trials = study.get_trials()
    interrupted = [t for t in trials if INTERRUPTED_ATTR in t.user_attrs]
    assert [t.number for t in interrupted] == [victim.number]
    retry = [t for t in trials if t.user_attrs.get(RETRY_ATTR) == victim.number]
    assert len(retry) == 1 and retry[0].params == victim.params
    assert retry[0].state == optuna.trial.TrialState.COMPLETE
    check_distinct(study, n_trials, reruns=1)


def test_a_study_made_before_trials_were_queued_runs_to_n_trials(tmp_path: Path) -> None:
    options = SearchOptions(space=sweep(tmp_path), results=tmp_path / "r", study="old",
                            n_trials=3, pruner="none", progress=False, threads=1,
                            workdir=tmp_path)  # fmt: skip
    spec, _, _ = build_spec(options)
    storage, _ = open_storage(None, options.results, "old")
    old = optuna.create_study(study_name="old", storage=storage)  # as an older dno made it
    old.set_user_attr(SPEC_ATTR, spec.to_json())
    run_search(options, log=lambda _: None)
    check_distinct(load(None, options.results, "old"), 3)


def test_a_second_local_worker_is_forked_and_trains_beside_the_first(tmp_path: Path) -> None:
    """On one thread each, the further worker is forked from dno search (no start-up of its
    own): both processes run trials, and the search says how its workers were started."""
    space = sweep(tmp_path, sleep=0.5)
    results = tmp_path / "r"
    done = subprocess.run(
        [sys.executable, "-m", "dno", "search", "--space", str(space), "--results", str(results),
         "--study", "forked", "--n-trials", "4", "--workers", "2", "--threads", "1",
         "--pruner", "none"],
        capture_output=True, text=True, cwd=tmp_path, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-2000:]
    assert "2 local workers: this process and 1 forked from it" in done.stdout
    study = load(None, results, "forked")
    check_distinct(study, 4)
    pids = {t.user_attrs["dno:worker"]["pid"] for t in study.get_trials()}
    assert len(pids) == 2  # each process ran trials


def test_workers_are_forked_only_where_it_is_safe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """One thread a worker on the CPU and no other Python thread here: forked; a worker of two
    threads, on a GPU, or another thread in this process: a dno worker process instead."""
    from dno._cores import WorkerSlot
    from dno.search._search import _can_fork

    options = SearchOptions(space=sweep(tmp_path), results=tmp_path / "r", study="f",
                            n_trials=2, progress=False, workdir=tmp_path)  # fmt: skip
    spec, _, _ = build_spec(options)
    one = [WorkerSlot(None, 1), WorkerSlot(None, 1)]
    monkeypatch.setattr("threading.active_count", lambda: 1)
    assert _can_fork(spec, one) is (sys.platform == "linux")
    assert not _can_fork(spec, [WorkerSlot(None, 2), WorkerSlot(None, 2)])
    assert not _can_fork(spec, [WorkerSlot("cpu", 1), WorkerSlot("cuda:1", 1)])
    monkeypatch.setattr("threading.active_count", lambda: 2)
    assert not _can_fork(spec, one)
