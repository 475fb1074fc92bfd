"""The diagnostic figures: P(k) with ratio, r(k), xi(r), prediction vs truth.

Matplotlib is imported lazily and used through :class:`matplotlib.figure.Figure` with the Agg
canvas, never through pyplot, so plotting changes no global backend and needs no display. Each
PNG is written atomically: a temporary file in the same folder, then ``os.replace``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from dno._io import atomic_path
from dno.evaluation._diagnosis import Diagnosis
from dno.evaluation._spectral import SpectralDiagnostics
from dno.tracking import PREDICTION_FIGURE

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = ["plot_diagnostics"]

_SCATTER_POINTS = 20_000


def _new_figure(width: float, height: float) -> Figure:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=110, format="png")
    return path


def _power_figure(spectral: SpectralDiagnostics) -> Figure:
    figure = _new_figure(6.0, 6.0)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.loglog(spectral.k, spectral.power_truth, "k-", label="truth")
    top.loglog(spectral.k, spectral.power_prediction, "C1--", label="prediction")
    top.set_ylabel("P(k)")
    top.legend()
    bottom.semilogx(spectral.k, spectral.power_ratio, "C1-")
    bottom.axhline(1.0, color="k", lw=0.8)
    bottom.set_ylabel("P_pred / P_true")
    bottom.set_xlabel("k")
    return figure


def _cross_figure(spectral: SpectralDiagnostics) -> Figure:
    figure = _new_figure(6.0, 4.0)
    axes = figure.subplots()
    axes.semilogx(spectral.k, spectral.cross_correlation, "C0-")
    axes.axhline(1.0, color="k", lw=0.8)
    axes.set_ylim(min(-0.05, float(np.nanmin(spectral.cross_correlation, initial=0.0))), 1.05)
    axes.set_xlabel("k")
    axes.set_ylabel("r(k) = P_pt / sqrt(P_pp P_tt)")
    return figure


def _xi_figure(spectral: SpectralDiagnostics) -> Figure:
    figure = _new_figure(6.0, 4.0)
    axes = figure.subplots()
    axes.plot(spectral.r, spectral.xi_truth, "k-", label="truth")
    axes.plot(spectral.r, spectral.xi_prediction, "C1--", label="prediction")
    axes.axhline(0.0, color="k", lw=0.5)
    axes.set_xlabel("r")
    axes.set_ylabel("xi(r)")
    axes.legend()
    return figure


def _fields_figure(pred: np.ndarray, true: np.ndarray) -> Figure:
    """Truth and prediction of one field (a line, an image or the middle slice of a cube),
    then a scatter of predicted against true values. ``pred``, ``true``: shape (n_1, ..., n_d)."""
    figure = _new_figure(12.0 if pred.ndim > 1 else 10.0, 4.0)
    if pred.ndim == 1:
        line, scatter = figure.subplots(1, 2, width_ratios=(2, 1))
        line.plot(true, "k-", label="truth")
        line.plot(pred, "C1--", label="prediction")
        line.set_xlabel("index")
        line.legend()
    else:
        panels = figure.subplots(1, 3)
        scatter = panels[2]
        middle = (pred.shape[0] // 2,) if pred.ndim == 3 else ()
        finite = true[np.isfinite(true)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for axes, field, title in ((panels[0], true, "truth"), (panels[1], pred, "prediction")):
            image = axes.imshow(field[middle], vmin=low, vmax=high, origin="lower")
            axes.set_title(title + (" (middle slice)" if middle else ""))
        figure.colorbar(image, ax=panels[:2], shrink=0.8)
    flat_p, flat_t = pred.ravel(), true.ravel()
    ok = np.flatnonzero(np.isfinite(flat_p) & np.isfinite(flat_t))
    if ok.size > _SCATTER_POINTS:
        ok = np.random.default_rng(0).choice(ok, _SCATTER_POINTS, replace=False)
    scatter.plot(flat_t[ok], flat_p[ok], ".", ms=1.5, alpha=0.4)
    if ok.size:
        span = (float(flat_t[ok].min()), float(flat_t[ok].max()))
        scatter.plot(span, span, "k-", lw=0.8)
    scatter.set_xlabel("truth")
    scatter.set_ylabel("prediction")
    return figure


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
    figures = []
    if diagnosis.spectral is not None:
        figures += [
            ("power_spectrum.png", _power_figure(diagnosis.spectral)),
            ("cross_correlation.png", _cross_figure(diagnosis.spectral)),
            ("correlation_function.png", _xi_figure(diagnosis.spectral)),
        ]
    # Size-1 axes (a channel, a scalar family's X) would make a degenerate image.
    fields = _fields_figure(np.squeeze(pred[index]), np.squeeze(true[index]))
    figures.append((PREDICTION_FIGURE, fields))
    return [_save(figure, folder / name) for name, figure in figures]
