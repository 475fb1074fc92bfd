"""Searching on any metric of the table: rollout, stability, several at once; what a pruned
trial keeps; one clear line for a bad objective."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import optuna
import pytest
import yaml

import dno.data as data
from dno.cli import main
from dno.errors import UsageError
from dno.search import SearchOptions, objective_names, open_storage, run_search

TINY = {"S": {"value": 16}, "layers": {"value": 1}, "width": {"values": [4, 8]}}


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("objectives") / "mackey.h5"
    data.generate_dataset("mackey", 16, 0, path, t_end=120.0)
    return path


def _space(folder: Path, **extra: object) -> Path:
    path = folder / "space.yaml"
    path.write_text(yaml.safe_dump({"parameters": TINY, **extra}))
    return path


def _options(dataset: Path, folder: Path, **kwargs: object) -> SearchOptions:
    base = {
        "model": "method_of_steps", "family": "mackey", "data": dataset,
        "results": folder / "r", "space": _space(folder), "max_epochs": 2, "confirm_top": 0,
        "progress": False, "base": {"device": "cpu"}, "quiet": True,
    }  # fmt: skip
    return SearchOptions(**{**base, **kwargs})  # type: ignore[arg-type]


def _study(opts: SearchOptions, name: str) -> optuna.Study:
    storage, _ = open_storage(opts.storage, opts.results, name)
    return optuna.load_study(study_name=name, storage=storage)


def test_multi_objective_search_on_rollout_and_stability(dataset: Path, tmp_path: Path) -> None:
    objectives = ["val_rel_l2", "val_rollout_rel_l2", "val_noise_gain"]
    opts = _options(dataset, tmp_path, search="multi", objectives=objectives, n_trials=3,
                    study="m")  # fmt: skip
    result = run_search(opts, log=lambda _: None)
    study = _study(opts, "m")
    assert study.metric_names == objectives  # optuna-dashboard shows these names
    assert [d.name for d in study.directions] == ["MINIMIZE"] * 3
    rows = list(csv.DictReader((result["folder"] / "summary.csv").open()))
    complete = [r for r in rows if r["state"] == "complete"]
    assert len(complete) == 3
    for row in complete:  # a finite value for each objective of every complete trial
        assert all(math.isfinite(float(row[name])) for name in objectives)
        assert math.isfinite(float(row["val_valid_time"]))  # every other score recorded too
    # each trial kept its epoch by the first objective
    config = json.loads((result["folder"] / "trials" / "0" / "config.json").read_text())
    assert config["select"] == "val_rel_l2"


def test_a_rollout_objective_selects_each_trials_epoch_on_it(dataset: Path, tmp_path: Path) -> None:
    opts = _options(dataset, tmp_path, search="random", objectives=["val_rollout_rel_l2"],
                    n_trials=2, study="r", pruner="none")  # fmt: skip
    result = run_search(opts, log=lambda _: None)
    for trial in _study(opts, "r").get_trials():
        folder = result["folder"] / "trials" / str(trial.number)
        final = json.loads((folder / "final_results.json").read_text())
        assert final["select"] == "val_rollout_rel_l2"
        assert trial.values == [final["val_rollout_rel_l2"]]


def test_a_pruned_trial_keeps_what_it_had(dataset: Path, tmp_path: Path) -> None:
    """With a pruner that stops every trial after its first epoch, summary.csv still has the
    scores of each trial's best epoch."""
    opts = _options(dataset, tmp_path, search="random", n_trials=2, study="p", max_epochs=3)
    import dno.search._study_lifecycle as study_module

    class PruneAll(optuna.pruners.BasePruner):
        def prune(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> bool:
            return True

    original = study_module.make_pruner
    study_module.make_pruner = lambda spec: PruneAll()  # type: ignore[assignment]
    try:
        result = run_search(opts, log=lambda _: None)
    finally:
        study_module.make_pruner = original
    rows = list(csv.DictReader((result["folder"] / "summary.csv").open()))
    assert [r["state"] for r in rows] == ["pruned", "pruned"]
    for row in rows:
        assert math.isfinite(float(row["val_rel_l2"]))
        assert math.isfinite(float(row["val_rollout_rel_l2"]))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"objectives": ["val_rolout_rel_l2"]}, "did you mean 'val_rollout_rel_l2'"),
        ({"objectives": ["test_rel_l2"]}, "a search reads the validation split only"),
        ({"objectives": ["val_amplitude_ratio"]}, "cannot be an objective"),
        ({"objectives": ["val_rel_l2", "val_rel_l2"], "search": "multi"}, "objective twice"),
        ({"objectives": ["val_rel_l2", "parameters"]}, "2 objectives need --search multi"),
    ],
)
def test_a_bad_objective_is_one_clear_line(
    dataset: Path, tmp_path: Path, kwargs: dict, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        run_search(_options(dataset, tmp_path, study="bad", **kwargs), log=lambda _: None)
    assert not (tmp_path / "r" / "bad").exists()


def test_a_sweep_metric_is_read_from_the_table(dataset: Path, tmp_path: Path) -> None:
    space = tmp_path / "sweep.yaml"
    for metric, match in [
        ({"name": "val_rollout_rel", "goal": "minimize"}, "did you mean 'val_rollout_rel_l2'"),
        ({"name": "val_valid_time"}, "goal minimize for val_valid_time, whose direction is max"),
    ]:
        space.write_text(yaml.safe_dump({"method": "random", "metric": metric,
                                         "parameters": TINY}))  # fmt: skip
        with pytest.raises(UsageError, match=match):
            run_search(_options(dataset, tmp_path, space=space, study="s"), log=lambda _: None)


def test_a_rollout_objective_beyond_the_data_is_refused_before_any_trial(
    dataset: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main([
        "search", "--data", str(dataset), "--space", str(_space(tmp_path)), "--objective",
        "val_rollout_rel_l2", "--results", str(tmp_path / "r"), "--n-trials", "1",
        "--confirm-top", "0", "-q", "--study", "far", "--max-epochs", "1",
    ])  # fmt: skip
    assert code == 0  # 3 delays fit these trajectories
    long = _space(tmp_path, parameters={**TINY, "val_horizon_delays": {"value": 40}})
    code = main([
        "search", "--data", str(dataset), "--space", str(long), "--objective",
        "val_rollout_rel_l2", "--results", str(tmp_path / "r2"), "--n-trials", "1",
        "--confirm-top", "0", "-q", "--study", "far",
    ])  # fmt: skip
    error = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and len(error) == 1 and "40-delay horizon" in error[0], error


def test_every_objective_name_is_in_the_help() -> None:
    import contextlib
    import io

    out = io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.suppress(SystemExit):
        main(["search", "--help"])
    text = " ".join(out.getvalue().split())
    for name in objective_names():
        assert name in text, name


def test_the_confirmation_chooses_on_validation_and_tests_the_chosen_one_once(
    dataset: Path, tmp_path: Path
) -> None:
    opts = _options(dataset, tmp_path, search="random", n_trials=2, study="c", pruner="none",
                    confirm_top=2, confirm_seeds=1, objectives=["val_rollout_rel_l2"])  # fmt: skip
    result = run_search(opts, log=lambda _: None)
    rows = list(csv.DictReader((result["folder"] / "confirmation.csv").open()))
    assert len(rows) == 2 and sum(r["chosen"] == "True" for r in rows) == 1
    chosen = next(r for r in rows if r["chosen"] == "True")
    other = next(r for r in rows if r["chosen"] != "True")
    # chosen on validation (fresh seeds), and only the chosen one has test scores
    assert float(chosen["val_rollout_rel_l2_mean"]) <= float(other["val_rollout_rel_l2_mean"])
    assert math.isfinite(float(chosen["test_rollout_rel_l2"]))
    assert not other.get("test_rollout_rel_l2")
    best = yaml.safe_load((result["folder"] / "best_config.yaml").read_text())
    assert best["trial"] == int(chosen["trial"]) and best["chosen_by"].startswith("confirmation")


@pytest.mark.slow
def test_no_choice_reads_the_test_split(dataset: Path, tmp_path: Path) -> None:
    """The test split replaced by other (finite) values: the search, its trials, the
    confirmation's choice and best_config.yaml are the same; only the test scores differ."""
    import shutil

    import h5py
    import numpy as np

    other = tmp_path / "other.h5"
    shutil.copy(dataset, other)
    with h5py.File(other, "r+") as f:
        y = f["test/y"][...]
        f["test/y"][...] = np.where(np.isfinite(y), 3.0 * y + 1.0, y)  # finite, and wrong
    outcomes = []
    for name, data_file in (("clean", dataset), ("poisoned", other)):
        (tmp_path / name).mkdir()
        opts = _options(data_file, tmp_path / name, search="random", n_trials=2, study="h",
                        pruner="none", confirm_top=2, confirm_seeds=1)  # fmt: skip
        result = run_search(opts, log=lambda _: None)
        folder = result["folder"]
        rows = list(csv.DictReader((folder / "confirmation.csv").open()))
        summary = [
            {k: v for k, v in row.items() if k != "seconds"}  # wall time: the one difference
            for row in csv.DictReader((folder / "summary.csv").open())
        ]
        best = yaml.safe_load((folder / "best_config.yaml").read_text())
        chosen = [(r["trial"], r["chosen"], r["val_rel_l2_mean"]) for r in rows]
        tested = [r.get("test_rel_l2") for r in rows if r["chosen"] == "True"]
        outcomes.append((summary, best["trial"], chosen, tested))
    clean, poisoned = outcomes
    assert clean[:3] == poisoned[:3]  # every choice identical
    assert clean[3] != poisoned[3]  # the test split was read, once, at the end
