"""Selection on any validation metric of the table, the validation rollout, and resuming a run
that has ended."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

import dno.data as data
from dno.errors import UsageError
from dno.evaluation import EvaluationConfig, evaluate_run
from dno.models import load_checkpoint
from dno.training import automatic_rollout_every, resolve_config, train

FAST = {"S": 16, "width": 16, "lr": 3e-3, "patience": 0, "stride": 4, "batch_size": 16}


def _rows(run: Path) -> list[dict[str, str]]:
    with (run / "metrics.csv").open() as handle:
        return list(csv.DictReader(handle))


def test_select_on_the_rollout_keeps_the_epoch_with_the_best_rollout(
    linear_dde: data.Dataset, tmp_path: Path
) -> None:
    config = resolve_config(
        "history_space", FAST, {"max_epochs": 6, "select": "val_rollout_rel_l2", "m": 4}
    )
    results = train(config, linear_dde, tmp_path / "run", progress=False)
    rows = _rows(tmp_path / "run")
    rollout = [float(r["val_rollout_rel_l2"]) for r in rows]
    assert results["best_epoch"] == 1 + int(np.argmin(rollout))
    assert results["select"] == "val_rollout_rel_l2"
    # the restored weights are the kept epoch's: they score exactly what that epoch scored
    assert results["val_rollout_rel_l2"] == results["best_score"] == min(rollout)
    _, extra = load_checkpoint(tmp_path / "run" / "artifacts" / "best.pt")
    assert extra is not None and extra["epoch"] == results["best_epoch"]


def test_validation_scores_are_what_dno_evaluate_reports(
    linear_dde: data.Dataset, tmp_path: Path
) -> None:
    """One name, one number: a run's val_* scores equal dno evaluate --split val's."""
    config = resolve_config("method_of_steps", FAST, {"max_epochs": 2, "val_horizon_delays": 2})
    results = train(config, linear_dde, tmp_path / "run", progress=False)
    evaluated = evaluate_run(
        tmp_path / "run", "val", EvaluationConfig(horizon_delays=2), figures=False
    )["summary"]
    for name in ("rel_l2", "rollout_rel_l2", "valid_time", "amplitude_ratio", "noise_gain"):
        assert results[f"val_{name}"] == pytest.approx(evaluated[name], rel=1e-6), name
    assert results["val_horizon_delays"] == 2 and evaluated["horizon_delays"] == 2


def test_rollout_every_k_epochs_and_selection_only_where_scored(
    linear_dde: data.Dataset, tmp_path: Path
) -> None:
    config = resolve_config(
        "fno", FAST,
        {"max_epochs": 5, "select": "val_valid_time", "val_rollout_every": 2, "m": 4},
    )  # fmt: skip
    results = train(config, linear_dde, tmp_path / "run", progress=False)
    rows = _rows(tmp_path / "run")
    scored = [r["epoch"] for r in rows if r["val_rollout_rel_l2"]]
    assert scored == ["2", "4", "5"]  # every 2 epochs, and the last
    assert all(r["val_rel_l2"] for r in rows)  # the one-step score every epoch
    valid = {int(r["epoch"]): float(r["val_valid_time"]) for r in rows if r["val_valid_time"]}
    assert results["best_epoch"] == max(valid, key=lambda e: (valid[e], -e))  # higher is better


def test_the_automatic_rollout_interval_counts_model_steps() -> None:
    """The default val_rollout_every: the fewest epochs apart that keep the rollout's estimated
    cost (model steps, not seconds: the same k on every machine) within a tenth of an epoch."""
    # 200 windows x 12 steps x 2 = 4800 forward passes; an epoch 1000 x 1 x 3 = 3000: 1.6 -> 16
    assert automatic_rollout_every(200, 12, 1000, 1) == 16
    assert automatic_rollout_every(200, 3, 10_000, 1) == 1  # 1200 / 30000 = 4 %: every epoch
    assert automatic_rollout_every(200, 3, 10_000, 4) == 1
    assert automatic_rollout_every(200, 12, 1000, 4) == 4  # unrolled epochs cost more


def test_the_rollout_interval_of_a_run(linear_dde: data.Dataset, tmp_path: Path) -> None:
    """Every epoch when the selection reads the rollout; the automatic interval otherwise; the
    config's when given. final_results.json records the interval that ran."""
    base = {**FAST, "max_epochs": 1, "m": 4}
    chosen = {
        "rollout": resolve_config("fno", base, {"select": "val_rollout_rel_l2"}),
        "given": resolve_config("fno", base, {"val_rollout_every": 3}),
        "automatic": resolve_config("fno", base),
    }
    every = {k: train(c, linear_dde, tmp_path / k, progress=False)["val_rollout_every"]
             for k, c in chosen.items()}  # fmt: skip
    assert every["rollout"] == 1 and every["given"] == 3
    results = json.loads((tmp_path / "automatic" / "final_results.json").read_text())
    steps = -(-3 * (16 - 1) // 4)  # the validation's 3 delays in steps of m = 4 slices
    assert every["automatic"] == automatic_rollout_every(
        results["n_val_windows"], steps, results["n_train_windows"], 1
    )


def test_a_run_that_ended_is_left_as_it_is(linear_dde: data.Dataset, tmp_path: Path) -> None:
    """Resuming a run that stopped early trains nothing more, and a run killed between its last
    epoch and its final results finishes to the same final_results.json, bit for bit."""
    layer = {**FAST, "patience": 1, "max_epochs": 30, "lr": 3e-2, "m": 4}
    config = resolve_config("fno", layer)
    run = tmp_path / "run"
    first = train(config, linear_dde, run, progress=False)
    assert first["status"] == "stopped_early" and first["epochs_run"] < 30
    written = (run / "final_results.json").read_bytes()
    again = train(config, linear_dde, run, resume=True, progress=False)
    assert again == first and (run / "final_results.json").read_bytes() == written
    # killed after the last epoch's checkpoints, before the final results
    (run / "final_results.json").write_text(json.dumps({"status": "running"}))
    resumed = train(config, linear_dde, run, resume=True, progress=False)
    assert resumed["epochs_run"] == first["epochs_run"]
    assert (run / "final_results.json").read_bytes() == written


def test_a_stopped_run_still_records_its_best_epoch(
    linear_dde: data.Dataset, tmp_path: Path
) -> None:
    """A caller that stops the run (pruning) gets the run finished first: best weights restored
    and scored, status stopped with the reason."""

    def prune(epoch: int, row: dict) -> None:
        if epoch == 2:
            raise RuntimeError("pruned at epoch 2")

    config = resolve_config("fno", FAST, {"max_epochs": 6, "m": 4})
    with pytest.raises(RuntimeError, match="pruned"):
        train(config, linear_dde, tmp_path / "run", progress=False, on_epoch=prune)
    final = json.loads((tmp_path / "run" / "final_results.json").read_text())
    assert final["status"] == "stopped" and final["reason"] == "pruned at epoch 2"
    assert final["epochs_run"] == 2 and np.isfinite(final["val_rollout_rel_l2"])


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        ({"select": "test_rel_l2"}, "selection reads the validation split only"),
        ({"select": "val_rolout_rel_l2"}, "did you mean 'val_rollout_rel_l2'"),
        ({"select": "parameters"}, "is a cost, not a validation score"),
        ({"select": "val_amplitude_ratio"}, "no direction to optimise"),
        ({"select": "val_rollout_rel_l2", "val_rollout_every": 0}, "only at the end"),
        ({"val_horizon_delays": 0}, "val_horizon_delays=0; expected an integer >= 1"),
    ],
)
def test_a_bad_selection_is_one_clear_error(layer: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        resolve_config("fno", layer)


def test_a_rollout_horizon_beyond_the_data_is_refused_before_training(
    linear_dde: data.Dataset, tmp_path: Path
) -> None:
    """10 time units hold at most 6 delays of tau >= 1.5 after the first: 20 do not fit."""
    config = resolve_config(
        "fno", FAST, {"select": "val_rollout_rel_l2", "val_horizon_delays": 20, "m": 4}
    )
    with pytest.raises(UsageError, match=r"select=val_rollout_rel_l2: no trajectory .* 20-delay"):
        train(config, linear_dde, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()
    # selected on one step, the same horizon is a warning, and one-step scores only
    one_step = resolve_config("fno", FAST, {"val_horizon_delays": 20, "m": 4, "max_epochs": 1})
    with pytest.warns(UserWarning, match="one-step validation scores only"):
        results = train(one_step, linear_dde, tmp_path / "one", progress=False)
    assert "val_rollout_rel_l2" not in results and results["val_horizon_delays"] is None
