"""The trainer: every model learns, resume equals an uninterrupted run, best weights restored."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

import dno.data as data
from dno.errors import DnoError, UsageError
from dno.evaluation import EvaluationConfig, evaluation_windows
from dno.models import available, load_checkpoint
from dno.training import NonFiniteLoss, plot_prediction, resolve_config, train


@pytest.fixture(scope="module")
def linear_ode(tmp_path_factory: pytest.TempPathFactory) -> data.Dataset:
    """x' = a x (b = c = 0): the future depends on the current state only."""
    path = tmp_path_factory.mktemp("ode") / "ode.h5"
    data.generate_dataset(
        "neutral", 32, 0, path, ["a=-1:-0.2", "b=0", "c=0", "tau=1:1.5"], t_end=10.0
    )
    return data.read_dataset(path)


FAST = {"S": 16, "width": 16, "lr": 3e-3, "patience": 0, "stride": 4, "batch_size": 16}


def persistence_error(dataset: data.Dataset, m: int) -> float:
    """Relative L2 of predicting the current state for all m slices (the validation windows
    every validation score is computed on)."""
    w = evaluation_windows(dataset.splits["val"], FAST["S"], EvaluationConfig())
    target = w.target[:, :m]
    return float(np.linalg.norm(target - w.history[:, -1:]) / np.linalg.norm(target))


@pytest.mark.slow
@pytest.mark.parametrize("model", available())
def test_every_model_learns_a_linear_delay_operator(
    model: str, linear_dde: data.Dataset, linear_ode: data.Dataset, tmp_path: Path
) -> None:
    # fno sees the current state only, so its operator is the ODE; the others learn the DDE.
    dataset, cond = (linear_ode, ["a"]) if model == "fno" else (linear_dde, ["b"])
    config = resolve_config(
        model, FAST, {"max_epochs": 15, "cond_params": cond, "schedule": "cosine"}
    )
    results = train(config, dataset, tmp_path / model, progress=False)
    baseline = persistence_error(dataset, results["m"])
    assert results["val_rel_l2"] < 0.25 * baseline, (results["val_rel_l2"], baseline)
    assert results["val_rel_l2"] < 0.15


def test_run_folder_and_best_weights_restored(linear_dde: data.Dataset, tmp_path: Path) -> None:
    config = resolve_config("method_of_steps", FAST, {"max_epochs": 4, "cond_params": ["b"]})
    results = train(config, linear_dde, tmp_path / "run", progress=False)
    run = tmp_path / "run"
    assert json.loads((run / "config.json").read_text())["model"] == "method_of_steps"
    rows = (run / "metrics.csv").read_text().strip().splitlines()
    assert rows[0].startswith("epoch,train_loss,val_loss,val_rel_l2,val_rollout_rel_l2")
    assert len(rows) == 5
    final = json.loads((run / "final_results.json").read_text())
    # the restored weights score what the kept epoch scored
    assert final["status"] == "completed" and final["val_rel_l2"] == final["best_score"]
    assert results["best_epoch"] == 1 + int(np.argmin([float(r.split(",")[3]) for r in rows[1:]]))
    model, extra = load_checkpoint(run / "artifacts" / "best.pt")  # from the file alone
    assert model.name == "method_of_steps" and extra is not None
    assert (
        extra["normalizer"]["cond_names"] == ["tau", "b"] and extra["epoch"] == final["best_epoch"]
    )
    figure = run / "artifacts" / "prediction_vs_truth.png"
    assert figure.stat().st_size > 1000
    # drawn again from the kept weights alone (what a search does for the trials it shows)
    drawn = figure.read_bytes()
    figure.unlink()
    assert plot_prediction(run, linear_dde) == figure and figure.read_bytes() == drawn


def test_a_run_without_its_figure(linear_dde: data.Dataset, tmp_path: Path) -> None:
    config = resolve_config("method_of_steps", FAST, {"max_epochs": 1})
    train(config, linear_dde, tmp_path / "run", progress=False, figure=False)
    artifacts = tmp_path / "run" / "artifacts"
    assert (artifacts / "best.pt").is_file() and not (
        artifacts / "prediction_vs_truth.png"
    ).exists()
    assert plot_prediction(tmp_path / "nothing", linear_dde) is None  # no kept weights


def test_resume_continues_to_the_same_result(linear_dde: data.Dataset, tmp_path: Path) -> None:
    layer = {**FAST, "cond_params": ["b"], "dropout": 0.1, "schedule": "cosine", "max_epochs": 4}
    config = resolve_config("stacked_history", layer)
    whole = train(config, linear_dde, tmp_path / "a", progress=False)

    def interrupt(epoch: int, row: dict) -> None:
        if epoch == 2:
            raise KeyboardInterrupt  # as if the process were stopped after epoch 2

    with pytest.raises(KeyboardInterrupt):
        train(config, linear_dde, tmp_path / "b", progress=False, on_epoch=interrupt)
    resumed = train(config, linear_dde, tmp_path / "b", resume=True, progress=False)
    timeless = ("seconds", "cpu_seconds")  # the epochs' own times: two runs, two timings
    assert {k: v for k, v in resumed.items() if k not in timeless} == {
        k: v for k, v in whole.items() if k not in timeless
    }
    a_rows = [r.split(",")[:4] for r in (tmp_path / "a" / "metrics.csv").read_text().splitlines()]
    b_rows = [r.split(",")[:4] for r in (tmp_path / "b" / "metrics.csv").read_text().splitlines()]
    assert a_rows == b_rows and len(a_rows) == 5
    wa = load_checkpoint(tmp_path / "a" / "artifacts" / "last.pt")[0].state_dict()
    wb = load_checkpoint(tmp_path / "b" / "artifacts" / "last.pt")[0].state_dict()
    assert all(torch.equal(wa[k], wb[k]) for k in wa)


def test_test_split_is_never_read(linear_dde: data.Dataset, tmp_path: Path) -> None:
    poisoned = data.Dataset(**{**linear_dde.__dict__, "splits": dict(linear_dde.splits)})
    test = linear_dde.splits["test"]
    poisoned.splits["test"] = data.Split(
        **{**test.__dict__, "y": np.full_like(test.y, np.nan), "t": np.full_like(test.t, np.nan)}
    )
    config = resolve_config("fno", FAST, {"max_epochs": 2})
    clean = train(config, linear_dde, tmp_path / "clean", progress=False)
    dirty = train(config, poisoned, tmp_path / "dirty", progress=False)
    assert clean["val_rel_l2"] == dirty["val_rel_l2"]
    assert clean["val_rollout_rel_l2"] == dirty["val_rollout_rel_l2"]


def test_non_finite_loss_stops_with_reason(linear_dde: data.Dataset, tmp_path: Path) -> None:
    config = resolve_config(
        "fno", FAST, {"max_epochs": 3, "lr": 1e30, "grad_clip": 0, "schedule": "none"}
    )
    with pytest.raises(NonFiniteLoss, match="non-finite training loss"):
        train(config, linear_dde, tmp_path / "nan", progress=False)
    final = json.loads((tmp_path / "nan" / "final_results.json").read_text())
    assert final["status"] == "failed" and "non-finite" in final["reason"]


@pytest.mark.parametrize(
    ("model", "layer", "match"),
    [
        ("transformer", {}, "unknown model 'transformer'"),
        ("fno", {"lags": 3}, "unknown config key 'lags'.*keys of model 'fno'"),
        ("fno", {"X": 20}, "set by the data"),
        ("fno", {"schedule": "linear"}, "schedule='linear'; expected one of"),
        ("fno", {"batch_size": 0}, "batch_size=0; expected an integer >= 1"),
        ("fno", {"model": "deeponet"}, "the config names model 'deeponet'"),
    ],
)
def test_bad_config_is_one_clear_error(model: str, layer: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        resolve_config(model, layer)


def test_modes_larger_than_s_and_resume_with_other_data(
    linear_dde: data.Dataset, tmp_path: Path
) -> None:
    with pytest.raises(UsageError, match="modes_theta=40 exceeds S=16"):
        train(
            resolve_config("stacked_history", FAST, {"modes_theta": 40}), linear_dde, tmp_path / "x"
        )
    config = resolve_config("fno", FAST, {"max_epochs": 1})
    train(config, linear_dde, tmp_path / "run", progress=False)
    other = data.read_dataset(_rd_file(tmp_path))
    with pytest.raises((UsageError, DnoError), match="does not match"):
        train(config, other, tmp_path / "run", resume=True, progress=False)


def _rd_file(tmp_path: Path) -> Path:
    path = tmp_path / "rd.h5"
    data.generate_dataset("reaction_diffusion", 6, 0, path, t_end=10.0)
    return path


def test_an_unrolled_loss_trains_on_its_own_rollouts(
    linear_dde: data.Dataset, tmp_path: Path
) -> None:
    """rollout_steps = k: the train targets span k m slices, the prediction is the model's own
    k-step rollout (gradients through every step), validation stays one step of m slices."""
    from dno.models import shift_append
    from dno.training import build_model, prepare_data
    from dno.training._trainer import Session, _predict

    config = resolve_config("fno", FAST, {"m": 4, "rollout_steps": 3, "max_epochs": 2})
    prepared = prepare_data(linear_dde, config, 4)
    # validation: dno evaluate's windows, whose futures span the 3-delay horizon
    assert prepared.train.block(0).target.shape[1] == 12 and prepared.val.target.shape[1] == 3 * 15
    one_step = prepare_data(linear_dde, resolve_config("fno", FAST, {"m": 4}), 4)
    assert prepared.train.block(0).history.shape[1:] == one_step.train.block(0).history.shape[1:]
    model = build_model(config, X=1).eval()
    history = torch.randn(5, 16, 1, 1)
    cond = torch.randn(5, 1)
    session = Session.__new__(Session)
    session.config, session.step_model = config, model
    unrolled = _predict(session, history, cond)
    first = model(history, cond)
    second = model(shift_append(history, first, 4), cond)
    third = model(shift_append(shift_append(history, first, 4), second, 4), cond)
    torch.testing.assert_close(unrolled, torch.cat([first, second, third], dim=1))
    results = train(config, linear_dde, tmp_path / "run", progress=False)
    assert results["status"] == "completed" and np.isfinite(results["val_rel_l2"])
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["rollout_steps"] == 3


def test_every_training_step_lets_an_automatic_thread_budget_adapt(
    linear_dde: data.Dataset, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The trainer calls ``dno._cores.adapt_threads`` before each training step."""
    from dno.training import _trainer

    calls: list[int] = []
    monkeypatch.setattr(_trainer, "adapt_threads", lambda: calls.append(1))
    config = resolve_config("stacked_history", FAST, {"max_epochs": 2, "m": 4})
    train(config, linear_dde, tmp_path / "run", progress=False)
    windows = len(data.make_windows(linear_dde.splits["train"], FAST["S"], 4, FAST["stride"]))
    assert len(calls) == 2 * -(-windows // FAST["batch_size"])
