"""Sweeps of a user's own program: arguments, JSON metric lines, dno.log, pruning, failures."""

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

from dno.errors import UsageError
from dno.search import SearchOptions, open_storage, run_search

pytestmark = pytest.mark.usefixtures("python_on_path")

PROGRAM = r"""
import argparse, json, os, sys, time
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float, default=0.1)
parser.add_argument("--mode", default="ok")
parser.add_argument("--epochs", type=int, default=3)
parser.add_argument("--seed", type=int)
args, unknown = parser.parse_known_args()
with open(os.path.join(os.environ["DNO_TRIAL_DIR"], "received.json"), "w") as handle:
    json.dump({"argv": sys.argv[1:], "seed_env": os.environ.get("DNO_SEED"), "pid": os.getpid()},
              handle)
if args.mode == "fail":
    print("something broke: boom", file=sys.stderr)
    sys.exit(1)
for epoch in range(1, args.epochs + 1):
    if os.environ.get("PROGRAM_SLOW"):
        time.sleep(1.0)
    loss = args.lr * epoch if args.mode == "bad" else args.lr / epoch + 0.001 * (args.seed or 0)
    if args.mode == "dnolog":
        import dno
        dno.log(step=epoch, val_loss=loss)
    elif args.mode == "nometric":
        print(json.dumps({"epoch": epoch, "train_loss": loss, "acc": 0.5}))
    else:
        print("plain text lines are ignored")
        print(json.dumps({"epoch": epoch, "val_loss": loss}), flush=True)
"""


def sweep(folder: Path, parameters: dict, **extra: object) -> Path:
    (folder / "train.py").write_text(PROGRAM)
    path = folder / "sweep.yaml"
    document = {"program": "train.py", "method": "grid",
                "metric": {"name": "val_loss", "goal": "minimize"}, "parameters": parameters,
                **extra}  # fmt: skip
    path.write_text(yaml.safe_dump(document))
    return path


def run(path: Path, results: Path, **kwargs: object) -> dict:
    settings = {"workdir": path.parent, **kwargs}
    options = SearchOptions(space=path, results=results, progress=False, **settings)  # type: ignore[arg-type]
    return run_search(options, log=lambda _: None)


def trials_of(result: dict) -> list[optuna.trial.FrozenTrial]:
    spec = result["spec"]
    storage, _ = open_storage(None, result["folder"].parent, spec.name)
    return optuna.load_study(study_name=spec.name, storage=storage).get_trials()


def received(result: dict, number: int, seed: int | None = None) -> dict:
    folder = result["folder"] / "trials" / str(number)
    if seed is not None:
        folder = folder / "seeds" / str(seed)
    return json.loads((folder / "received.json").read_text())


def test_grid_sweep_passes_exactly_the_declared_arguments(tmp_path: Path) -> None:
    path = sweep(tmp_path, {"lr": {"values": [0.1, 0.2]}, "mode": {"values": ["ok", "dnolog"]},
                            "epochs": {"value": 3}})  # fmt: skip
    result = run(path, tmp_path / "r")
    trials = trials_of(result)
    assert len(trials) == 4 and all(t.state.name == "COMPLETE" for t in trials)
    seen = set()
    for t in trials:
        argv = received(result, t.number)["argv"]
        assert argv == ["--epochs=3", f"--lr={t.params['lr']}", f"--mode={t.params['mode']}"]
        assert received(result, t.number)["seed_env"] == "0"
        assert t.value == pytest.approx(t.params["lr"] / 3)  # the last reported value
        assert len(t.intermediate_values) == 3  # JSON lines and dno.log both reach the study
        seen.add((t.params["lr"], t.params["mode"]))
    assert seen == {(lr, m) for lr in (0.1, 0.2) for m in ("ok", "dnolog")}


def test_nested_parameters_and_json_macros(tmp_path: Path) -> None:
    path = sweep(
        tmp_path, {"optim": {"parameters": {"lr": {"values": [0.5]}, "beta": {"value": 0.9}}}},
        command=["${env}", "${interpreter}", "${program}", "${args}", "${args_json}"],
    )  # fmt: skip
    result = run(path, tmp_path / "r")
    argv = received(result, 0)["argv"]
    assert (
        argv[0] == "--optim={'beta': 0.9, 'lr': 0.5}"
        or argv[0] == "--optim={'lr': 0.5, 'beta': 0.9}"
    )
    assert json.loads(argv[-1]) == {"optim": {"lr": 0.5, "beta": 0.9}}


def test_seeds_run_every_configuration_k_times(tmp_path: Path) -> None:
    path = sweep(tmp_path, {"lr": {"values": [0.3]}})
    result = run(path, tmp_path / "r", seeds=2, seed_param="seed")
    trial = trials_of(result)[0]
    assert [received(result, 0, s)["seed_env"] for s in (0, 1)] == ["0", "1"]
    assert trial.user_attrs["seed_values"] == pytest.approx([0.1, 0.101])
    assert trial.value == pytest.approx(0.1005)


def test_poor_trial_is_pruned_and_its_process_is_gone(tmp_path: Path) -> None:
    path = sweep(tmp_path, {"lr": {"values": [0.01, 0.011, 0.012, 5.0]}, "mode": {"value": "bad"},
                            "epochs": {"value": 400}})  # fmt: skip
    result = run(path, tmp_path / "r", pruner="median")
    trials = {t.params["lr"]: t for t in trials_of(result)}
    assert trials[5.0].state.name == "PRUNED"
    pid = received(result, trials[5.0].number)["pid"]
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)


def test_failing_program_becomes_a_failed_trial_with_its_stderr(tmp_path: Path) -> None:
    path = sweep(tmp_path, {"mode": {"values": ["fail", "nometric", "ok"]}})
    result = run(path, tmp_path / "r")
    trials = {t.params["mode"]: t for t in trials_of(result)}
    assert trials["ok"].state.name == "COMPLETE"
    failed = trials["fail"]
    assert failed.state.name == "FAIL"
    assert "exited with status 1: something broke: boom" in failed.user_attrs["fail_reason"]
    tail = result["folder"] / "trials" / str(failed.number) / "stderr_tail.txt"
    assert "boom" in tail.read_text()
    reason = trials["nometric"].user_attrs["fail_reason"]
    assert "never reported the metric 'val_loss'; it reported: acc, train_loss" in reason


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"program": "missing.py"}, "program 'missing.py' does not exist"),
        ({"command": ["${interpreter}", "${program}", "${args_yaml}"]}, "not a macro dno honours"),
        ({"metric": None, "method": "bayes"}, "bayes needs a metric"),
    ],
)
def test_bad_program_sweeps(tmp_path: Path, change: dict, match: str) -> None:
    path = sweep(tmp_path, {"lr": {"values": [0.1]}})
    document = {**yaml.safe_load(path.read_text()), **change}
    path.write_text(yaml.safe_dump({k: v for k, v in document.items() if v is not None}))
    with pytest.raises(UsageError, match=match):
        run(path, tmp_path / "r")


def test_killing_dno_search_leaves_no_orphans_and_rerun_completes(tmp_path: Path) -> None:
    path = sweep(tmp_path, {"lr": {"values": [0.1, 0.2]}, "epochs": {"value": 3}})
    results = tmp_path / "r"
    command = [sys.executable, "-m", "dno", "search", "--space", str(path), "--results",
               str(results), "-q"]  # fmt: skip
    env = {**os.environ, "PROGRAM_SLOW": "1"}
    search = subprocess.Popen(command, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                              cwd=tmp_path)  # fmt: skip
    marker = results / "train-grid" / "trials" / "0" / "received.json"
    deadline = time.time() + 60
    while not marker.exists() and time.time() < deadline:
        time.sleep(0.1)
    time.sleep(0.3)
    pid = json.loads(marker.read_text())["pid"]
    os.killpg(search.pid, signal.SIGKILL)
    search.wait()
    deadline = time.time() + 15
    while time.time() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            break
        time.sleep(0.2)
    else:
        pytest.fail(f"the program {pid} outlived dno search")
    result = run(path, results)  # the rerun resumes: the killed trial runs again
    trials = trials_of(result)
    complete = [t for t in trials if t.state.name == "COMPLETE"]
    assert sorted(t.params["lr"] for t in complete) == [0.1, 0.2]
    assert any("dno:interrupted" in t.user_attrs for t in trials)
