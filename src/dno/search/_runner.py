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
from dno.errors import UsageError
from dno.tracking import RunFolder
from dno.training import TrainConfig, resolve_config, train

__all__ = ["OBJECTIVES", "DnoModelRunner", "Report", "TrialRunner"]

#: Objectives a dno model trial reports, and their direction.
OBJECTIVES = {
    "val_rel_l2": "minimize",
    "n_parameters": "minimize",
    "latency_ms": "minimize",
}

Report = Callable[[int, float], None]


class TrialRunner(Protocol):
    """Runs one trial (one configuration, one seed) in its own folder."""

    #: the metric reported per step to the pruner
    intermediate: str

    def run(
        self, folder: Path, params: dict[str, Any], seed: int, report: Report
    ) -> dict[str, float]:
        """Run and return metrics (including every objective); raise on failure."""


class DnoModelRunner:
    """Trains a dno model in-process: ``dno train`` with the trial's parameters and seed."""

    intermediate = "val_rel_l2"

    def __init__(
        self,
        model: str,
        dataset: Dataset,
        max_epochs: int,
        base: dict[str, Any] | None = None,
        wandb_project: str | None = None,
        device: str | None = None,
    ) -> None:
        self.model = model
        self.device = device
        self.dataset = dataset
        self.max_epochs = max_epochs
        self.base = dict(base or {})
        self.wandb_project = wandb_project

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
            report(epoch, float(row["val_rel_l2"]))

        try:
            results = train(config, self.dataset, folder, progress=False, on_epoch=on_epoch)
        finally:
            if tracker is not None:
                tracker.finish(folder)
        metrics = {
            "val_rel_l2": float(results["best_val_rel_l2"]),
            "n_parameters": float(results["n_parameters"]),
            "epochs_run": float(results["epochs_run"]),
        }
        metrics["latency_ms"] = _latency_ms(folder, config)
        return metrics


class WandbRun:
    """One trial seed as a W&B run: offline unless the user set up W&B; never prompts."""

    def __init__(self, project: str, folder: Path, config: TrainConfig) -> None:
        try:
            import wandb
        except ImportError:
            raise UsageError("--wandb needs W&B: pip install 'dno[wandb]'") from None
        os.environ.setdefault("WANDB_SILENT", "true")
        online = bool(os.environ.get("WANDB_API_KEY")) and os.environ.get("WANDB_MODE") != "offline"
        name = "-".join(folder.parts[-3:]) if folder.parent.name == "seeds" else folder.name
        self.run = wandb.init(
            project=project, name=f"{project}-{name}", dir=str(folder), config=config.to_dict(),
            mode="online" if online else "offline", reinit="create_new",
        )  # fmt: skip

    def log(self, row: dict[str, Any]) -> None:
        self.run.log({k: v for k, v in row.items() if k != "epoch"}, step=int(row["epoch"]))

    def finish(self, folder: Path) -> None:
        summary = RunFolder(folder).results()
        self.run.summary.update(
            {k: v for k, v in summary.items() if isinstance(v, int | float | str)}
        )
        self.run.finish()


def _latency_ms(folder: Path, config: TrainConfig) -> float:
    """Milliseconds per sample of a forward pass of the best model (batch of 32, CPU)."""
    import torch

    from dno.evaluation import measure_cost
    from dno.models import load

    model = load(RunFolder(folder).best_checkpoint)
    inputs = [torch.zeros(32, model.S, model.X, model.channels), torch.zeros(32, model.cond_dim)]
    return 1e3 / measure_cost(model, inputs, repeats=3, warmup=1).samples_per_second
