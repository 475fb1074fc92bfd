"""The figures of ``dno evaluate`` and ``dno diagnose``, drawn by :mod:`dno.plotting`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from dno.evaluation._diagnosis import Diagnosis
from dno.evaluation._scoring import RolloutScores
from dno.plotting import (
    draw_correlation_function,
    draw_cross_correlation,
    draw_field,
    draw_power_spectrum,
    draw_rollout_error,
    draw_rollouts,
    save_figure,
)
from dno.tracking import (
    COHERENCE_FIGURE,
    CORRELATION_FIGURE,
    PREDICTION_FIGURE,
    SPECTRUM_FIGURE,
)

__all__ = ["plot_diagnostics", "plot_rollout_error", "plot_rollouts"]


def plot_diagnostics(
    diagnosis: Diagnosis,
    prediction: np.ndarray,
    truth: np.ndarray,
    out_dir: str | os.PathLike[str],
) -> list[Path]:
    """Write the diagnostic figures as PNG files into ``out_dir`` (created if missing).

    Files: ``power_spectrum.png`` (P(k) of both, and their ratio), ``cross_correlation.png``
    (r(k)), ``correlation_function.png`` (xi(r)) — these three only if the diagnosis has
    spectra — and ``prediction_vs_truth.png`` (the first all-finite field, or the first field).

    Args:
        diagnosis: the result of :func:`diagnose` for these arrays.
        prediction: the array passed to :func:`diagnose`.
        truth: the array passed to :func:`diagnose`.
        out_dir: output folder.

    Returns:
        The paths written.
    """
    folder = Path(out_dir)
    folder.mkdir(parents=True, exist_ok=True)
    shape = (diagnosis.batch_size, *diagnosis.spatial_shape)
    pred = np.asarray(prediction, dtype=np.float64).reshape(shape)
    true = np.asarray(truth, dtype=np.float64).reshape(shape)
    finite = np.flatnonzero(np.isfinite(pred.reshape(shape[0], -1)).all(axis=1))
    index = int(finite[0]) if finite.size else 0
    paths = []
    if (s := diagnosis.spectral) is not None:
        paths += [
            save_figure(
                folder / SPECTRUM_FIGURE,
                draw_power_spectrum,
                s.k,
                s.power_truth,
                s.power_prediction,
            ),
            save_figure(
                folder / COHERENCE_FIGURE, draw_cross_correlation, s.k, s.cross_correlation
            ),
            save_figure(
                folder / CORRELATION_FIGURE,
                draw_correlation_function,
                s.r,
                s.xi_truth,
                s.xi_prediction,
            ),
        ]
    # Size-1 axes (a channel, a scalar family's X) would make a degenerate image.
    field = (np.squeeze(pred[index]), np.squeeze(true[index]))
    return [*paths, save_figure(folder / PREDICTION_FIGURE, draw_field, *field)]


def plot_rollouts(
    path: Path, history: np.ndarray, truth: np.ndarray, prediction: np.ndarray, title: str
) -> Path:
    """Rollouts against the truth: history (k, S, X, C), truth and prediction (k, n, X, C)."""
    return save_figure(path, draw_rollouts, history, truth, prediction, title=title)


def plot_rollout_error(path: Path, scores: RolloutScores, title: str) -> Path:
    """Relative L2 per slice and the correlation per slice against time in tau."""
    time = (np.arange(scores.curve.curve.size) + 1) / scores.slices_per_delay
    c = scores.correlation
    return save_figure(
        path,
        draw_rollout_error,
        time,
        scores.curve.curve,
        c.curve,
        c.thresholds,
        c.over,
        title=title,
    )
