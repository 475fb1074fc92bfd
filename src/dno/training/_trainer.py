"""The training loop: one trainer for every model.

AdamW; a plateau, cosine or one-cycle schedule; gradient clipping; early stopping on the
validation relative L2; best and last checkpoints written atomically every epoch; the best weights
really restored at the end (and checked); resume from ``last.pt`` to the same result as an
uninterrupted run; seeds for python, numpy, torch and the data order; a non-finite loss stops the
run with that reason. The test split is never read here.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dno import __version__
from dno._cores import adapt_threads, select_device
from dno.data import Dataset, Normalizer, WindowSet, make_windows
from dno.errors import DnoError, UsageError
from dno.evaluation import score_checkpoint
from dno.models import CompiledModel, DelayOperator, build, load_checkpoint, roll_out, save
from dno.tracking import FINAL_RESULTS, PREDICTION_FIGURE, RUN_CONFIG, RunFolder
from dno.training._config import TrainConfig, _plain
from dno.training._losses import training_loss

__all__ = ["NonFiniteLoss", "TrainData", "build_model", "prepare_data", "progress_bar", "train"]

#: Called after every epoch with (epoch, metrics row); may raise to stop the run (pruning).
EpochCallback = Callable[[int, dict[str, Any]], None]


class NonFiniteLoss(DnoError):
    """The training loss became NaN or infinite; the run stops with this reason."""


@dataclass
class TrainData:
    """Normalized train and validation windows, and what the model needs to know of them."""

    train: WindowSet
    val: WindowSet
    normalizer: Normalizer
    family: str
    X: int
    channels: int


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def build_model(config: TrainConfig, X: int, channels: int = 1) -> DelayOperator:
    """The model of ``config`` for data with ``X`` points and ``channels`` channels."""
    cond_dim = 1 + len([p for p in config.cond_params if p != "tau"])
    return build(
        config.model, S=config.S, X=X, channels=channels, cond_dim=cond_dim, **config.model_config
    )


def prepare_data(dataset: Dataset, config: TrainConfig, m: int) -> TrainData:
    """Windows of the train and val splits (never test), normalization fitted on train.

    The validation targets are always the model's m slices; the train targets span
    ``rollout_steps * m`` slices (the unrolled loss), from the same window ends.
    """
    for split in ("train", "val"):
        if len(dataset.splits[split]) == 0:
            raise DnoError(f"the dataset has no {split} trajectories; generate more (--n)")
    steps, cap = config.rollout_steps, config.max_windows_per_trajectory
    windows = {  # train windows end where one-step ones would: stride m unless set
        "train": make_windows(
            dataset.splits["train"], config.S, steps * m, config.stride or m, cap
        ),
        "val": make_windows(dataset.splits["val"], config.S, m, config.stride, cap),
    }
    normalizer = Normalizer.fit(windows["train"], config.cond_params)
    weights = config.channel_weights
    channels = windows["train"].history.shape[-1]
    if weights is not None and len(weights) != channels:
        raise UsageError(f"channel_weights has {len(weights)} entries; the data has {channels}")
    return TrainData(
        train=windows["train"],
        val=windows["val"],
        normalizer=normalizer,
        family=dataset.family,
        X=int(dataset.x.shape[0]),
        channels=channels,
    )


def _edge_repeats(windows: WindowSet, config: TrainConfig) -> np.ndarray:
    """How many times each train window is seen per epoch (edge oversampling), shape (N,)."""
    repeats = np.ones(len(windows), dtype=np.int64)
    if not config.edge_params or config.edge_factor == 1:
        return repeats
    q = config.edge_quantile
    for name in config.edge_params:
        if name not in windows.params:
            raise UsageError(f"edge_params names {name!r}; the data has {sorted(windows.params)}")
        values = windows.params[name]
        lo, hi = np.quantile(values, [q, 1 - q])
        repeats[(values <= lo) | (values >= hi)] = config.edge_factor
    return repeats


def _tensors(
    windows: WindowSet, normalizer: Normalizer, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    return (
        torch.from_numpy(normalizer.state(windows.history)).to(device),
        torch.from_numpy(normalizer.state(windows.target)).to(device),
        torch.from_numpy(normalizer.cond(windows.params)).to(device),
    )


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int) -> Any:
    if config.schedule == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    if config.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.max_epochs)
    if config.schedule == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config.lr, epochs=config.max_epochs,
            steps_per_epoch=steps_per_epoch,
        )  # fmt: skip
    return None


def _keyed(optimizer_state: dict[str, Any], key: type) -> dict[str, Any]:
    """The optimizer's state keyed by ``str`` (in a checkpoint) or ``int`` (in torch)."""
    return {**optimizer_state, "state": {key(k): v for k, v in optimizer_state["state"].items()}}


@dataclass
class Progress:
    """Where a run stands; saved in ``last.pt`` every epoch, so a resumed run goes on from it."""

    epoch: int = 0
    best: float = math.inf  # the best validation relative L2 so far
    best_epoch: int = 0
    since_best: int = 0  # epochs since the best one
    rows: list[dict[str, Any]] = field(default_factory=list)  # the rows of metrics.csv
    status: str = "completed"  # or stopped_early, failed
    reason: str = ""


@dataclass
class Session:
    """What one training run works with: set up once by :func:`_set_up`, passed to each step."""

    config: TrainConfig
    run: RunFolder
    data: TrainData
    device: torch.device
    model: DelayOperator
    step_model: CompiledModel  # what the training steps call: compiled, or the eager model
    optimizer: torch.optim.Optimizer
    scheduler: Any  # a torch LR scheduler, or None
    scaler: torch.amp.GradScaler  # enabled only for mixed precision on CUDA
    #: normalized train windows: history (N, S, X, C), target (N, rollout_steps * m, X, C),
    #: conditioning (N, P)
    train_set: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    #: normalized validation targets (N, m, X, C), for the validation loss
    val_target: torch.Tensor
    epoch_index: np.ndarray  # the train windows of one epoch (edge windows repeated), (E,)
    batch_size: int
    checkpoint_extra: dict[str, Any]  # what every checkpoint records besides the weights
    progress: Progress = field(default_factory=Progress)
    started: float = 0.0  # time.perf_counter() when the epochs began


def train(
    config: TrainConfig,
    dataset: Dataset,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    on_epoch: EpochCallback | None = None,
) -> dict[str, Any]:
    """Train ``config``'s model on ``dataset`` and write the run folder ``out``.

    Args:
        config: a resolved config (:func:`dno.training.resolve_config`).
        dataset: the data; windows come from its train and val splits only.
        out: the run folder (created).
        resume: continue from ``out/artifacts/last.pt`` (same config required).
        progress: show a progress bar on stderr.
        on_epoch: called after each epoch with ``(epoch, metrics row)``; an exception it raises
            stops the run after the checkpoints of that epoch are written (used for pruning).

    Returns:
        The final results (also written to ``out/final_results.json``).

    Raises:
        NonFiniteLoss: the loss became non-finite; ``final_results.json`` records it.
    """
    session = _set_up(config, dataset, out, resume)
    state = session.progress
    bar = progress_bar(config.max_epochs, state.epoch, progress, "training", "epoch")
    try:
        for epoch in range(state.epoch + 1, config.max_epochs + 1):
            row = _run_epoch(session, epoch)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(
                    loss=f"{row['train_loss']:.3g}", val_rel_l2=f"{row['val_rel_l2']:.3g}"
                )
            if on_epoch is not None:
                on_epoch(epoch, row)
            if _stops_early(session):
                break
    except NonFiniteLoss as error:
        state.status, state.reason = "failed", str(error)
    finally:
        if bar is not None:
            bar.close()
    results = _finish(session)
    if state.status == "failed":
        raise NonFiniteLoss(state.reason)
    return results


def _set_up(config: TrainConfig, dataset: Dataset, out: str | Path, resume: bool) -> Session:
    """Seed, build the model, windows and optimizer, create the run folder (or resume it)."""
    device = select_device(config.device)
    seed_everything(config.seed)
    model = build_model(config, X=int(dataset.x.shape[0])).to(device)
    data = prepare_data(dataset, config, model.m)
    model.check_data(
        S=config.S, X=data.X, channels=data.channels,
        cond_dim=len(data.normalizer.cond_names), source=f"the {dataset.family} dataset",
    )  # fmt: skip
    epoch_index = np.repeat(np.arange(len(data.train)), _edge_repeats(data.train, config))
    batch_size = min(config.batch_size, len(epoch_index))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
        fused=device.type in ("cpu", "cuda"),  # one kernel for all parameters, not a loop
    )  # fmt: skip
    session = Session(
        config=config, run=RunFolder(out), data=data, device=device, model=model,
        step_model=CompiledModel(model, config.compile), optimizer=optimizer,
        scheduler=_scheduler(optimizer, config, math.ceil(len(epoch_index) / batch_size)),
        scaler=torch.amp.GradScaler("cuda", enabled=config.amp and device.type == "cuda"),
        train_set=_tensors(data.train, data.normalizer, device),
        val_target=torch.from_numpy(data.normalizer.state(data.val.target)).to(device),
        epoch_index=epoch_index, batch_size=batch_size,
        checkpoint_extra={"normalizer": data.normalizer.to_dict(), "family": dataset.family,
                          "train_config": config.to_dict()},
    )  # fmt: skip
    session.run.create()  # only now: a run failing in its set-up leaves no folder
    if resume:
        session.progress = _resume(session)
    else:
        session.run.write_json(RUN_CONFIG, _config_record(config, dataset))
    session.run.write_json(
        FINAL_RESULTS, {"status": "running", "model": config.model, "family": data.family}
    )
    session.started = time.perf_counter()
    return session


def _run_epoch(s: Session, epoch: int) -> dict[str, Any]:
    """Train one epoch, validate, step the schedule, write the checkpoints; the metrics row."""
    started = time.perf_counter()
    train_loss = _train_epoch(s, epoch)
    val_loss, val_rel = _validate(s)
    lr = s.optimizer.param_groups[0]["lr"]
    if s.config.schedule == "plateau":
        s.scheduler.step(val_rel if math.isfinite(val_rel) else math.inf)
    elif s.config.schedule == "cosine":
        s.scheduler.step()
    row = {
        "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
        "val_rel_l2": val_rel, "lr": lr, "seconds": time.perf_counter() - started,
    }  # fmt: skip
    _checkpoint(s, row)
    return row


def _train_epoch(s: Session, epoch: int) -> float:
    """One pass over the train windows in the epoch's seeded order; the mean training loss."""
    s.model.train()
    history, target, cond = s.train_set
    order = np.random.default_rng([s.config.seed, epoch]).permutation(s.epoch_index)
    epoch_order = torch.from_numpy(order).to(s.device)  # one copy per epoch, not per step
    total = 0.0
    for start in range(0, len(order), s.batch_size):
        adapt_threads()  # fewer threads while other processes keep cores busy (automatic budgets)
        index = epoch_order[start : start + s.batch_size]
        with torch.autocast(s.device.type, dtype=torch.float16, enabled=s.scaler.is_enabled()):
            prediction = _predict(s, history[index], cond[index])
            loss = training_loss(prediction.float(), target[index], s.config)
        value = loss.item()  # the step's one wait for the device: checked, then summed
        if not math.isfinite(value):
            raise NonFiniteLoss(
                f"non-finite training loss ({value}) at epoch {epoch}, "
                f"batch {start // s.batch_size + 1}"
            )
        s.optimizer.zero_grad(set_to_none=True)
        s.scaler.scale(loss).backward()
        if s.config.grad_clip > 0:
            s.scaler.unscale_(s.optimizer)
            torch.nn.utils.clip_grad_norm_(s.model.parameters(), s.config.grad_clip)
        s.scaler.step(s.optimizer)
        s.scaler.update()
        if s.config.schedule == "onecycle":
            s.scheduler.step()
        total += value * index.numel()
    return total / len(order)


def _predict(s: Session, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """The training prediction: one model step (B, m, X, C), or ``rollout_steps`` steps with the
    model's own predictions fed back by shift-append (B, rollout_steps * m, X, C), gradients
    through every step."""
    if s.config.rollout_steps == 1:
        return s.step_model(history, cond)
    return roll_out(lambda window: s.step_model(window, cond), history, s.config.rollout_steps)


def _validate(s: Session) -> tuple[float, float]:
    """The validation loss and relative L2 (in the data's units) of the model's weights now."""
    val = score_checkpoint(s.model, s.data.val, s.data.normalizer)
    return training_loss(val.output, s.val_target, s.config).item(), val.relative_l2


def _checkpoint(s: Session, row: dict[str, Any]) -> None:
    """Record the epoch: ``best.pt`` if it improved, ``last.pt`` and ``metrics.csv`` always."""
    state, epoch, val_rel = s.progress, row["epoch"], row["val_rel_l2"]
    state.rows.append(row)
    state.epoch = epoch
    if math.isfinite(val_rel) and val_rel < state.best:
        state.best, state.best_epoch, state.since_best = val_rel, epoch, 0
        save(s.model, s.run.best_checkpoint, {**s.checkpoint_extra, "epoch": epoch})
    else:
        state.since_best += 1
    training_state = {
        "epoch": epoch,
        "best": state.best if math.isfinite(state.best) else None,
        "best_epoch": state.best_epoch,
        "since_best": state.since_best,
        "optimizer": _keyed(s.optimizer.state_dict(), str),
        "scheduler": _plain(s.scheduler.state_dict()) if s.scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
    }
    save(s.model, s.run.last_checkpoint, {**s.checkpoint_extra, **training_state})
    s.run.write_metrics(state.rows)


def _stops_early(s: Session) -> bool:
    """True (and the run's status says why) after ``patience`` epochs without improvement."""
    patience = s.config.patience
    if not patience or s.progress.since_best < patience:
        return False
    s.progress.status = "stopped_early"
    s.progress.reason = f"no validation improvement for {patience} epochs"
    return True


def _finish(s: Session) -> dict[str, Any]:
    """Restore the best weights, check them, write the figure and ``final_results.json``."""
    seconds = time.perf_counter() - s.started
    restored = None
    if s.run.best_checkpoint.exists():
        best_model, _ = load_checkpoint(s.run.best_checkpoint, s.config.model)
        s.model.load_state_dict(best_model.state_dict())
        restored = _validate(s)[1]
        _plot_prediction(s)
    state, config = s.progress, s.config
    results = {
        "status": state.status, "reason": state.reason, "model": config.model,
        "family": s.data.family, "seed": config.seed, "epochs_run": state.epoch,
        "best_epoch": state.best_epoch, "best_val_rel_l2": state.best,
        "restored_val_rel_l2": restored,
        "n_parameters": sum(p.numel() for p in s.model.parameters()),
        "n_train_windows": len(s.data.train), "n_val_windows": len(s.data.val),
        "S": config.S, "m": s.model.m, "device": str(s.device),
        "threads": torch.get_num_threads(), "seconds": seconds, "dno_version": __version__,
    }  # fmt: skip
    s.run.write_json(FINAL_RESULTS, results)
    return results


def _plot_prediction(s: Session) -> None:
    """A prediction-vs-truth figure of a few validation windows (best weights)."""
    from dno.plotting import draw_rollouts, save_figure

    count = len(s.data.val)
    pick = np.linspace(0, count - 1, min(3, count)).astype(int)
    windows = s.data.val.select(pick)
    scores = score_checkpoint(s.model, windows, s.data.normalizer)
    save_figure(
        s.run.artifacts / PREDICTION_FIGURE,
        draw_rollouts,
        windows.history,
        scores.truth,
        scores.prediction,
        windows.step,
        title=f"{s.model.name} on {s.data.family} (validation windows)",
    )


def _resume(s: Session) -> Progress:
    """Load the weights, optimizer, schedule and RNG of ``last.pt``; the progress it records."""
    run, config = s.run, s.config
    last = run.last_checkpoint
    if not last.exists():
        raise DnoError(f"cannot resume: {last} does not exist")
    saved, plain = run.read_json(RUN_CONFIG), config.to_dict()
    free = ("max_epochs", "dno_version", "data", "compile")  # may change on resume
    differing = sorted(
        k for k in set(saved) | set(plain) if k not in free and saved.get(k) != plain.get(k)
    )
    if differing:
        raise UsageError(f"cannot resume {run.path}: the config differs in {', '.join(differing)}")
    if saved.get("max_epochs") != config.max_epochs:
        run.write_json(RUN_CONFIG, {**saved, "max_epochs": config.max_epochs})
    loaded, extra = load_checkpoint(last, config.model)
    if extra is None or "optimizer" not in extra:
        raise DnoError(f"cannot resume: {last} holds no training state")
    model = s.model
    loaded.check_data(
        S=model.S, X=model.X, channels=model.channels, cond_dim=model.cond_dim,
        source=f"the dataset given to resume {run.path}",
    )  # fmt: skip
    model.load_state_dict(loaded.state_dict())
    s.optimizer.load_state_dict(_keyed(extra["optimizer"], int))
    if s.scheduler is not None and extra["scheduler"] is not None:
        s.scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    rows = [r for r in run.read_metrics() if int(r["epoch"]) <= int(extra["epoch"])]
    best = extra["best"] if extra["best"] is not None else math.inf
    return Progress(
        int(extra["epoch"]), float(best), int(extra["best_epoch"]), int(extra["since_best"]), rows
    )


def _config_record(config: TrainConfig, dataset: Dataset) -> dict[str, Any]:
    """What ``config.json`` holds: the config as it ran, the data it ran on, the dno version."""
    data = {"path": dataset.path, "family": dataset.family, "seed": dataset.provenance.get("seed")}
    return {**config.to_dict(), "data": data, "dno_version": __version__}


def progress_bar(total: int, done: int, enabled: bool, desc: str, unit: str) -> Any:
    """A progress bar on stderr, ``done`` of ``total`` units already (None if not ``enabled``)."""
    if not enabled:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=desc, unit=unit, file=sys.stderr)
