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
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dno import __version__
from dno._cores import select_device
from dno.data import Dataset, Normalizer, WindowSet, make_windows
from dno.errors import DnoError, UsageError
from dno.evaluation import score_checkpoint
from dno.models import CompiledModel, DelayOperator, build, load_checkpoint, save
from dno.tracking import FINAL_RESULTS, PREDICTION_FIGURE, RUN_CONFIG, RunFolder
from dno.training._config import TrainConfig
from dno.training._losses import training_loss

__all__ = ["NonFiniteLoss", "TrainData", "prepare_data", "train"]

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
    cond_dim = 1 + len([p for p in config["cond_params"] if p != "tau"])
    return build(
        config["model"],
        S=config["S"],
        X=X,
        channels=channels,
        cond_dim=cond_dim,
        **config["model_config"],
    )


def prepare_data(dataset: Dataset, config: TrainConfig, m: int) -> TrainData:
    """Windows of the train and val splits (never test), normalization fitted on train."""
    for split in ("train", "val"):
        if len(dataset.splits[split]) == 0:
            raise DnoError(f"the dataset has no {split} trajectories; generate more (--n)")
    windows = {
        split: make_windows(
            dataset.splits[split],
            config["S"],
            m,
            config["stride"],
            config["max_windows_per_trajectory"],
        )
        for split in ("train", "val")
    }
    normalizer = Normalizer.fit(windows["train"], tuple(config["cond_params"]))
    weights = config["channel_weights"]
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
    if not config["edge_params"] or config["edge_factor"] == 1:
        return repeats
    q = config["edge_quantile"]
    for name in config["edge_params"]:
        if name not in windows.params:
            raise UsageError(f"edge_params names {name!r}; the data has {sorted(windows.params)}")
        values = windows.params[name]
        lo, hi = np.quantile(values, [q, 1 - q])
        repeats[(values <= lo) | (values >= hi)] = config["edge_factor"]
    return repeats


def _tensors(
    windows: WindowSet, normalizer: Normalizer, device: torch.device
) -> tuple[torch.Tensor, ...]:
    return (
        torch.from_numpy(normalizer.state(windows.history)).to(device),
        torch.from_numpy(normalizer.state(windows.target)).to(device),
        torch.from_numpy(normalizer.cond(windows.params)).to(device),
    )


def _scheduler(optimizer: torch.optim.Optimizer, config: TrainConfig, steps_per_epoch: int) -> Any:
    if config["schedule"] == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=3)
    if config["schedule"] == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config["max_epochs"])
    if config["schedule"] == "onecycle":
        return torch.optim.lr_scheduler.OneCycleLR(
            optimizer, max_lr=config["lr"], epochs=config["max_epochs"],
            steps_per_epoch=steps_per_epoch,
        )  # fmt: skip
    return None


def _plain_optimizer_state(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "state": {str(k): v for k, v in state["state"].items()}}


def _torch_optimizer_state(state: dict[str, Any]) -> dict[str, Any]:
    return {**state, "state": {int(k): v for k, v in state["state"].items()}}


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
    device = select_device(config["device"])
    seed_everything(config["seed"])
    model = build_model(config, X=int(dataset.x.shape[0])).to(device)
    data = prepare_data(dataset, config, model.m)
    model.check_data(
        S=config["S"], X=data.X, channels=data.channels,
        cond_dim=len(data.normalizer.cond_names), source=f"the {dataset.family} dataset",
    )  # fmt: skip
    history, target, cond = _tensors(data.train, data.normalizer, device)
    val_history, val_target, val_cond = _tensors(data.val, data.normalizer, device)
    repeats = _edge_repeats(data.train, config)
    epoch_index = np.repeat(np.arange(len(data.train)), repeats)
    batch_size = min(config["batch_size"], len(epoch_index))
    steps_per_epoch = math.ceil(len(epoch_index) / batch_size)
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config["lr"], weight_decay=config["weight_decay"],
        fused=device.type in ("cpu", "cuda"),  # one kernel for all parameters, not a loop
    )  # fmt: skip
    scheduler = _scheduler(optimizer, config, steps_per_epoch)
    step_model = CompiledModel(model, config["compile"])  # the eager model if off or failing
    use_amp = bool(config["amp"]) and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    n_params = sum(p.numel() for p in model.parameters())
    common_extra = {
        "normalizer": data.normalizer.to_dict(),
        "family": dataset.family,
        "train_config": _plain(config),
    }
    state: dict[str, Any] = {
        "epoch": 0, "best": math.inf, "best_epoch": 0, "since_best": 0, "rows": [],
    }  # fmt: skip
    run = RunFolder(out).create()  # only now: a run failing in its set-up leaves no folder
    if resume:
        state = _resume(run, model, optimizer, scheduler, config, device)
    else:
        run.write_json(RUN_CONFIG, _config_record(config, dataset))
    run.write_json(
        FINAL_RESULTS,
        {"status": "running", "model": config["model"], "family": dataset.family},
    )
    started = time.perf_counter()
    status, reason = "completed", ""
    bar = _progress(config["max_epochs"], state["epoch"], progress)
    try:
        for epoch in range(state["epoch"] + 1, config["max_epochs"] + 1):
            t0 = time.perf_counter()
            model.train()
            order = np.random.default_rng([config["seed"], epoch]).permutation(epoch_index)
            total, count = 0.0, 0
            epoch_order = torch.from_numpy(order).to(device)  # one copy per epoch, not per step
            for start in range(0, len(order), batch_size):
                index = epoch_order[start : start + batch_size]
                with torch.autocast(device.type, dtype=torch.float16, enabled=use_amp):
                    prediction = step_model(history[index], cond[index])
                    loss = training_loss(prediction.float(), target[index], config)
                value = loss.item()  # the step's one wait for the device: checked, then summed
                if not math.isfinite(value):
                    raise NonFiniteLoss(
                        f"non-finite training loss ({value}) at epoch {epoch}, "
                        f"batch {start // batch_size + 1}"
                    )
                optimizer.zero_grad(set_to_none=True)
                scaler.scale(loss).backward()
                if config["grad_clip"] > 0:
                    scaler.unscale_(optimizer)
                    torch.nn.utils.clip_grad_norm_(model.parameters(), config["grad_clip"])
                scaler.step(optimizer)
                scaler.update()
                if config["schedule"] == "onecycle":
                    scheduler.step()
                total += value * index.numel()
                count += index.numel()
            val = score_checkpoint(model, data.val, data.normalizer)
            val_loss = training_loss(val.output, val_target, config).item()
            val_rel = val.relative_l2
            lr = optimizer.param_groups[0]["lr"]
            if config["schedule"] == "plateau":
                scheduler.step(val_rel if math.isfinite(val_rel) else math.inf)
            elif config["schedule"] == "cosine":
                scheduler.step()
            row = {
                "epoch": epoch, "train_loss": total / count, "val_loss": val_loss,
                "val_rel_l2": val_rel, "lr": lr, "seconds": time.perf_counter() - t0,
            }  # fmt: skip
            state["rows"].append(row)
            state["epoch"] = epoch
            improved = math.isfinite(val_rel) and val_rel < state["best"]
            if improved:
                state.update(best=val_rel, best_epoch=epoch, since_best=0)
                save(model, run.best_checkpoint, {**common_extra, "epoch": epoch})
            else:
                state["since_best"] += 1
            _save_last(run, model, optimizer, scheduler, state, common_extra)
            run.write_metrics(state["rows"])
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{row['train_loss']:.3g}", val_rel_l2=f"{val_rel:.3g}")
            if on_epoch is not None:
                on_epoch(epoch, row)
            if config["patience"] and state["since_best"] >= config["patience"]:
                status = "stopped_early"
                reason = f"no validation improvement for {config['patience']} epochs"
                break
    except NonFiniteLoss as error:
        status, reason = "failed", str(error)
    finally:
        if bar is not None:
            bar.close()
    results = _finish(
        run, model, data, config, state, status, reason,
        n_params, time.perf_counter() - started, device, (val_history, val_target, val_cond),
    )  # fmt: skip
    if status == "failed":
        raise NonFiniteLoss(reason)
    return results


def _finish(
    run: RunFolder,
    model: DelayOperator,
    data: TrainData,
    config: TrainConfig,
    state: dict[str, Any],
    status: str,
    reason: str,
    n_params: int,
    seconds: float,
    device: torch.device,
    val: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
) -> dict[str, Any]:
    """Restore the best weights, check them, write the figure and ``final_results.json``."""
    best_path = run.best_checkpoint
    restored = None
    if best_path.exists():
        best_model, _ = load_checkpoint(best_path, config["model"])
        model.load_state_dict(best_model.state_dict())
        restored = score_checkpoint(model, data.val, data.normalizer).relative_l2
        _plot_prediction(run, model, data, val, device)
    results = {
        "status": status,
        "reason": reason,
        "model": config["model"],
        "family": data.family,
        "seed": config["seed"],
        "epochs_run": state["epoch"],
        "best_epoch": state["best_epoch"],
        "best_val_rel_l2": state["best"],
        "restored_val_rel_l2": restored,
        "n_parameters": n_params,
        "n_train_windows": len(data.train),
        "n_val_windows": len(data.val),
        "S": config["S"],
        "m": model.m,
        "device": str(device),
        "threads": torch.get_num_threads(),
        "seconds": seconds,
        "dno_version": __version__,
    }
    run.write_json(FINAL_RESULTS, results)
    return results


def _plot_prediction(
    run: RunFolder,
    model: DelayOperator,
    data: TrainData,
    val: tuple[torch.Tensor, torch.Tensor, torch.Tensor],
    device: torch.device,
) -> None:
    """A prediction-vs-truth figure of a few validation windows (best weights)."""
    from dno.plotting import draw_rollouts, save_figure

    pick = np.linspace(0, val[0].shape[0] - 1, min(3, val[0].shape[0])).astype(int)
    index = torch.from_numpy(pick).to(device)
    scores = score_checkpoint(model, data.val.select(pick), data.normalizer)
    nz = data.normalizer
    save_figure(
        run.artifacts / PREDICTION_FIGURE,
        draw_rollouts,
        nz.unstate(val[0][index].cpu().numpy()),
        nz.unstate(val[1][index].cpu().numpy()),
        scores.prediction,
        data.val.step[pick],
        title=f"{model.name} on {data.family} (validation windows)",
    )


def _save_last(
    run: RunFolder,
    model: DelayOperator,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    state: dict[str, Any],
    common_extra: dict[str, Any],
) -> None:
    extra = {
        **common_extra,
        "epoch": state["epoch"],
        "best": state["best"] if math.isfinite(state["best"]) else None,
        "best_epoch": state["best_epoch"],
        "since_best": state["since_best"],
        "optimizer": _plain_optimizer_state(optimizer.state_dict()),
        "scheduler": _plain(scheduler.state_dict()) if scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
    }
    save(model, run.last_checkpoint, extra)


def _resume(
    run: RunFolder,
    model: DelayOperator,
    optimizer: torch.optim.Optimizer,
    scheduler: Any,
    config: TrainConfig,
    device: torch.device,
) -> dict[str, Any]:
    last = run.last_checkpoint
    if not last.exists():
        raise DnoError(f"cannot resume: {last} does not exist")
    saved = run.read_json(RUN_CONFIG)
    free = ("max_epochs", "dno_version", "data", "compile")  # may change on resume
    differing = sorted(
        k for k in set(saved) | set(config)
        if k not in free and saved.get(k) != _plain(config).get(k)
    )  # fmt: skip
    if differing:
        raise UsageError(f"cannot resume {run.path}: the config differs in {', '.join(differing)}")
    if saved.get("max_epochs") != config["max_epochs"]:
        run.write_json(RUN_CONFIG, {**saved, "max_epochs": config["max_epochs"]})
    loaded, extra = load_checkpoint(last, config["model"])
    if extra is None or "optimizer" not in extra:
        raise DnoError(f"cannot resume: {last} holds no training state")
    loaded.check_data(
        S=model.S, X=model.X, channels=model.channels, cond_dim=model.cond_dim,
        source=f"the dataset given to resume {run.path}",
    )  # fmt: skip
    model.load_state_dict(loaded.state_dict())
    optimizer.load_state_dict(_torch_optimizer_state(extra["optimizer"]))
    if scheduler is not None and extra["scheduler"] is not None:
        scheduler.load_state_dict(extra["scheduler"])
    torch.set_rng_state(extra["torch_rng"])
    rows = [r for r in run.read_metrics() if int(r["epoch"]) <= int(extra["epoch"])]
    best = extra["best"] if extra["best"] is not None else math.inf
    return {
        "epoch": int(extra["epoch"]),
        "best": float(best),
        "best_epoch": int(extra["best_epoch"]),
        "since_best": int(extra["since_best"]),
        "rows": rows,
    }


def _config_record(config: TrainConfig, dataset: Dataset) -> dict[str, Any]:
    """What ``config.json`` holds: the config as it ran, the data it ran on, the dno version."""
    data = {"path": dataset.path, "family": dataset.family, "seed": dataset.provenance.get("seed")}
    return {**config, "data": data, "dno_version": __version__}


def _plain(value: Any) -> Any:
    """JSON-like plain values (tuples become lists) so configs compare and save cleanly."""
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def _progress(total: int, done: int, enabled: bool) -> Any:
    if not enabled:
        return None
    import sys

    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc="training", unit="epoch", file=sys.stderr)
