"""Trial runners: what one trial of a study runs.

A runner takes a trial folder, the trial's parameters, a seed and a ``report(step, value)``
callback (which raises ``optuna.TrialPruned`` when the pruner says so) and returns the trial's
metrics. Training a dno model in-process is one runner; running a user's program is another
implementation of the same protocol.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from dno.data import Dataset
from dno.errors import DnoError, UsageError
from dno.evaluation import (
    METRICS,
    SplitScores,
    canonical_names,
    metric_names,
    parse_name,
    qualify,
    run_metric,
)
from dno.tracking import RunFolder, run_name
from dno.training import TrainConfig, resolve_config, train, validation_config

__all__ = ["DnoModelRunner", "Report", "TrialRunner", "objective_names", "trial_metrics"]

Report = Callable[[int, float], None]


def objective_names() -> list[str]:
    """What a dno model trial can be searched on: every validation score of the metric table
    with a direction (``val_rel_l2``, ``val_rollout_rel_l2``, ``val_noise_gain``, ...), and the
    model's and the run's costs (``parameters``, ``latency_ms``, ``train_seconds``, ...)."""
    scores = [qualify(name, "val") for name in metric_names(kind="score", searchable=True)]
    return scores + [n for n in metric_names(searchable=True) if METRICS[n].kind != "score"]


def trial_metrics(results: dict[str, Any]) -> dict[str, float]:
    """The metrics a run's ``final_results.json`` holds, by their table names (finite values)."""
    names = [qualify(n, "val") for n in metric_names(kind="score")]
    names += [n for n in metric_names() if METRICS[n].kind != "score"]
    found = canonical_names(results)
    return {n: v for n in names if n in found and (v := run_metric(found, n)) is not None}


class TrialRunner(Protocol):
    """Runs one trial (one configuration, one seed) in its own folder."""

    #: the metric reported per step to the pruner
    intermediate: str

    def run(
        self, folder: Path, params: dict[str, Any], seed: int, report: Report
    ) -> dict[str, float]:
        """Run and return metrics (including every objective); raise on failure."""


class DnoModelRunner:
    """Trains a dno model in-process: ``dno train`` with the trial's parameters and seed.

    Each trial keeps the epoch that is best on the first objective (``select``) when that is a
    validation score and the space or base config does not set ``select`` itself, so a search on
    ``val_rollout_rel_l2`` scores the checkpoint with the best rollout, not the best one step.
    """

    def __init__(
        self,
        model: str,
        dataset: Dataset,
        max_epochs: int,
        base: dict[str, Any] | None = None,
        wandb_project: str | None = None,
        device: str | None = None,
        objectives: list[str] | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.dataset = dataset
        self.max_epochs = max_epochs
        self.base = dict(base or {})
        self.wandb_project = wandb_project
        self.objectives = list(objectives or ["val_rel_l2"])
        self.intermediate = self.objectives[0]
        first, split = parse_name(self.intermediate)
        if split == "val" and first.direction.searchable:
            self.base.setdefault("select", self.intermediate)

    def check_horizon(self, fixed: dict[str, Any]) -> None:
        """A rollout objective needs validation trajectories that cover the horizon (of the base
        config with the space's ``fixed`` values): said in one line before any trial, not by
        every trial failing."""
        from dno.evaluation import evaluation_windows

        rollout = [n for n in self.objectives if parse_name(n)[0].rollout]
        if rollout:
            config = self.config(fixed, 0)
            what = f"the validation split of {self.dataset.path}"
            try:
                evaluation_windows(
                    self.dataset.splits["val"], config.S, validation_config(config), what=what
                )
            except DnoError as error:
                raise UsageError(f"objective {rollout[0]}: {error}") from None

    def config(self, params: dict[str, Any], seed: int) -> TrainConfig:
        """The resolved training config of a trial (validates every key)."""
        fixed: dict[str, Any] = {"seed": seed, "max_epochs": self.max_epochs}
        if self.device is not None:
            fixed["device"] = self.device  # this worker's own device
        return resolve_config(self.model, self.base, params, fixed)

    def run(
        self, folder: Path, params: dict[str, Any], seed: int, report: Report
    ) -> dict[str, float]:
        config = self.config(params, seed)
        tracker = WandbRun(self.wandb_project, folder, config) if self.wandb_project else None

        def on_epoch(epoch: int, row: dict[str, Any]) -> None:
            if tracker is not None:
                tracker.log(row)
            value = row.get(self.intermediate)
            if value is not None:  # scored this epoch (the rollout may be every k epochs)
                report(epoch, float(value))

        try:
            results = train(  # the figure only for the trials a report shows, after the study
                config, self.dataset, folder, progress=False, on_epoch=on_epoch, figure=False
            )
        finally:
            if tracker is not None:
                tracker.finish(folder)
        metrics = trial_metrics(results)
        metrics["epochs_run"] = float(results["epochs_run"])
        for name in self.objectives:
            if name not in metrics and METRICS[parse_name(name)[0].name].kind == "model":
                metrics[name] = self._model_metric(folder, config, name)
        missing = [name for name in self.objectives if name not in metrics]
        if missing:
            raise UsageError(f"the trial has no finite {', '.join(missing)} (see its run folder)")
        return metrics

    def _model_metric(self, folder: Path, config: TrainConfig, name: str) -> float:
        """A cost of the kept model that training does not record (latency, throughput)."""
        from dno.data import Normalizer
        from dno.evaluation import evaluation_windows
        from dno.models import load_checkpoint

        model, extra = load_checkpoint(RunFolder(folder).best_checkpoint)
        evaluation = validation_config(config)
        windows = evaluation_windows(self.dataset.splits["val"], model.S, evaluation)
        normalizer = Normalizer.from_dict((extra or {})["normalizer"])
        value = METRICS[name].compute(SplitScores(model, windows, normalizer, evaluation))
        return float("nan") if value is None else float(value)


class WandbRun:
    """One trial seed as a W&B run: offline unless the user set up W&B; never prompts."""

    def __init__(self, project: str, folder: Path, config: TrainConfig) -> None:
        try:
            import wandb
        except ImportError:
            raise UsageError("--wandb needs W&B: pip install 'dno[wandb]'") from None
        os.environ.setdefault("WANDB_SILENT", "true")
        online = bool(os.environ.get("WANDB_API_KEY")) and os.environ.get("WANDB_MODE") != "offline"
        name = run_name(folder)
        self.run = wandb.init(
            project=project, name=f"{project}-{name}", dir=str(folder), config=config.to_dict(),
            mode="online" if online else "offline", reinit="create_new",
        )  # fmt: skip
        for name in metric_names(kind="score", searchable=True):  # W&B's summary: the best epoch
            goal = "min" if METRICS[name].direction.value == "minimize" else "max"
            self.run.define_metric(qualify(name, "val"), summary=goal)

    def log(self, row: dict[str, Any]) -> None:
        """One epoch's row (the scores not computed this epoch left out)."""
        values = {k: v for k, v in row.items() if k != "epoch" and v is not None}
        self.run.log(values, step=int(row["epoch"]))

    def finish(self, folder: Path) -> None:
        summary = canonical_names(RunFolder(folder).results())
        self.run.summary.update(
            {k: v for k, v in summary.items() if isinstance(v, int | float | str)}
        )
        self.run.finish()
