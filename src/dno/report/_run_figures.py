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
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from dno._names import slug
from dno.errors import DnoError
from dno.plotting import (
    HISTORY,
    PREDICTION,
    TRUTH,
    Line,
    Panel,
    color,
    draw_boxes,
    draw_panels,
    draw_rollouts,
)
from dno.report._plotting import Plot, plotly_panels, spans_decades
from dno.report._records import StudyData, TrialRecord
from dno.tracking import (
    EVALUATION_JSON,
    METRICS_CSV,
    PREDICTION_FIGURE,
    REPORT_FIGURES,
    RunFolder,
    read_json,
)

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
    ("validation rel. L2: one step, rollout dotted", ("val_rel_l2", "val_rollout_rel_l2"), False),
    ("validation valid time (tau)", ("val_valid_time",), False),
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
        where = f"seed {runs[0].name}" if runs[0] != t.folder else METRICS_CSV
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
    known = {col for p in PANELS for col in p[1]} | {"seconds", "val_seconds"}  # times: no curve
    own = sorted({name for c in curves for name in c[2]} - known)[:MAX_OWN_PANELS]
    panels += [(name, (name,), True) for name in own]

    def lines(columns: tuple[str, ...]) -> list[Line]:
        """A panel's lines, a colour per trial (a second column dotted)."""
        found = []
        for k, (t, _, series) in enumerate(curves):
            for c, column in enumerate(columns):
                if points := series.get(column, []):
                    xs, ys = (list(v) for v in zip(*points, strict=True))
                    found.append(Line(xs, ys, f"trial {t.number} {column}", color(k), "-:"[c > 0]))
        return found

    drawn = []
    for title, columns, log in panels:
        found = lines(columns)
        logy = log and spans_decades([v for f in found for v in f.y])
        drawn.append(Panel(found, title, "epoch", logy=logy))
    sources = ", ".join(f"trial {t.number} ({where})" for t, where, _ in curves)
    caption = (
        f"Per-epoch training curves of the best trials: {sources}. Loss panel: train solid, "
        "validation dotted."
    )
    return Plot("convergence", "Convergence of the best trials", caption,
                partial(draw_panels, panels=drawn), partial(plotly_panels, drawn))  # fmt: skip


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

    static = partial(
        draw_rollouts,
        history=[ex["history"][0] for _, _, ex in shown],
        truth=[ex["truth"][0] for _, _, ex in shown],
        prediction=[ex["prediction"][0] for _, _, ex in shown],
        titles=[f"trial {t.number}" for t, _, _ in shown],
    )

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        if not spatial:
            panels = []
            for t, _, ex in shown:
                before, after = axes(ex)
                h, true, pred = (ex[key][0, :, 0, 0] for key in ("history", "truth", "prediction"))
                lines = [Line(before, h, "history", HISTORY),
                         Line(after, true, "truth", TRUTH),
                         Line(after, pred, "prediction", PREDICTION, "--")]  # fmt: skip
                panels.append(Panel(lines, f"trial {t.number}", "time / τ"))
            return plotly_panels(panels).update_layout(height=380)
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
        else "history (grey), truth (dark) and prediction (dashed)"
    )
    caption = (
        f"The first of the rollouts dno evaluate kept for each evaluated best trial "
        f"({split} split, channel 0): {what}; time in delays τ after the window's end."
    )
    return Plot("prediction", "Prediction vs truth of the best trials", caption, static,
                interactive)  # fmt: skip


def _overlay(key: str, title: str, caption: str, panel: Panel) -> Plot:
    """A figure of one panel of several labelled lines, both ways."""
    return Plot(key, title, caption, partial(draw_panels, panels=[panel]),
                partial(plotly_panels, [panel]))  # fmt: skip


def _rollout_plot(found: list[tuple[TrialRecord, dict[str, Any]]]) -> Plot | None:
    lines = []
    for k, (t, doc) in enumerate(found):
        curve = _get(doc, "rollout", "error_curve") or {}
        xs, ys = _pairs(curve.get("time"), curve.get("relative_l2"))
        if xs:
            lines.append(Line(xs, ys, f"trial {t.number}", color(k)))
    if not lines:
        return None
    split = _get(found[0][1], "split") or "val"
    caption = (
        f"Relative L2 error of the rollout against time (in delays τ) on the {split} "
        "split, from each trial's evaluation file (dno evaluate)."
    )
    panel = Panel(lines, xlabel="time (τ)", ylabel="relative L2")
    return _overlay("rollout_error", "Rollout error of the best trials", caption, panel)


def _spectrum_plot(found: list[tuple[TrialRecord, dict[str, Any]]]) -> Plot | None:
    lines: list[Line] = []
    truths: list[Line] = []
    for k, (t, doc) in enumerate(found):
        spectral = _get(doc, "spectral", "diagnosis", "spectral") or {}
        for key, target, which in (("power_prediction", lines, "prediction"),
                                   ("power_truth", truths, "truth")):  # fmt: skip
            xs, ys = _pairs(spectral.get("k"), spectral.get(key))
            keep = [(x, y) for x, y in zip(xs, ys, strict=True) if x > 0 and y > 0]
            if keep:
                x, y = ([p[i] for p in keep] for i in (0, 1))
                style = "--" if which == "truth" else "-"
                target.append(Line(x, y, f"trial {t.number} {which}", color(k), style))
    if truths and all(t.x == truths[0].x and t.y == truths[0].y for t in truths):
        truths = [replace(truths[0], label="truth (the same windows)", color="#222222")]
    lines += truths
    if not lines:
        return None
    caption = (
        "Power spectrum P(k) of the rollout, prediction (solid) against truth (dashed): "
        "a prediction with too little power, or power at the wrong scales, shows here "
        "whatever its relative L2."
    )
    panel = Panel(lines, xlabel="k", ylabel="P(k)", logx=True, logy=True)
    return _overlay("spectra", "Spectral diagnostics of the best trials", caption, panel)


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
        target = out / REPORT_FIGURES / group / f"trial-{t.number}"
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

    static = partial(
        draw_boxes,
        values=values,
        labels=[f"{label}\n{s.family}" for label, s in zip(labels, studies, strict=True)],
        colors=[color(families.index(s.family)) for s in studies],
        legend={f: color(k) for k, f in enumerate(families)},
        ylabel=objective,
    )

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        for k, family in enumerate(families):
            xs, ys = [], []
            for s, label, vs in zip(studies, labels, values, strict=True):
                if s.family == family:
                    xs += [label] * len(vs)
                    ys += vs
            fig.add_box(x=xs, y=ys, name=family, boxpoints="all", jitter=0.3, pointpos=0,
                        marker_color=color(k))  # fmt: skip
        fig.update_yaxes(title_text=objective)
        return fig.update_layout(boxmode="group", height=440, legend_title_text="family")

    caption = (
        f"{objective} of every completed trial, one box per study "
        f"({', '.join(f'{s.name}: {len(v)}' for s, v in zip(studies, values, strict=True))}"
        " trials); colour: family. A search's trials are not independent samples of a "
        "model's quality; compare confirmed scores for that."
    )
    title = f"Models across families: {objective}"
    return Plot(f"box_{slug(objective)}", title, caption, static, interactive)
