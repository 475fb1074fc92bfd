"""``evaluate_run``: a trained run scored on one split, the same horizon for every model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import dno.data as data
from dno.errors import DnoError, UsageError
from dno.evaluation import (
    EvaluationConfig,
    evaluate_run,
    format_evaluation,
)
from dno.training import resolve_config, train

S = 16
#: Small and fast: 2 delays, few windows; everything else at its default.
QUICK = EvaluationConfig(
    horizon_delays=2, max_windows=3, stability_windows=6, figure_windows=2, cost_batch=8
)


def _no_nan(text: str) -> Any:
    def refuse(name: str) -> None:
        raise AssertionError(f"non-standard JSON constant {name}")

    return json.loads(text, parse_constant=refuse)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Two one-epoch runs on the same neutral data: m = S and m = S // 4."""
    root = tmp_path_factory.mktemp("evaluate")
    path = root / "neutral.h5"
    data.generate_dataset("neutral", 20, 0, path, ["tau=1:1.5"], t_end=10.0)
    dataset = data.read_dataset(path)
    folders = {}
    for model, extra in (("method_of_steps", {}), ("history_space", {"m": S // 4})):
        config = resolve_config(
            model, {"S": S, "width": 8, "max_epochs": 1, "device": "cpu", **extra}
        )
        train(config, dataset, root / model, progress=False)
        folders[model] = root / model
    return folders


@pytest.fixture(scope="module")
def results(runs: dict[str, Path]) -> dict[str, dict[str, Any]]:
    """Both runs evaluated on the default split; figures only for the first."""
    return {
        name: evaluate_run(folder, config=QUICK, figures=name == "method_of_steps")
        for name, folder in runs.items()
    }


def test_json_has_every_metric_and_no_nan(
    runs: dict[str, Path], results: dict[str, dict[str, Any]]
) -> None:
    folder = runs["method_of_steps"]
    written = _no_nan((folder / "evaluation_val.json").read_text())
    assert written == results["method_of_steps"]
    for key in ("one_step", "rollout", "stability", "spectral", "cost", "horizon", "summary"):
        assert key in written, key
    rollout = written["rollout"]
    assert {"error_curve", "per_delay", "valid_time", "correlation_time"} <= set(rollout)
    assert 0 < written["one_step"]["relative_l2"] < 10  # one epoch: finite, not good
    assert len(written["stability"]["rollout"]["gain"]) == len(QUICK.noise_levels)
    assert written["cost"]["parameters"] > 0 and written["cost"]["samples_per_second"] > 0
    assert written["spectral"]["diagnosis"]["spectral"]["power_ratio"]
    final = _no_nan((folder / "final_results.json").read_text())
    assert final["status"] == "completed" and "val_rel_l2" in final  # kept
    summary = written["summary"]  # the metric table's names and values
    assert summary["rel_l2"] == written["one_step"]["relative_l2"]
    assert summary["rollout_rel_l2"] == written["rollout"]["relative_l2"]
    assert summary["noise_gain"] == written["stability"]["rollout"]["gain"][0][-1]
    assert final["evaluation"]["val"] == written["summary"]
    assert "rollout relative" not in format_evaluation(written)  # the table, not the keys
    assert "horizon           2 delays = 30 slices" in format_evaluation(written)


def test_same_horizon_and_windows_for_models_with_different_m(
    results: dict[str, dict[str, Any]],
) -> None:
    mos, hs = results["method_of_steps"], results["history_space"]
    assert (mos["horizon"]["model_m"], hs["horizon"]["model_m"]) == (S, S // 4)
    assert (mos["horizon"]["model_steps"], hs["horizon"]["model_steps"]) == (2, 8)
    for result in (mos, hs):
        assert result["horizon"]["slices"] == 2 * (S - 1)
        assert len(result["rollout"]["error_curve"]["relative_l2"]) == 2 * (S - 1)
        assert result["stability"]["rollout"]["delay"] == [1, 2]
    assert mos["rollout"]["error_curve"]["time"] == hs["rollout"]["error_curve"]["time"]
    assert mos["rollout"]["error_curve"]["time"][-1] == pytest.approx(2.0)
    assert mos["data"] == hs["data"]  # the same windows


def test_val_is_the_default_and_test_only_when_asked(
    runs: dict[str, Path], results: dict[str, dict[str, Any]]
) -> None:
    folder = runs["history_space"]
    assert results["history_space"]["split"] == "val"
    assert not (folder / "evaluation_test.json").exists()
    tested = evaluate_run(folder, "test", QUICK, figures=False)
    assert tested["split"] == "test" and tested["figures"] == []
    dataset = data.read_dataset(tested["data"]["path"])
    assert tested["data"]["trajectories"] == len(dataset.splits["test"])
    final = json.loads((folder / "final_results.json").read_text())
    assert set(final["evaluation"]) == {"val", "test"}
    with pytest.raises(UsageError, match="split 'train'"):
        evaluate_run(folder, "train", QUICK)


def test_figures_are_written(runs: dict[str, Path], results: dict[str, dict[str, Any]]) -> None:
    folder = runs["method_of_steps"]
    figures = results["method_of_steps"]["figures"]
    names = {Path(name).name for name in figures}
    assert {"rollout_vs_truth.png", "rollout_error.png", "power_spectrum.png"} <= names
    assert {"cross_correlation.png", "correlation_function.png"} <= names
    for name in figures:
        assert (folder / name).stat().st_size > 1000
    assert all(name.startswith("artifacts/evaluation_val/") for name in figures)


def test_kept_rollouts_are_the_scored_ones(
    runs: dict[str, Path], results: dict[str, dict[str, Any]]
) -> None:
    """rollouts_val.npz (for dno report): the figure windows, on the scored horizon."""
    for name, folder in runs.items():
        examples = results[name]["examples"]
        assert examples["file"] == "rollouts_val.npz" and len(examples["windows"]) == 2
        with np.load(folder / examples["file"]) as kept:
            horizon = results[name]["horizon"]["slices"]
            assert kept["history"].shape[:2] == (2, S)
            assert kept["truth"].shape == kept["prediction"].shape
            assert kept["truth"].shape[:2] == (2, horizon)
            assert list(kept["windows"]) == examples["windows"]


def test_run_without_checkpoint_is_one_clear_error(runs: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(runs["method_of_steps"], broken)
    (broken / "artifacts" / "best.pt").unlink()
    with pytest.raises(DnoError, match=r"has no checkpoint artifacts/best\.pt") as error:
        evaluate_run(broken, config=QUICK)
    assert "\n" not in str(error.value)
    with pytest.raises(UsageError, match="not a run folder"):
        evaluate_run(tmp_path, config=QUICK)
    with pytest.raises(UsageError, match="does not exist"):
        evaluate_run(tmp_path / "missing", config=QUICK)


def test_missing_dataset_names_the_path_and_the_fix(runs: dict[str, Path], tmp_path: Path) -> None:
    moved = tmp_path / "moved"
    shutil.copytree(runs["history_space"], moved)
    config = json.loads((moved / "config.json").read_text())
    original = config["data"]["path"]
    config["data"]["path"] = str(tmp_path / "gone.h5")
    (moved / "config.json").write_text(json.dumps(config))
    with pytest.raises(DnoError, match=r"gone\.h5.*--data PATH"):
        evaluate_run(moved, config=QUICK, figures=False)
    result = evaluate_run(moved, config=QUICK, data=original, figures=False)
    assert result["data"]["path"] == original


def test_horizon_longer_than_the_data_is_one_clear_error(runs: dict[str, Path]) -> None:
    too_long = EvaluationConfig(horizon_delays=50)
    with pytest.raises(DnoError, match="lower horizon_delays"):
        evaluate_run(runs["method_of_steps"], config=too_long, figures=False)
