"""Every static figure of dno: ``draw_*`` functions over numpy arrays, one style, one save.

Each ``draw_*`` function draws on an empty :class:`matplotlib.figure.Figure` and sets the
figure's size; :func:`save_figure` makes that figure (matplotlib's Agg canvas, never pyplot, so
no global backend changes and no display is needed), calls the drawing function and writes the
PNG atomically. The style (resolution, colours, sizes) is set here and nowhere else, so a
figure of training, of ``dno evaluate`` and of ``dno report`` look alike. matplotlib is
imported when a figure is first drawn. Arrays of the wrong shape raise a one-line
:class:`~dno.errors.UsageError` naming the argument, its shape and the shape expected.

Example:
    >>> import numpy as np
    >>> from dno.plotting import draw_rollouts, save_figure
    >>> history, truth = np.zeros((2, 9, 1, 1)), np.ones((2, 16, 1, 1))
    >>> save_figure("rollouts.png", draw_rollouts, history, truth, truth)  # doctest: +SKIP
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dno._io import atomic_path
from dno.errors import UsageError

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = [
    "COLORS",
    "DPI",
    "Line",
    "Panel",
    "color",
    "draw_boxes",
    "draw_correlation_function",
    "draw_cross_correlation",
    "draw_field",
    "draw_heatmap",
    "draw_importance",
    "draw_panels",
    "draw_parallel",
    "draw_power_spectrum",
    "draw_rollout_error",
    "draw_rollouts",
    "draw_slices",
    "save_figure",
]

#: Resolution of every PNG, in dots per inch.
DPI = 110
#: One palette (matplotlib's tab10), also used by the interactive figures of ``dno report``.
COLORS = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
TRUTH, PREDICTION, HISTORY, GUIDE = "#222222", COLORS[1], "#777777", "#d0d0d0"
#: A field figure's scatter of predicted against true values shows at most this many points.
SCATTER_POINTS = 20_000
LEGEND = 8


def color(i: int) -> str:
    """The i-th colour of :data:`COLORS` (cycling)."""
    return COLORS[i % len(COLORS)]


def save_figure(
    path: str | os.PathLike[str], draw: Callable[..., Any], *args: Any, title: str = "", **kw: Any
) -> Path:
    """Draw ``draw(figure, *args, **kw)`` on a new figure and write it as a PNG, atomically.

    Args:
        path: the PNG file (its folder must exist).
        draw: a ``draw_*`` function, or any function drawing on an empty figure.
        title: shown above the figure.

    Returns:
        ``path``.
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


def _array(name: str, value: Any, ndim: int | tuple[int, ...], what: str) -> np.ndarray:
    array = np.asarray(value, dtype=np.float64)
    if array.ndim not in ((ndim,) if isinstance(ndim, int) else ndim) or array.size == 0:
        raise UsageError(f"{name} has shape {array.shape}; expected {what}")
    return array


def _same(name: str, array: np.ndarray, like: np.ndarray, what: str) -> None:
    if array.shape != like.shape:
        raise UsageError(f"{name} has shape {array.shape}; expected {like.shape} ({what})")


def _vertical_lines(axes: Axes, every: float, end: float) -> None:
    for i in range(1, int(np.ceil(end / every)) + 1 if every > 0 else 0):
        axes.axvline(i * every, color=GUIDE, lw=0.6, zorder=0)


def draw_rollouts(
    figure: Figure,
    history: np.ndarray | Sequence[np.ndarray],
    truth: np.ndarray | Sequence[np.ndarray],
    prediction: np.ndarray | Sequence[np.ndarray],
    step: float | np.ndarray | None = None,
    titles: Sequence[str] = (),
) -> None:
    """Prediction vs truth: k windows rolled out from their history (channel 0).

    One value per slice (X = 1): a panel per window, the history, the truth (dashed) and the
    prediction over time. A field (X > 1): a row per window, the truth, the prediction and
    their difference over (time, x). Grey lines mark each delay after the window's end.

    Args:
        history: k windows of shape (S, X, C): an array (k, S, X, C) or a list.
        truth, prediction: k windows of shape (n, X, C).
        step: the time between slices, one number or one per window (k,); None: time in
            delays tau (S - 1 slices per delay).
        titles: one per window (default: ``window 1``, ...).
    """
    k = len(history)
    if k == 0 or len(truth) != k or len(prediction) != k:
        raise UsageError(
            f"history, truth and prediction hold {k}, {len(truth)} and {len(prediction)} "
            "windows; expected the same number, at least one"
        )
    steps = np.broadcast_to(np.nan if step is None else np.asarray(step, np.float64), (k,))
    windows = []
    for i in range(k):
        h = _array(f"history[{i}]", history[i], 3, "(S, X, C) with S >= 2")
        t = _array(f"truth[{i}]", truth[i], 3, "(n, X, C)")
        p = _array(f"prediction[{i}]", prediction[i], 3, f"{t.shape} (truth's)")
        _same(f"prediction[{i}]", p, t, "truth's")
        if h.shape[0] < 2 or h.shape[1:] != t.shape[1:]:
            raise UsageError(f"history[{i}] has shape {h.shape}; expected (S >= 2, *{t.shape[1:]})")
        per_slice = 1.0 / (h.shape[0] - 1) if step is None else float(steps[i])
        before = np.arange(-(h.shape[0] - 1), 1) * per_slice
        after = np.arange(1, t.shape[0] + 1) * per_slice
        windows.append((h[:, :, 0], t[:, :, 0], p[:, :, 0], before, after))
    names = list(titles) or [f"window {i + 1}" for i in range(k)]
    xlabel = "time / τ after the window's end" if step is None else "time after the window's end"
    if all(t.shape[1] == 1 for _, t, _, _, _ in windows):
        figure.set_size_inches(4.0 * k + 0.5, 3.4)
        axes = figure.subplots(1, k, squeeze=False)[0]
        for ax, name, (h, t, p, before, after) in zip(axes, names, windows, strict=True):
            ax.plot(before, h[:, 0], color=HISTORY, lw=1, label="history")
            ax.plot(after, t[:, 0], "--", color=TRUTH, lw=1.5, label="truth")
            ax.plot(after, p[:, 0], color=PREDICTION, lw=1.5, label="prediction")
            _vertical_lines(ax, -before[0], after[-1])
            ax.set(title=name, xlabel=xlabel)
        axes[0].legend(fontsize=LEGEND)
        return
    figure.set_size_inches(12.0, 3.0 * k + 0.4)
    rows = figure.subplots(k, 3, squeeze=False)
    for (left, middle, right), name, (_, t, p, _, after) in zip(rows, names, windows, strict=True):
        extent = (0.0, float(after[-1]), 0.0, float(t.shape[1] - 1))
        finite = t[np.isfinite(t)]
        low, high = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        for ax, field, what in ((left, t, "truth"), (middle, p, "prediction")):
            image = ax.imshow(field.T, aspect="auto", origin="lower", extent=extent,
                              vmin=low, vmax=high)  # fmt: skip
            ax.set(title=f"{name}: {what}", xlabel=xlabel, ylabel="x index")
        figure.colorbar(image, ax=[left, middle], shrink=0.8)
        spread = float(np.nanmax(np.abs(p - t), initial=0.0)) or 1.0  # centred on zero
        diff = right.imshow((p - t).T, aspect="auto", origin="lower", extent=extent,
                            cmap="RdBu_r", vmin=-spread, vmax=spread)  # fmt: skip
        right.set(title="prediction - truth", xlabel=xlabel)
        figure.colorbar(diff, ax=right, shrink=0.8)


def draw_field(figure: Figure, prediction: np.ndarray, truth: np.ndarray) -> None:
    """Prediction vs truth of one field, then a scatter of predicted against true values.

    Args:
        prediction, truth: shape (n_1,) (drawn as lines), (n_1, n_2) (images) or
            (n_1, n_2, n_3) (the middle slice along the first axis).
    """
    true = _array("truth", truth, (1, 2, 3), "(n_1,), (n_1, n_2) or (n_1, n_2, n_3)")
    pred = _array("prediction", prediction, true.ndim, f"{true.shape} (truth's)")
    _same("prediction", pred, true, "truth's")
    figure.set_size_inches(12.0 if pred.ndim > 1 else 10.0, 4.0)
    if pred.ndim == 1:
        line, scatter = figure.subplots(1, 2, width_ratios=(2, 1))
        line.plot(true, "-", color=TRUTH, label="truth")
        line.plot(pred, "--", color=PREDICTION, label="prediction")
        line.set_xlabel("index")
        line.legend(fontsize=LEGEND)
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
    if ok.size > SCATTER_POINTS:
        ok = np.random.default_rng(0).choice(ok, SCATTER_POINTS, replace=False)
    scatter.plot(flat_t[ok], flat_p[ok], ".", ms=1.5, alpha=0.4, color=COLORS[0])
    if ok.size:
        span = (float(flat_t[ok].min()), float(flat_t[ok].max()))
        scatter.plot(span, span, "-", color=TRUTH, lw=0.8)
    scatter.set(xlabel="truth", ylabel="prediction")


def _curves(x: tuple[str, Any], *ys: tuple[str, Any]) -> tuple[np.ndarray, list[np.ndarray]]:
    """A named ``x`` of shape (n,) and each named ``y`` of the same shape."""
    xs = _array(x[0], x[1], 1, "(n,)")
    out = []
    for name, y in ys:
        out.append(_array(name, y, 1, f"{xs.shape}"))
        _same(name, out[-1], xs, "the x axis'")
    return xs, out


def draw_power_spectrum(
    figure: Figure, k: np.ndarray, truth: np.ndarray, prediction: np.ndarray
) -> None:
    """P(k) of the truth and the prediction (log-log) above their ratio. All shape (n,)."""
    k, (truth, prediction) = _curves(("k", k), ("P_truth", truth), ("P_prediction", prediction))
    figure.set_size_inches(6.0, 6.0)
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=(2, 1))
    top.loglog(k, truth, "-", color=TRUTH, label="truth")
    top.loglog(k, prediction, "--", color=PREDICTION, label="prediction")
    top.set_ylabel("P(k)")
    top.legend(fontsize=LEGEND)
    with np.errstate(divide="ignore", invalid="ignore"):
        bottom.semilogx(k, prediction / truth, "-", color=PREDICTION)
    bottom.axhline(1.0, color=TRUTH, lw=0.8)
    bottom.set(ylabel="P_pred / P_true", xlabel="k")


def draw_cross_correlation(figure: Figure, k: np.ndarray, r: np.ndarray) -> None:
    """r(k) = P_pt / sqrt(P_pp P_tt), the correlation of prediction and truth per scale.

    Args:
        k, r: shape (n,).
    """
    k, (r,) = _curves(("k", k), ("r", r))
    figure.set_size_inches(6.0, 4.0)
    axes = figure.subplots()
    axes.semilogx(k, r, "-", color=COLORS[0])
    axes.axhline(1.0, color=TRUTH, lw=0.8)
    axes.set_ylim(min(-0.05, float(np.nanmin(r, initial=0.0))), 1.05)
    axes.set(xlabel="k", ylabel="r(k) = P_pt / sqrt(P_pp P_tt)")


def draw_correlation_function(
    figure: Figure, r: np.ndarray, truth: np.ndarray, prediction: np.ndarray
) -> None:
    """xi(r), the two-point correlation function of the truth and the prediction. All (n,)."""
    r, (truth, prediction) = _curves(("r", r), ("xi_truth", truth), ("xi_prediction", prediction))
    figure.set_size_inches(6.0, 4.0)
    axes = figure.subplots()
    axes.plot(r, truth, "-", color=TRUTH, label="truth")
    axes.plot(r, prediction, "--", color=PREDICTION, label="prediction")
    axes.axhline(0.0, color=TRUTH, lw=0.5)
    axes.set(xlabel="r", ylabel="xi(r)")
    axes.legend(fontsize=LEGEND)


def draw_rollout_error(
    figure: Figure,
    time: np.ndarray,
    relative_l2: np.ndarray,
    correlation: np.ndarray,
    thresholds: Sequence[float] = (),
    over: str = "",
) -> None:
    """Relative L2 per slice (log scale) above the correlation per slice, against time.

    Args:
        time: shape (n,), in delays tau after the window's end.
        relative_l2, correlation: shape (n,).
        thresholds: correlation levels drawn as horizontal lines.
        over: what the correlation is taken over (shown in its axis label).
    """
    time = _array("time", time, 1, "(n,)")
    curve = _array("relative_l2", relative_l2, 1, f"{time.shape}")
    correlation = _array("correlation", correlation, 1, f"{time.shape}")
    _same("relative_l2", curve, time, "time's")
    _same("correlation", correlation, time, "time's")
    figure.set_size_inches(7.0, 6.0)
    top, bottom = figure.subplots(2, 1, sharex=True)
    positive = np.isfinite(curve) & (curve > 0)
    if positive.any():
        top.semilogy(time[positive], curve[positive], "-", color=COLORS[0])
    top.set_ylabel("relative L2 per slice")
    bottom.plot(time, correlation, "-", color=COLORS[0])
    for threshold, style in zip(thresholds, (":", "--", "-."), strict=False):
        bottom.axhline(threshold, color=TRUTH, lw=0.8, ls=style, label=f"{threshold:g}")
    bottom.set(ylabel=f"Pearson correlation ({over})" if over else "Pearson correlation")
    bottom.set_xlabel("time / τ after the window's end")
    if len(thresholds):
        bottom.legend(fontsize=LEGEND)
    for ax in (top, bottom):
        _vertical_lines(ax, 1.0, float(time[-1]))


@dataclass(frozen=True)
class Line:
    """One labelled series of a :class:`Panel`.

    Attributes:
        x, y: the points, the same length.
        label: shown in the legend ("" for none).
        color: a colour (default: the first of :data:`COLORS`).
        style: ``-`` solid, ``--`` dashed, ``:`` dotted.
        kind: ``line``, ``step`` (a staircase rising after each point) or ``points``.
        notes: a text beside each point (or none).
    """

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
    """Panels side by side, each with its lines, points or staircases; a legend on the first."""
    if not panels:
        raise UsageError("no panel to draw; expected at least one")
    figure.set_size_inches(7.5 if len(panels) == 1 else 4.4 * len(panels) + 1, 4.6)
    for ax, panel in zip(figure.subplots(1, len(panels), squeeze=False)[0], panels, strict=True):
        for i, line in enumerate(panel.lines):
            x = _array(f"{panel.title or 'panel'} line {i} x", line.x, 1, "(n,)")
            y = _array(f"{panel.title or 'panel'} line {i} y", line.y, 1, f"{x.shape}")
            _same(f"{panel.title or 'panel'} line {i} y", y, x, "x's")
            style = {"color": line.color, "label": line.label or None}
            if line.kind == "points":
                ax.scatter(x, y, s=20, zorder=3, **style)
            elif line.kind == "step":
                ax.step(x, y, where="post", ls=line.style, **style)
            else:
                ax.plot(x, y, ls=line.style, **style)
            for xi, yi, note in zip(x, y, line.notes, strict=False):
                ax.annotate(note, (xi, yi), fontsize=7, xytext=(3, 3), textcoords="offset points")
        ax.set(title=panel.title, xlabel=panel.xlabel, ylabel=panel.ylabel)
        ax.set(xscale="log" if panel.logx else "linear", yscale="log" if panel.logy else "linear")
    first = figure.axes[0]
    if first.get_legend_handles_labels()[1]:
        first.legend(fontsize=LEGEND - 1)


def draw_boxes(
    figure: Figure,
    values: Sequence[Sequence[float]],
    labels: Sequence[str],
    colors: Sequence[str],
    legend: Mapping[str, str],
    ylabel: str,
    legend_title: str = "family",
) -> None:
    """A box per group with its points on top.

    Args:
        values: one list of values per box.
        labels, colors: one per box.
        legend: legend entry -> its colour (titled ``legend_title``).
        ylabel: what the values are.
    """
    if not values or len(labels) != len(values) or len(colors) != len(values):
        raise UsageError(
            f"{len(values)} boxes with {len(labels)} labels and {len(colors)} colours; "
            "expected at least one box, and one label and one colour per box"
        )
    from matplotlib.patches import Patch

    figure.set_size_inches(max(6.0, 1.2 * len(values) + 2), 4.8)
    ax = figure.subplots()
    parts = ax.boxplot(values, patch_artist=True, showfliers=True)
    ax.set_xticks(range(1, len(values) + 1), labels, rotation=20, ha="right")
    for patch, hue in zip(parts["boxes"], colors, strict=True):
        patch.set(facecolor=hue, alpha=0.6)
    for i, ys in enumerate(values):
        ax.scatter([i + 1] * len(ys), ys, s=8, color=TRUTH, zorder=3)
    handles = [Patch(color=hue, alpha=0.6, label=name) for name, hue in legend.items()]
    ax.legend(handles=handles, title=legend_title, fontsize=LEGEND)
    ax.set(ylabel=ylabel)


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
        importance, correlation, colors, notes: one per name; ``notes`` is written on the
            correlation bars.
        titles: the left panel's title and x label, the right panel's title.
    """
    for what, values in (("importance", importance), ("correlation", correlation)):
        if not names or len(values) != len(names) or len(colors) != len(names):
            raise UsageError(
                f"{len(values)} {what} values and {len(colors)} colours for {len(names)} "
                "names; expected one each, at least one name"
            )
    figure.set_size_inches(10.0, 1.2 + 0.45 * len(names))
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
    shape = f"({len(y_labels)}, {len(x_labels)})"
    mean = _array("mean", mean, 2, shape)
    count = _array("count", count, 2, shape)
    if mean.shape != (len(y_labels), len(x_labels)):
        raise UsageError(f"mean has shape {mean.shape}; expected {shape}")
    _same("count", count, mean, "mean's")
    figure.set_size_inches(7.5, 5.5)
    ax = figure.subplots()
    image = ax.imshow(np.ma.masked_invalid(mean), origin="lower", aspect="auto", cmap="viridis")
    figure.colorbar(image, ax=ax, label=axis_names[2])
    ax.set_xticks(range(len(x_labels)), x_labels, rotation=30, ha="right")
    ax.set_yticks(range(len(y_labels)), y_labels)
    ax.set(xlabel=axis_names[0], ylabel=axis_names[1])
    low = float(np.nanmin(mean)) if count.any() else 0.0
    span = float(np.nanmax(mean)) - low if count.any() else 1.0
    for i, j in zip(*np.nonzero(count), strict=True):
        bright = (mean[i, j] - low) > 0.6 * span  # viridis turns light there
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
        xs: per variable, the values (as many as ``y``); a choice's index if unordered.
        y: the values drawn on every panel's y axis.
        shade: colours the points (viridis), one per point (a trial's number).
        names, logx, ticks: per variable, its name, a log scale, and the names of its choices
            (ticks at 0, 1, ...) or None.
    """
    if not xs or not len(names) == len(logx) == len(ticks) == len(xs):
        raise UsageError(
            f"{len(xs)} variables with {len(names)} names, {len(logx)} scales and {len(ticks)} "
            "tick lists; expected one each, at least one variable"
        )
    ys = _array("y", y, 1, "(n,)")
    for name, x in zip(names, xs, strict=True):
        _same(f"values of {name}", _array(f"values of {name}", x, 1, f"{ys.shape}"), ys, "y's")
    cols = min(3, len(xs))
    rows = -(-len(xs) // cols)
    figure.set_size_inches(4.0 * cols + 1, 3.4 * rows)
    axes = figure.subplots(rows, cols, squeeze=False, sharey=True).ravel()
    for ax, x, name, log, tick in zip(axes, xs, names, logx, ticks, strict=False):
        points = ax.scatter(x, ys, c=shade, cmap="viridis", edgecolors="#333", lw=0.3, s=22)
        ax.set(xlabel=name, xscale="log" if log else "linear")
        if tick is not None:
            ax.set_xticks(range(len(tick)), list(tick))
    for ax in axes[len(xs) :]:
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
    values = _array("values", values, 2, f"({len(labels)}, items)")
    colour = _array("shade", shade, 1, f"({values.shape[1]},)")
    if values.shape != (len(labels), colour.size) or len(ticks) != len(labels):
        raise UsageError(
            f"values has shape {values.shape} for {len(labels)} axes ({len(ticks)} tick lists) "
            f"and {colour.size} items; expected ({len(labels)}, {colour.size})"
        )
    from matplotlib import colormaps

    figure.set_size_inches(max(7.0, 1.6 * len(labels)), 4.5)
    ax = figure.subplots()
    finite = np.isfinite(values)
    low = np.where(finite, values, np.inf).min(axis=1, keepdims=True)
    high = np.where(finite, values, -np.inf).max(axis=1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = np.where(finite & (high > low), (values - low) / (high - low), 0.5)
    norm = (colour - colour.min()) / ((colour.max() - colour.min()) or 1.0)
    cmap = colormaps["viridis"]
    for k in np.argsort(-norm):  # the lowest values drawn last, on top
        ax.plot(range(len(labels)), scaled[:, k], color=cmap(norm[k]), lw=1.0, alpha=0.8)
    for d, tick in enumerate(ticks):
        ax.axvline(d, color="#444", lw=0.8)
        ends = (f"{low[d, 0]:.3g}", f"{high[d, 0]:.3g}") if finite[d].any() else ("", "")
        ends = (tick[0], tick[-1]) if tick else ends
        ax.text(d, -0.06, ends[0], ha="center", va="top", fontsize=7)
        ax.text(d, 1.06, ends[1], ha="center", va="bottom", fontsize=7)
    ax.set_xticks(range(len(labels)), list(labels), rotation=20)
    ax.set(ylim=(-0.15, 1.15), yticks=[])
