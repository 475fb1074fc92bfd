"""``dno benchmark --aggregate``: two tiny real benchmarks (two families, 3 and 2 seeds) read
back, normalised and aggregated; regimes, a model missing from a task, failed runs; one line for
each bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import yaml
from scipy import stats

from dno.benchmark import IN_DISTRIBUTION, aggregate_benchmarks
from dno.cli import main

pytestmark = pytest.mark.filterwarnings("ignore:.*seeds; a benchmark wants")


def protocol(family: str, seeds: int) -> dict[str, Any]:
    """Two models, ``seeds`` seeds, one epoch on a dozen trajectories: seconds each."""
    return {
        "name": f"tiny_{family}", "family": family, "seeds": seeds,
        "data": {"n": 12, "seed": 0, "t_end": 12.0}, "horizon_delays": 2,
        "evaluation": {"stability_windows": 4}, "baseline": "fno",
        "config": {"max_epochs": 1, "S": 16, "device": "cpu"},
        "models": {"method_of_steps": {"set": {"width": 8}}, "fno": {"set": {"width": 8}}},
    }  # fmt: skip


@pytest.fixture(scope="module")
def benchmarks(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """Two finished benchmarks of two families, run by the command line."""
    root = tmp_path_factory.mktemp("benchmarks")
    folders = []
    for family, seeds in (("neutral", 3), ("delayed_logistic", 2)):
        path = root / f"{family}.yaml"
        path.write_text(yaml.safe_dump(protocol(family, seeds)), encoding="utf-8")
        out = root / family
        assert main(["benchmark", str(path), "--out", str(out), "-q", "--no-report"]) == 0
        folders.append(out)
    return folders


@pytest.fixture(scope="module")
def aggregated(benchmarks: list[Path], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("aggregate")
    assert main(["benchmark", "--aggregate", *map(str, benchmarks), "--out", str(out), "-q"]) == 0
    return out


def board(folder: Path) -> dict[str, Any]:
    return dict(json.loads((folder / "leaderboard.json").read_text()))


@pytest.mark.slow
def test_the_aggregate_is_the_leaderboards_values_normalised(
    benchmarks: list[Path], aggregated: Path
) -> None:
    """Every number of aggregate.json from the leaderboards' per-seed values: each run over the
    baseline's median on its task, the IQM of the pooled runs, the per-task Mann-Whitney
    probability averaged over the tasks."""
    document = json.loads((aggregated / "aggregate.json").read_text())
    assert document["kind"] == "dno-aggregate" and document["baseline"] == "fno"
    assert document["metric"]["name"] == "rollout_rel_l2"
    assert list(document["regimes"]) == [IN_DISTRIBUTION]
    regime = document["regimes"][IN_DISTRIBUTION]
    normalised: dict[str, list[np.ndarray]] = {"method_of_steps": [], "fno": []}
    for folder, task in zip(benchmarks, regime["tasks"], strict=True):
        values = board(folder)["values"]["rollout_rel_l2"]
        median = float(np.median(values["fno"]))
        assert task["folder"] == str(folder) and task["baseline_median"] == median
        for model, runs in normalised.items():
            runs.append(np.array(values[model]) / median)
            assert task["scores"][model] == pytest.approx(list(runs[-1]), rel=1e-12)
    assert [t["seeds"] for t in regime["tasks"]] == [3, 2]  # tasks of different run counts
    rows = {row["model"]: row for row in regime["models"]}
    for model, runs in normalised.items():
        pooled = np.concatenate(runs)
        iqm = rows[model]["iqm"]
        assert iqm["estimate"] == pytest.approx(stats.trim_mean(pooled, 0.25), rel=1e-12)
        assert iqm["low"] <= iqm["estimate"] <= iqm["high"]
        assert (rows[model]["tasks"], rows[model]["runs"], rows[model]["runs_total"]) == (2, 5, 5)
    per_task = [
        np.mean(np.less.outer(a, b) + 0.5 * np.equal.outer(a, b))
        for a, b in zip(normalised["method_of_steps"], normalised["fno"], strict=True)
    ]
    better = {(c["x"], c["y"]): c for c in regime["improvement"]}
    assert better[("method_of_steps", "fno")]["estimate"] == pytest.approx(np.mean(per_task))
    assert better[("fno", "method_of_steps")]["estimate"] == pytest.approx(1 - np.mean(per_task))
    profiles = regime["profiles"]
    assert list(profiles["models"]) == [row["model"] for row in regime["models"]]  # ranked
    for model, runs in normalised.items():
        pooled = np.concatenate(runs)
        expected = [(pooled < tau).mean() for tau in profiles["thresholds"]]
        assert profiles["models"][model]["fraction"] == pytest.approx(expected)


@pytest.mark.slow
def test_the_markdown_and_the_page(aggregated: Path) -> None:
    markdown = (aggregated / "aggregate.md").read_text()
    assert "# Aggregate of 2 benchmarks: rollout rel. L2 (test) relative to fno" in markdown
    assert "## Regime in_distribution: 2 tasks (tiny_neutral, tiny_delayed_logistic)" in markdown
    assert "fno (baseline)" in markdown and "P(row better than column)" in markdown
    page = (aggregated / "report" / "index.html").read_text()
    assert "Aggregate of 2 benchmarks" in page and "method_of_steps" in page
    for key in ("iqm", "improvement", "profiles"):
        assert (aggregated / "report" / "figures" / IN_DISTRIBUTION / f"{key}.png").stat().st_size
        assert f"figures/{IN_DISTRIBUTION}/{key}.html" in page
    # dno report redraws it from the folder alone, as it does a benchmark's
    redrawn = aggregated / "redrawn"
    assert main(["report", str(aggregated), "--out", str(redrawn), "--no-interactive"]) == 0
    assert "Aggregate of 2 benchmarks" in (redrawn / "index.html").read_text()


def copy_board(folder: Path, to: Path) -> Path:
    """A benchmark's two files (what --aggregate reads) in a folder of their own."""
    to.mkdir(parents=True)
    for name in ("benchmark.json", "leaderboard.json"):
        shutil.copy(folder / name, to / name)
    return to


def edit(folder: Path, change: dict[str, Any]) -> None:
    path = folder / "leaderboard.json"
    path.write_text(json.dumps({**json.loads(path.read_text()), **change}))


@pytest.mark.slow
def test_regimes_missing_models_and_failed_runs(benchmarks: list[Path], tmp_path: Path) -> None:
    """A leaderboard with regimes gives a task per regime; a model absent from a task is
    aggregated over the tasks it has; a failed run is left out and counted."""
    neutral = copy_board(benchmarks[0], tmp_path / "neutral")
    logistic = copy_board(benchmarks[1], tmp_path / "logistic")
    values = board(neutral)["values"]
    shifted = {"rollout_rel_l2": {m: [2 * v for v in vs] for m, vs in values[
        "rollout_rel_l2"].items()}}  # fmt: skip
    edit(neutral, {"regimes": {"held_out_delay": {"values": shifted, "seeds": [0, 1, 2]}}})
    failed = board(logistic)["values"]
    failed["rollout_rel_l2"]["method_of_steps"][1] = None
    median = float(np.median(failed["rollout_rel_l2"]["fno"]))
    failed["rollout_rel_l2"]["lag_stack"] = [0.1 * median, 0.2 * median]  # of this task only
    edit(logistic, {"values": failed})
    result = aggregate_benchmarks([neutral, logistic], resamples=200)
    assert [r.regime for r in result.regimes] == [IN_DISTRIBUTION, "held_out_delay"]
    inside, held_out = result.regimes
    assert [t.folder for t in held_out.tasks] == [str(neutral)]
    # the held-out values are twice the others, and so is every normalised score: same ratios
    assert held_out.tasks[0].scores == inside.tasks[0].scores
    rows = {r.model: r for r in inside.models}
    assert (rows["method_of_steps"].tasks, rows["method_of_steps"].runs) == (2, 4)
    assert rows["method_of_steps"].runs_total == 5
    assert (rows["lag_stack"].tasks, rows["lag_stack"].runs_total) == (1, 2)
    # ranked: the models on every task; lag_stack (one task, and the best IQM) after, unranked
    assert rows["lag_stack"].iqm is not None and rows["lag_stack"].iqm.estimate < 1
    assert [(r.model, r.rank) for r in inside.models][-1] == ("lag_stack", None)
    assert sorted(r.rank for r in inside.models if r.model != "lag_stack") == [1, 2]
    assert inside.improvements[("lag_stack", "method_of_steps")].tasks == 1
    assert inside.improvements[("method_of_steps", "fno")].tasks == 2
    assert "lag_stack" not in {r.model for r in held_out.models}


def cli_error(args: list[str], capsys: pytest.CaptureFixture[str], status: int = 2) -> str:
    """The one line ``dno`` printed for an error (exit status 2: a usage error; 1: a file that
    cannot be read)."""
    assert main(["benchmark", *args]) == status
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("dno: error: "), lines
    return lines[0]


def test_a_folder_that_is_not_a_finished_benchmark_is_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "bench"
    assert "'" + str(folder) + "' is not a folder" in cli_error(["--aggregate", str(folder)],
                                                                capsys)  # fmt: skip
    folder.mkdir()
    assert "holds no benchmark.json" in cli_error(["--aggregate", str(folder)], capsys)
    (folder / "benchmark.json").write_text(json.dumps({"status": "running"}))
    line = cli_error(["--aggregate", str(folder)], capsys)
    assert f"'{folder}' is not a finished benchmark" in line and "status 'running'" in line
    (folder / "benchmark.json").write_text(json.dumps({"status": "done"}))
    assert "holds no leaderboard.json" in cli_error(["--aggregate", str(folder)], capsys)
    (folder / "leaderboard.json").write_text("{not json")
    assert f"cannot read {folder / 'leaderboard.json'}" in cli_error(
        ["--aggregate", str(folder)], capsys, status=1
    )
    (folder / "leaderboard.json").write_text(json.dumps({"kind": "dno-comparison"}))
    assert "is not a dno benchmark leaderboard" in cli_error(["--aggregate", str(folder)], capsys)


def fake(folder: Path, metric: str = "rollout_rel_l2", baseline: str = "fno", **values: Any) -> str:
    """A finished benchmark's two files with ``values`` (model -> per-seed values)."""
    folder.mkdir()
    (folder / "benchmark.json").write_text(json.dumps({"status": "done"}))
    runs = values or {"fno": [0.2, 0.3], "method_of_steps": [0.1, 0.2]}
    (folder / "leaderboard.json").write_text(json.dumps({
        "kind": "dno-leaderboard", "ranking_metric": metric, "seeds": [0, 1],
        "protocol": {"name": folder.name, "family": "mackey", "baseline": baseline},
        "values": {metric: runs},
    }))  # fmt: skip
    return str(folder)


def test_folders_that_disagree_are_named(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = fake(tmp_path / "a")
    b = fake(tmp_path / "b", metric="rel_l2")
    line = cli_error(["--aggregate", a, b], capsys)
    assert "different ranking metrics" in line and f"'{a}' rollout_rel_l2, '{b}' rel_l2" in line
    line = cli_error(["--aggregate", a, b, "--metric", "rel_l2"], capsys)
    assert f"'{a}' has no test rel_l2 values" in line
    c = fake(tmp_path / "c", baseline="lag_stack")
    line = cli_error(["--aggregate", a, c], capsys)
    assert "different baselines" in line and f"'{c}' lag_stack" in line
    line = cli_error(["--aggregate", a, c, "--baseline", "lag_stack"], capsys)
    assert f"'{a}': the baseline 'lag_stack' is not one of its models" in line
    d = fake(tmp_path / "d", fno=[None, None], method_of_steps=[0.1, 0.2])
    assert f"'{d}': rollout_rel_l2 of fno: the baseline has no finite run" in cli_error(
        ["--aggregate", d], capsys
    )
    assert f"'{a}/' is given twice" in cli_error(["--aggregate", a, a + "/"], capsys)
    assert "--metric 'amplitude_ratio' cannot be aggregated" in cli_error(
        ["--aggregate", a, "--metric", "amplitude_ratio"], capsys
    )
    assert "PROTOCOL 'mackey' is for running a protocol" in cli_error(
        ["mackey", "--aggregate", a], capsys
    )
    assert "--budget is for running a protocol" in cli_error(
        ["--aggregate", a, "--budget", "small"], capsys
    )
    assert "--metric goes with --aggregate" in cli_error(["mackey", "--metric", "rel_l2"], capsys)
    assert not (tmp_path / "benchmark_results").exists()


def test_a_small_aggregate_is_written_without_a_page(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    a = fake(tmp_path / "a")
    b = fake(tmp_path / "b", fno=[1.0, 3.0, 2.0], method_of_steps=[4.0, 2.0, 2.0])
    out = tmp_path / "out"
    assert main(["benchmark", "--aggregate", a, b, "--out", str(out), "--no-report"]) == 0
    printed = capsys.readouterr().out
    assert "## Regime in_distribution: 2 tasks (a, b)" in printed
    assert sorted(p.name for p in out.iterdir()) == ["aggregate.json", "aggregate.md"]
    rows = json.loads((out / "aggregate.json").read_text())["regimes"][IN_DISTRIBUTION]["models"]
    # a: fno's median 0.25 -> [0.8, 1.2] and [0.4, 0.8]; b: 2.0 -> [0.5, 1.5, 1.0], [2, 1, 1]
    assert {r["model"]: r["iqm"]["estimate"] for r in rows} == pytest.approx(
        {"fno": stats.trim_mean([0.8, 1.2, 0.5, 1.5, 1.0], 0.25),
         "method_of_steps": stats.trim_mean([0.4, 0.8, 2.0, 1.0, 1.0], 0.25)}
    )  # fmt: skip


def test_ctrl_c_says_nothing_partial_was_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import dno.cli._benchmark as command

    def interrupt(*args: Any, **kwargs: Any) -> Any:
        raise KeyboardInterrupt

    monkeypatch.setattr(command, "aggregate_benchmarks", interrupt)
    out = tmp_path / "out"
    assert main(["benchmark", "--aggregate", fake(tmp_path / "a"), "--out", str(out)]) == 130
    assert capsys.readouterr().err.strip() == (
        "dno: interrupted: nothing partial was written (the aggregate's files are written whole)"
    )
    assert not out.exists()
