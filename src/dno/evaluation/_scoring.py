"""Scoring a model: the one :func:`score_checkpoint` of training's validation, the search's
confirmation, ``dno compare`` and ``dno evaluate``, and the scores of a rollout on the
model-independent grid of the evaluation.

Scores are in physical units (normalization undone) against the data's own truth. Arrays are
(N, n, X, C): N windows, n slices after each window's end on the theta-grid (slice i is at time
``(i + 1) / (S - 1)`` delays), X points, C channels.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from dno.errors import UsageError
from dno.evaluation._accuracy import (
    CorrelationTime,
    RolloutError,
    ValidTime,
    correlation_time,
    relative_l2,
    rollout_error_curve,
    valid_prediction_time,
)
from dno.evaluation._config import EvaluationConfig
from dno.evaluation._diagnosis import (
    AmplitudeRatio,
    Diagnosis,
    diagnose,
    power_ratios,
    usable_amplitude,
)
from dno.evaluation._spectral import BoxSize

if TYPE_CHECKING:
    import torch

    from dno.data import AnySplit, Normalizer, WindowSet
    from dno.models import DelayOperator

__all__ = ["RolloutScores", "Scores", "predict", "score_checkpoint", "score_rollout"]


def predict(
    model: DelayOperator,
    history: torch.Tensor,
    cond: torch.Tensor,
    horizon: int | None = None,
    batch_size: int = 256,
) -> torch.Tensor:
    """The model's normalized output for every window, in batches, in eval mode, no gradients.

    Args:
        model: the model (its training flag is restored afterwards).
        history: normalized windows (N, S, X, C) on the model's device. cond: (N, P).
        horizon: None for one model step (m slices), else ``model.rollout(horizon=horizon)``.
        batch_size: windows per forward call.

    Returns:
        Float32 tensor (N, m or horizon, X, C) on the model's device.
    """
    import torch

    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = torch.cat([
            (model(h, c) if horizon is None else model.rollout(h, c, horizon=horizon)).float()
            for h, c in zip(history.split(batch_size), cond.split(batch_size), strict=True)
        ])  # fmt: skip
    model.train(was_training)
    return out


@dataclass(frozen=True)
class Scores:
    """A model's prediction on the windows of a split, scored (see :func:`score_checkpoint`).

    Attributes:
        output: the model's normalized output, a float32 tensor (N, n, X, C) on its device.
        prediction, truth: physical units, float64 (N, n, X, C).
        relative_l2: ``||p - t|| / ||t||`` over all windows and slices.
        relative_l2_per_step: mean over (window, slice) of the per-slice ratio.
        rollout: with ``horizon_delays``, every score of the rollout (:class:`RolloutScores`).
    """

    output: torch.Tensor
    prediction: np.ndarray
    truth: np.ndarray
    relative_l2: float
    relative_l2_per_step: float
    rollout: RolloutScores | None = None


def score_checkpoint(
    model: DelayOperator | str | os.PathLike[str],
    windows: WindowSet | AnySplit,
    normalizer: Normalizer | None = None,
    *,
    horizon_delays: int | None = None,
    config: EvaluationConfig | None = None,
    batch_size: int = 256,
) -> Scores:
    """Score a model, in memory or a checkpoint file, on the windows of a split.

    The one scoring path: training's per-epoch validation (the model in memory), the search's
    confirmation and ``dno compare`` (a run's ``artifacts/best.pt``) and ``dno evaluate``.

    Args:
        model: a :class:`~dno.models.DelayOperator` (on any device), or the path of a checkpoint
            written by ``dno train`` (loaded on the CPU, its normalization with it).
        windows: the windows (their targets hold at least the scored slices), or a split of a
            dataset, cut into windows of the model's S with targets of the scored length.
        normalizer: the run's normalization; None takes the checkpoint's.
        horizon_delays: None scores one model step (m slices); K scores the rollout of K
            delays, ``model.rollout(horizon=K (S - 1))`` (``ceil(K (S - 1) / m)`` steps cut to
            the horizon: every model on the same slices), with every rollout score.
        config: thresholds and bands of the rollout scores (default :class:`EvaluationConfig`).
        batch_size: windows per forward call.

    Returns:
        The :class:`Scores`.

    Raises:
        UsageError: no normalization (neither given nor in the checkpoint).
    """
    import torch

    from dno.data import Normalizer, WindowSet, make_windows
    from dno.models import load_checkpoint

    if isinstance(model, str | os.PathLike):
        model, extra = load_checkpoint(model)
        if normalizer is None and extra and "normalizer" in extra:
            normalizer = Normalizer.from_dict(extra["normalizer"])
    if normalizer is None:
        raise UsageError("score_checkpoint needs the normalization (not in the checkpoint)")
    horizon = None if horizon_delays is None else horizon_delays * (model.S - 1)
    n = model.m if horizon is None else horizon
    if not isinstance(windows, WindowSet):
        windows = make_windows(windows, model.S, n)
    device = next(model.parameters()).device
    history = torch.from_numpy(normalizer.state(windows.history)).to(device)
    cond = torch.from_numpy(normalizer.cond(windows.params)).to(device)
    output = predict(model, history, cond, horizon, batch_size)
    prediction = np.asarray(normalizer.unstate(output.cpu().numpy().astype(np.float64)))
    truth = windows.target[:, :n].astype(np.float64)
    rollout = None
    if horizon_delays is not None:
        config = dataclasses.replace(config or EvaluationConfig(), horizon_delays=horizon_delays)
        rollout = score_rollout(prediction, truth, slices_per_delay=model.S - 1, config=config)
    return Scores(
        output,
        prediction,
        truth,
        relative_l2(prediction, truth),
        relative_l2(prediction, truth, per_step=True),
        rollout,
    )


@dataclass(frozen=True)
class SpectralFields:
    """Rollouts laid out as fields for the spectral diagnostics.

    Attributes:
        prediction, truth: shape (N*C, n) for X = 1 (a time series per window and channel) or
            (N*C, n, X) for X > 1 (a (time, x) field).
        spatial_dims: 1 or 2. box_size: passed to :func:`diagnose`. units: what k and r are in.
    """

    prediction: np.ndarray
    truth: np.ndarray
    spatial_dims: int
    box_size: BoxSize
    units: str


def spectral_fields(
    prediction: np.ndarray, truth: np.ndarray, horizon_delays: int
) -> SpectralFields:
    """Reshape (N, n, X, C) rollouts into fields, one per window and channel.

    X = 1: 1-D series over time, the box is the horizon in delays (k in radians per tau,
    r in tau). X > 1: 2-D (time, x) fields in grid units (k in radians per grid step on both
    axes: time in delays and x in its own length are not comparable).
    """
    n_windows, n, n_x, channels = prediction.shape

    def fields(values: np.ndarray) -> np.ndarray:
        moved = np.moveaxis(values, 3, 1)  # (N, C, n, X)
        shape = (n_windows * channels, n) if n_x == 1 else (n_windows * channels, n, n_x)
        return moved.reshape(shape)

    if n_x == 1:
        box: BoxSize = float(horizon_delays)
        return SpectralFields(fields(prediction), fields(truth), 1, box, "time in tau")
    return SpectralFields(fields(prediction), fields(truth), 2, None, "grid steps (time, x)")


class RolloutScores:
    """Every score of one rollout (definitions in :mod:`dno.evaluation`), each computed the
    first time it is read: the validation of a training epoch reads the relative L2 and the
    valid time and never pays for the spectra.

    Attributes:
        prediction, truth: the rollout and its truth, shape (N, n, X, C).
        config: the evaluation config (horizon, thresholds, bands).
        slices_per_delay: S - 1.
        relative_l2, relative_l2_per_step: over all windows and slices of the horizon.
        curve: relative L2 per slice (``slices_per_step = 1``), pooled over windows.
        per_delay: relative L2 per delay of the horizon (``slices_per_step = S - 1``).
        valid: valid prediction time per window, in tau.
        correlation: correlation times, in tau.
        fields: the rollouts laid out as fields for the spectral diagnostics.
        amplitude: the amplitude ratio of those fields (the ones that are all finite).
        diagnosis: amplitude and spectral diagnostics of the fields (the costly part).
    """

    def __init__(
        self,
        prediction: np.ndarray,
        truth: np.ndarray,
        *,
        slices_per_delay: int,
        config: EvaluationConfig,
    ) -> None:
        n = config.horizon_delays * slices_per_delay
        if prediction.ndim != 4 or prediction.shape[1] != n or prediction.shape != truth.shape:
            raise UsageError(
                f"rollout has shape {prediction.shape}, truth {truth.shape}; expected equal "
                f"shapes (N, n={n}, X, C)"
            )
        self.prediction, self.truth = prediction, truth
        self.slices_per_delay, self.config = slices_per_delay, config

    @cached_property
    def relative_l2(self) -> float:
        return relative_l2(self.prediction, self.truth)

    @cached_property
    def relative_l2_per_step(self) -> float:
        return relative_l2(self.prediction, self.truth, per_step=True)

    @cached_property
    def curve(self) -> RolloutError:
        return rollout_error_curve(self.prediction, self.truth, slices_per_step=1)

    @cached_property
    def per_delay(self) -> RolloutError:
        return rollout_error_curve(
            self.prediction, self.truth, slices_per_step=self.slices_per_delay
        )

    @property
    def _dt(self) -> float:
        """Slice spacing in units of tau, the same for every window."""
        return 1.0 / self.slices_per_delay

    @cached_property
    def valid(self) -> ValidTime:
        threshold = self.config.valid_threshold
        return valid_prediction_time(self.prediction, self.truth, dt=self._dt, threshold=threshold)

    @cached_property
    def correlation(self) -> CorrelationTime:
        thresholds = self.config.correlation_thresholds
        return correlation_time(self.prediction, self.truth, dt=self._dt, thresholds=thresholds)

    @cached_property
    def fields(self) -> SpectralFields:
        return spectral_fields(self.prediction, self.truth, self.config.horizon_delays)

    @cached_property
    def amplitude(self) -> AmplitudeRatio | None:
        return usable_amplitude(self.fields.prediction, self.fields.truth)

    @cached_property
    def diagnosis(self) -> Diagnosis:
        fields = self.fields
        return diagnose(
            fields.prediction,
            fields.truth,
            box_size=fields.box_size,
            spatial_dims=fields.spatial_dims,
            band_edges=self.config.band_edges,
        )


def score_rollout(
    prediction: np.ndarray, truth: np.ndarray, *, slices_per_delay: int, config: EvaluationConfig
) -> RolloutScores:
    """Score a rollout of ``config.horizon_delays`` delays (each score computed when read).

    Args:
        prediction: shape (N, n, X, C) with ``n = horizon_delays * slices_per_delay``.
        truth: same shape, finite.
        slices_per_delay: S - 1 (the theta-grid has ``h = tau / (S - 1)``).
        config: the evaluation config.

    Returns:
        The :class:`RolloutScores`.
    """
    return RolloutScores(prediction, truth, slices_per_delay=slices_per_delay, config=config)


def rollout_record(scores: RolloutScores) -> dict[str, Any]:
    """The rollout part of ``evaluation_<split>.json`` (times in units of tau)."""
    time = (np.arange(scores.curve.curve.size) + 1) / scores.slices_per_delay
    valid = scores.valid
    return {
        "relative_l2": scores.relative_l2,
        "relative_l2_per_step": scores.relative_l2_per_step,
        "error_curve": {"time": time, "relative_l2": scores.curve.curve},
        "per_delay": {
            "delay": np.arange(1, scores.per_delay.steps + 1),
            "relative_l2": scores.per_delay.curve,
        },
        "final_relative_l2": scores.curve.final,
        "valid_time": {
            "threshold": valid.threshold,
            "mean": valid.mean,
            "median": float(np.median(valid.valid_time)),
            "reached_horizon_fraction": float(valid.reached_horizon.mean()),
            "lower_bound": bool(valid.reached_horizon.any()),
            "horizon": float(valid.horizon.max()),
            "per_window": valid.valid_time,
        },
        "correlation_time": scores.correlation,
    }


def spectral_record(scores: RolloutScores) -> dict[str, Any]:
    """The spectral part of ``evaluation_<split>.json``."""
    diagnosis, fields = scores.diagnosis, scores.fields
    record: dict[str, Any] = {
        "layout": "time" if fields.spatial_dims == 1 else "time_x",
        "units": fields.units,
        "diagnosis": diagnosis,
        "power_ratio": None,
    }
    if diagnosis.spectral is not None:
        overall, high, _ = power_ratios(diagnosis.spectral)
        record["power_ratio"] = {"all_k": overall, "high_k": high}
    return record
