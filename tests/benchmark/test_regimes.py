"""Regimes of a benchmark: their data lie beyond the training priors and never reach training,
the test split's numbers do not change, a table per regime (a model that cannot change
resolution says so), resumable scores, ``--aggregate`` per regime, one line per bad input; and
matched capacity."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import dno.benchmark._execution as bench_run
from dno.benchmark import (
    Workers,
    aggregate_benchmarks,
    build_leaderboard,
    parse_protocol,
    run_benchmark,
    write_leaderboard,
)
from dno.cli import main
from dno.data import read_dataset
from dno.errors import UsageError
from dno.evaluation import parameter_count
from dno.training import build_model
from tiny_protocol import TINY

pytestmark = pytest.mark.filterwarnings("ignore:.*seeds; a benchmark wants")

#: A tiny field: 20 trajectories on 8 points (2 in the test split), a model that cannot change
#: its grid (deeponet: a layer over every point) against fno.
FIELD: dict[str, Any] = {
    **TINY,
    "family": "reaction_diffusion",
    "data": {"n": 20, "seed": 0, "t_end": 12.0, "grid_points": 8},
    "models": {"deeponet": {"set": {"width": 8}}, "fno": {"set": {"width": 8}}},
    "regimes": ["in_distribution", "held_out_delay", "held_out_params", "resolution"],
}
TRAINING_PRIORS = {"D": (0.005, 0.05), "r": (0.8, 1.5), "tau": (1.0, 2.0)}


@pytest.fixture(scope="module")
def field(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[str]]:
    """FIELD run once with its regimes; and every dataset file a run read to train."""
    folder = tmp_path_factory.mktemp("regimes")
    opened: list[str] = []
    read = bench_run._dataset

    def record(path: Path) -> Any:
        opened.append(Path(path).name)
        return read(path)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(bench_run, "_dataset", record)
        protocol = parse_protocol(FIELD, source="field")
        runs = run_benchmark(protocol, folder, Workers(1, threads=1))
    write_leaderboard(build_leaderboard(protocol, runs), folder)
    return folder, opened


def _inside(values: np.ndarray, lo: float, hi: float) -> np.ndarray:
    return (values >= lo) & (values <= hi)


def _files(folder: Path) -> dict[str, Path]:
    """The benchmark's dataset files by regime (``main``: the protocol's)."""
    found = {}
    for path in (folder / "data").glob("*.h5"):
        kind = next((r for r in FIELD["regimes"] if f"-{r}-" in path.name), "main")
        found[kind] = path
    return found


def test_regime_data_lie_beyond_the_training_priors_and_training_never_reads_them(
    field: tuple[Path, list[str]],
) -> None:
    folder, opened = field
    files = _files(folder)
    assert set(files) == {"main", "held_out_delay", "held_out_params", "resolution"}
    assert set(opened) == {files["main"].name}  # the only file a run trained on
    main_data = read_dataset(files["main"])
    for split in ("train", "val", "test"):
        for name, (lo, hi) in TRAINING_PRIORS.items():
            values = main_data.splits[split].params[name]
            assert np.all(_inside(values, lo, hi)), (split, name)
    n_test = len(main_data.splits["test"])
    delay = read_dataset(files["held_out_delay"])
    assert [len(delay.splits[s]) for s in ("train", "val", "test")] == [0, 0, n_test]
    tau = delay.splits["test"].params["tau"]  # 10-30 % of the width above, then below
    assert np.all(_inside(tau, 2.1, 2.3) | _inside(tau, 0.7, 0.9))
    assert tau.max() > 2 and tau.min() < 1  # both sides
    params = read_dataset(files["held_out_params"]).splits["test"].params
    assert np.all(_inside(params["D"], 0.0545, 0.0635))  # below would be negative
    assert np.all((params["r"] > 1.5) | (params["r"] < 0.8))
    assert np.all(_inside(params["tau"], 1.0, 2.0))
    finer = read_dataset(files["resolution"])
    assert finer.x.shape == (12,) and main_data.x.shape == (8,)


def test_the_test_split_and_the_weights_are_the_same_without_regimes(
    field: tuple[Path, list[str]], tmp_path: Path
) -> None:
    folder, _ = field
    plain = {k: v for k, v in FIELD.items() if k != "regimes"}
    run_benchmark(parse_protocol(plain, source="plain"), tmp_path, Workers(1, threads=1))
    for model in ("deeponet", "fno"):
        for seed in (0, 1):
            where = Path("runs") / model / f"seed-{seed}"
            a, b = folder / where, tmp_path / where
            test_a = json.loads((a / "evaluation_test.json").read_text())["summary"]
            test_b = json.loads((b / "evaluation_test.json").read_text())["summary"]
            for metric in ("rel_l2", "rollout_rel_l2", "valid_time", "amplitude_ratio"):
                assert test_a[metric] == test_b[metric]
            best_a = torch.load(a / "artifacts" / "best.pt", weights_only=True)
            best_b = torch.load(b / "artifacts" / "best.pt", weights_only=True)
            assert best_a["extra"]["normalizer"] == best_b["extra"]["normalizer"]
            for key, weights in best_a["state_dict"].items():
                assert torch.equal(weights, best_b["state_dict"][key])
            assert not (b / "regime_scores.json").exists()


def test_a_table_per_regime_and_a_row_for_a_model_that_cannot_change_resolution(
    field: tuple[Path, list[str]],
) -> None:
    folder, _ = field
    board = json.loads((folder / "leaderboard.json").read_text())
    assert list(board["regimes"]) == ["held_out_delay", "held_out_params", "resolution"]
    for regime, content in board["regimes"].items():
        for model in ("deeponet", "fno"):
            for i, seed in enumerate((0, 1)):
                run = folder / "runs" / model / f"seed-{seed}"
                scores = json.loads((run / "regime_scores.json").read_text())["regimes"][regime]
                value = content["values"]["rollout_rel_l2"][model][i]
                assert value == scores["values"]["rollout_rel_l2"]
                assert (value is None) == (regime == "resolution" and model == "deeponet")
    resolution = board["regimes"]["resolution"]
    assert "cannot change resolution (X=8 -> 12)" in resolution["unavailable"]["deeponet"]
    assert "fno" not in resolution["unavailable"]
    rows = list(csv.DictReader((folder / "leaderboard.csv").open()))
    assert [(r["regime"], r["model"]) for r in rows if r["regime"] == "resolution"] == [
        ("resolution", "fno"), ("resolution", "deeponet")
    ]  # fmt: skip
    assert all(r["optimizer_steps_mean"] for r in rows if r["regime"] == "in_distribution")
    markdown = (folder / "leaderboard.md").read_text()
    for regime in board["regimes"]:
        assert f"## Regime: {regime}" in markdown
        assert f"### Paired against fno: rollout rel. L2 ({regime})" in markdown
    assert "branch.hidden.0.weight has shape" in markdown and "optimizer steps" in markdown


def test_a_rerun_reads_the_regime_scores_back(
    field: tuple[Path, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    folder, _ = field

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("a finished regime was scored again")

    monkeypatch.setattr(bench_run, "score_run", refuse)
    runs = run_benchmark(parse_protocol(FIELD, source="field"), folder, Workers(1, threads=1))
    board = json.loads((folder / "leaderboard.json").read_text())
    for r in runs:
        value = r.regimes["held_out_delay"]["values"]["rollout_rel_l2"]
        assert (
            value == board["regimes"]["held_out_delay"]["values"]["rollout_rel_l2"][r.model][r.seed]
        )


def test_aggregate_reads_every_regime(field: tuple[Path, list[str]], tmp_path: Path) -> None:
    folder, _ = field
    found = aggregate_benchmarks([folder])
    assert [r.regime for r in found.regimes] == [
        "in_distribution", "held_out_delay", "held_out_params", "resolution"
    ]  # fmt: skip
    resolution = {m.model: m for m in found.regimes[-1].models}
    assert resolution["deeponet"].runs == 0 and resolution["fno"].runs == 2
    assert main(["benchmark", "--aggregate", str(folder), "--out", str(tmp_path), "-q"]) == 0
    assert "held_out_delay" in (tmp_path / "aggregate.md").read_text()


@pytest.mark.parametrize(
    ("regimes", "family", "message"),
    [
        (["held_oot_delay"], "neutral", r"unknown regime 'held_oot_delay' \(did you mean "
         r"'held_out_delay'\?\)"),
        ([{"held_out_delay": {"beyond": [0.3, 0.1]}}], "neutral", r"beyond \[0.3, 0.1\]"),
        ([{"held_out_delay": {"beyond": [0.0, 0.2]}}], "neutral", "0 would overlap it"),
        ([{"held_out_params": {"beyond": [1.0, 3.0]}}], "neutral",
         "c beyond .* leaves the family's domain on both sides"),
        ([{"held_out_delay": {"width": 2}}], "neutral", r"options \{'width': 2\}"),
        (["resolution"], "neutral", "family 'neutral' has no spatial grid"),
        (["held_out_params"], "mackey", "every parameter but tau is fixed"),
        (["held_out_delay", "held_out_delay"], "neutral", "listed twice"),
        ("held_out_delay", "neutral", "expected a list of regimes"),
    ],
)  # fmt: skip
def test_a_bad_regime_is_one_line_naming_the_file(regimes: Any, family: str, message: str) -> None:
    with pytest.raises(UsageError, match=message) as error:
        parse_protocol({**TINY, "family": family, "regimes": regimes}, source="p.yaml")
    assert str(error.value).startswith("p.yaml: ") and "\n" not in str(error.value)


def test_matched_capacity_is_within_ten_percent_of_the_baseline() -> None:
    models = {"method_of_steps": {"set": {"width": 16}}, "fno": {"set": {"width": 16}},
              "deeponet": {}}  # fmt: skip
    protocol = parse_protocol({**TINY, "models": models, "match": "params"}, source="p.yaml")
    target = protocol.capacity["fno"]["parameters"]
    for approach in protocol.plan.approaches:
        count = parameter_count(build_model(approach.config, 1))
        assert count == protocol.capacity[approach.name]["parameters"]
        assert abs(count / target - 1) <= 0.10
    assert protocol.plan.approach("fno").config.model_config["width"] == 16
    with pytest.raises(UsageError, match=r"'method_of_steps' .* cannot be matched within 10%"):
        parse_protocol({**TINY, "match": "params"}, source="p.yaml")  # width 8: too coarse
    with pytest.raises(UsageError, match="match 'size'; expected params"):
        parse_protocol({**TINY, "match": "size"}, source="p.yaml")
