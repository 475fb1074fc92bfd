"""The training loop: one trainer for every model.

AdamW; a plateau, cosine or one-cycle schedule; gradient clipping; selection and early stopping
on one validation metric of the metric table (``select``, default the one-step ``val_rel_l2``);
best and last checkpoints written atomically every epoch; the best weights really restored at the
end and scored with every validation metric; resume from ``last.pt`` to the same result as an
uninterrupted run, and a finished run left as it is; seeds for python, numpy, torch and the data
order; a non-finite loss stops the run with that reason. The test split is never read here.

Validation: every epoch scores the weights on the validation split's evaluation windows (those
``dno evaluate`` uses, :func:`dno.evaluation.evaluation_windows`): the one-step error every epoch,
and every ``val_rollout_every`` epochs the rollout over ``val_horizon_delays`` delays (its relative
L2, valid time and amplitude ratio, and the selected metric). So ``val_rollout_rel_l2`` of an epoch
is what ``dno evaluate --split val`` reports for that epoch's weights.
"""

from __future__ import annotations

import math
import random
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dno import __version__
from dno._cores import adapt_threads, fit_threads, select_device
from dno._provenance import provenance, same_software
from dno.data import (
    Dataset,
    Normalizer,
    TrainWindows,
    WindowSet,
    buffer_windows,
    epoch_order,
    fit_normalizer,
    steps_per_epoch,
    train_windows,
    weighted_quantile,
)
from dno.errors import DnoError, DnoWarning, UsageError
from dno.evaluation import (
    METRICS,
    EvaluationConfig,
    SplitScores,
    evaluation_windows,
    metric_names,
    parse_name,
    qualify,
)
from dno.models import CompiledModel, DelayOperator, build, load_checkpoint, roll_out, save
from dno.tracking import FINAL_RESULTS, PREDICTION_FIGURE, RUN_CONFIG, RunFolder
from dno.training._config import TRAINING_DEFAULTS, TrainConfig, _plain
from dno.training._losses import training_loss

__all__ = [
    "EPOCH_METRICS",
    "ROLLOUT_SHARE",
    "ROLLOUT_STEP_COST",
    "NonFiniteLoss",
    "TrainData",
    "automatic_rollout_every",
    "build_model",
    "plot_prediction",
    "prepare_data",
    "progress_bar",
    "rollout_cost_share",
    "rollout_every",
    "train",
    "validation_config",
]

#: Scores of the rollout every ``val_rollout_every`` epochs (besides the selected one): one
#: rollout of the validation windows gives them all.
EPOCH_METRICS = ("rollout_rel_l2", "valid_time", "amplitude_ratio")

#: Called after every epoch with (epoch, metrics row); may raise to stop the run (pruning).
EpochCallback = Callable[[int, dict[str, Any]], None]


class NonFiniteLoss(DnoError):
    """The training loss became NaN or infinite; the run stops with this reason."""


@dataclass
class TrainData:
    """Train windows and the validation split's evaluation windows, the normalization fitted on
    train, and what the model needs to know of them.

    Attributes:
        train: windows with targets of ``rollout_steps * m`` slices (in memory, or made again
            from the file each epoch when they do not fit: :class:`dno.data.TrainWindows`).
        val: the validation split's evaluation windows (futures of the validation horizon).
        evaluation: the validation's horizon, thresholds and windows.
        rollout: whether ``val`` covers the horizon (False: the validation trajectories are too
            short, and only one-step scores are computed).
    """

    train: TrainWindows
    val: WindowSet
    normalizer: Normalizer
    family: str
    X: int
    channels: int
    evaluation: EvaluationConfig = field(default_factory=EvaluationConfig)
    rollout: bool = True


def validation_config(config: TrainConfig) -> EvaluationConfig:
    """The evaluation config of training's validation: ``dno evaluate``'s, at the config's
    ``val_horizon_delays`` (default: dno evaluate's 3 delays)."""
    return _validation_at(config.val_horizon_delays)


def _validation_at(horizon_delays: int | None) -> EvaluationConfig:
    default = EvaluationConfig()
    return replace(default, horizon_delays=horizon_delays or default.horizon_delays)


def _validation_windows(
    dataset: Dataset, S: int, evaluation: EvaluationConfig, rollout_required: str | None = None
) -> tuple[WindowSet, EvaluationConfig, bool]:
    """The validation split's evaluation windows at ``evaluation``'s horizon, that evaluation,
    and whether they cover the horizon; where no validation trajectory is long enough, one-step
    windows (horizon 1) with a warning, or an error naming ``rollout_required`` (a selected
    rollout metric) when given."""
    what = f"the validation split of {dataset.path or 'the dataset'}"
    try:
        return evaluation_windows(dataset.splits["val"], S, evaluation, what=what), evaluation, True
    except DnoError as error:
        if rollout_required is not None:
            raise UsageError(f"select={rollout_required}: {error}") from None
        warning = f"{error}; training computes one-step validation scores only"
        warnings.warn(warning, DnoWarning, stacklevel=3)
        evaluation = replace(evaluation, horizon_delays=1)
        return (
            evaluation_windows(dataset.splits["val"], S, evaluation, what=what),
            evaluation,
            False,
        )


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

    The train targets span ``rollout_steps * m`` slices (the unrolled loss); the train windows
    are counted and measured in one pass over the split, a block at a time, and kept when they
    fit (:func:`dno.data.train_windows`). The validation
    windows are ``dno evaluate``'s (:func:`dno.evaluation.evaluation_windows`) at the validation
    horizon; where no validation trajectory is long enough for it, a selected rollout metric is
    an error (before any training), otherwise a warning and one-step scores only.

    Raises:
        UsageError: a selected rollout metric on a horizon the validation trajectories do not
            cover.
    """
    for split in ("train", "val"):
        if len(dataset.splits[split]) == 0:
            raise DnoError(f"the dataset has no {split} trajectories; generate more (--n)")
    steps, cap = config.rollout_steps, config.max_windows_per_trajectory
    train = train_windows(  # train windows end where one-step ones would: stride m unless set
        dataset.splits["train"], config.S, steps * m, config.stride or m, cap
    )
    required = config.select if parse_name(config.select)[0].rollout else None
    val, evaluation, rollout = _validation_windows(
        dataset, config.S, validation_config(config), required
    )
    normalizer = fit_normalizer(train, config.cond_params)
    weights = config.channel_weights
    channels = train.channels
    if weights is not None and len(weights) != channels:
        raise UsageError(f"channel_weights has {len(weights)} entries; the data has {channels}")
    return TrainData(
        train=train,
        val=val,
        normalizer=normalizer,
        family=dataset.family,
        X=int(dataset.x.shape[0]),
        channels=channels,
        evaluation=evaluation,
        rollout=rollout,
    )


def _edge_repeats(windows: TrainWindows, config: TrainConfig) -> np.ndarray:
    """How many times each train trajectory's windows are seen per epoch (edge oversampling):
    ``edge_factor`` for a trajectory in the outer ``edge_quantile`` of the windows' values of an
    ``edge_params`` parameter, else 1; shape (n,)."""
    repeats = np.ones(len(windows.counts), dtype=np.int64)
    if not config.edge_params or config.edge_factor == 1:
        return repeats
    q = config.edge_quantile
    for name in config.edge_params:
        if name not in windows.params:
            raise UsageError(f"edge_params names {name!r}; the data has {sorted(windows.params)}")
        values = windows.params[name]
        lo, hi = weighted_quantile(values, windows.counts, [q, 1 - q])
        repeats[(values <= lo) | (values >= hi)] = config.edge_factor
    return repeats


def _tensors(
    windows: WindowSet, normalizer: Normalizer, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Normalized history (N, S, X, C), target (N, n, X, C) and conditioning (N, P)."""
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
    best: float = math.nan  # the best value of the selected metric so far (NaN: none yet)
    best_epoch: int = 0
    rows: list[dict[str, Any]] = field(default_factory=list)  # the rows of metrics.csv
    status: str = "completed"  # or stopped_early, stopped (by the caller), failed
    reason: str = ""
    #: the epochs' CPU seconds (this process, every thread), saved in ``last.pt`` with the rest
    cpu_seconds: float = 0.0

    @property
    def seconds(self) -> float:
        """Training time: the epochs' own seconds (restored with the rows on resume)."""
        return float(sum(row.get("seconds") or 0.0 for row in self.rows))


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
    #: conditioning (N, P); None when they are made again from the file each epoch
    train_set: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None
    #: normalized validation targets (N, m, X, C), for the validation loss
    val_target: torch.Tensor
    #: the validation scores of every epoch: one step, and these of the rollout when it is due
    rollout_metrics: tuple[str, ...]
    repeats: np.ndarray  # how many times each train trajectory's windows are seen, (n,)
    buffer: int  # windows shuffled together (dno.data.buffer_windows)
    batch_size: int
    steps_per_epoch: int  # optimizer steps of one epoch (batches never span two buffers)
    rollout_every: int  # the validation rollout every k epochs (the config's, or automatic)
    #: what every checkpoint records besides the weights (the provenance of the run's start)
    checkpoint_extra: dict[str, Any]
    progress: Progress = field(default_factory=Progress)
    finished: bool = False  # resumed a run that had already ended: nothing to do


def train(
    config: TrainConfig,
    dataset: Dataset,
    out: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    on_epoch: EpochCallback | None = None,
    figure: bool = True,
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
        figure: draw ``artifacts/prediction_vs_truth.png`` at the end (False: a search's trial;
            :func:`plot_prediction` draws it later for the trials a report shows).

    Returns:
        The final results (also written to ``out/final_results.json``).

    Raises:
        NonFiniteLoss: the loss became non-finite; ``final_results.json`` records it.
    """
    session = _set_up(config, dataset, out, resume)
    state = session.progress
    if session.finished:
        return session.run.results()
    stop: Exception | None = None
    bar = progress_bar(config.max_epochs, state.epoch, progress, "training", "epoch")
    try:
        for epoch in range(state.epoch + 1, config.max_epochs + 1):
            if _stops_early(session):  # a resumed run that had met its stopping rule
                break
            row = _run_epoch(session, epoch)
            if bar is not None:
                bar.update(1)
                bar.set_postfix(loss=f"{row['train_loss']:.3g}", **_shown(row, config.select))
            if on_epoch is not None:
                try:
                    on_epoch(epoch, row)
                except Exception as error:  # the caller stops the run (pruning): finish it first
                    state.status, state.reason, stop = "stopped", str(error), error
                    break
            if _stops_early(session):
                break
    except NonFiniteLoss as error:
        state.status, state.reason = "failed", str(error)
    finally:
        if bar is not None:
            bar.close()
    results = _finish(session, figure)
    if stop is not None:
        raise stop
    if state.status == "failed":
        raise NonFiniteLoss(state.reason)
    return results


def _shown(row: dict[str, Any], select: str) -> dict[str, str]:
    """The progress bar's validation scores: the one-step error and the selected metric."""
    return {
        key: f"{row[key]:.3g}"
        for key in dict.fromkeys(["val_rel_l2", select])
        if isinstance(row.get(key), float)
    }


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
    repeats = _edge_repeats(data.train, config)
    seen = int(np.dot(repeats, data.train.counts))  # windows per epoch
    batch_size = min(config.batch_size, seen)
    buffer = buffer_windows(config.S, data.train.m, data.X, data.channels)
    steps = steps_per_epoch(seen, batch_size, buffer)
    if device.type == "cpu":  # a small step trains faster on fewer threads
        fit_threads(config.rollout_steps * _step_elements(model, batch_size))
    optimizer = torch.optim.AdamW(
        model.parameters(), lr=config.lr, weight_decay=config.weight_decay,
        fused=device.type in ("cpu", "cuda"),  # one kernel for all parameters, not a loop
    )  # fmt: skip
    session = Session(
        config=config, run=RunFolder(out), data=data, device=device, model=model,
        step_model=CompiledModel(model, config.compile), optimizer=optimizer,
        scheduler=_scheduler(optimizer, config, steps),
        scaler=torch.amp.GradScaler("cuda", enabled=config.amp and device.type == "cuda"),
        train_set=None if data.train.windows is None else _tensors(
            data.train.windows, data.normalizer, device),
        val_target=_val_target(data, model.m, device),
        rollout_metrics=_rollout_metrics(config, data), repeats=repeats, buffer=buffer,
        batch_size=batch_size, steps_per_epoch=steps,
        rollout_every=rollout_every(config, data, model.m, seen),
        checkpoint_extra={"normalizer": data.normalizer.to_dict(), "family": dataset.family,
                          "train_config": config.to_dict(),
                          "provenance": provenance(str(device), torch.get_num_threads())},
    )  # fmt: skip
    session.run.create()  # only now: a run failing in its set-up leaves no folder
    if resume:
        session.progress = _resume(session)
        session.finished = _is_finished(session)
        if session.finished:
            return session
    else:
        session.run.write_json(RUN_CONFIG, _config_record(config, dataset))
    session.run.write_json(
        FINAL_RESULTS, {"status": "running", "model": config.model, "family": data.family}
    )
    return session


def _step_elements(model: DelayOperator, batch_size: int) -> int:
    """The size of one training step of ``model`` on a batch: the elements of every tensor its
    leaf modules output in one forward pass (of zeros; eval mode, and the RNG restored, so
    training draws the same numbers as without it)."""
    elements = 0

    def count(module: torch.nn.Module, inputs: Any, output: Any) -> None:
        nonlocal elements
        if isinstance(output, torch.Tensor):
            elements += output.numel()

    leaves = [m for m in model.modules() if next(m.children(), None) is None]
    hooks = [m.register_forward_hook(count) for m in leaves]
    rng, mode = torch.get_rng_state(), model.training
    try:
        with torch.no_grad():
            model.eval()(
                torch.zeros(batch_size, model.S, model.X, model.channels),
                torch.zeros(batch_size, model.cond_dim),
            )
    finally:
        for hook in hooks:
            hook.remove()
        model.train(mode)
        torch.set_rng_state(rng)
    return elements


def _val_target(data: TrainData, m: int, device: torch.device) -> torch.Tensor:
    """The normalized one-step targets of the validation windows, (N, m, X, C)."""
    return torch.from_numpy(data.normalizer.state(data.val.target[:, :m])).to(device)


def _rollout_metrics(config: TrainConfig, data: TrainData) -> tuple[str, ...]:
    """The rollout scores of an epoch when the rollout is due: :data:`EPOCH_METRICS` and the
    selected metric (none if the validation trajectories cannot cover the horizon)."""
    if not data.rollout:
        return ()
    selected = parse_name(config.select)[0]
    extra = [selected.name] if selected.rollout else []
    return tuple(dict.fromkeys([*EPOCH_METRICS, *extra]))


def _is_finished(s: Session) -> bool:
    """A resumed run that already ended (completed, stopped early or stopped by its stopping
    rule) is left as it is; a completed run given more epochs goes on."""
    status = s.run.status()
    done = status == "stopped_early" or (
        status == "completed" and s.progress.epoch >= s.config.max_epochs
    )
    return done and s.run.results().get("epochs_run") == s.progress.epoch


def _run_epoch(s: Session, epoch: int) -> dict[str, Any]:
    """Train one epoch, validate, step the schedule, write the checkpoints; the metrics row.

    The row: ``epoch``, ``train_loss``, ``val_loss``, every validation score of the epoch
    (``val_rel_l2``; the rollout's when due, else None), ``lr``, ``seconds`` (the epoch) and
    ``val_seconds`` (its validation).
    """
    started, cpu_started = time.perf_counter(), time.process_time()
    train_loss = _train_epoch(s, epoch)
    lr = s.optimizer.param_groups[0]["lr"]
    validated = time.perf_counter()
    val_loss, scores = _validate(s, _rollout_due(s, epoch))
    val_seconds = time.perf_counter() - validated
    val_rel = scores["val_rel_l2"]
    assert val_rel is not None  # scored every epoch
    if s.config.schedule == "plateau":
        s.scheduler.step(val_rel if math.isfinite(val_rel) else math.inf)
    elif s.config.schedule == "cosine":
        s.scheduler.step()
    row = {
        "epoch": epoch, "train_loss": train_loss, "val_loss": val_loss, **scores, "lr": lr,
        "seconds": time.perf_counter() - started, "val_seconds": val_seconds,
    }  # fmt: skip
    s.progress.cpu_seconds += time.process_time() - cpu_started
    _checkpoint(s, row)
    return row


#: The share of an epoch's time the automatic ``val_rollout_every`` lets the rollout take.
ROLLOUT_SHARE = 0.10
#: The time of one validation rollout step per window in training forward passes per window
#: (the forward, shift-append and the scores; benchmarks/bench_validation.py measures it).
ROLLOUT_STEP_COST = 2.0


def rollout_every(config: TrainConfig, data: TrainData, m: int, seen: int) -> int:
    """Every how many epochs the validation rollout is scored: the config's ``val_rollout_every``,
    or when it is None (the default) every epoch if the selection reads the rollout, else the
    fewest epochs apart that keep its estimated cost within :data:`ROLLOUT_SHARE` of an epoch.

    The estimate counts model steps, not seconds, so it is the same on every machine and a run
    is reproducible: a rollout step per validation window costs :data:`ROLLOUT_STEP_COST`
    forward passes; an epoch is ``seen`` windows of ``rollout_steps`` forward and backward
    passes (a backward about twice a forward).

    Args:
        config: the run's config.
        data: its windows; ``data.val`` holds the validation windows, ``data.evaluation`` the
            horizon in delays.
        m: the model's slices per step.
        seen: train windows per epoch.
    """
    if config.val_rollout_every is not None:
        return config.val_rollout_every
    if parse_name(config.select)[0].rollout or not data.rollout:
        return 1
    steps = math.ceil(data.evaluation.horizon_delays * (config.S - 1) / m)
    return automatic_rollout_every(len(data.val), steps, seen, config.rollout_steps)


def rollout_cost_share(val_windows: int, steps: int, seen: int, rollout_steps: int) -> float:
    """The estimated time of a validation rollout of ``val_windows`` windows x ``steps`` model
    steps over that of an epoch of ``seen`` train windows of ``rollout_steps`` steps each
    (forward and backward: three forward passes)."""
    return ROLLOUT_STEP_COST * val_windows * steps / (3 * seen * rollout_steps)


def automatic_rollout_every(val_windows: int, steps: int, seen: int, rollout_steps: int) -> int:
    """The fewest epochs apart that rollout can be scored within :data:`ROLLOUT_SHARE` of an
    epoch (:func:`rollout_cost_share`)."""
    share = rollout_cost_share(val_windows, steps, seen, rollout_steps)
    return max(1, math.ceil(share / ROLLOUT_SHARE))


def _rollout_due(s: Session, epoch: int) -> bool:
    """Whether this epoch scores the rollout: every ``rollout_every`` epochs and the last."""
    every = s.rollout_every
    return (
        bool(s.rollout_metrics)
        and every > 0
        and (epoch % every == 0 or epoch == s.config.max_epochs)
    )


def _train_epoch(s: Session, epoch: int) -> float:
    """One pass over the train windows in the epoch's seeded order (:func:`dno.data.epoch_order`:
    a buffer at a time, batches within a buffer); the mean training loss."""
    s.model.train()
    total, seen, step = 0.0, 0, 0
    made: dict[int, WindowSet] = {}  # blocks of windows made for the last buffer (from the file)
    for order in epoch_order(s.data.train.counts, s.repeats, s.config.seed, epoch, s.buffer):
        history, target, cond, places = _buffer(s, order, made)
        for start in range(0, len(order), s.batch_size):
            adapt_threads()  # fewer threads while other processes keep cores busy (automatic)
            index = places[start : start + s.batch_size]
            step += 1
            total += _train_step(s, history[index], target[index], cond[index], epoch, step)
            seen += index.numel()
    return total / seen


def _buffer(
    s: Session, order: np.ndarray, made: dict[int, WindowSet]
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """The normalized windows an epoch's buffer draws from (history, target, conditioning) and
    the places of the buffer's windows in them, in the buffer's order (one copy per buffer)."""
    if s.train_set is not None:
        return (*s.train_set, torch.from_numpy(order).to(s.device))
    windows, places = s.data.train.gather(order, made)
    history, target, cond = _tensors(windows, s.data.normalizer, s.device)
    return history, target, cond, torch.from_numpy(places).to(s.device)


def _train_step(
    s: Session,
    history: torch.Tensor,
    target: torch.Tensor,
    cond: torch.Tensor,
    epoch: int,
    step: int,
) -> float:
    """One optimizer step on a batch; the batch's summed loss (mean loss times its size)."""
    with torch.autocast(s.device.type, dtype=torch.float16, enabled=s.scaler.is_enabled()):
        prediction = _predict(s, history, cond)
        loss = training_loss(prediction.float(), target, s.config)
    value = loss.item()  # the step's one wait for the device: checked, then summed
    if not math.isfinite(value):
        raise NonFiniteLoss(f"non-finite training loss ({value}) at epoch {epoch}, batch {step}")
    s.optimizer.zero_grad(set_to_none=True)
    s.scaler.scale(loss).backward()
    if s.config.grad_clip > 0:
        s.scaler.unscale_(s.optimizer)
        torch.nn.utils.clip_grad_norm_(s.model.parameters(), s.config.grad_clip)
    s.scaler.step(s.optimizer)
    s.scaler.update()
    if s.config.schedule == "onecycle":
        s.scheduler.step()
    return value * history.shape[0]


def _predict(s: Session, history: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
    """The training prediction: one model step (B, m, X, C), or ``rollout_steps`` steps with the
    model's own predictions fed back by shift-append (B, rollout_steps * m, X, C), gradients
    through every step."""
    if s.config.rollout_steps == 1:
        return s.step_model(history, cond)
    return roll_out(lambda window: s.step_model(window, cond), history, s.config.rollout_steps)


def _scores(s: Session) -> SplitScores:
    """The model's weights now, on the validation windows (each score computed when read)."""
    return SplitScores(s.model, s.data.val, s.data.normalizer, s.data.evaluation)


def _validate(s: Session, rollout: bool) -> tuple[float, dict[str, float | None]]:
    """The validation loss and scores of the weights now, in the data's units: ``val_rel_l2``
    always, the rollout's scores when ``rollout`` (None otherwise)."""
    scores = _scores(s)
    names = ["rel_l2", *s.rollout_metrics]
    values = {
        qualify(name, "val"): _finite(METRICS[name].compute(scores))
        if name == "rel_l2" or rollout
        else None
        for name in names
    }
    loss = training_loss(scores.one_step.output, s.val_target, s.config).item()
    return loss, values


def _finite(value: float | None) -> float:
    """A score as a plain float; NaN where it could not be computed (no finite window)."""
    return math.nan if value is None else float(value)


def _checkpoint(s: Session, row: dict[str, Any]) -> None:
    """Record the epoch: ``best.pt`` if it improved, ``last.pt`` and ``metrics.csv`` always."""
    state, epoch = s.progress, row["epoch"]
    value = row.get(s.config.select)
    state.rows.append(row)
    state.epoch = epoch
    if value is not None and parse_name(s.config.select)[0].better(value, state.best):
        state.best, state.best_epoch = value, epoch
        save(s.model, s.run.best_checkpoint, {**s.checkpoint_extra, "epoch": epoch})
    training_state = {
        "epoch": epoch,
        "select": s.config.select,
        "best": state.best if math.isfinite(state.best) else None,
        "best_epoch": state.best_epoch,
        "optimizer": _keyed(s.optimizer.state_dict(), str),
        "scheduler": _plain(s.scheduler.state_dict()) if s.scheduler is not None else None,
        "torch_rng": torch.get_rng_state(),
        "cpu_seconds": state.cpu_seconds,
    }
    save(s.model, s.run.last_checkpoint, {**s.checkpoint_extra, **training_state})
    s.run.write_metrics(state.rows)


def _stops_early(s: Session) -> bool:
    """True (and the run's status says why) once ``patience`` epochs have passed since the best
    one, checked on the epochs that score the selected metric (a non-finite score counts)."""
    state, patience = s.progress, s.config.patience
    if not patience or not state.rows or state.epoch - state.best_epoch < patience:
        return False
    if state.rows[-1].get(s.config.select) is None:
        return False  # not scored this epoch: the next scoring may still improve
    state.status = "stopped_early"
    state.reason = f"no improvement of {s.config.select} for {patience} epochs"
    return True


def _finish(s: Session, figure: bool = True) -> dict[str, Any]:
    """Restore the best weights, score them with every validation metric, write the figure (if
    ``figure``) and ``final_results.json`` (the same file, to the bit, whether or not the run was
    resumed).

    Besides the scores, what a budget ledger needs: ``cpu_seconds`` (the epochs' CPU time),
    ``optimizer_steps`` (epochs run x steps per epoch) and ``provenance`` (the run's start; a
    run finished by other software also records ``finished_with``)."""
    scores: dict[str, float | None] = {}
    if s.run.best_checkpoint.exists():
        best_model, _ = load_checkpoint(s.run.best_checkpoint, s.config.model)
        s.model.load_state_dict(best_model.state_dict())
        scores = _final_scores(s)
        if figure:
            _plot_prediction(s)
    state, config = s.progress, s.config
    results = {
        "status": state.status, "reason": state.reason, "model": config.model,
        "family": s.data.family, "seed": config.seed, "select": config.select,
        "epochs_run": state.epoch, "best_epoch": state.best_epoch,
        "best_score": state.best if math.isfinite(state.best) else None, **scores,
        "val_horizon_delays": s.data.evaluation.horizon_delays if s.data.rollout else None,
        "val_rollout_every": s.rollout_every,
        "n_train_windows": len(s.data.train), "n_val_windows": len(s.data.val),
        "S": config.S, "m": s.model.m, "device": str(s.device),
        "threads": torch.get_num_threads(), "seconds": state.seconds, "dno_version": __version__,
        "cpu_seconds": state.cpu_seconds, "steps_per_epoch": s.steps_per_epoch,
        "optimizer_steps": state.epoch * s.steps_per_epoch,
        "provenance": s.checkpoint_extra["provenance"],
    }  # fmt: skip
    now = provenance(str(s.device), torch.get_num_threads())
    if not same_software(results["provenance"], now):
        results["finished_with"] = now
    s.run.write_json(FINAL_RESULTS, results)
    return results


#: What the kept weights are scored with at the end: every score of the table, and the size.
FINAL_METRICS = (*metric_names(kind="score"), "parameters")


def _final_scores(s: Session) -> dict[str, float | None]:
    """Every validation score of the weights now (qualified names), and their parameter count;
    the rollout's only where the validation windows cover the horizon."""
    scores = _scores(s)
    names = [n for n in FINAL_METRICS if s.data.rollout or not METRICS[n].rollout]
    values = {qualify(name, "val"): METRICS[name].compute(scores) for name in names}
    return {k: v if v is None or math.isfinite(v) else None for k, v in values.items()}


def plot_prediction(folder: str | Path, dataset: Dataset) -> Path | None:
    """Draw a finished run's ``artifacts/prediction_vs_truth.png`` from its kept weights, the
    figure :func:`train` draws at its end (three validation windows of ``dataset``, the data the
    run trained on). A search's trials skip it (``train(..., figure=False)``: a tenth to a
    third of a short trial's time) and the search draws it this way for the trials its report
    shows.

    Returns:
        The figure's path, or None when the run kept no weights (``best.pt``).
    """
    run = RunFolder(folder)
    if not run.best_checkpoint.exists():
        return None
    model, extra = load_checkpoint(run.best_checkpoint)
    extra = extra or {}
    horizon = (extra.get("train_config") or {}).get("val_horizon_delays")
    with warnings.catch_warnings():  # said once when the run trained
        warnings.simplefilter("ignore", DnoWarning)
        windows, evaluation, _ = _validation_windows(dataset, model.S, _validation_at(horizon))
    normalizer = Normalizer.from_dict(extra["normalizer"])
    path = run.artifacts / PREDICTION_FIGURE
    _draw_prediction(model, windows, normalizer, evaluation, path, dataset.family)
    return path


def _plot_prediction(s: Session) -> None:
    """A prediction-vs-truth figure of a few validation windows (best weights)."""
    path = s.run.artifacts / PREDICTION_FIGURE
    _draw_prediction(s.model, s.data.val, s.data.normalizer, s.data.evaluation, path, s.data.family)


def _draw_prediction(
    model: DelayOperator,
    val: WindowSet,
    normalizer: Normalizer,
    evaluation: EvaluationConfig,
    path: Path,
    family: str,
) -> None:
    """Three of the validation windows ``val`` (first, middle, last): history, truth and the
    one-step prediction of ``model``, written to ``path``."""
    from dno.plotting import draw_rollouts, save_figure

    count = len(val)
    windows = val.select(np.linspace(0, count - 1, min(3, count)).astype(int))
    scores = SplitScores(model, windows, normalizer, evaluation).one_step
    save_figure(
        path,
        draw_rollouts,
        windows.history,
        scores.truth,
        scores.prediction,
        windows.step,
        title=f"{model.name} on {family} (validation windows)",
    )


def _resume(s: Session) -> Progress:
    """Load the weights, optimizer, schedule and RNG of ``last.pt``; the progress it records."""
    run, config = s.run, s.config
    last = run.last_checkpoint
    if not last.exists():
        raise DnoError(f"cannot resume: {last} does not exist")
    saved, plain = run.read_json(RUN_CONFIG), config.to_dict()
    free = ("max_epochs", "dno_version", "data", "compile")  # may change on resume
    recorded = {**TRAINING_DEFAULTS, **saved}  # a key added since the run began: its default
    differing = sorted(
        k for k in set(saved) | set(plain) if k not in free and recorded.get(k) != plain.get(k)
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
    if extra.get("provenance"):  # the run's start (a run begun before provenance: this one)
        s.checkpoint_extra["provenance"] = extra["provenance"]
    rows = [r for r in run.read_metrics() if int(r["epoch"]) <= int(extra["epoch"])]
    best = extra["best"] if extra["best"] is not None else math.nan
    return Progress(
        int(extra["epoch"]), float(best), int(extra["best_epoch"]), rows,
        cpu_seconds=float(extra.get("cpu_seconds") or 0.0),
    )  # fmt: skip


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
