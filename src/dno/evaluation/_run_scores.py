"""Scores of a rollout against the truth, on the model-independent grid of the evaluation.

Everything here takes physical-unit numpy arrays of shape (N, n, X, C): N windows, n slices
after each window's end on the theta-grid (slice i is at time ``(i + 1) / (S - 1)`` delays),
X points, C channels. The metrics are the package's own (:mod:`dno.evaluation`); this module only
chooses their arguments so that every model is scored on the same slices and times.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from dno.errors import UsageError
from dno.evaluation._accuracy import (
    CorrelationTime,
    RolloutError,
    ValidTime,
    correlation_time,
    relative_l2,
    relative_l2_per_step,
    rollout_error_curve,
    valid_prediction_time,
)
from dno.evaluation._diagnosis import Diagnosis, _geometric_mean, diagnose
from dno.evaluation._run_config import EvaluationConfig
from dno.evaluation._spectral import BoxSize, SpectralDiagnostics

__all__ = ["RolloutScores", "score_one_step", "score_rollout", "spectral_fields"]


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


@dataclass(frozen=True)
class RolloutScores:
    """Every score of one rollout (definitions in :mod:`dno.evaluation`).

    Attributes:
        relative_l2, relative_l2_per_step: over all windows and slices of the horizon.
        curve: relative L2 per slice (``slices_per_step = 1``), pooled over windows.
        per_delay: relative L2 per delay of the horizon (``slices_per_step = S - 1``).
        valid: valid prediction time per window, in tau.
        correlation: correlation times, in tau.
        diagnosis: amplitude and spectral diagnostics of the rollout fields.
        fields: the fields the diagnosis was computed on (for the figures).
        slices_per_delay: S - 1.
    """

    relative_l2: float
    relative_l2_per_step: float
    curve: RolloutError
    per_delay: RolloutError
    valid: ValidTime
    correlation: CorrelationTime
    diagnosis: Diagnosis
    fields: SpectralFields
    slices_per_delay: int


def score_one_step(prediction: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """Global and per-step relative L2 of one model step; both (N, m, X, C)."""
    return {
        "relative_l2": relative_l2(prediction, truth),
        "relative_l2_per_step": relative_l2_per_step(prediction, truth),
    }


def score_rollout(
    prediction: np.ndarray, truth: np.ndarray, *, slices_per_delay: int, config: EvaluationConfig
) -> RolloutScores:
    """Score a rollout of ``config.horizon_delays`` delays.

    Args:
        prediction: shape (N, n, X, C) with ``n = horizon_delays * slices_per_delay``.
        truth: same shape, finite.
        slices_per_delay: S - 1 (the theta-grid has ``h = tau / (S - 1)``).
        config: the evaluation config.

    Returns:
        The :class:`RolloutScores`.
    """
    n = config.horizon_delays * slices_per_delay
    if prediction.ndim != 4 or prediction.shape[1] != n or prediction.shape != truth.shape:
        raise UsageError(
            f"rollout has shape {prediction.shape}, truth {truth.shape}; expected equal shapes "
            f"(N, n={n}, X, C)"
        )
    dt = 1.0 / slices_per_delay  # slice spacing in units of tau, the same for every window
    fields = spectral_fields(prediction, truth, config.horizon_delays)
    return RolloutScores(
        relative_l2=relative_l2(prediction, truth),
        relative_l2_per_step=relative_l2_per_step(prediction, truth),
        curve=rollout_error_curve(prediction, truth, slices_per_step=1),
        per_delay=rollout_error_curve(prediction, truth, slices_per_step=slices_per_delay),
        valid=valid_prediction_time(prediction, truth, dt=dt, threshold=config.valid_threshold),
        correlation=correlation_time(
            prediction, truth, dt=dt, thresholds=config.correlation_thresholds
        ),
        diagnosis=diagnose(
            fields.prediction,
            fields.truth,
            box_size=fields.box_size,
            spatial_dims=fields.spatial_dims,
            band_edges=config.band_edges,
        ),
        fields=fields,
        slices_per_delay=slices_per_delay,
    )


def power_ratio_summary(spectral: SpectralDiagnostics) -> dict[str, float]:
    """Geometric means of ``P_pred / P_true`` up to the Nyquist shell: all k, top third of k."""
    complete = spectral.shells <= spectral.nyquist_shell
    ratio = spectral.power_ratio[complete]
    top = ratio[ratio.size - -(-ratio.size // 3) :]
    return {"all_k": _geometric_mean(ratio), "high_k": _geometric_mean(top)}


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
        record["power_ratio"] = power_ratio_summary(diagnosis.spectral)
    return record
