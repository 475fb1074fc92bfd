"""``dno benchmark --tune``: every model searched with the same budget on seeds apart from the
protocol's, the best configurations retrained and tested once; the tuning curves, the ledger,
the provenance, data seeds, resume, and one line for each bad request."""

from __future__ import annotations

import csv
import itertools
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml

import dno.benchmark._execution as bench_run
import dno.benchmark._protocol as bench_protocol
from dno.benchmark import (
    FLAG_RATIO,
    Workers,
    build_leaderboard,
    build_ledger,
    expected_best,
    load_protocol,
    parse_protocol,
    run_benchmark,
    tune_protocol,
    write_leaderboard,
)
from dno.cli import main
from dno.errors import UsageError
from dno.tracking import trial_folder
from tiny_protocol import TINY as BASE
from tiny_protocol import write_protocol as _write

pytestmark = pytest.mark.filterwarnings("ignore:.*seeds")

TINY: dict[str, Any] = {
    **BASE,
    "description": "two models, two seeds, one epoch, tuned with two trials each",
    "metric": "rollout_rel_l2",
    "tune": {"trials": 2, "seed_base": 100},
}


@pytest.fixture(scope="module")
def tuned(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny protocol tuned and run by the command line (2 models x 2 trials, then 2 x 2
    runs, one epoch each)."""
    folder = tmp_path_factory.mktemp("tuned")
    path = _write(folder, TINY)
    out = folder / "out"
    args = ["benchmark", str(path), "--tune", "--out", str(out), "--threads", "1", "-q"]
    with pytest.MonkeyPatch.context() as patch:  # the command line, as the process has it
        patch.setattr("sys.argv", ["/usr/bin/dno", *args])
        assert main(args) == 0
    return out


def _trials(study: Path) -> list[dict[str, Any]]:
    return list(csv.DictReader((study / "summary.csv").open()))


def test_every_model_is_searched_with_the_same_budget_on_its_own_seeds(tuned: Path) -> None:
    for model in ("method_of_steps", "fno"):
        study = tuned / "tuning" / model
        trials = _trials(study)
        assert [t["state"] for t in trials] == ["complete", "complete"]
        for number in (0, 1):
            trial = trial_folder(study, number)
            config = json.loads((trial / "config.json").read_text())
            assert config["seed"] == 100 and config["max_epochs"] == 1  # never seed 0 or 1
            assert config["model_config"]["width"] == 8  # the protocol's own value stays fixed
            assert not (trial / "evaluation_test.json").exists()  # the search reads no test
        space = yaml.safe_load((tuned / "tuning" / "spaces" / f"{model}.yaml").read_text())
        assert space["parameters"]["width"] == {"value": 8}
        assert space["parameters"]["S"] == {"value": 16}
    ledger = json.loads((tuned / "ledger.json").read_text())
    assert ledger["equal"] and not [c for c in ledger["checks"] if not c["equal"]]
    tune_checks = {c["what"]: c["values"] for c in ledger["checks"] if c["phase"] == "tune"}
    assert tune_checks["trials"] == {"method_of_steps": 2, "fno": 2}
    assert tune_checks["seeds"] == {"method_of_steps": [100], "fno": [100]}
    assert tune_checks["search"] == {"method_of_steps": "random", "fno": "random"}
    assert tune_checks["objective"]["fno"] == "val_rollout_rel_l2"


def test_the_best_trial_is_what_the_runs_train(tuned: Path) -> None:
    board = json.loads((tuned / "leaderboard.json").read_text())
    assert board["tuned"] is True
    for model in ("method_of_steps", "fno"):
        trials = _trials(tuned / "tuning" / model)
        best = min(trials, key=lambda t: float(t["val_rollout_rel_l2"]))
        record = board["tuning"][model]
        assert record["best_trial"] == int(best["trial"])
        assert record["best_value"] == pytest.approx(float(best["val_rollout_rel_l2"]))
        trial = trial_folder(tuned / "tuning" / model, int(best["trial"]))
        chosen = json.loads((trial / "trial.json").read_text())["params"]
        assert record["params"] == {k: v for k, v in chosen.items() if k not in ("width", "S")}
        for seed in (0, 1):
            run = json.loads((tuned / "runs" / model / f"seed-{seed}" / "config.json").read_text())
            flat = {**run, **run["model_config"]}
            assert all(flat[k] == v for k, v in record["params"].items())
            assert run["seed"] == seed and run["max_epochs"] == 1
        row = next(r for r in board["rows"] if r["model"] == model)
        assert row["tuned"] is True and row["tuning_trials"] == 2
        assert json.loads(row["tuned_params"]) == record["params"]


def test_tuning_curves_come_from_the_trials(tuned: Path) -> None:
    board = json.loads((tuned / "leaderboard.json").read_text())
    for model, curve in board["tuning_curves"].items():
        values = [float(t["val_rollout_rel_l2"]) for t in _trials(tuned / "tuning" / model)]
        mean, sd = expected_best(values, lower_is_better=True)
        assert curve["n"] == [1, 2] and curve["expected"] == pytest.approx(mean.tolist())
        assert curve["sd"] == pytest.approx(sd.tolist())
        assert curve["expected"][0] == pytest.approx(np.mean(values))  # one trial: the mean
    markdown = (tuned / "leaderboard.md").read_text()
    assert "| method_of_steps (1) |" not in markdown
    assert "tuned (2 trials)" in markdown and "### Tuning curves" in markdown
    assert "Configurations: tuned." in markdown and "seed 100" in markdown
    assert "## Budget ledger (ledger.json)" in markdown and "Every check held." in markdown
    assert "same dataset" in markdown  # the variance the intervals hold
    page = (tuned / "report" / "index.html").read_text()
    assert "<section id='tuning'>" in page and "Tuning curves" in page
    assert (tuned / "report" / "figures" / "tiny" / "tuning_curves.png").stat().st_size > 0


def test_ledger_sums_the_runs_own_files(tuned: Path) -> None:
    ledger = json.loads((tuned / "ledger.json").read_text())
    for model, phases in ledger["models"].items():
        assert list(phases) == ["tune", "retrain", "test"]
        trials = _trials(tuned / "tuning" / model)
        assert phases["tune"]["trials"] == 2
        assert phases["tune"]["epochs"] == sum(float(t["epochs_run"]) for t in trials)
        results = [
            json.loads((tuned / "runs" / model / f"seed-{s}" / "final_results.json").read_text())
            for s in (0, 1)
        ]
        retrain = phases["retrain"]
        assert retrain["seeds"] == [0, 1] and retrain["epochs"] == 2
        assert retrain["optimizer_steps"] == sum(r["optimizer_steps"] for r in results)
        assert retrain["cpu_seconds"] == pytest.approx(sum(r["cpu_seconds"] for r in results))
        assert retrain["wall_seconds"] == pytest.approx(sum(r["seconds"] for r in results))
        assert (
            retrain["parameters"]
            == results[0]["parameters"]
            == phases["tune"]["parameters"]["chosen"]
        )
        assert retrain["devices"] == ["cpu"] and phases["test"]["evaluations"] == 2
        for r in results:
            assert r["optimizer_steps"] == r["epochs_run"] * r["steps_per_epoch"] > 0
            assert r["cpu_seconds"] > 0


def test_provenance_in_every_result(tuned: Path) -> None:
    board = json.loads((tuned / "leaderboard.json").read_text())
    results = json.loads((tuned / "runs" / "fno" / "seed-0" / "final_results.json").read_text())
    for record in (board["provenance"], results["provenance"]):
        assert {"dno_version", "git", "torch", "numpy", "optuna", "platform", "device",
                "threads", "command"} <= set(record)  # fmt: skip
        assert record["torch"] and record["numpy"] and record["optuna"]
        if record["git"] is not None:  # run from a checkout
            assert len(record["git"]["commit"]) == 40 and isinstance(record["git"]["dirty"], bool)
    command = board["provenance"]["command"]
    assert command.startswith("dno benchmark ")
    assert command.endswith(f" --tune --out {tuned} --threads 1 -q")
    assert results["provenance"]["device"] == "cpu"
    assert json.loads((tuned / "benchmark.json").read_text())["provenance"]["dno_version"]


def test_rerun_trains_nothing_again(tuned: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    before = json.loads((tuned / "leaderboard.json").read_text())

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("something finished was trained again")

    import dno.compare._comparison as compare_run
    import dno.search._runner as search_runner

    monkeypatch.setattr(search_runner, "train", refuse)
    monkeypatch.setattr(compare_run, "train", refuse)
    monkeypatch.setattr(bench_run, "evaluate_run", refuse)
    protocol = tune_protocol(
        parse_protocol(TINY, source="tiny", tune=True), tuned, Workers(threads=1)
    )
    runs = run_benchmark(protocol, tuned, Workers(1, threads=1))
    assert not any(r.trained_now for r in runs)
    board = build_leaderboard(protocol, runs)
    assert board.values["rollout_rel_l2"] == before["values"]["rollout_rel_l2"]
    assert {m: r["params"] for m, r in protocol.tuning.items()} == {
        m: r["params"] for m, r in before["tuning"].items()
    }


def test_more_trials_resume_the_studies(tmp_path: Path) -> None:
    """A rerun with more trials keeps the finished ones and runs only the new ones."""
    one = {**TINY, "models": {"fno": {"set": {"width": 8}}, "lag_stack": {"set": {"width": 8}}}}
    first = tune_protocol(parse_protocol(one, source="t", tune=1), tmp_path, Workers(threads=1))
    trial = trial_folder(tmp_path / "tuning" / "fno", 0) / "final_results.json"
    written = trial.stat().st_mtime_ns
    second = tune_protocol(parse_protocol(one, source="t", tune=2), tmp_path, Workers(threads=1))
    assert trial.stat().st_mtime_ns == written
    assert first.tuning["fno"]["values"][0] == second.tuning["fno"]["values"][0]
    assert second.tuning["fno"]["trials"] == 2 and len(second.tuning["fno"]["values"]) == 2


def test_an_untuned_protocol_is_refused_by_run_benchmark(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="tune_protocol"):
        run_benchmark(parse_protocol(TINY, source="t", tune=True), tmp_path)
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--tune", "0"], "argument --tune: expected a positive integer, got '0'"),
        (["--tune", "-2"], "argument --tune: expected a positive integer, got '-2'"),
    ],
)
def test_bad_trial_counts_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    path = _write(tmp_path, TINY)
    with pytest.raises(SystemExit) as exited:  # argparse's own exit
        main(["benchmark", str(path), "--out", str(tmp_path / "out"), *args])
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists()


def test_overlapping_seeds_and_a_missing_space_are_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "out"
    overlap = _write(tmp_path, {**TINY, "tune": {"trials": 2, "seed_base": 1}}, "overlap.yaml")
    assert main(["benchmark", str(overlap), "--tune", "--out", str(out), "-q"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].endswith(
        "the tuning seeds (1) include the protocol's seed 1; a tuned configuration is tested on "
        "seeds its search never used: set tune: seed_base above the protocol's seeds"
    )
    real = bench_protocol.shipped_space_file
    monkeypatch.setattr(
        bench_protocol, "shipped_space_file",
        lambda model: tmp_path / "none.yaml" if model == "fno" else real(model),
    )  # fmt: skip
    path = _write(tmp_path, TINY)
    assert main(["benchmark", str(path), "--tune", "--out", str(out), "-q"]) == 2
    assert "model 'fno' (fno) has no search space" in capsys.readouterr().err
    assert not out.exists()
    without = {k: v for k, v in TINY.items() if k != "tune"}
    with pytest.raises(UsageError, match="no tune: trials for --tune; give --tune N"):
        parse_protocol(without, source="p", tune=True)
    with pytest.raises(UsageError, match="tune: search='grid'; expected random or bayesian"):
        parse_protocol({**TINY, "tune": {"trials": 2, "search": "grid"}}, source="p", tune=True)
    with pytest.raises(UsageError, match="tune: unknown key 'trails'"):
        parse_protocol({**TINY, "tune": {"trails": 2}}, source="p", tune=True)


def test_a_budget_sets_its_own_trials() -> None:
    protocol = {**TINY, "budgets": {"small": {"tune": {"trials": 3}}, "full": {}}}
    assert parse_protocol(protocol, tune=True).tune.trials == 3  # type: ignore[union-attr]
    assert parse_protocol(protocol, budget="full", tune=True).tune.trials == 2  # type: ignore[union-attr]
    assert parse_protocol(protocol, tune=5).tune.trials == 5  # type: ignore[union-attr]
    assert parse_protocol(protocol).tune is None
    settings = parse_protocol(protocol, tune=True).tune
    assert settings is not None and (settings.max_epochs, settings.patience) == (1, 8)
    for name in ("delayed_logistic", "hsfno_reaction_diffusion"):
        shipped = load_protocol(name, "small", tune=True).tune
        assert shipped is not None and shipped.trials >= 1
        assert not set(shipped.seed_list()) & set(load_protocol(name, "small").seeds)


def test_data_seeds_draw_a_dataset_per_seed(tmp_path: Path) -> None:
    protocol = parse_protocol({**TINY, "data_seeds": True}, source="t")
    runs = run_benchmark(protocol, tmp_path, Workers(1, threads=1))
    files = sorted(p.name for p in (tmp_path / "data").iterdir())
    assert len(files) == 2 and "seed0" in files[0] and "seed1" in files[1]
    for run in runs:
        config = json.loads((tmp_path / run.path / "config.json").read_text())
        assert config["data"]["seed"] == run.seed and run.cost["data"].startswith(
            f"neutral-n12-seed{run.seed}-"
        )
    board = build_leaderboard(protocol, runs)
    files_written = write_leaderboard(board, tmp_path)
    markdown = files_written["md"].read_text()
    assert "data seeds 0, 1: one dataset per training seed" in markdown
    assert "the data drawn" in json.loads(files_written["json"].read_text())["variance"]
    assert "Configurations: each model's own (default) configuration" in markdown
    assert parse_protocol(TINY, source="t").data_file() == protocol.data_file()  # seed 0's
    tuned = parse_protocol({**TINY, "data_seeds": True}, source="t", tune=True)
    assert tuned.tune_data_seed == 100 and tuned.data_seed(tuned.tune_data_seed) == 100
    assert parse_protocol(TINY, source="t", tune=True).tune_data_seed is None  # one dataset
    with pytest.raises(UsageError, match="data_seeds 'yes'; expected true or false"):
        parse_protocol({**TINY, "data_seeds": "yes"}, source="t")


def _brute_force(values: list[float], n: int, lower_is_better: bool) -> tuple[float, float]:
    """The mean and sd of the best of n draws with replacement, over every draw."""
    pick = min if lower_is_better else max
    best = [pick(draw) for draw in itertools.product(values, repeat=n)]
    return float(np.mean(best)), float(np.std(best))


@pytest.mark.parametrize("lower_is_better", [True, False])
def test_expected_best_is_the_best_of_n_draws(lower_is_better: bool) -> None:
    values = [0.3, 0.1, 0.7, 0.1, 0.45]
    mean, sd = expected_best(values, lower_is_better)
    for n in range(1, len(values) + 1):
        expected_mean, expected_sd = _brute_force(values, n, lower_is_better)
        assert mean[n - 1] == pytest.approx(expected_mean, rel=1e-12)
        assert sd[n - 1] == pytest.approx(expected_sd, rel=1e-9, abs=1e-12)
    assert np.all(np.diff(mean) <= 0) if lower_is_better else np.all(np.diff(mean) >= 0)
    with pytest.raises(UsageError, match="finite scores"):
        expected_best([0.1, float("nan")], True)


def _run(model: str, seed: int, max_epochs: int, seconds: float) -> bench_run.RunResult:
    return bench_run.RunResult(
        model, seed, f"runs/{model}/seed-{seed}", "completed",
        evaluation={"rel_l2": 0.1, "rollout_rel_l2": 0.2, "horizon_delays": 2},
        cost={"epochs": 3, "optimizer_steps": 30, "parameters": 10, "wall_seconds": seconds,
              "cpu_seconds": seconds, "device": "cpu", "max_epochs": max_epochs,
              "patience": 8, "data": "d.h5",
              "test": {"seconds": 1.0, "cpu_seconds": 0.5, "device": "cpu"}},
    )  # fmt: skip


def _record(trials: int, seconds: float) -> dict[str, Any]:
    return {
        "trials": trials, "max_epochs": 1, "patience": 8, "search": "random",
        "sampler_seed": 0, "seeds": [100], "data": "d.h5", "objective": "val_rollout_rel_l2",
        "pruner": "none", "epochs": trials, "optimizer_steps": 10 * trials, "parameters": [10],
        "wall_seconds": seconds, "cpu_seconds": seconds, "devices": ["cpu"],
        "values": [0.5] * trials, "best_trial": 0, "best_value": 0.5, "params": {"lr": 0.001},
        "curve": {"n": list(range(1, trials + 1)), "expected": [0.5] * trials,
                  "sd": [0.0] * trials},
        "objective_direction": "minimize", "direction": "minimize",
    }  # fmt: skip


def test_unequal_budgets_are_found_and_slow_tuning_is_flagged(tmp_path: Path) -> None:
    protocol = parse_protocol({**TINY, "seeds": 5}, source="t")
    three = {**TINY["models"], "lag_stack": {}}
    protocol = parse_protocol({**TINY, "seeds": 5, "models": three}, source="t")
    runs = [
        _run(model, seed, 2 if (model, seed) == ("fno", 3) else 1, 1.0)
        for seed in protocol.seeds for model in protocol.models
    ]  # fmt: skip
    tuning = {"method_of_steps": _record(2, 10.0), "fno": _record(3, 12.0),
              "lag_stack": _record(2, 20.0)}  # fmt: skip
    from dataclasses import replace

    tuned = replace(protocol, tune=parse_protocol(TINY, source="t", tune=True).tune, tuning=tuning)
    ledger = build_ledger(tuned, runs)
    differing = {(c["phase"], c["what"]) for c in ledger["checks"] if not c["equal"]}
    assert differing == {("tune", "trials"), ("retrain", "max_epochs")}
    assert not ledger["equal"]
    assert ledger["flagged"] == {
        "lag_stack": {
            "wall_seconds": pytest.approx(20.0 / 12.0),
            "cpu_seconds": pytest.approx(20.0 / 12.0),
        }
    }
    assert 20.0 / 12.0 > FLAG_RATIO > 1.0
    board = build_leaderboard(tuned, runs)
    markdown = write_leaderboard(board, tmp_path)["md"].read_text()
    assert "**Not equal**: tune trials (method_of_steps: 2; fno: 3; lag_stack: 2)." in markdown
    assert "**1.67x, flagged**" in markdown
    assert json.loads((tmp_path / "ledger.json").read_text())["equal"] is False
