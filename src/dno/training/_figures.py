"""The prediction-vs-truth figure of a run (matplotlib, imported lazily, Agg canvas)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from dno._io import atomic_path

__all__ = ["plot_windows"]


def plot_windows(
    path: Path,
    history: np.ndarray,
    target: np.ndarray,
    prediction: np.ndarray,
    step: np.ndarray,
    title: str,
) -> Path:
    """Plot k windows: history (k, S, X, C), target and prediction (k, m, X, C), step (k,).

    Scalar states (X = 1) are drawn as curves over time; fields as the truth, the prediction and
    their difference over (time, x) for the first window.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    k, s, n_x, _ = history.shape
    m = target.shape[1]
    if n_x == 1:
        figure = Figure(figsize=(4.0 * k, 3.2), layout="constrained")
        axes = np.atleast_1d(figure.subplots(1, k, squeeze=False)[0])
        for i, ax in enumerate(axes):
            h = step[i]
            ax.plot(np.arange(-(s - 1), 1) * h, history[i, :, 0, 0], "k-", lw=1, label="history")
            ax.plot(np.arange(1, m + 1) * h, target[i, :, 0, 0], "k--", lw=1.5, label="truth")
            ax.plot(
                np.arange(1, m + 1) * h, prediction[i, :, 0, 0], "C1-", lw=1.5, label="prediction"
            )
            ax.axvline(0.0, color="0.6", lw=0.6)
            ax.set_xlabel("time relative to the window's end")
        axes[0].legend(fontsize=8)
    else:
        figure = Figure(figsize=(12.0, 3.6), layout="constrained")
        axes = figure.subplots(1, 3)
        truth, pred = target[0, :, :, 0], prediction[0, :, :, 0]
        lo, hi = float(min(truth.min(), pred.min())), float(max(truth.max(), pred.max()))
        for ax, field, name in ((axes[0], truth, "truth"), (axes[1], pred, "prediction")):
            image = ax.imshow(field.T, aspect="auto", origin="lower", vmin=lo, vmax=hi)
            ax.set_title(name)
            ax.set_xlabel("new slice")
            ax.set_ylabel("x index")
        figure.colorbar(image, ax=axes[:2])
        diff = axes[2].imshow((pred - truth).T, aspect="auto", origin="lower", cmap="RdBu_r")
        axes[2].set_title("prediction - truth")
        figure.colorbar(diff, ax=axes[2])
    figure.suptitle(title)
    FigureCanvasAgg(figure)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, dpi=100, format="png")
    return path
