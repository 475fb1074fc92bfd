"""``dno compare FILE.yaml`` end to end: files, resume without retraining, failures, bad files."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

import dno.compare._comparison as compare_run
import dno.data as data
from dno.cli import main
from dno.compare import load_plan, parse_plan, run_comparison, write_comparison
from dno.errors import UsageError
from dno.evaluation import EvaluationConfig, evaluation_windows, score_checkpoint, score_run
from dno.models import load_checkpoint


def _run(argv: list[str]) -> int:
    """``dno compare ARGV``, as the console script runs it: its exit status."""
    return main(["compare", *argv])


@pytest.fixture(scope="module")
def dataset_path(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("compare") / "neutral.h5"
    data.generate_dataset("neutral", 12, 0, path, t_end=10.0)
    return path


def _plan(dataset_path: Path, **changes: Any) -> dict[str, Any]:
    plan: dict[str, Any] = {
        "name": "ab",
        "family": "neutral",
        "data": str(dataset_path),
        "seeds": 2,
        "max_epochs": 1,
        "S": 16,
        "width": 8,
        "device": "cpu",
        "metric": {"name": "rel_l2", "split": "test"},
        "baseline": "plain",
        "approaches": {
            "plain": {"model": "method_of_steps"},
            "snorm": {"model": "method_of_steps", "set": {"spectral_norm": 1.0}},
        },
    }
    plan.update(changes)
    return plan


def _write(folder: Path, plan: dict[str, Any], name: str = "ab.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(plan, sort_keys=False), encoding="utf-8")
    return path


class CountingTrain:
    """Wraps the real trainer and counts its calls (and whether they resumed)."""

    def __init__(self, fail: tuple[str, int] | None = None) -> None:
        self.calls: list[tuple[str, bool]] = []
        self.fail = fail
        self.train = compare_run.train

    def __call__(self, config: dict[str, Any], dataset: Any, out: Path, **kwargs: Any) -> Any:
        self.calls.append((str(out), bool(kwargs.get("resume"))))
        if self.fail and Path(out).parts[-2:] == (self.fail[0], f"seed-{self.fail[1]}"):
            raise RuntimeError("simulated out of memory")
        return self.train(config, dataset, out, **kwargs)


def test_compare_writes_the_table_and_resumes_without_retraining(
    dataset_path: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = _write(tmp_path, _plan(dataset_path))
    out = tmp_path / "out"
    assert _run([str(file), "--out", str(out), "-q"]) == 0
    printed = capsys.readouterr().out
    assert "| rank | approach" in printed and "plain (baseline)" in printed
    assert "too few seeds (n=2, need >= 6)" in printed  # no p-value with 2 seeds
    folder = out / "ab"
    for name in ("comparison.csv", "comparison.md", "comparison.json"):
        assert (folder / name).is_file()
    assert "## How to read this" in (folder / "comparison.md").read_text()
    rows = list(csv.DictReader((folder / "comparison.csv").open()))
    assert {r["approach"] for r in rows} == {"plain", "snorm"}
    assert all(r["seed_0"] and r["seed_1"] for r in rows)
    document = json.loads((folder / "comparison.json").read_text())
    assert document["kind"] == "dno-comparison" and document["seeds"] == [0, 1]
    assert all(run["status"] == "completed" and run["trained_now"] for run in document["runs"])
    assert "Wilcoxon p" in document["columns"]
    results = folder / "snorm" / "seed-1" / "final_results.json"
    stamp = results.stat().st_mtime_ns

    counting = CountingTrain()
    monkeypatch.setattr(compare_run, "train", counting)
    first = json.loads((folder / "comparison.json").read_text())["rows"]
    assert _run([str(file), "--out", str(out), "-q"]) == 0
    assert counting.calls == [] and results.stat().st_mtime_ns == stamp
    again = json.loads((folder / "comparison.json").read_text())
    assert again["rows"] == first
    assert not any(run["trained_now"] for run in again["runs"])

    # an interrupted run (no final results yet) continues from its last checkpoint
    (folder / "plain" / "seed-0" / "final_results.json").unlink()
    assert _run([str(file), "--out", str(out), "-q"]) == 0
    assert counting.calls == [(str(folder / "plain" / "seed-0"), True)]

    # a run made before a training option existed is read back (the option at its default)
    saved = folder / "plain" / "seed-1" / "config.json"
    config = json.loads(saved.read_text())
    del config["rollout_steps"]
    saved.write_text(json.dumps(config))
    assert _run([str(file), "--out", str(out), "-q"]) == 0
    assert len(counting.calls) == 1  # only the earlier resume: nothing trained again

    # the same folder with another config is an error naming the key
    changed = _write(tmp_path, _plan(dataset_path, width=12))
    assert _run([str(changed), "--out", str(out), "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and "width: 8 -> 12" in error


def test_a_failed_run_is_recorded_and_counted(
    dataset_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    plan = parse_plan(_plan(dataset_path, seeds=[3], metric="val_rel_l2"))
    monkeypatch.setattr(compare_run, "train", CountingTrain(fail=("snorm", 3)))
    result = run_comparison(plan, data.read_dataset(dataset_path), tmp_path)
    failed = [r for r in result.runs if r.status == "failed"]
    assert [(r.approach, r.seed) for r in failed] == [("snorm", 3)]
    assert "simulated out of memory" in failed[0].reason
    snorm = next(r for r in result.rows if r.approach == "snorm")
    assert (snorm.n_failed, snorm.summary.n, snorm.summary.mean) == (1, 0, None)
    assert snorm.rank == 2  # no successful seed: ranked last
    plain = next(r for r in result.rows if r.approach == "plain")
    best = json.loads((result.folder / "plain" / "seed-3" / "final_results.json").read_text())
    assert plain.values == [best["val_rel_l2"]]
    md = write_comparison(result)["md"].read_text()
    assert "0/1" in md and "snorm: 1 of 1 seeds failed (seed 3: RuntimeError" in md


def test_training_compare_and_score_checkpoint_score_alike(
    dataset_path: Path, tmp_path: Path
) -> None:
    """One scoring path: training's recorded validation rel. L2 of the kept weights,
    ``dno compare``'s rel_l2 on val (recomputed from best.pt) and score_checkpoint of the
    restored weights on the validation windows are the same number."""
    dataset = data.read_dataset(dataset_path)
    by_training = run_comparison(
        parse_plan(_plan(dataset_path, seeds=[0], metric="val_rel_l2")), dataset, tmp_path
    )
    val = {"name": "rel_l2", "split": "val"}
    by_scoring = run_comparison(parse_plan(_plan(dataset_path, seeds=[0], metric=val)), dataset,
                                tmp_path)  # fmt: skip
    assert [r.value for r in by_scoring.runs] == [r.value for r in by_training.runs]
    assert not any(r.trained for r in by_scoring.runs)  # read back
    for run in by_training.runs:
        final = json.loads((run.path / "final_results.json").read_text())
        best = run.path / "artifacts" / "best.pt"
        model, _ = load_checkpoint(best)
        windows = evaluation_windows(dataset.splits["val"], model.S, EvaluationConfig())
        scores = score_checkpoint(best, windows)
        assert scores.relative_l2 == pytest.approx(final["val_rel_l2"], rel=1e-6)
        assert final["val_rel_l2"] == final["best_score"]
        recomputed = score_run(run.path, "val", ["rel_l2"])["rel_l2"]
        assert recomputed == pytest.approx(final["val_rel_l2"], rel=1e-6)


BAD_FILES = [
    ({"approaches": {"plain": {"model": "nosuch"}, "b": {"model": "fno"}}}, "unknown model"),
    (
        {"approaches": {"plain": {"model": "fno"}, "b": {"model": "fno", "set": {"wdth": 3}}}},
        "approach 'b': unknown config key 'wdth' (did you mean 'width'?)",
    ),
    ({"widht": 8}, "unknown top-level key 'widht'"),
    ({"baseline": "nope"}, "baseline 'nope' is not the name of one of the approaches"),
    ({"baseline": {"model": "fno"}}, "baseline {'model': 'fno'} is not the name of one"),
    ({"approaches": ["plain", "b"]}, "'approaches' must map approach names"),
    ({"family": ["neutral"]}, "family ['neutral']"),
    ({"seeds": "three"}, "seeds 'three'"),
    ({"metric": {"name": ["rel_l2"]}}, "metric name ['rel_l2']"),
    ({"alpha": "small"}, "alpha"),
    ({"data": 3}, "data 3"),
    ({"seeds": 0}, "seeds 0"),
    ({"metric": {"name": "accuracy"}}, "unknown metric 'accuracy'"),
    ({"metric": {"name": "val_rel_l2", "split": "test"}}, "is on val, not split 'test'"),
    ({"metric": {"name": "rollout_rel_lt"}}, "did you mean 'rollout_rel_l2'"),
    ({"metric": {"name": "amplitude_ratio"}}, "no direction to rank by"),
    ({"family": "mackey"}, "holds 'neutral' data"),
    ({"seed": 3}, "'seed' is not allowed"),
    ({"approaches": {"plain": {"model": "fno", "sett": {}}, "b": {}}}, "unknown key 'sett'"),
    ({"approaches": {"plain": {"model": "fno"}}}, "at least one approach besides"),
    (
        {"approaches": {"plain": {}, "e": {"set": {"edge_params": ["beta"]}}}, "model": "fno"},
        "edge_params names 'beta'",
    ),
]


@pytest.mark.parametrize(("changes", "message"), BAD_FILES)
def test_bad_files_give_one_clear_line(
    changes: dict[str, Any],
    message: str,
    dataset_path: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    file = _write(tmp_path, _plan(dataset_path, **changes))
    assert _run([str(file), "--out", str(tmp_path / "out"), "-q"]) == 2
    error = capsys.readouterr().err.strip()
    assert len(error.splitlines()) == 1 and error.startswith("dno: error: ")
    assert message in error
    assert not (tmp_path / "out").exists()  # nothing ran


def test_plan_defaults_and_overrides(dataset_path: Path, tmp_path: Path) -> None:
    file = _write(tmp_path, _plan(dataset_path, name=None, model="fno"), "my-ab.yaml")
    text = file.read_text().replace("name: null\n", "")
    file.write_text(text)
    plan = load_plan(file, seeds=4, max_epochs=3)
    assert plan.name == "my-ab" and plan.seeds == (0, 1, 2, 3)
    assert plan.config_for("snorm", 2)["seed"] == 2
    assert plan.config_for("snorm", 2)["max_epochs"] == 3
    assert plan.config_for("snorm", 2)["model_config"] == {"width": 8, "spectral_norm": 1.0}
    assert plan.metric.lower_is_better and plan.alpha == 0.05
    with pytest.raises(UsageError, match="does not exist"):
        load_plan(tmp_path / "missing.yaml")
    (tmp_path / "broken.yaml").write_text("approaches: [\n")
    with pytest.raises(UsageError, match="not valid YAML"):
        load_plan(tmp_path / "broken.yaml")
