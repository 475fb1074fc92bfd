"""Figures of ``dno evaluate``: rollouts against the truth and the rollout error curve.

Matplotlib is imported lazily and used through the Agg canvas (see :mod:`._figures`); each PNG
is written atomically. Times are in units of the delay tau.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dno.evaluation._figures import _new_figure, _save
from dno.evaluation._scoring import RolloutScores

__all__ = ["plot_rollout_error", "plot_rollouts"]


def plot_rollouts(
    path: Path, history: np.ndarray, truth: np.ndarray, prediction: np.ndarray, title: str
) -> Path:
    """Draw a few rollouts: history (k, S, X, C), truth and prediction (k, n, X, C).

    X = 1: one panel per window, the history then truth and prediction, over time in tau
    (channel 0). X > 1: one row per window, truth, prediction and their difference over
    (time in tau, x index) (channel 0).
    """
    k, s, n_x, _ = history.shape
    n = truth.shape[1]
    before = np.arange(-(s - 1), 1) / (s - 1)
    after = np.arange(1, n + 1) / (s - 1)
    if n_x == 1:
        figure = _new_figure(4.0 * k, 3.2)
        axes = figure.subplots(1, k, squeeze=False)[0]
        for i, ax in enumerate(axes):
            ax.plot(before, history[i, :, 0, 0], "k-", lw=1, label="history")
            ax.plot(after, truth[i, :, 0, 0], "k--", lw=1.5, label="truth")
            ax.plot(after, prediction[i, :, 0, 0], "C1-", lw=1.5, label="prediction")
            for delay in range(int(np.ceil(after[-1])) + 1):
                ax.axvline(delay, color="0.8", lw=0.6)
            ax.set_xlabel("time / tau after the window's end")
        axes[0].legend(fontsize=8)
    else:
        figure = _new_figure(12.0, 3.0 * k)
        rows = figure.subplots(k, 3, squeeze=False)
        extent = (0.0, float(after[-1]), 0.0, float(n_x - 1))
        for i, (left, middle, right) in enumerate(rows):
            true, pred = truth[i, :, :, 0], prediction[i, :, :, 0]
            low, high = float(np.nanmin(true)), float(np.nanmax(true))
            for ax, field, name in ((left, true, "truth"), (middle, pred, "prediction")):
                image = ax.imshow(
                    field.T, aspect="auto", origin="lower", extent=extent, vmin=low, vmax=high
                )
                ax.set_title(f"window {i + 1}: {name}")
            figure.colorbar(image, ax=[left, middle], shrink=0.8)
            diff = right.imshow(
                (pred - true).T, aspect="auto", origin="lower", extent=extent, cmap="RdBu_r"
            )
            right.set_title("prediction - truth")
            figure.colorbar(diff, ax=right, shrink=0.8)
            for ax in (left, middle, right):
                ax.set_xlabel("time / tau")
            left.set_ylabel("x index")
    figure.suptitle(title)
    return _save(figure, path)


def plot_rollout_error(path: Path, scores: RolloutScores, title: str) -> Path:
    """Relative L2 per slice and the correlation per slice against time in tau."""
    time = (np.arange(scores.curve.curve.size) + 1) / scores.slices_per_delay
    figure = _new_figure(7.0, 6.0)
    top, bottom = figure.subplots(2, 1, sharex=True)
    curve = scores.curve.curve
    positive = np.isfinite(curve) & (curve > 0)
    if positive.any():
        top.semilogy(time[positive], curve[positive], "C0-")
    top.set_ylabel("relative L2 per slice")
    top.set_title(title)
    bottom.plot(time, scores.correlation.curve, "C0-")
    for threshold, style in zip(scores.correlation.thresholds, (":", "--", "-."), strict=False):
        bottom.axhline(threshold, color="k", lw=0.8, ls=style, label=f"{threshold:g}")
    bottom.set_ylabel(f"Pearson correlation ({scores.correlation.over})")
    bottom.set_xlabel("time / tau after the window's end")
    bottom.legend(fontsize=8)
    for ax in (top, bottom):
        for delay in range(1, int(np.ceil(time[-1])) + 1):
            ax.axvline(delay, color="0.85", lw=0.6)
    return _save(figure, path)
