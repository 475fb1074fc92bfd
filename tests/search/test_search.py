"""Studies end to end, on a small real dataset with real (tiny) training."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import optuna
import pytest
import yaml

import dno.data as data
from dno.errors import DnoError, UsageError
from dno.search import SearchOptions, load_spec, open_storage, run_search

TINY = {"S": {"value": 16}, "layers": {"value": 1}, "batch_size": {"value": 64}}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("search") / "mackey.h5"
    data.generate_dataset("mackey", 16, 0, path, t_end=120.0)
    return path


def space_file(folder: Path, parameters: dict, **extra: object) -> Path:
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump({"parameters": {**TINY, **parameters}, **extra}))
    return path


def options(dataset: Path, results: Path, **kwargs: object) -> SearchOptions:
    base = {
        "model": "method_of_steps", "family": "mackey", "data": dataset, "results": results,
        "max_epochs": 2, "confirm_top": 0, "progress": False, "base": {"device": "cpu"},
    }  # fmt: skip
    return SearchOptions(**{**base, **kwargs})  # type: ignore[arg-type]


def study_of(opts: SearchOptions, name: str) -> optuna.Study:
    storage, _ = open_storage(opts.storage, opts.results, name)
    return optuna.load_study(study_name=name, storage=storage)


def quiet(_: str) -> None:
    pass


def test_grid_runs_exactly_the_declared_combinations(dataset: Path, tmp_path: Path) -> None:
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]},
                                  "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True,
                                         "grid": [1e-3, 3e-3]}})  # fmt: skip
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="g")
    result = run_search(opts, log=quiet)
    trials = study_of(opts, "g").get_trials()
    assert sorted((t.params["width"], t.params["lr"]) for t in trials) == [
        (4, 1e-3), (4, 3e-3), (8, 1e-3), (8, 3e-3)
    ]  # fmt: skip
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    rows = list(csv.DictReader((result["folder"] / "summary.csv").open()))
    assert len(rows) == 4 and {"param_width", "param_lr", "val_rel_l2", "epochs_run"} <= set(
        rows[0]
    )
    best = yaml.safe_load((result["folder"] / "best_config.yaml").read_text())
    assert best["config"]["model"] == "method_of_steps" and best["config"]["S"] == 16
    for t in trials:  # every trial folder holds the run as DESIGN.md lays it out
        folder = result["folder"] / "trials" / str(t.number)
        assert {"config.json", "metrics.csv", "final_results.json", "artifacts"} <= {
            p.name for p in folder.iterdir()
        }
    # the prediction figure of the 3 trials a report shows, not of the worst one
    worst = max(trials, key=lambda t: t.values[0]).number
    drawn = {
        t.number
        for t in trials
        if (
            result["folder"] / "trials" / str(t.number) / "artifacts" / "prediction_vs_truth.png"
        ).is_file()
    }
    assert drawn == {t.number for t in trials} - {worst}


def test_two_workers_run_every_trial_and_draw_the_shown_figures(
    dataset: Path, tmp_path: Path
) -> None:
    """Two local workers (the second forked where it is safe): every trial once, and the
    figures of the trials the report shows, drawn while the other worker finished or after."""
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]},
                                  "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True,
                                         "grid": [1e-3, 3e-3]}})  # fmt: skip
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="w2", workers=2,
                   threads=1)  # fmt: skip
    lines: list[str] = []
    result = run_search(opts, log=lines.append)
    assert any(line.startswith("2 local workers: this process and 1 ") for line in lines)
    trials = study_of(opts, "w2").get_trials()
    assert len(trials) == 4 and all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    assert len({t.user_attrs["dno:worker"]["pid"] for t in trials}) in (1, 2)
    shown = sorted(trials, key=lambda t: t.values[0])[:3]
    for t in shown:
        figure = result["folder"] / "trials" / str(t.number) / "artifacts"
        assert (figure / "prediction_vs_truth.png").is_file()


def test_same_seed_proposes_the_same_configurations(dataset: Path, tmp_path: Path) -> None:
    space = space_file(
        tmp_path,
        {
            "width": {"type": "categorical", "choices": [4, 8, 12]},
            "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
        },
    )
    for search in ("random", "bayesian"):
        proposals = []
        for name in ("a", "b"):
            opts = options(dataset, tmp_path / search, search=search, space=space, study=name,
                           n_trials=4, seed=7, pruner="none", max_epochs=1)  # fmt: skip
            run_search(opts, log=quiet)
            proposals.append([t.params for t in study_of(opts, name).get_trials()])
        assert proposals[0] == proposals[1]


def test_objective_never_reads_the_test_split(dataset: Path, tmp_path: Path) -> None:
    poisoned = tmp_path / "poisoned.h5"
    shutil.copy(dataset, poisoned)
    with h5py.File(poisoned, "r+") as f:  # finite (a NaN is refused at the door), absurd
        f["test"]["y"][...] = 1e6
        f["test"]["history_y"][...] = -1e6
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]}})
    values = []
    for name, path in (("clean", dataset), ("dirty", poisoned)):
        opts = options(path, tmp_path / name, search="random", space=space, study="s",
                       n_trials=2, pruner="none")  # fmt: skip
        run_search(opts, log=quiet)
        values.append([t.value for t in study_of(opts, "s").get_trials()])
    assert values[0] == values[1] and all(np.isfinite(values[0]))


def test_failed_trial_is_recorded_and_the_study_goes_on(dataset: Path, tmp_path: Path) -> None:
    space = space_file(tmp_path, {"modes_theta": {"type": "categorical", "choices": [4, 12]}})
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="f")
    result = run_search(opts, log=quiet)
    states = {t.params["modes_theta"]: t for t in study_of(opts, "f").get_trials()}
    assert states[4].state == optuna.trial.TrialState.COMPLETE
    failed = states[12]
    assert failed.state == optuna.trial.TrialState.FAIL
    assert "modes_theta=12 exceeds S=16" in failed.user_attrs["fail_reason"]
    final = (result["folder"] / "trials" / str(failed.number) / "final_results.json").read_text()
    assert '"status": "failed"' in final and "modes_theta=12" in final


def test_pruned_trials_are_recorded_as_pruned(dataset: Path, tmp_path: Path) -> None:
    space = space_file(tmp_path, {"lr": {"type": "float", "low": 1e-6, "high": 1e-2, "log": True},
                                  "patience": {"value": 0}})  # fmt: skip
    opts = options(dataset, tmp_path / "r", search="random", space=space, study="p",
                   n_trials=8, max_epochs=4, pruner="median", seed=1)  # fmt: skip
    run_search(opts, log=quiet)
    trials = study_of(opts, "p").get_trials()
    pruned = [t for t in trials if t.state == optuna.trial.TrialState.PRUNED]
    assert pruned, "a median pruner over lr in [1e-6, 1e-2] should stop some trials"
    assert all(t.user_attrs["epochs_run"] < 4 for t in pruned)


def test_two_local_workers_share_a_study(dataset: Path, tmp_path: Path) -> None:
    space = space_file(
        tmp_path,
        {
            "width": {"type": "categorical", "choices": [4, 6, 8]},
            "dropout": {"type": "categorical", "choices": [0.0, 0.1]},
        },
    )
    # two workers from the device list (CPU names here), each with its own one-thread share
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="w",
                   devices="cpu,cpu", threads=1, max_epochs=1, pruner="none")  # fmt: skip
    run_search(opts, log=quiet)
    trials = study_of(opts, "w").get_trials()
    for t in trials:  # what torch.get_num_threads() said inside the worker, and its device
        results = json.loads((tmp_path / "r" / "w" / "trials" / str(t.number) /
                              "final_results.json").read_text())  # fmt: skip
        assert (results["threads"], results["device"]) == (1, "cpu")
    combos = [(t.params["width"], t.params["dropout"]) for t in trials]
    assert sorted(combos) == sorted((w, d) for w in (4, 6, 8) for d in (0.0, 0.1))
    assert all(t.state == optuna.trial.TrialState.COMPLETE for t in trials)
    pids = {t.user_attrs["dno:worker"]["pid"] for t in trials}
    # this process is the first worker (it trains while the second starts), the second joins
    # when it has started (here the trials may all be done before it has)
    assert os.getpid() in pids and len(pids) <= 2


def _kill_mid_trial(dataset: Path, results: Path, space: Path, extra: list[str]) -> None:
    """Start `dno search` and SIGKILL its process group once trial 0 has trained an epoch."""
    command = [sys.executable, "-m", "dno", "search", "--model", "method_of_steps", "--family",
               "mackey", "--data", str(dataset), "--results", str(results), "--space", str(space),
               "--search", "grid", "--study", "k", "--max-epochs", "60", "--confirm-top", "0",
               "--device", "cpu", "-q", *extra]  # fmt: skip
    process = subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
    metrics = results / "k" / "trials" / "0" / "metrics.csv"
    deadline = time.time() + 120
    while time.time() < deadline:
        if metrics.exists() and len(metrics.read_text().splitlines()) >= 2:
            break
        assert process.poll() is None, "dno search ended before it could be killed"
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()


def _check_resumed(opts: SearchOptions) -> None:
    run_search(opts, log=quiet)
    study = study_of(opts, "k")
    trials = study.get_trials()
    complete = [t for t in trials if t.state == optuna.trial.TrialState.COMPLETE]
    interrupted = [t for t in trials if "dno:interrupted" in t.user_attrs]
    assert len(complete) == 2 and len(interrupted) == 1
    retry = [t for t in complete if t.user_attrs.get("dno:retry_of") == interrupted[0].number]
    assert len(retry) == 1 and retry[0].params == interrupted[0].params
    assert load_spec(study).n_trials == 2


def test_search_killed_mid_trial_resumes_and_reruns_it(dataset: Path, tmp_path: Path) -> None:
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]},
                                  "patience": {"value": 0}})  # fmt: skip
    _kill_mid_trial(dataset, tmp_path / "r", space, [])
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="k", max_epochs=60)
    _check_resumed(opts)


@pytest.mark.postgres
def test_killed_search_resumes_with_postgresql(
    dataset: Path, tmp_path: Path, postgres_url: str
) -> None:
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]},
                                  "patience": {"value": 0}})  # fmt: skip
    url = postgres_url
    engine_url = url.rsplit("/", 1)[0] + "/postgres"
    name = f"dno_test_{os.getpid()}_{int(time.time())}"
    import sqlalchemy

    engine = sqlalchemy.create_engine(engine_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(sqlalchemy.text(f"CREATE DATABASE {name}"))
    db = url.rsplit("/", 1)[0] + f"/{name}"
    _kill_mid_trial(dataset, tmp_path / "r", space, ["--storage", db])
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="k",
                   max_epochs=60, storage=db)  # fmt: skip
    _check_resumed(opts)
    # the shared study's report, from the database by name
    from dno.report import write_report

    report = write_report(["k"], results=tmp_path / "r", storage=db, out=tmp_path / "report",
                          interactive=False)  # fmt: skip
    (study,) = report.studies
    assert study.name == "k" and len(study.complete()) == 2
    assert (tmp_path / "report" / "index.html").is_file()


@pytest.mark.parametrize(
    ("kwargs", "parameters", "error", "match"),
    [
        ({}, {"lags": {"type": "int", "low": 1, "high": 3}}, UsageError,
         "unknown config key 'lags'.*keys of model 'method_of_steps'"),
        ({}, {"lr": {"type": "float", "low": 1e-3, "high": 1e-3}}, UsageError, "empty range"),
        ({"storage": "postgresql://nobody@127.0.0.1:1/nothing"}, {}, DnoError,
         "cannot reach storage postgresql://nobody@127.0.0.1:1/nothing"),
        ({"storage": "mongodb://x"}, {}, UsageError, "is not supported"),
        ({"search": "grid"}, {"lr": {"type": "float", "low": 1e-4, "high": 1e-2}}, UsageError,
         "explicit values for the continuous range 'lr'"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error(
    dataset: Path, tmp_path: Path, kwargs: dict, parameters: dict, error: type, match: str
) -> None:
    space = space_file(tmp_path, parameters or {"width": {"type": "categorical", "choices": [4]}})
    with pytest.raises(error, match=match):
        run_search(options(dataset, tmp_path / "r", space=space, **kwargs), log=quiet)


def test_existing_study_with_another_model_is_refused_and_kept(
    dataset: Path, tmp_path: Path
) -> None:
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4]}})
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="same")
    run_search(opts, log=quiet)
    other = options(dataset, tmp_path / "r", search="grid", space=space, study="same", model="fno")
    with pytest.raises(UsageError, match="exists with another model"):
        run_search(other, log=quiet)
    wider = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]}})
    with pytest.raises(UsageError, match="exists with another space"):
        run_search(
            options(dataset, tmp_path / "r", search="grid", space=wider, study="same"), log=quiet
        )
    assert len(study_of(opts, "same").get_trials()) == 1


def test_wandb_logs_each_trial_offline_without_prompting(
    dataset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pytest.importorskip("wandb")
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("WANDB_DISABLE_GIT", "true")
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]}})
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="wb", wandb=True,
                   max_epochs=2, pruner="none")  # fmt: skip
    result = run_search(opts, log=quiet)
    for number in (0, 1):
        runs = list((result["folder"] / "trials" / str(number) / "wandb").glob("offline-run-*"))
        assert len(runs) == 1, runs
        assert any(p.suffix == ".wandb" for p in runs[0].iterdir())


def test_multi_objective_study_has_a_pareto_front(dataset: Path, tmp_path: Path) -> None:
    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8, 16]}})
    opts = options(dataset, tmp_path / "r", search="multi", space=space, study="m", n_trials=3,
                   objectives=["val_rel_l2", "n_parameters"], max_epochs=1)  # fmt: skip
    result = run_search(opts, log=quiet)
    study = study_of(opts, "m")
    assert len(study.directions) == 2 and study.best_trials
    # n_parameters, the name before the metric table, is read as parameters
    assert set(result["summary"]["best"]["objectives"]) == {"val_rel_l2", "parameters"}
    assert study.metric_names == ["val_rel_l2", "parameters"]


def test_trials_and_replay_commands(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from dno.cli import main

    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4, 8]}})
    opts = options(dataset, tmp_path / "r", search="grid", space=space, study="t", pruner="none")
    run_search(opts, log=quiet)
    assert main(["trials", str(tmp_path / "r" / "t")]) == 0
    out = capsys.readouterr().out
    assert "grid search of method_of_steps on mackey" in out and "width=8" in out
    assert main(["replay", str(tmp_path / "r" / "t"), "1"]) == 0
    assert "reproduced exactly" in capsys.readouterr().out
    assert main(["trials", str(tmp_path / "nothing")]) == 2
    assert "no study" in capsys.readouterr().err


def test_median_pruner_settings_reach_optuna_and_may_change_on_resume(
    dataset: Path, tmp_path: Path
) -> None:
    from dno.search._search import build_spec
    from dno.search._study_lifecycle import make_pruner

    space = space_file(tmp_path, {"width": {"type": "categorical", "choices": [4]}})
    default = make_pruner(build_spec(options(dataset, tmp_path, space=space, max_epochs=30))[0])
    assert isinstance(default, optuna.pruners.MedianPruner)
    assert (default._n_warmup_steps, default._n_startup_trials) == (3, 3)
    chosen = options(dataset, tmp_path / "r", space=space, search="grid", study="p",
                     pruner_warmup_steps=5, pruner_startup_trials=1)  # fmt: skip
    pruner = make_pruner(build_spec(chosen)[0])
    assert (pruner._n_warmup_steps, pruner._n_startup_trials) == (5, 1)
    run_search(chosen, log=quiet)
    # a rerun with another pruner resumes the same study (the pruner only decides when to stop)
    run_search(options(dataset, tmp_path / "r", space=space, search="grid", study="p"), log=quiet)
    assert load_spec(study_of(chosen, "p")).pruner == {"type": "median", "warmup": 2, "startup": 3}
