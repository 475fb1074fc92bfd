"""Evaluate a trained run folder: every metric on one split, JSON, a summary and figures.

The protocol is the same for every model, so runs compare fairly:

- Windows of the split with the run's S; the future of each window spans
  ``max(K (S - 1), S)`` slices for the horizon of K delays (``EvaluationConfig.horizon_delays``),
  whatever the model's m, so every model with the same S sees the same windows. Windows are
  made only where the data cover the whole window and its future (no padding, no
  extrapolation); trajectories shorter than ``(1 + K) tau`` give none.
- One step: the model's own m slices. Rollout: ``model.rollout(horizon=K (S - 1))``, i.e.
  ``ceil(K (S - 1) / m)`` steps with ``shift_append`` cut to the horizon. Everything is scored in
  physical units (normalization undone), times in units of tau.
- Stability: one step under noise (:func:`noise_sensitivity`), and the rollout under noise on
  the initial history (:func:`rollout_noise_sensitivity`) one delay at a time: each delay is the
  model's own rollout cut to S - 1 slices, so every model is scored at 1, 2, ..., K delays.
- The test split is read only when asked for (``split="test"``); validation is the default.
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dno._cores import select_device
from dno._io import check_folder_writable
from dno.errors import DnoError, UsageError
from dno.evaluation._config import EvaluationConfig
from dno.evaluation._figures import plot_diagnostics, plot_rollout_error, plot_rollouts
from dno.evaluation._metrics import (
    EVALUATION_SPLITS,
    METRICS,
    SplitScores,
    evaluation_windows,
    evenly_spread,
    metric_names,
)
from dno.evaluation._scoring import RolloutScores, rollout_record, spectral_record
from dno.evaluation._stability import noise_sensitivity
from dno.evaluation._summary import summarize
from dno.tracking import (
    ARTIFACTS,
    BEST_CHECKPOINT,
    EVALUATION_FIGURES,
    EVALUATION_JSON,
    FINAL_RESULTS,
    ROLLOUT_ERROR_FIGURE,
    ROLLOUT_FIGURE,
    ROLLOUTS_NPZ,
    RUN_CONFIG,
    RunFolder,
    json_safe,
    read_json,
    write_json,
)

if TYPE_CHECKING:
    from dno.data import Dataset, Normalizer, WindowSet
    from dno.models import DelayOperator

__all__ = ["ResolutionError", "evaluate_run", "score_run"]


class ResolutionError(DnoError):
    """A model whose weights fit only the spatial grid it was trained on (a layer over every
    point), asked to score data on another grid."""


#: The metrics of the summary: every score and model cost of the table (the latency is the
#: search's measure; the summary has the throughput of the evaluation's own batch instead).
_SUMMARY = [name for name in metric_names() if METRICS[name].kind != "run" and name != "latency_ms"]


@dataclass
class _Run:
    """A loaded run: its folder, config, best model, normalization and dataset."""

    path: Path
    config: dict[str, Any]
    model: DelayOperator
    extra: dict[str, Any]
    normalizer: Normalizer
    dataset: Dataset
    status: str | None


def _dataset_path(
    folder: Path, config: dict[str, Any], data: str | os.PathLike[str] | None
) -> Path:
    if data is not None:
        path = Path(data)
        if not path.is_file():
            raise UsageError(f"dataset {str(path)!r} does not exist")
        return path
    recorded = (config.get("data") or {}).get("path")
    if not recorded:
        raise DnoError(
            f"{folder / RUN_CONFIG} records no dataset; pass the dataset it was trained on "
            "with --data PATH"
        )
    path = Path(recorded)
    if not path.is_file():
        raise DnoError(
            f"dataset {str(path)!r} of run {str(folder)!r} does not exist (moved or deleted?); "
            "pass its new location with --data PATH, or regenerate it with dno generate"
        )
    return path


def _load_run(run_dir: str | os.PathLike[str], data: str | os.PathLike[str] | None) -> _Run:
    """Read a run folder written by ``dno train``; one clear error for anything missing."""
    from dno.data import Normalizer, read_dataset
    from dno.models import load_checkpoint

    folder, run = Path(run_dir), RunFolder(run_dir)
    if not folder.is_dir():
        raise UsageError(f"run folder {str(folder)!r} does not exist")
    if not run.config_path.is_file():
        raise UsageError(
            f"{str(folder)!r} is not a run folder (no config.json); expected a folder written "
            "by dno train"
        )
    best = run.best_checkpoint
    if not best.is_file():
        raise DnoError(
            f"run folder {str(folder)!r} has no checkpoint artifacts/best.pt (no epoch finished?); "
            f"train it first: dno train ... --out {folder}"
        )
    config = read_json(run.config_path)
    model, extra = load_checkpoint(best)
    if not extra or "normalizer" not in extra:
        raise DnoError(f"{best} holds no normalization; it was not written by dno train")
    dataset = read_dataset(_dataset_path(folder, config, data))
    family = extra.get("family", dataset.family)
    if dataset.family != family:
        raise DnoError(
            f"dataset {dataset.path!r} holds {dataset.family!r} data; run {str(folder)!r} was "
            f"trained on {family!r}"
        )
    return _Run(
        folder,
        config,
        model,
        extra,
        Normalizer.from_dict(extra["normalizer"]),
        dataset,
        run.status(),
    )


def _windows(run: _Run, split: str, config: EvaluationConfig) -> WindowSet:
    """The split's evaluation windows (:func:`evaluation_windows`), checked against the model."""
    part = run.dataset.splits[split]
    if len(part) == 0:
        raise DnoError(f"dataset {run.dataset.path!r} has no {split} trajectories")
    what = f"the {split} split of {run.dataset.path!r}"
    windows = evaluation_windows(part, run.model.S, config, what=what)
    run.model.check_data(
        S=run.model.S,
        X=windows.history.shape[2],
        channels=windows.history.shape[3],
        cond_dim=len(run.normalizer.cond_names),
        source=f"dataset {run.dataset.path!r}",
    )
    return windows


def _stability(scores: SplitScores) -> dict[str, Any]:
    """One-step and rollout noise sensitivity on ``config.stability_windows`` windows."""
    config, pick = scores.config, scores.stability_pick
    windows = scores.windows.select(pick)
    one = noise_sensitivity(
        scores.predictor(windows),
        windows.history.astype(np.float64),
        levels=config.noise_levels,
        seed=config.seed,
    )
    return {
        "windows": int(pick.size),
        "one_step": one,
        "rollout": {
            "delay": np.arange(1, config.horizon_delays + 1),
            **json_safe(scores.rollout_noise),
        },
    }


def _figures(
    run: _Run,
    split: str,
    history: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    scores: RolloutScores,
    config: EvaluationConfig,
    pick: np.ndarray,
) -> list[Path]:
    """PNG files in ``artifacts/evaluation_<split>/``; rollouts drawn for the windows ``pick``."""
    folder = RunFolder(run.path).artifacts / EVALUATION_FIGURES.format(split=split)
    folder.mkdir(parents=True, exist_ok=True)
    title = f"{run.model.name} on {run.dataset.family} ({split}, {config.horizon_delays} delays)"
    paths = [
        plot_rollouts(folder / ROLLOUT_FIGURE, history[pick], truth[pick], prediction[pick], title),
        plot_rollout_error(folder / ROLLOUT_ERROR_FIGURE, scores, title),
    ]
    fields = scores.fields
    paths += plot_diagnostics(scores.diagnosis, fields.prediction, fields.truth, folder)
    return paths


def _write_examples(
    path: Path,
    history: np.ndarray,
    truth: np.ndarray,
    prediction: np.ndarray,
    pick: np.ndarray,
) -> dict[str, Any]:
    """Keep a few rollouts as arrays, so that a report can redraw them without the model.

    ``RUN_DIR/rollouts_<split>.npz`` holds ``history`` (k, S, X, C), ``truth`` and
    ``prediction`` (k, horizon, X, C) in physical units (float32) and ``windows`` (k,), the
    windows' indices ``pick``: the same windows as the PNG figures.
    """
    from dno._io import atomic_path

    with atomic_path(path) as tmp, tmp.open("wb") as handle:
        np.savez(
            handle,
            history=history[pick].astype(np.float32),
            truth=truth[pick].astype(np.float32),
            prediction=prediction[pick].astype(np.float32),
            windows=pick.astype(np.int64),
        )
    return {"file": path.name, "windows": [int(i) for i in pick]}


def evaluate_run(
    run_dir: str | os.PathLike[str],
    split: str = "val",
    config: EvaluationConfig | None = None,
    device: str = "cpu",
    *,
    data: str | os.PathLike[str] | None = None,
    figures: bool = True,
) -> dict[str, Any]:
    """Evaluate the best checkpoint of a run on one split and write the results into the run.

    Writes ``RUN_DIR/evaluation_<split>.json`` (everything), a summary under
    ``"evaluation": {split: ...}`` in ``RUN_DIR/final_results.json`` (other keys kept), a few
    rollouts as arrays in ``RUN_DIR/rollouts_<split>.npz`` and the figures into
    ``RUN_DIR/artifacts/evaluation_<split>/``. The protocol is in the module doc.

    Args:
        run_dir: a run folder written by ``dno train``.
        split: ``"val"`` (default) or ``"test"`` (read only when asked for).
        config: the evaluation config (default :class:`EvaluationConfig`).
        device: ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"mps"``.
        data: the dataset file, if it is no longer where ``config.json`` says.
        figures: write the PNG figures.

    Returns:
        The content of ``evaluation_<split>.json`` (standard JSON values).

    Raises:
        UsageError: a bad split, or a folder that is not a run.
        DnoError: no ``artifacts/best.pt``, a missing dataset, or no window long enough.

    Example:
        >>> result = evaluate_run("runs/fno-mackey-s0")  # doctest: +SKIP
        >>> result["summary"]["rollout_rel_l2"]  # doctest: +SKIP
    """
    _check_split(split)
    config = config or EvaluationConfig()
    run = _load_run(run_dir, data)
    check_folder_writable(run.path)  # before the work, not after it
    if figures:
        artifacts = RunFolder(run.path).artifacts
        check_folder_writable(artifacts if artifacts.is_dir() else run.path)
    torch_device = select_device(device)
    run.model.to(torch_device).eval()
    S, m = run.model.S, run.model.m
    horizon = config.horizon_delays * (S - 1)
    windows = _windows(run, split, config)
    scores = SplitScores(run.model, windows, run.normalizer, config)
    history = windows.history.astype(np.float64)
    rollout = scores.rollout
    truth, prediction = rollout.truth, rollout.prediction
    result: dict[str, Any] = {
        "run": str(run.path),
        "split": split,
        "model": run.model.name,
        "family": run.dataset.family,
        "checkpoint": {"path": f"{ARTIFACTS}/{BEST_CHECKPOINT}", "epoch": run.extra.get("epoch")},
        "run_status": run.status,
        "config": config.to_dict(),
        "data": _data_record(run, split, windows),
        "horizon": {
            "delays": config.horizon_delays,
            "slices": horizon,
            "slices_per_delay": S - 1,
            "model_m": m,
            "model_steps": -(-horizon // m),
        },
        "one_step": {
            "m": m,
            "relative_l2": scores.one_step.relative_l2,
            "relative_l2_per_step": scores.one_step.relative_l2_per_step,
        },
        "rollout": rollout_record(rollout),
        "stability": _stability(scores),
        "spectral": spectral_record(rollout),
        "cost": scores.cost,  # parameters, throughput (one model step), peak memory
    }
    pick = evenly_spread(history.shape[0], config.figure_windows)  # the windows shown and kept
    paths = (
        _figures(run, split, history, truth, prediction, rollout, config, pick) if figures else []
    )
    result["figures"] = [str(path.relative_to(run.path)) for path in paths]
    result["examples"] = _write_examples(
        run.path / ROLLOUTS_NPZ.format(split=split), history, truth, prediction, pick
    )
    result = json_safe(result)
    values = {name: METRICS[name].compute(scores) for name in _SUMMARY}
    result["summary"] = {**summarize(result), **json_safe(values)}
    write_json(run.path / EVALUATION_JSON.format(split=split), result)
    _merge_summary(run.path, split, result["summary"])
    return dict(result)


def _check_split(split: str) -> None:
    if split not in EVALUATION_SPLITS:
        raise UsageError(f"split {split!r}; expected one of: {', '.join(EVALUATION_SPLITS)}")


def score_run(
    run_dir: str | os.PathLike[str],
    split: str,
    names: list[str],
    config: EvaluationConfig | None = None,
    *,
    data: str | os.PathLike[str] | None = None,
    resolution: bool = False,
) -> dict[str, float | None]:
    """Some metrics of a run's best weights on one split, computing only what they need (the
    number :func:`evaluate_run` reports for each, without its files and figures).

    Args:
        run_dir: a run folder written by ``dno train``.
        split: ``"val"`` or ``"test"``.
        names: unqualified names of the metric table (scores and model costs).
        config: the evaluation config (default :class:`EvaluationConfig`).
        data: the dataset file, if it is no longer where ``config.json`` says, or another
            file of the same family (a benchmark's regime: its ``test`` split).
        resolution: ``data`` may be on another spatial grid: the model is rebuilt with its X
            and the same weights (a spectral layer's weights do not depend on X).

    Returns:
        name -> value (None where it cannot be computed or is not finite).

    Raises:
        ResolutionError: with ``resolution``, a model whose weights depend on X (one line
            naming the layer).
    """
    _check_split(split)
    config = config or EvaluationConfig()
    run = _load_run(run_dir, data)
    if resolution:
        run.model = _at_resolution(run.model, int(run.dataset.x.shape[0]))
    run.model.eval()
    scores = SplitScores(run.model, _windows(run, split, config), run.normalizer, config)
    values = {name: METRICS[name].compute(scores) for name in names}
    return {k: v if v is not None and math.isfinite(v) else None for k, v in values.items()}


def _at_resolution(model: DelayOperator, X: int) -> DelayOperator:
    """``model`` with the same weights on ``X`` spatial points (itself if it has X already)."""
    if X == model.X:
        return model
    from dno.models import build

    what = f"model {model.name!r} cannot change resolution (X={model.X} -> {X})"
    try:
        other = build(model.name, **{**model.config, "X": X})
        other.load_state_dict(model.state_dict())
    except (UsageError, RuntimeError) as error:
        raise ResolutionError(f"{what}: {_mismatch(str(error), model.X, X)}") from None
    return other


def _mismatch(error: str, old: int, new: int) -> str:
    """torch's first size mismatch as ``LAYER has shape (a, b) at X=old and (a, c) at X=new``."""
    found = re.search(
        r"size mismatch for ([\w.]+): copying a param with shape torch.Size\(\[([\d, ]*)\]\) "
        r"from checkpoint, the shape in current model is torch.Size\(\[([\d, ]*)\]\)",
        error,
    )
    if found is None:
        return next((line.strip() for line in error.splitlines() if line.strip()), error)
    name, before, after = found.groups()
    return (
        f"{name} has shape ({before}) at X={old} and ({after}) at X={new} (a layer over "
        "every spatial point)"
    )


def _data_record(run: _Run, split: str, windows: WindowSet) -> dict[str, Any]:
    return {
        "path": run.dataset.path,
        "split": split,
        "trajectories": len(run.dataset.splits[split]),
        "trajectories_used": int(np.unique(windows.trajectory).size),
        "windows": len(windows),
        "S": run.model.S,
        "X": int(windows.history.shape[2]),
        "channels": int(windows.history.shape[3]),
    }


def _merge_summary(folder: Path, split: str, summary: dict[str, Any]) -> None:
    """Put ``summary`` under ``"evaluation": {split: ...}`` of ``final_results.json`` (atomic)."""
    run = RunFolder(folder)
    results = run.results()
    evaluation = results.get("evaluation")
    evaluation = dict(evaluation) if isinstance(evaluation, dict) else {}
    evaluation[split] = summary
    run.write_json(FINAL_RESULTS, {**results, "evaluation": evaluation})
