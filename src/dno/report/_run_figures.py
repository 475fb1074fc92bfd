"""Figures of the best trials' runs (from their files) and across studies.

- Convergence: train / validation loss, validation relative L2 and learning rate per epoch, from
  each best trial's ``metrics.csv`` (its first seed); a program trial without one shows the
  objective it reported per step (from the study storage).
- Prediction vs truth, rollout error and spectra: from ``evaluation_val.json`` and the rollouts
  kept in ``rollouts_val.npz`` (written by ``dno evaluate``) where they exist; the report never
  loads a model.
- Box plots: the first objective of every completed trial, one box per study (model), coloured
  by family.
"""

from __future__ import annotations

import math
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from dno._names import slug
from dno.errors import DnoError
from dno.report._plotting import Plot, color, spans_decades
from dno.report._records import StudyData, TrialRecord
from dno.tracking import EVALUATION_JSON, METRICS, PREDICTION_FIGURE, RunFolder, read_json

if TYPE_CHECKING:
    from matplotlib.figure import Figure

__all__ = [
    "Artifact",
    "box_plots",
    "convergence_plot",
    "copy_artifacts",
    "evaluation_plots",
    "evaluations",
    "read_evaluation",
    "read_examples",
]

#: Columns of metrics.csv drawn by the convergence figure: (panel title, columns, log y).
PANELS = (
    ("loss", ("train_loss", "val_loss"), True),
    ("validation relative L2", ("val_rel_l2",), False),
    ("learning rate", ("lr",), True),
)
#: At most this many extra panels for metrics that PANELS does not draw (a program's own).
MAX_OWN_PANELS = 4


def _curves(t: TrialRecord) -> tuple[str, dict[str, list[tuple[float, float]]]]:
    """Per-epoch curves of a trial: ``(source, column -> [(epoch, value)])``."""
    runs = t.run_dirs()
    rows = RunFolder(runs[0]).read_metrics() if runs else []
    if rows:
        curves: dict[str, list[tuple[float, float]]] = {}
        for row in rows:
            for name, value in row.items():
                if name != "epoch" and isinstance(value, int | float) and math.isfinite(value):
                    curves.setdefault(name, []).append((float(row["epoch"]), float(value)))
        where = f"seed {runs[0].name}" if runs[0] != t.folder else METRICS
        return where, curves
    steps = sorted(t.intermediate.items())
    return "reported objective", {"objective": [(float(s), v) for s, v in steps]}


def convergence_plot(data: StudyData, best: list[TrialRecord]) -> Plot | None:
    """Training curves of the best trials."""
    curves = [(t, *_curves(t)) for t in best]
    curves = [c for c in curves if c[2]]
    if not curves:
        return None
    panels = [p for p in PANELS if any(col in c[2] for c in curves for col in p[1])]
    # a program's own metrics (or only its objective, from the storage): a panel each
    known = {col for p in PANELS for col in p[1]} | {"seconds"}  # wall time is no curve
    own = sorted({name for c in curves for name in c[2]} - known)[:MAX_OWN_PANELS]
    panels += [(name, (name,), True) for name in own]

    def lines(columns: tuple[str, ...]) -> list[tuple[str, str, bool, list[float], list[float]]]:
        """A panel's lines: (label, colour, dotted, epochs, values); a colour per trial."""
        found = []
        for k, (t, _, series) in enumerate(curves):
            for c, column in enumerate(columns):
                points = series.get(column, [])
                if points:
                    xs, ys = (list(v) for v in zip(*points, strict=True))
                    found.append((f"trial {t.number} {column}", color(k), c > 0, xs, ys))
        return found

    def log_y(columns: tuple[str, ...], log: bool) -> bool:
        return log and spans_decades([v for *_, ys in lines(columns) for v in ys])

    def static(fig: Figure) -> None:
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (title, columns, log) in zip(axes, panels, strict=True):
            for label, hue, dotted, xs, ys in lines(columns):
                ax.plot(xs, ys, color=hue, ls=":" if dotted else "-", label=label)
            ax.set(title=title, xlabel="epoch", yscale="log" if log_y(columns, log) else "linear")
        axes[0].legend(fontsize=7)

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=len(panels), subplot_titles=[p[0] for p in panels])
        for i, (_, columns, log) in enumerate(panels):
            for label, hue, dotted, xs, ys in lines(columns):
                line = {"color": hue, "dash": "dot" if dotted else "solid"}
                fig.add_scatter(x=xs, y=ys, mode="lines", row=1, col=i + 1, name=label, line=line)
            fig.update_xaxes(title_text="epoch", row=1, col=i + 1)
            fig.update_yaxes(type="log" if log_y(columns, log) else "linear", row=1, col=i + 1)
        return fig.update_layout(height=400)

    sources = ", ".join(f"trial {t.number} ({where})" for t, where, _ in curves)
    caption = (
        f"Per-epoch training curves of the best trials: {sources}. Loss panel: train solid, "
        "validation dotted."
    )
    return Plot(
        "convergence",
        "Convergence of the best trials",
        caption,
        static,
        interactive,
        size=(4.3 * len(panels) + 1, 4.0),
    )


def read_evaluation(t: TrialRecord) -> dict[str, Any] | None:
    """A trial's ``evaluation_val.json`` (else ``evaluation_test.json``), or None."""
    runs = t.run_dirs()
    for split in ("val", "test"):
        path = runs[0] / EVALUATION_JSON.format(split=split) if runs else None
        if path is not None and path.is_file():
            try:
                return read_json(path)
            except DnoError:
                continue
    return None


def _get(doc: dict[str, Any], *keys: str) -> Any:
    for key in keys:
        if not isinstance(doc, dict) or key not in doc:
            return None
        doc = doc[key]
    return doc


def _pairs(xs: Any, ys: Any) -> tuple[list[float], list[float]]:
    """Finite (x, y) points of two JSON lists (nulls, for non-finite values, dropped)."""
    if not isinstance(xs, list) or not isinstance(ys, list):
        return [], []
    kept = [
        (x, y)
        for x, y in zip(xs, ys, strict=False)
        if isinstance(x, int | float) and isinstance(y, int | float)
    ]
    return [float(x) for x, _ in kept], [float(y) for _, y in kept]


def evaluations(best: list[TrialRecord]) -> list[tuple[TrialRecord, dict[str, Any]]]:
    """The best trials that ``dno evaluate`` has run on, each with its evaluation file."""
    return [(t, doc) for t in best if (doc := read_evaluation(t)) is not None]


def evaluation_plots(found: list[tuple[TrialRecord, dict[str, Any]]]) -> list[Plot]:
    """Prediction vs truth, rollout error curves and power spectra of evaluated trials."""
    if not found:
        return []
    plots = (_prediction_plot(found), _rollout_plot(found), _spectrum_plot(found))
    return [p for p in plots if p is not None]


def read_examples(t: TrialRecord, doc: dict[str, Any]) -> dict[str, np.ndarray] | None:
    """The rollouts ``dno evaluate`` kept (``rollouts_<split>.npz``), or None.

    Returns ``history`` (k, S, X, C), ``truth`` and ``prediction`` (k, n, X, C).
    """
    name = _get(doc, "examples", "file")
    runs = t.run_dirs()
    if not isinstance(name, str) or not runs or not (runs[0] / name).is_file():
        return None
    try:
        with np.load(runs[0] / name) as loaded:
            arrays = {key: np.asarray(loaded[key]) for key in ("history", "truth", "prediction")}
    except (OSError, ValueError, KeyError):
        return None
    if arrays["truth"].ndim != 4 or arrays["truth"].shape[0] == 0:
        return None
    return arrays


def _prediction_plot(found: list[tuple[TrialRecord, dict[str, Any]]]) -> Plot | None:
    """The first kept rollout of each evaluated best trial against its truth (channel 0).

    One field value (X = 1): history, truth and prediction over time in tau, a panel per
    trial. A spatial field (X > 1): truth, prediction and their difference over (time, x), a
    row per trial.
    """
    shown = [(t, doc, ex) for t, doc in found if (ex := read_examples(t, doc)) is not None][:3]
    if not shown:
        return None
    split = _get(shown[0][1], "split") or "val"
    spatial = any(ex["truth"].shape[2] > 1 for _, _, ex in shown)

    def axes(ex: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        s, n = ex["history"].shape[1], ex["truth"].shape[1]
        return np.arange(-(s - 1), 1) / (s - 1), np.arange(1, n + 1) / (s - 1)

    def static(fig: Figure) -> None:
        if not spatial:
            row = fig.subplots(1, len(shown), squeeze=False)[0]
            for ax, (t, _, ex) in zip(row, shown, strict=True):
                before, after = axes(ex)
                ax.plot(before, ex["history"][0, :, 0, 0], color="#555", lw=1, label="history")
                ax.plot(after, ex["truth"][0, :, 0, 0], "k--", lw=1.5, label="truth")
                ax.plot(after, ex["prediction"][0, :, 0, 0], color=color(0), label="prediction")
                ax.set(title=f"trial {t.number}", xlabel="time / τ")
            row[0].legend(fontsize=7)
            return
        grid = fig.subplots(len(shown), 3, squeeze=False)
        for (left, middle, right), (t, _, ex) in zip(grid, shown, strict=True):
            _, after = axes(ex)
            true, pred = ex["truth"][0, :, :, 0], ex["prediction"][0, :, :, 0]
            extent = (0.0, float(after[-1]), 0.0, float(true.shape[1] - 1))
            low, high = float(np.nanmin(true)), float(np.nanmax(true))
            for ax, field, name in ((left, true, "truth"), (middle, pred, "prediction")):
                ax.imshow(field.T, aspect="auto", origin="lower", extent=extent,
                          vmin=low, vmax=high)  # fmt: skip
                ax.set(title=f"trial {t.number}: {name}", xlabel="time / τ", ylabel="x index")
            spread = float(np.nanmax(np.abs(pred - true))) or 1.0  # centred on zero
            right.imshow((pred - true).T, aspect="auto", origin="lower", extent=extent,
                         cmap="RdBu_r", vmin=-spread, vmax=spread)  # fmt: skip
            right.set(title="prediction - truth", xlabel="time / τ")

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        if not spatial:
            titles = [f"trial {t.number}" for t, _, _ in shown]
            fig = make_subplots(rows=1, cols=len(shown), subplot_titles=titles)
            for i, (_, _, ex) in enumerate(shown):
                before, after = axes(ex)
                for x, y, name, line in (
                    (before, ex["history"][0, :, 0, 0], "history", {"color": "#555"}),
                    (after, ex["truth"][0, :, 0, 0], "truth", {"color": "#222", "dash": "dash"}),
                    (after, ex["prediction"][0, :, 0, 0], "prediction", {"color": color(0)}),
                ):
                    fig.add_scatter(x=x.tolist(), y=y.tolist(), mode="lines", name=name,
                                    line=line, showlegend=i == 0, row=1, col=i + 1)  # fmt: skip
                fig.update_xaxes(title_text="time / τ", row=1, col=i + 1)
            return fig.update_layout(height=380)
        titles = [f"trial {t.number}: {w}" for t, _, _ in shown
                  for w in ("truth", "prediction", "prediction - truth")]  # fmt: skip
        fig = make_subplots(rows=len(shown), cols=3, subplot_titles=titles)
        for i, (_, _, ex) in enumerate(shown):
            _, after = axes(ex)
            true, pred = ex["truth"][0, :, :, 0], ex["prediction"][0, :, :, 0]
            low, high = float(np.nanmin(true)), float(np.nanmax(true))
            for j, (field, scale) in enumerate(
                ((true, "Viridis"), (pred, "Viridis"), (pred - true, "RdBu_r"))
            ):
                limits = {"zmin": low, "zmax": high} if j < 2 else {"zmid": 0.0}
                fig.add_heatmap(z=field.T.tolist(), x=after.tolist(), colorscale=scale,
                                showscale=j != 0, row=i + 1, col=j + 1, **limits)  # fmt: skip
        return fig.update_layout(height=300 * len(shown))

    what = (
        "truth, prediction and their difference over (time, x)"
        if spatial
        else "history (grey), truth (dashed) and prediction"
    )
    caption = (
        f"The first of the rollouts dno evaluate kept for each evaluated best trial "
        f"({split} split, channel 0): {what}; time in delays τ after the window's end."
    )
    size = (12.0, 3.0 * len(shown)) if spatial else (4.0 * len(shown) + 0.5, 3.4)
    return Plot("prediction", "Prediction vs truth of the best trials", caption, static,
                interactive, size=size)  # fmt: skip


def _overlay(
    key: str,
    title: str,
    caption: str,
    lines: list[dict[str, Any]],
    xlabel: str,
    ylabel: str,
    logx: bool,
    logy: bool,
) -> Plot:
    """A line plot of several labelled series (``x``, ``y``, ``label``, ``color``, ``dash``)."""

    def static(fig: Figure) -> None:
        ax = fig.subplots()
        for line in lines:
            ax.plot(
                line["x"],
                line["y"],
                color=line["color"],
                label=line["label"],
                ls="--" if line.get("dash") else "-",
            )
        ax.set(
            xlabel=xlabel,
            ylabel=ylabel,
            xscale="log" if logx else "linear",
            yscale="log" if logy else "linear",
        )
        ax.legend(fontsize=7)

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        for line in lines:
            fig.add_scatter(
                x=line["x"],
                y=line["y"],
                mode="lines",
                name=line["label"],
                line={"color": line["color"], "dash": "dash" if line.get("dash") else "solid"},
            )
        fig.update_xaxes(title_text=xlabel, type="log" if logx else "linear")
        fig.update_yaxes(title_text=ylabel, type="log" if logy else "linear")
        return fig.update_layout(height=420)

    return Plot(key, title, caption, static, interactive, size=(7.5, 4.5))


def _rollout_plot(found: list[tuple[TrialRecord, dict[str, Any]]]) -> Plot | None:
    lines = []
    for k, (t, doc) in enumerate(found):
        xs, ys = _pairs(
            _get(doc, "rollout", "error_curve", "time"),
            _get(doc, "rollout", "error_curve", "relative_l2"),
        )
        if xs:
            lines.append({"x": xs, "y": ys, "label": f"trial {t.number}", "color": color(k)})
    if not lines:
        return None
    split = _get(found[0][1], "split") or "val"
    caption = (
        f"Relative L2 error of the rollout against time (in delays τ) on the {split} "
        "split, from each trial's evaluation file (dno evaluate)."
    )
    return _overlay(
        "rollout_error",
        "Rollout error of the best trials",
        caption,
        lines,
        "time (τ)",
        "relative L2",
        False,
        False,
    )


def _spectrum_plot(found: list[tuple[TrialRecord, dict[str, Any]]]) -> Plot | None:
    lines: list[dict[str, Any]] = []
    truths: list[dict[str, Any]] = []
    for k, (t, doc) in enumerate(found):
        spectral = _get(doc, "spectral", "diagnosis", "spectral") or {}
        for key, target in (("power_prediction", lines), ("power_truth", truths)):
            xs, ys = _pairs(spectral.get("k"), spectral.get(key))
            keep = [(x, y) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
            if keep:
                which = "truth" if target is truths else "prediction"
                target.append(
                    {
                        "x": [x for x, _ in keep],
                        "y": [y for _, y in keep],
                        "label": f"trial {t.number} {which}",
                        "color": color(k),
                        "dash": target is truths,
                    }
                )
    if truths and all(t["x"] == truths[0]["x"] and t["y"] == truths[0]["y"] for t in truths):
        truths = [{**truths[0], "label": "truth (the same windows)", "color": "#222"}]
    lines += truths
    if not lines:
        return None
    caption = (
        "Power spectrum P(k) of the rollout, prediction (solid) against truth (dashed): "
        "a prediction with too little power, or power at the wrong scales, shows here "
        "whatever its relative L2."
    )
    return _overlay(
        "spectra",
        "Spectral diagnostics of the best trials",
        caption,
        lines,
        "k",
        "P(k)",
        True,
        True,
    )


@dataclass(frozen=True)
class Artifact:
    """A figure a run wrote itself, copied into the report (path relative to the report)."""

    group: str
    trial: int
    title: str
    path: str

    def to_json(self) -> dict[str, Any]:
        return {"group": self.group, "trial": self.trial, "title": self.title, "path": self.path}


def copy_artifacts(best: list[TrialRecord], group: str, out: Path) -> list[Artifact]:
    """Copy the best trials' own PNGs (prediction vs truth, evaluation figures) into the report."""
    copied = []
    for t in best:
        runs = t.run_dirs()
        if not runs:
            continue
        artifacts = RunFolder(runs[0]).artifacts
        sources = [artifacts / PREDICTION_FIGURE]
        sources += sorted(artifacts.glob("evaluation_*/*.png"))
        target = out / "figures" / group / f"trial-{t.number}"
        for source in sources:
            if not source.is_file():
                continue
            name = (
                source.name if source.parent == artifacts else f"{source.parent.name}-{source.name}"
            )
            target.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / name)
            title = name.removesuffix(".png").replace("_", " ").replace("-", ": ", 1)
            copied.append(
                Artifact(group, t.number, title, (target / name).relative_to(out).as_posix())
            )
    return copied


def box_plots(studies: list[StudyData]) -> list[Plot]:
    """The first objective of each study's completed trials, one box per study."""
    plots = []
    for objective in dict.fromkeys(s.objectives[0] for s in studies):
        chosen = [s for s in studies if s.objectives[0] == objective and s.complete()]
        if len(chosen) >= 2:
            plots.append(_box(objective, chosen))
    return plots


def _box(objective: str, studies: list[StudyData]) -> Plot:
    keys = [(s.model, s.family) for s in studies]
    labels = [
        s.model if keys.count((s.model, s.family)) == 1 else f"{s.model} ({s.name})"
        for s in studies
    ]
    families = list(dict.fromkeys(s.family for s in studies))
    values = [[(t.values or [math.nan])[0] for t in s.complete()] for s in studies]

    def static(fig: Figure) -> None:
        ax = fig.subplots()
        parts = ax.boxplot(values, patch_artist=True, showfliers=True)
        ticks = [f"{label}\n{s.family}" for label, s in zip(labels, studies, strict=True)]
        ax.set_xticks(range(1, len(studies) + 1), ticks, rotation=20, ha="right")
        for patch, s in zip(parts["boxes"], studies, strict=True):
            patch.set_facecolor(color(families.index(s.family)))
            patch.set_alpha(0.6)
        for i, ys in enumerate(values):
            ax.scatter([i + 1] * len(ys), ys, s=8, color="#333", zorder=3)
        from matplotlib.patches import Patch

        handles = [Patch(color=color(k), alpha=0.6, label=f) for k, f in enumerate(families)]
        ax.legend(handles=handles, title="family", fontsize=8)
        ax.set(ylabel=objective)

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        for k, family in enumerate(families):
            xs, ys = [], []
            for s, label, vs in zip(studies, labels, values, strict=True):
                if s.family == family:
                    xs += [label] * len(vs)
                    ys += vs
            fig.add_box(
                x=xs,
                y=ys,
                name=family,
                boxpoints="all",
                jitter=0.3,
                pointpos=0,
                marker_color=color(k),
            )
        fig.update_yaxes(title_text=objective)
        return fig.update_layout(boxmode="group", height=440, legend_title_text="family")

    caption = (
        f"{objective} of every completed trial, one box per study "
        f"({', '.join(f'{s.name}: {len(v)}' for s, v in zip(studies, values, strict=True))}"
        " trials); colour: family. A search's trials are not independent samples of a "
        "model's quality; compare confirmed scores for that."
    )
    return Plot(
        f"box_{slug(objective)}",
        f"Models across families: {objective}",
        caption,
        static,
        interactive,
        size=(max(6.0, 1.2 * len(studies) + 2), 4.8),
    )
