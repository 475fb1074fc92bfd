"""``dno benchmark`` end to end: a tiny protocol's leaderboard equals its runs' own files; resume,
workers, the page, and one clear error for each bad protocol."""

from __future__ import annotations

import csv
import json
import math
import os
import signal
from pathlib import Path
from typing import Any

import pytest
import torch
import yaml

import dno.benchmark._execution as bench_run
from dno.benchmark import (
    BUDGETS,
    MIN_BENCHMARK_SEEDS,
    Workers,
    build_leaderboard,
    leaderboard_document,
    load_protocol,
    parse_protocol,
    run_benchmark,
    shipped_protocols,
    write_leaderboard,
)
from dno.cli import main
from dno.compare import describe
from dno.errors import DnoWarning, UsageError
from dno.evaluation import METRICS
from tiny_protocol import TINY
from tiny_protocol import write_protocol as _write

pytestmark = pytest.mark.filterwarnings("ignore:.*seeds; a benchmark wants")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny protocol, run once by the command line (2 models x 2 seeds x 1 epoch)."""
    folder = tmp_path_factory.mktemp("bench")
    path = _write(folder, TINY)
    assert main(["benchmark", str(path), "--out", str(folder / "out"), "-q"]) == 0
    return folder / "out"


def test_leaderboard_numbers_are_the_runs_evaluation_files(tiny: Path) -> None:
    board = json.loads((tiny / "leaderboard.json").read_text())
    keys = ("rel_l2", "rollout_rel_l2", "valid_time", "amplitude_ratio", "parameters")
    assert list(board["metrics"]) == [*keys, "train_seconds"]  # the table's names
    assert board["metrics"]["valid_time"] == {
        "label": "valid time", "unit": "tau", "direction": "maximize",
        "description": METRICS["valid_time"].description,
    }  # fmt: skip
    for model in ("method_of_steps", "fno"):
        for i, seed in enumerate((0, 1)):
            run = tiny / "runs" / model / f"seed-{seed}"
            summary = json.loads((run / "evaluation_test.json").read_text())["summary"]
            results = json.loads((run / "final_results.json").read_text())
            assert summary["horizon_delays"] == 2
            # every run validated on the protocol's horizon and kept its epoch by select
            assert results["val_horizon_delays"] == 2 and results["select"] == "val_rel_l2"
            for metric in keys:
                assert board["values"][metric][model][i] == summary[metric]
            assert board["values"]["train_seconds"][model][i] == results["seconds"]
        for metric in keys:
            mean = board["summaries"][metric][model]["mean"]
            assert mean == pytest.approx(sum(board["values"][metric][model]) / 2, rel=1e-12)
    rows = {row["model"]: row for row in csv.DictReader((tiny / "leaderboard.csv").open())}
    assert set(rows) == {"method_of_steps", "fno"}
    assert rows["fno"]["baseline"] == "True"
    for model, row in rows.items():
        expected = board["summaries"]["rollout_rel_l2"][model]
        assert float(row["rollout_rel_l2_mean"]) == pytest.approx(expected["mean"], rel=1e-12)
        assert float(row["rollout_rel_l2_ci_low"]) <= float(row["rollout_rel_l2_ci_high"])
    runs = list(csv.DictReader((tiny / "leaderboard_runs.csv").open()))
    assert [(r["model"], r["seed"]) for r in runs] == [
        ("method_of_steps", "0"), ("fno", "0"), ("method_of_steps", "1"), ("fno", "1")
    ]  # fmt: skip


def test_leaderboard_page_and_markdown(tiny: Path) -> None:
    markdown = (tiny / "leaderboard.md").read_text()
    assert "# Benchmark: tiny" in markdown
    assert "## Paired against fno: rollout rel. L2 (test)" in markdown
    assert "fno (baseline)" in markdown
    assert "too few seeds" in markdown  # 2 seeds: no p-value, and the table says why
    page = (tiny / "report" / "index.html").read_text()
    assert "Benchmark: tiny" in page and "method_of_steps" in page
    figures = tiny / "report" / "figures" / "tiny"
    for key in ("box_rollout_rel_l2", "box_rel_l2", "rollout_curves"):
        assert (figures / f"{key}.png").stat().st_size > 0
        assert (figures / f"{key}.html").is_file()
    record = json.loads((tiny / "benchmark.json").read_text())
    assert record["status"] == "done" and record["protocol"]["seeds"] == [0, 1]
    # dno report redraws the page from the files alone
    assert main(["report", str(tiny), "--out", str(tiny / "again"), "--no-interactive"]) == 0
    assert "rollout_curves.png" in (tiny / "again" / "index.html").read_text()


def test_rerun_reads_back_without_training_or_testing_again(
    tiny: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = json.loads((tiny / "leaderboard.json").read_text())

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a finished run was tested again")

    monkeypatch.setattr(bench_run, "evaluate_run", refuse)
    protocol = parse_protocol(TINY, source="tiny")
    runs = run_benchmark(protocol, tiny, Workers(1, threads=1))
    assert not any(r.trained_now for r in runs)
    board = build_leaderboard(protocol, runs)
    assert board.values["rollout_rel_l2"] == before["values"]["rollout_rel_l2"]


def test_workers_run_every_job(tmp_path: Path) -> None:
    """Two worker processes (1 thread each) give every run, and the same numbers on rerun."""
    protocol = parse_protocol(TINY, source="tiny")
    runs = run_benchmark(protocol, tmp_path, Workers(2, threads=1))
    assert [(r.model, r.seed) for r in runs] == [
        ("method_of_steps", 0), ("fno", 0), ("method_of_steps", 1), ("fno", 1)
    ]  # fmt: skip
    assert all(r.ok and r.trained_now for r in runs)
    again = run_benchmark(protocol, tmp_path, Workers(1, threads=1))
    assert [r.evaluation for r in again] == [r.evaluation for r in runs]


def test_a_changed_protocol_is_refused_on_the_same_folder(tiny: Path) -> None:
    changed = {**TINY, "config": {**TINY["config"], "max_epochs": 2}}
    with pytest.raises(UsageError, match="max_epochs: 1 -> 2"):
        run_benchmark(parse_protocol(changed, source="tiny"), tiny, Workers(1, threads=1))


def test_every_shipped_protocol_loads_at_every_budget() -> None:
    shipped = shipped_protocols()
    assert {"mackey", "delayed_logistic", "neutral", "reaction_diffusion",
            "hsfno_reaction_diffusion"} <= set(shipped)  # fmt: skip
    for name in shipped:
        for budget in BUDGETS:
            protocol = load_protocol(name, budget)
            assert len(protocol.seeds) >= MIN_BENCHMARK_SEEDS
            assert protocol.plan.baseline == "fno"
            assert protocol.budget == budget
    hs = load_protocol("hsfno_reaction_diffusion", "small")
    assert hs.data["grid_points"] == 64
    assert hs.data["priors"] == {"D": [0.004, 0.02], "r": [1.0, 2.0], "tau": [0.1, 0.2]}
    assert 0.1 / hs.data["dt_obs"] >= 6  # every delay window well sampled
    assert set(hs.models) >= {"history_space", "lag_stack", "fno"}


def test_fewer_than_five_seeds_warn() -> None:
    with pytest.warns(DnoWarning, match="2 seeds; a benchmark wants at least 5"):
        parse_protocol(TINY, source="tiny")


def test_budget_and_overrides_are_applied() -> None:
    models = {**TINY["models"], "lag_stack": {}}
    protocol = {**TINY, "seeds": 5, "models": models, "budgets": {
        "small": {"data": {"n": 24}, "seeds": 6, "config": {"max_epochs": 3}},
        "other": {"models": ["lag_stack"], "horizon_delays": 1},
    }}  # fmt: skip
    small = parse_protocol(protocol, budget="small")
    assert small.data == {"n": 24, "seed": 0, "t_end": 12.0, "priors": {}}
    assert small.seeds == tuple(range(6))
    assert small.plan.approaches[0].config.max_epochs == 3
    assert small.plan.approaches[0].config.model_config["width"] == 8
    assert parse_protocol(protocol).budget == "small"  # the default when defined
    other = parse_protocol(protocol, budget="other")
    assert other.models == ("fno", "lag_stack") and other.evaluation.horizon_delays == 1
    assert parse_protocol(protocol, budget="small", seeds=7).seeds == tuple(range(7))
    assert parse_protocol(protocol, models=["lag_stack"]).models == ("fno", "lag_stack")
    assert small.data_file() != other.data_file()


def test_a_search_best_config_is_a_model(tmp_path: Path) -> None:
    best = {
        "study": "s", "trial": 3, "model": "method_of_steps", "family": "neutral",
        "config": {"model": "method_of_steps", "lr": 0.003, "seed": 4, "device": "cpu",
                   "data": {"path": "x.h5"}, "model_config": {"width": 12, "X": 1},
                   "max_epochs": 3, "patience": 1, "max_windows_per_trajectory": 2,
                   "select": "val_rollout_rel_l2"},
    }  # fmt: skip
    (tmp_path / "best_config.yaml").write_text(yaml.safe_dump(best))
    models = {**TINY["models"], "tuned": {"model": "method_of_steps", "config": "best_config.yaml"}}
    path = _write(tmp_path, {**TINY, "seeds": 5, "models": models})
    protocol = load_protocol(path)
    tuned, other = (protocol.plan.approach(name).config for name in ("tuned", "fno"))
    assert tuned.lr == 0.003 and tuned.model_config["width"] == 12 and tuned.seed == 0
    # the search's epoch cap, patience, window cap and selection stay behind: the protocol's
    for key in ("max_epochs", "patience", "max_windows_per_trajectory", "select"):
        assert getattr(tuned, key) == getattr(other, key), key
    # the leaderboard does not call it a default configuration
    said = leaderboard_document(build_leaderboard(protocol, []))["configurations"]
    assert "not tuned in this benchmark" in said and "tuned: best_config.yaml" in said
    assert "their own defaults" in said and "(default)" not in said


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": 1}, "unknown key 'colour'"),
        ({"family": "lorenz"}, "family 'lorenz'"),
        ({"baseline": "unet"}, "baseline 'unet'"),
        ({"data": {"n": 0, "seed": 0}}, "data: n 0; expected an integer >= 1"),
        ({"data": {"n": 8, "seed": 0, "size": 3}}, "data: unknown key 'size'"),
        ({"metric": "loss"}, "metric 'loss'"),
        ({"horizon_delays": 0}, "horizon_delays"),
        ({"models": {"fno": {"set": {"wdth": 8}}, "x": {"model": "fno"}}}, "'wdth'"),
        ({"models": {"fno": "big", "x": {"model": "fno"}}}, "model 'fno': expected a mapping"),
        ({"budgets": {"small": {"epochs": 3}}}, "budget 'small': unknown key 'epochs'"),
        ({"reference": {"values": {"fno": "low"}}}, "reference: values"),
    ],
)
def test_a_bad_protocol_is_one_clear_error(change: dict[str, Any], message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_protocol({**TINY, "seeds": 5, **change}, source="p.yaml")


def test_cli_errors_and_list(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["benchmark", "--list"]) == 0
    listed = capsys.readouterr().out
    assert "hsfno_reaction_diffusion" in listed and "mackey" in listed
    assert main(["benchmark", "no_such_protocol"]) == 2
    assert "unknown protocol 'no_such_protocol'" in capsys.readouterr().err
    assert main(["benchmark", "mackey", "--budget", "huge"]) == 2
    assert "budget 'huge'; the protocol defines: small, full" in capsys.readouterr().err
    assert main(["benchmark", "mackey", "--models", "unet"]) == 2
    assert "--models: 'unet'" in capsys.readouterr().err
    if not torch.cuda.is_available():  # refused before any data is made
        out = tmp_path / "gpu"
        assert main(["benchmark", "mackey", "--device", "cuda", "--out", str(out)]) == 2
        assert "no CUDA device is available here" in capsys.readouterr().err
        assert not out.exists()


def test_failed_runs_are_left_out_of_the_statistics() -> None:
    protocol = parse_protocol({**TINY, "seeds": 5}, source="tiny")
    runs = [
        bench_run.RunResult(model, seed, f"runs/{model}/seed-{seed}", "completed",
                            evaluation={"rel_l2": 0.1 + seed,
                                        "rollout_rel_l2": 0.2 + seed,
                                        "valid_time": 1.0, "amplitude_ratio": 0.9,
                                        "parameters": 10}, train_seconds=1.0)
        for seed in protocol.seeds for model in protocol.models
    ]  # fmt: skip
    runs[0].status, runs[0].reason = "failed", "non-finite loss"
    board = build_leaderboard(protocol, runs)
    first = board.values["rollout_rel_l2"]["method_of_steps"]
    assert first[0] is None and first[1:] == [1.2, 2.2, 3.2, 4.2]
    assert board.summaries["rollout_rel_l2"]["method_of_steps"] == describe(first)
    assert not math.isnan(board.summaries["rollout_rel_l2"]["fno"].mean or math.nan)


def test_a_non_finite_score_is_marked_and_left_out_with_a_warning(tmp_path: Path) -> None:
    """A rollout that blew up (the evaluation's JSON holds null for its NaN) is marked NaN in
    every output and left out of the statistics, with a warning that counts it."""
    protocol = parse_protocol({**TINY, "seeds": 5}, source="tiny")
    runs = [
        bench_run.RunResult(model, seed, f"runs/{model}/seed-{seed}", "completed",
                            evaluation={"rel_l2": 0.1 + seed, "rollout_rel_l2": 0.2 + seed,
                                        "valid_time": 1.0, "amplitude_ratio": 0.9,
                                        "parameters": 10, "horizon_delays": 2},
                            train_seconds=1.0)
        for seed in protocol.seeds for model in protocol.models
    ]  # fmt: skip
    runs[2].evaluation = {**runs[2].evaluation, "rollout_rel_l2": None}  # method_of_steps seed 1
    with pytest.warns(DnoWarning, match="1 finished runs have a non-finite test rollout_rel_l2"):
        board = build_leaderboard(protocol, runs)
    assert board.nonfinite == {"rollout_rel_l2": [("method_of_steps", 1)]}
    assert board.values["rollout_rel_l2"]["method_of_steps"] == [0.2, None, 2.2, 3.2, 4.2]
    assert board.summaries["rollout_rel_l2"]["method_of_steps"].n == 4
    files = write_leaderboard(board, tmp_path)
    markdown = files["md"].read_text()
    assert "(1 NaN)" in markdown and "Non-finite rollout_rel_l2" in markdown
    rows = list(csv.DictReader(files["runs"].open()))
    assert [r["nonfinite"] for r in rows if r["seed"] == "1"] == ["rollout_rel_l2", ""]
    assert json.loads(files["json"].read_text())["nonfinite"] == {
        "rollout_rel_l2": [["method_of_steps", 1]]
    }


def _spawned_children(parent: int) -> list[int]:
    """The worker processes (multiprocessing spawn) whose parent is ``parent``."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        if (
            int(stat[1]) == parent
            and b"spawn_main" in command
            and b"resource_tracker" not in command
        ):
            found.append(int(entry.name))
    return found


def _running(pid: int) -> bool:
    try:
        state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs Linux /proc")
def test_workers_end_when_the_benchmark_process_is_killed(tmp_path: Path) -> None:
    """kill -9 of the benchmark leaves no worker training on as an orphan."""
    import subprocess
    import sys
    import time

    long = {**TINY, "config": {**TINY["config"], "max_epochs": 500, "patience": 0}}
    script = (
        "from dno.benchmark import Workers, parse_protocol, run_benchmark\n"
        f"run_benchmark(parse_protocol({long!r}, source='p'), {str(tmp_path)!r}, "
        "Workers(2, threads=1))\n"
    )
    process = subprocess.Popen([sys.executable, "-W", "ignore", "-c", script])
    try:
        deadline = time.monotonic() + 120
        workers: list[int] = []
        while len(workers) < 2 and time.monotonic() < deadline:
            time.sleep(0.5)
            workers = _spawned_children(process.pid)
        assert len(workers) == 2, "the workers did not start"
    finally:
        process.kill()
        process.wait()
    deadline = time.monotonic() + 30
    while any(map(_running, workers)) and time.monotonic() < deadline:
        time.sleep(0.5)
    orphans = [pid for pid in workers if _running(pid)]
    for pid in orphans:  # do not leave them to the rest of the suite
        os.kill(pid, signal.SIGKILL)
    assert not orphans
