"""Every static figure of dno: ``draw_*`` functions over numpy arrays, one style, one save.

A ``draw_*`` function draws on an empty :class:`matplotlib.figure.Figure` and sets its size;
:func:`save_figure` makes the figure (the Agg canvas, never pyplot: no global backend, no
display), calls the drawing and writes the PNG atomically. Resolution, colours and sizes are set
here only, so the figures of training, ``dno evaluate`` and ``dno report`` look alike.
matplotlib is imported when a figure is drawn. An array of the wrong shape raises a one-line
:class:`~dno.errors.UsageError` naming it, its shape and the shape expected.

Example:
    >>> from dno.plotting import draw_rollouts, save_figure
    >>> history, truth = np.zeros((2, 9, 1, 1)), np.ones((2, 16, 1, 1))
    >>> save_figure("rollouts.png", draw_rollouts, history, truth, truth)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence, Sized
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dno._io import atomic_path
from dno.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["COLORS", "DPI", "HISTORY", "PREDICTION", "TRUTH", "Line", "Panel", "color"]
__all__ += ["save_figure"]
__all__ += ["draw_boxes", "draw_correlation_function", "draw_cross_correlation", "draw_field"]
__all__ += ["draw_heatmap", "draw_importance", "draw_intervals", "draw_panels", "draw_parallel"]
__all__ += ["draw_probabilities", "draw_profiles"]
__all__ += ["draw_power_spectrum", "draw_rollout_error", "draw_rollouts", "draw_slices"]
__all__ += ["draw_regime_errors", "draw_tuning_curves"]

#: Resolution of every PNG, in dots per inch.
DPI = 110
#: One palette (matplotlib's tab10), also used by the interactive figures of ``dno report``.
_TAB10 = "1f77b4 ff7f0e 2ca02c d62728 9467bd 8c564b e377c2 7f7f7f bcbd22 17becf"
COLORS = tuple(f"#{c}" for c in _TAB10.split())
TRUTH, PREDICTION, HISTORY, GUIDE = "#222222", COLORS[1], "#777777", "#d0d0d0"
#: A field figure's scatter of predicted against true values shows at most this many points.
SCATTER_POINTS = 20_000
#: The units of the spectral axes: those of the box size (``box_size``; the horizon in delays
#: tau for ``dno evaluate``'s time series), else grid spacings.
LENGTH = "the box size's unit, else grid spacings"
WAVENUMBER = f"wavenumber k (radians per unit: {LENGTH})"
LEGEND = 8


def color(i: int) -> str:
    """The i-th colour of :data:`COLORS` (cycling)."""
    return COLORS[i % len(COLORS)]


def save_figure(
    path: str | os.PathLike[str], draw: Callable[..., Any], *args: Any, title: str = "", **kw: Any
) -> Path:
    """Call ``draw(figure, *args, **kw)`` on a new figure, then write it as a PNG atomically.

    Args:
        path: the PNG file (its folder must exist).
        draw: a ``draw_*`` function, or any function drawing on an empty figure.
        title: shown above the figure.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    FigureCanvasAgg(figure)
    draw(figure, *args, **kw)
    if title:
        figure.suptitle(title, fontsize=12)
    with atomic_path(Path(path)) as temporary:
        figure.savefig(temporary, dpi=DPI, format="png")
    return Path(path)


def _array(name: str, value: Any, ndim: int | tuple[int, ...], like: Any = None) -> np.ndarray:
    """``value`` as floats of ``ndim`` dimensions (and ``like``'s shape if given), or raise."""
    array = np.asarray(value, dtype=np.float64)
    dims = (ndim,) if isinstance(ndim, int) else ndim
    if like is not None and array.shape != np.shape(like):
        raise UsageError(f"{name} has shape {array.shape}; expected {np.shape(like)}")
    if array.ndim not in dims or array.size == 0:
        expected = " or ".join(map(str, dims))
        raise UsageError(f"{name} has shape {array.shape}; expected {expected} axes, not empty")
    return array


def _counts(**sequences: Sized) -> int:
    """The common length of ``sequences`` (at least one), or raise naming each length."""
    lengths = {len(v) for v in sequences.values()}
    if len(lengths) != 1 or 0 in lengths:
        given = ", ".join(f"{name} {len(v)}" for name, v in sequences.items())
        raise UsageError(f"lengths {given}; expected the same length, at least one")
    return lengths.pop()


def _range(values: np.ndarray) -> tuple[float, float]:
    finite = values[np.isfinite(values)]
    return (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)


def _delays(axes: Axes, every: float, end: float) -> None:
    """Grey vertical lines at 0 and each multiple of ``every`` up to ``end``."""
    for i in range(int(np.floor(end / every + 1e-9)) + 1 if every > 0 else 0):
        axes.axvline(i * every, color=GUIDE, lw=0.6, zorder=0)


def _pair(axes: Axes, x: Any, truth: Any, prediction: Any, legend: bool = True) -> None:
    """Truth (solid, dark) and prediction (dashed) as lines, with a legend."""
    axes.plot(x, truth, "-", color=TRUTH, label="truth")
    axes.plot(x, prediction, "--", color=PREDICTION, label="prediction")
    if legend:
        axes.legend(fontsize=LEGEND)


def _images(
    figure: Figure, axes: Any, truth: np.ndarray, prediction: np.ndarray, **kw: Any
) -> None:
    """Truth and prediction as images on one colour scale (the truth's range), one colour bar."""
    low, high = _range(truth)
    for ax, field in zip(axes, (truth, prediction), strict=True):
        image = ax.imshow(field, origin="lower", vmin=low, vmax=high, **kw)
    figure.colorbar(image, ax=list(axes), shrink=0.8, label="value")


def draw_rollouts(
    figure: Figure,
    history: np.ndarray | Sequence[np.ndarray],
    truth: np.ndarray | Sequence[np.ndarray],
    prediction: np.ndarray | Sequence[np.ndarray],
    step: float | np.ndarray | None = None,
    titles: Sequence[str] = (),
) -> None:
    """Prediction vs truth: k windows rolled out from their history (channel 0).

    One value per slice (X = 1): a panel per window, the history, the truth and the prediction
    over time. A field (X > 1): a row per window, the truth, the prediction and their
    difference over (time, x). Grey lines mark each delay after the window's end.

    Args:
        history: k windows of shape (S, X, C), S >= 2: an array (k, S, X, C) or a list.
        truth, prediction: k windows of shape (n, X, C).
        step: the time between slices, one number or one per window (k,); None: time in
            delays tau (S - 1 slices per delay).
        titles: one per window (default: ``window 1``, ...).
    """
    k = _counts(history=history, truth=truth, prediction=prediction)
    steps = np.broadcast_to(np.nan if step is None else np.asarray(step, np.float64), (k,))
    windows = []
    for i in range(k):
        t = _array(f"truth[{i}]", truth[i], 3)
        p = _array(f"prediction[{i}]", prediction[i], 3, like=t)
        h = _array(f"history[{i}]", history[i], 3)
        if h.shape[0] < 2 or h.shape[1:] != t.shape[1:]:
            raise UsageError(f"history[{i}] has shape {h.shape}; expected (S >= 2, *{t.shape[1:]})")
        per_slice = 1.0 / (h.shape[0] - 1) if step is None else float(steps[i])
        before, after = np.arange(1 - h.shape[0], 1), np.arange(1, t.shape[0] + 1)
        windows.append((h[:, :, 0], t[:, :, 0], p[:, :, 0], before * per_slice, after * per_slice))
    names = list(titles) or [f"window {i + 1}" for i in range(k)]
    xlabel = "time / τ after the window's end" if step is None else "time after the window's end"
    if all(t.shape[1] == 1 for _, t, _, _, _ in windows):
        figure.set_size_inches(4.0 * k + 0.5, 3.4)
        axes = figure.subplots(1, k, squeeze=False)[0]
        for ax, name, (h, t, p, before, after) in zip(axes, names, windows, strict=True):
            ax.plot(before, h[:, 0], color=HISTORY, lw=1, label="history")
            _pair(ax, after, t[:, 0], p[:, 0], legend=ax is axes[0])
            _delays(ax, -before[0], after[-1])
            ax.set(title=name, xlabel=xlabel, ylabel="value")
        return
    figure.set_size_inches(12.0, 3.0 * k + 0.4)
    rows = figure.subplots(k, 3, squeeze=False)
    for (*pair, right), name, (_, t, p, _, after) in zip(rows, names, windows, strict=True):
        extent = (0.0, float(after[-1]), 0.0, float(t.shape[1] - 1))
        _images(figure, pair, t.T, p.T, aspect="auto", extent=extent)
        for ax, what in zip(pair, ("truth", "prediction"), strict=True):
            ax.set(title=f"{name}: {what}", xlabel=xlabel, ylabel="x index")
        spread = float(np.nanmax(np.abs(p - t), initial=0.0)) or 1.0  # centred on zero
        diff = right.imshow((p - t).T, aspect="auto", origin="lower", extent=extent,
                            cmap="RdBu_r", vmin=-spread, vmax=spread)  # fmt: skip
        right.set(title="prediction - truth", xlabel=xlabel, ylabel="x index")
        figure.colorbar(diff, ax=right, shrink=0.8, label="prediction - truth")


def draw_field(figure: Figure, prediction: np.ndarray, truth: np.ndarray) -> None:
    """Prediction vs truth of one field, then a scatter of predicted against true values.

    Args:
        prediction, truth: shape (n_1,) (drawn as lines), (n_1, n_2) (images) or
            (n_1, n_2, n_3) (the middle slice along the first axis).
    """
    true = _array("truth", truth, (1, 2, 3))
    pred = _array("prediction", prediction, true.ndim, like=true)
    figure.set_size_inches(12.0 if pred.ndim > 1 else 10.0, 4.0)
    if pred.ndim == 1:
        line, scatter = figure.subplots(1, 2, width_ratios=(2, 1))
        _pair(line, np.arange(true.size), true, pred)
        line.set(xlabel="index", ylabel="value")
    else:
        *pair, scatter = figure.subplots(1, 3)
        middle = (pred.shape[0] // 2,) if pred.ndim == 3 else ()
        _images(figure, pair, true[middle], pred[middle])
        for ax, what in zip(pair, ("truth", "prediction"), strict=True):
            ax.set_title(what + (" (middle slice)" if middle else ""))
            ax.set(xlabel=f"axis {pred.ndim} index", ylabel=f"axis {pred.ndim - 1} index")
    flat_p, flat_t = pred.ravel(), true.ravel()
    ok = np.flatnonzero(np.isfinite(flat_p) & np.isfinite(flat_t))
    if ok.size > SCATTER_POINTS:
        ok = np.random.default_rng(0).choice(ok, SCATTER_POINTS, replace=False)
    scatter.plot(flat_t[ok], flat_p[ok], ".", ms=1.5, alpha=0.4, color=COLORS[0])
    if ok.size:
        span = (float(flat_t[ok].min()), float(flat_t[ok].max()))
        scatter.plot(span, span, "-", color=TRUTH, lw=0.8)
    scatter.set(xlabel="truth", ylabel="prediction")


def _curves(x: tuple[str, Any], *ys: tuple[str, Any]) -> list[np.ndarray]:
    """A named ``x`` of shape (n,), then each named ``y`` of the same shape."""
    xs = _array(*x, 1)
    return [xs, *(_array(name, y, 1, like=xs) for name, y in ys)]


def draw_power_spectrum(
    figure: Figure, k: np.ndarray, truth: np.ndarray, prediction: np.ndarray
) -> None:
    """P(k) of the truth and the prediction (log-log) above their ratio. All shape (n,)."""
    k, truth, prediction = _curves(("k", k), ("P_truth", truth), ("P_prediction", prediction))
    figure.set_size_inches(6.0, 6.0)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    _pair(top, k, truth, prediction)
    top.set(xscale="log", yscale="log", ylabel="power P(k)")
    with np.errstate(divide="ignore", invalid="ignore"):
        bottom.semilogx(k, prediction / truth, "-", color=PREDICTION)
    bottom.axhline(1.0, color=TRUTH, lw=0.8)
    bottom.set(ylabel="P_pred / P_true", xlabel=WAVENUMBER)


def draw_cross_correlation(figure: Figure, k: np.ndarray, r: np.ndarray) -> None:
    """r(k) = P_pt / sqrt(P_pp P_tt), the correlation of prediction and truth per scale.

    ``k`` and ``r``: shape (n,)."""
    k, r = _curves(("k", k), ("r", r))
    figure.set_size_inches(6.0, 4.0)
    axes = figure.subplots()
    axes.semilogx(k, r, "-", color=COLORS[0])
    axes.axhline(1.0, color=TRUTH, lw=0.8)
    axes.set_ylim(min(-0.05, float(np.nanmin(r, initial=0.0))), 1.05)
    axes.set(xlabel=WAVENUMBER, ylabel="r(k) = P_pt / sqrt(P_pp P_tt)")


def draw_correlation_function(
    figure: Figure, r: np.ndarray, truth: np.ndarray, prediction: np.ndarray
) -> None:
    """xi(r), the two-point correlation function of the truth and the prediction. All (n,)."""
    r, truth, prediction = _curves(("r", r), ("xi_truth", truth), ("xi_prediction", prediction))
    figure.set_size_inches(6.0, 4.0)
    axes = figure.subplots()
    _pair(axes, r, truth, prediction)
    axes.axhline(0.0, color=TRUTH, lw=0.5)
    axes.set(xlabel=f"separation r ({LENGTH})", ylabel="xi(r)")


def draw_rollout_error(
    figure: Figure,
    time: np.ndarray,
    relative_l2: np.ndarray,
    correlation: np.ndarray,
    thresholds: Sequence[float] = (),
    over: str = "",
) -> None:
    """Relative L2 per slice (log scale) above the Pearson correlation per slice, over time.

    Args:
        time, relative_l2, correlation: shape (n,); time in delays tau after the window's end.
        thresholds: correlation levels drawn as horizontal lines.
        over: what the correlation is taken over (shown in its axis label).
    """
    time, curve, correlation = _curves(("time", time), ("relative_l2", relative_l2),
                                       ("correlation", correlation))  # fmt: skip
    figure.set_size_inches(7.0, 6.0)
    top, bottom = figure.subplots(2, 1, sharex=True)
    positive = np.isfinite(curve) & (curve > 0)
    top.semilogy(time[positive], curve[positive], "-", color=COLORS[0])
    top.set_ylabel("relative L2 per slice")
    bottom.plot(time, correlation, "-", color=COLORS[0])
    for threshold, style in zip(thresholds, (":", "--", "-."), strict=False):
        bottom.axhline(threshold, color=TRUTH, lw=0.8, ls=style, label=f"{threshold:g}")
    bottom.set(ylabel=f"Pearson correlation ({over})", xlabel="time / τ after the window's end")
    if len(thresholds):
        bottom.legend(fontsize=LEGEND)
    for ax in (top, bottom):
        _delays(ax, 1.0, float(time[-1]))


@dataclass(frozen=True)
class Line:
    """One series of a :class:`Panel`: points ``x``, ``y`` (the same length), a legend label
    ("" for none), a colour, a ``style`` (``-``, ``--``, ``:``), a ``kind`` (``line``,
    ``step``: a staircase rising after each point, or ``points``) and ``notes`` beside points."""

    x: Sequence[float] | np.ndarray
    y: Sequence[float] | np.ndarray
    label: str = ""
    color: str = COLORS[0]
    style: str = "-"
    kind: str = "line"
    notes: Sequence[str] = ()


@dataclass(frozen=True)
class Panel:
    """One set of axes of :func:`draw_panels`: its lines, title, axis labels and scales."""

    lines: Sequence[Line]
    title: str = ""
    xlabel: str = ""
    ylabel: str = ""
    logx: bool = False
    logy: bool = False


def draw_panels(figure: Figure, panels: Sequence[Panel]) -> None:
    """Panels side by side, each with its lines, points or staircases (an empty one skipped); a
    legend on the first."""
    figure.set_size_inches(7.5 if _counts(panels=panels) == 1 else 4.4 * len(panels) + 1, 4.6)
    for ax, panel in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        for i, line in enumerate(line for line in panel.lines if len(line.x) or len(line.y)):
            name = f"{panel.title or 'panel'} line {i}"
            x = _array(f"{name} x", line.x, 1)
            y = _array(f"{name} y", line.y, 1, like=x)
            style = {"color": line.color, "label": line.label or None}
            if line.kind == "points":
                ax.scatter(x, y, s=20, zorder=3, **style)
            elif line.kind == "step":
                ax.step(x, y, where="post", ls=line.style, **style)
            else:
                ax.plot(x, y, ls=line.style, **style)
            for xi, yi, note in zip(x, y, line.notes, strict=False):
                ax.annotate(note, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
        # a panel named by what it shows (``loss``) and no y label: the name labels its y axis
        ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel or panel.title)
        ax.set(xscale="log" if panel.logx else "linear", yscale="log" if panel.logy else "linear")
    if figure.axes[0].get_legend_handles_labels()[1]:
        figure.axes[0].legend(fontsize=LEGEND - 1)


def draw_tuning_curves(
    figure: Figure,
    mean: Sequence[np.ndarray],
    sd: Sequence[np.ndarray],
    labels: Sequence[str],
    colors: Sequence[str],
    ylabel: str,
    logy: bool = False,
) -> None:
    """Tuning curves: per model the expected best score of n trials (``mean[k]``, shape (N_k,),
    entry ``n - 1`` for n trials) with a band of one standard deviation (``sd[k]``, the same
    shape), against n; ``labels`` and ``colors`` one per model; ``logy`` a logarithmic score
    axis."""
    from matplotlib.ticker import MaxNLocator

    count = _counts(mean=mean, sd=sd, labels=labels, colors=colors)
    figure.set_size_inches(7.5, 4.6)
    ax = figure.subplots()
    for k in range(count):
        y = _array(f"mean[{k}]", mean[k], 1)
        spread = _array(f"sd[{k}]", sd[k], 1, like=y)
        n = np.arange(1, y.size + 1)
        ax.plot(n, y, marker="o", ms=3, color=colors[k], label=labels[k])
        ax.fill_between(n, y - spread, y + spread, color=colors[k], alpha=0.15, lw=0)
    ax.set(xlabel="trials n", ylabel=ylabel, yscale="log" if logy else "linear")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    if count:
        ax.legend(fontsize=LEGEND)


def draw_boxes(
    figure: Figure,
    values: Sequence[Sequence[float]],
    labels: Sequence[str],
    colors: Sequence[str],
    legend: Mapping[str, str],
    ylabel: str,
    legend_title: str = "family",
    logy: bool = False,
) -> None:
    """A box per group with its points on top: ``values``, ``labels`` and ``colors`` one per
    box; ``legend`` maps a legend entry to its colour; ``ylabel`` names the values; ``logy``
    a logarithmic value axis."""
    from matplotlib.patches import Patch

    n = _counts(values=values, labels=labels, colors=colors)
    figure.set_size_inches(max(6.0, 1.2 * n + 2), 4.8)
    ax = figure.subplots()
    parts = ax.boxplot(values, patch_artist=True, showfliers=True)
    ax.set_xticks(range(1, n + 1), labels, rotation=20, ha="right")
    for patch, hue in zip(parts["boxes"], colors, strict=True):
        patch.set(facecolor=hue, alpha=0.6)
    for i, ys in enumerate(values):
        ax.scatter([i + 1] * len(ys), ys, s=8, color=TRUTH, zorder=3)
    handles = [Patch(color=hue, alpha=0.6, label=name) for name, hue in legend.items()]
    ax.legend(handles=handles, title=legend_title, fontsize=LEGEND)
    ax.set(ylabel=ylabel, yscale="log" if logy else "linear")


def draw_importance(
    figure: Figure,
    names: Sequence[str],
    importance: Sequence[float],
    correlation: Sequence[float],
    colors: Sequence[str],
    notes: Sequence[str],
    titles: tuple[str, str, str],
) -> None:
    """Two bar charts sharing the parameter names: importance, then a correlation in [-1, 1].

    Args:
        names: the parameters (drawn bottom to top).
        importance, correlation, colors, notes: one per name (``notes`` on the correlations).
        titles: the left panel's title and x label, the right panel's title.
    """
    n = _counts(names=names, importance=importance, correlation=correlation, colors=colors)
    figure.set_size_inches(10.0, 1.2 + 0.45 * n)
    a, b = figure.subplots(1, 2, sharey=True)
    a.barh(names, importance, color=COLORS[0])
    a.set(title=titles[0], xlabel=titles[1])
    b.barh(names, correlation, color=colors)
    b.axvline(0, color=TRUTH, lw=0.8)
    b.set(title=titles[2], xlim=(-1.05, 1.05), xlabel="ρ")
    for y, text in enumerate(notes):
        b.text(0.02, y, text, va="center", fontsize=8, color=TRUTH)


def draw_heatmap(
    figure: Figure,
    mean: np.ndarray,
    count: np.ndarray,
    x_labels: Sequence[str],
    y_labels: Sequence[str],
    axis_names: tuple[str, str, str],
) -> None:
    """Mean values over a grid of two parameters' values, each cell's mean and count written.

    Args:
        mean: shape (len(y_labels), len(x_labels)); NaN for an empty cell.
        count: the same shape, the number of values per cell.
        axis_names: the x axis, the y axis and the colour bar.
    """
    mean = _array("mean", mean, 2, like=np.empty((len(y_labels), len(x_labels))))
    count = _array("count", count, 2, like=mean)
    figure.set_size_inches(7.5, 5.5)
    ax = figure.subplots()
    image = ax.imshow(np.ma.masked_invalid(mean), origin="lower", aspect="auto", cmap="viridis")
    figure.colorbar(image, ax=ax, label=axis_names[2])
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=30, ha="right")
    ax.set_yticks(range(len(y_labels)), y_labels)
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1])
    low, high = _range(np.where(count > 0, mean, np.nan))
    for i, j in zip(*np.nonzero(count), strict=True):
        bright = (mean[i, j] - low) > 0.6 * (high - low)  # viridis turns light there
        ax.text(j, i, f"{mean[i, j]:.3g}\nn={int(count[i, j])}", ha="center", va="center",
                fontsize=8, color="black" if bright else "white")  # fmt: skip


def draw_slices(
    figure: Figure,
    xs: Sequence[Sequence[float]],
    y: Sequence[float],
    shade: Sequence[float],
    names: Sequence[str],
    logx: Sequence[bool],
    ticks: Sequence[Sequence[str] | None],
    ylabel: str,
) -> None:
    """``y`` against each of several variables, a panel each (three per row).

    Args:
        xs: per variable, its values (as many as ``y``; a choice's index if unordered).
        shade: one per point, colours it (viridis; a trial's number).
        names, logx, ticks: per variable, its name, a log scale, and the names of its choices
            (ticks at 0, 1, ...) or None.
    """
    n = _counts(xs=xs, names=names, logx=logx, ticks=ticks)
    ys = _array("y", y, 1)
    for name, x in zip(names, xs, strict=True):
        _array(f"values of {name}", x, 1, like=ys)
    cols = min(3, n)
    rows = -(-n // cols)
    figure.set_size_inches(4.0 * cols + 1, 3.4 * rows)
    axes = figure.subplots(rows, cols, squeeze=False, sharey=True).ravel()
    for ax, x, name, log, tick in zip(axes, xs, names, logx, ticks, strict=False):
        points = ax.scatter(x, ys, c=shade, cmap="viridis", edgecolors="#333", lw=0.3, s=22)
        ax.set(xlabel=name, xscale="log" if log else "linear")
        if tick is not None:
            ax.set_xticks(range(len(tick)), list(tick))
    for ax in axes[n:]:
        ax.set_visible(False)
    for ax in axes[::cols]:
        ax.set_ylabel(ylabel)
    figure.colorbar(points, ax=list(axes), label="trial", shrink=0.8)


def draw_parallel(
    figure: Figure,
    labels: Sequence[str],
    values: np.ndarray,
    ticks: Sequence[Sequence[str] | None],
    shade: Sequence[float],
) -> None:
    """Parallel coordinates: each item a line through its values on every axis.

    Args:
        labels, ticks: per axis, its name and the names of its choices (or None).
        values: shape (axes, items); each axis is scaled to [0, 1] (its range written).
        shade: one per item; colours the lines (viridis), the lowest drawn last, on top.
    """
    from matplotlib import colormaps

    colour = _array("shade", shade, 1)
    values = _array("values", values, 2, like=np.empty((_counts(labels=labels, ticks=ticks),
                                                        colour.size)))  # fmt: skip
    figure.set_size_inches(max(7.0, 1.6 * len(labels)), 4.5)
    ax = figure.subplots()
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, values, -np.inf).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(finite & (high > low), (values - low) / (high - low), 0.5)
    norm = (colour - colour.min()) / ((colour.max() - colour.min()) or 1.0)
    for k in np.argsort(-norm):  # the lowest values drawn last, on top
        ax.plot(scaled[:, k], color=colormaps["viridis"](norm[k]), lw=1.0, alpha=0.8)
    for d, tick in enumerate(ticks):
        ax.axvline(d, color="#444", lw=0.8)
        ends = (f"{low[d, 0]:.3g}", f"{high[d, 0]:.3g}") if finite[d].any() else ("", "")
        ends = (tick[0], tick[-1]) if tick else ends
        ax.text(d, -0.06, ends[0], ha="center", va="top", fontsize=7)
        ax.text(d, 1.06, ends[1], ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(labels)), list(labels), rotation=20)
    ax.set(ylim=(-0.15, 1.15), yticks=[], ylabel="each axis from its lowest to its highest value")


def draw_intervals(
    figure: Figure,
    labels: Sequence[str],
    estimates: Sequence[float],
    lows: Sequence[float],
    highs: Sequence[float],
    colors: Sequence[str],
    xlabel: str,
    reference: float | None = None,
) -> None:
    """One row per label, top to bottom: a point at its estimate and a bar over its interval.

    Args:
        labels, estimates, lows, highs, colors: one per row (an unknown end: NaN, no bar).
        xlabel: what the estimates are.
        reference: a value marked by a vertical line (the baseline's 1, a probability's 0.5).
    """
    n = _counts(labels=labels, estimates=estimates, lows=lows, highs=highs, colors=colors)
    point = _array("estimates", estimates, 1)
    low, high = _array("lows", lows, 1, like=point), _array("highs", highs, 1, like=point)
    figure.set_size_inches(7.5, 1.4 + 0.42 * n)
    ax = figure.subplots()
    rows = np.arange(n)[::-1]  # the first label on top
    if reference is not None:
        ax.axvline(reference, color=GUIDE, lw=1.2, zorder=0)
    for y, estimate, a, b, hue in zip(rows, point, low, high, colors, strict=True):
        if np.isfinite(a) and np.isfinite(b):
            ax.plot([a, b], [y, y], color=hue, lw=5, alpha=0.45, solid_capstyle="butt")
        ax.scatter([estimate], [y], color=hue, s=36, zorder=3, edgecolors=TRUTH, linewidths=0.6)
    ax.set_yticks(rows, list(labels))
    ax.set(xlabel=xlabel, ylabel="model", ylim=(-0.7, n - 0.3))


def draw_regime_errors(
    figure: Figure,
    means: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    models: Sequence[str],
    regimes: Sequence[str],
    colors: Sequence[str],
    ylabel: str,
    logy: bool = False,
) -> None:
    """Each model's error by regime: per regime (the x axis) a point per model at its mean with
    a bar over its interval, a model's points joined across the regimes.

    Args:
        means, lows, highs: shape (models, regimes); NaN: no score there (a model that cannot
            change resolution), no point.
        models, colors: one per row; regimes: one per column.
        ylabel: what the values are; logy: a logarithmic value axis.
    """
    n = _counts(models=models, colors=colors)
    point = _array("means", means, 2)
    if point.shape != (n, len(regimes)):
        raise UsageError(f"means has shape {point.shape}; expected ({n}, {len(regimes)})")
    low, high = _array("lows", lows, 2, like=point), _array("highs", highs, 2, like=point)
    figure.set_size_inches(max(6.5, 1.8 * len(regimes) + 3), 4.8)
    ax = figure.subplots()
    width = 0.4 / max(n, 1)
    for i, (model, hue) in enumerate(zip(models, colors, strict=True)):
        x = np.arange(len(regimes)) + (i - (n - 1) / 2) * width
        shown = np.isfinite(point[i])
        ax.plot(x[shown], point[i][shown], color=hue, lw=1, alpha=0.5)
        bars = shown & np.isfinite(low[i]) & np.isfinite(high[i])
        spread = np.abs(np.stack([point[i] - low[i], high[i] - point[i]]))[:, bars]
        ax.errorbar(x[bars], point[i][bars], yerr=spread, fmt="none", ecolor=hue, lw=2)
        ax.scatter(x[shown], point[i][shown], color=hue, s=30, zorder=3, label=model,
                   edgecolors=TRUTH, linewidths=0.5)  # fmt: skip
    ax.set_xticks(range(len(regimes)), list(regimes))
    ax.legend(title="model", fontsize=LEGEND)
    ax.set(ylabel=ylabel, yscale="log" if logy else "linear")


def draw_profiles(
    figure: Figure,
    thresholds: np.ndarray,
    fractions: Sequence[np.ndarray],
    lows: Sequence[np.ndarray],
    highs: Sequence[np.ndarray],
    labels: Sequence[str],
    colors: Sequence[str],
    xlabel: str,
    reference: float | None = None,
    logx: bool = False,
) -> None:
    """Performance profiles: per model, the fraction of runs better than each threshold, a
    line over a shaded band.

    Args:
        thresholds: shape (T,), the x axis.
        fractions, lows, highs: per model, shape (T,) each: the profile and its band.
        labels, colors: per model.
        xlabel: what the thresholds are; ``reference``: a threshold marked by a vertical line.
    """
    _counts(fractions=fractions, lows=lows, highs=highs, labels=labels, colors=colors)
    x = _array("thresholds", thresholds, 1)
    figure.set_size_inches(7.5, 4.8)
    ax = figure.subplots()
    if reference is not None:
        ax.axvline(reference, color=GUIDE, lw=1.2, zorder=0)
    for label, f, a, b, hue in zip(labels, fractions, lows, highs, colors, strict=True):
        y = _array(f"profile of {label}", f, 1, like=x)
        low = _array(f"band low of {label}", a, 1, like=x)
        high = _array(f"band high of {label}", b, 1, like=x)
        ax.fill_between(x, low, high, color=hue, alpha=0.18, lw=0)
        ax.plot(x, y, color=hue, label=label)
    ax.set(xlabel=xlabel, ylabel="fraction of runs better than the threshold", ylim=(-0.02, 1.02))
    ax.set_xscale("log" if logx else "linear")
    ax.legend(fontsize=LEGEND)


def draw_probabilities(
    figure: Figure,
    probability: np.ndarray,
    lows: np.ndarray,
    highs: np.ndarray,
    labels: Sequence[str],
    axis_names: tuple[str, str],
) -> None:
    """A matrix of probabilities in [0, 1], each cell's value and interval written.

    Args:
        probability: shape (len(labels), len(labels)): P(row better than column); NaN where
            there is none (the diagonal, or no task in common).
        lows, highs: the same shape, the interval of each cell (NaN: none).
        labels: the models, of the rows and of the columns.
        axis_names: the rows' and the columns' axis labels.
    """
    n = len(labels)
    p = _array("probability", probability, 2, like=np.empty((n, n)))
    low, high = _array("lows", lows, 2, like=p), _array("highs", highs, 2, like=p)
    figure.set_size_inches(max(6.0, 1.15 * n + 2.5), max(4.5, 0.8 * n + 1.8))
    ax = figure.subplots()
    image = ax.imshow(np.ma.masked_invalid(p), cmap="RdBu", vmin=0.0, vmax=1.0)
    figure.colorbar(image, ax=ax, label="probability")
    ax.set_xticks(range(n), list(labels), rotation=30, ha="right")
    ax.set_yticks(range(n), list(labels))
    ax.set(ylabel=axis_names[0], xlabel=axis_names[1])
    for i, j in zip(*np.nonzero(np.isfinite(p)), strict=True):
        text = f"{p[i, j]:.2f}"
        if np.isfinite(low[i, j]) and np.isfinite(high[i, j]):
            text += f"\n[{low[i, j]:.2f}, {high[i, j]:.2f}]"
        dark = abs(p[i, j] - 0.5) > 0.3  # RdBu is dark at its ends
        ax.text(j, i, text, ha="center", va="center", fontsize=7,
                color="white" if dark else "black")  # fmt: skip
