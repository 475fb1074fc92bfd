"""Figures of one study's search: history, importance, heatmaps, slices, parallel coordinates,
the Pareto front. Each returns :class:`~dno.report._plotting.Plot` objects over plain data.
"""

from __future__ import annotations

import math
from functools import partial
from typing import Any

import numpy as np

from dno.plotting import (
    COLORS,
    Line,
    Panel,
    draw_heatmap,
    draw_importance,
    draw_panels,
    draw_parallel,
    draw_slices,
)
from dno.report._analysis import IMPORTANCE_METHODS, heatmap_grid, numeric_value
from dno.report._plotting import Plot, fmt, plotly_panels, spans_decades
from dno.report._records import ParamInfo, StudyData, TrialRecord

__all__ = [
    "heatmap_plots",
    "history_plot",
    "importance_plot",
    "parallel_plot",
    "pareto_plot",
    "slice_plot",
]


def hover(t: TrialRecord, data: StudyData) -> str:
    """A trial's hover text: number, objectives, parameters."""
    lines = [f"trial {t.number}"]
    lines += [
        f"{name} = {fmt(v)}" for name, v in zip(data.objectives, t.values or [], strict=False)
    ]
    lines += [f"{k} = {fmt(v)}" for k, v in sorted(t.params.items())]
    return "<br>".join(lines)


def _running_best(values: list[float], sign: float) -> list[float]:
    best, out = math.inf, []
    for v in values:
        best = min(best, sign * v)
        out.append(sign * best)
    return out


def history_plot(data: StudyData) -> Plot:
    """Each objective per trial and the best so far; pruned and failed trials counted."""
    done = sorted(data.complete(), key=lambda t: t.number)
    counts = data.counts()
    xs = [t.number for t in done]
    panels = []
    for i, name in enumerate(data.objectives):
        ys = [(t.values or [])[i] for t in done]
        points = Line(xs, ys, "completed trial", COLORS[0], kind="points")
        best = Line(xs, _running_best(ys, data.sign(i)), "best so far", COLORS[3], kind="step")
        label = f"{name} ({data.directions[i]})"
        panels.append(Panel([points, best], name, "trial", label, logy=spans_decades(ys)))
    static = partial(draw_panels, panels=panels)
    interactive = partial(plotly_panels, panels, [[hover(t, data) for t in done]])
    caption = (
        f"{counts['complete']} completed of {counts['trials']} trials "
        f"({counts['pruned']} pruned, {counts['failed']} failed, "
        f"{counts['interrupted']} interrupted and re-run); only completed trials have a value."
    )
    return Plot("history", "Optimization history", caption, static, interactive)


def importance_plot(data: StudyData) -> Plot | None:
    """Parameter importance (Optuna's evaluator) beside each parameter's Spearman correlation."""
    imp = data.importance
    if imp is None or not imp.values:
        return None
    names = imp.ranking()[::-1]  # most important on top of a horizontal bar chart
    objective = data.objectives[0]
    evaluated = imp.method in IMPORTANCE_METHODS
    left = (
        f"importance ({IMPORTANCE_METHODS[imp.method]})" if evaluated else "ranking by |ρ| (or η)"
    )
    rho = [imp.spearman.get(n) for n in names]
    colours = [COLORS[2] if data.sign(0) * (r or 0.0) < 0 else COLORS[3] for r in rho]
    labels = [
        f"η = {imp.eta[n]:.2f} (unordered)"
        if n in imp.eta
        else ("constant" if r is None else f"ρ = {r:+.2f}")
        for n, r in zip(names, rho, strict=True)
    ]
    values, rho_drawn = [imp.values[n] for n in names], [r or 0.0 for r in rho]
    titles = (left, "importance" if evaluated else "score", f"Spearman ρ with {objective}")
    static = partial(draw_importance, names=names, importance=values, correlation=rho_drawn,
                     colors=colours, notes=labels, titles=titles)  # fmt: skip

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=2, shared_yaxes=True, subplot_titles=titles[::2])
        fig.add_bar(y=names, x=values, orientation="h", row=1, col=1, marker_color=COLORS[0],
                    name="importance")  # fmt: skip
        fig.add_bar(y=names, x=rho_drawn, orientation="h", row=1, col=2, text=labels,
                    textposition="auto", name="Spearman ρ", marker_color=colours)  # fmt: skip
        fig.update_xaxes(range=[-1.05, 1.05], row=1, col=2)
        return fig.update_layout(height=max(300, 60 + 40 * len(names)), showlegend=False)

    caption = (
        f"Left: {_method_text(imp.method) if evaluated else imp.note}; "
        f"{imp.trials} completed trials, objective {objective}. Right: Spearman's rank "
        "correlation of each parameter with the objective; green: larger values go with a "
        "better objective, red: with a worse one (η, the correlation ratio, for unordered "
        "choices)."
    )
    return Plot("importance", "Parameter importance and correlation", caption, static, interactive)


def _method_text(method: str) -> str:
    if method == "fanova":
        return "fANOVA importance (Optuna, random forest with seed 0)"
    return "PED-ANOVA importance (Optuna): how much each parameter matters to reach the top 10 %"


def heatmap_plots(data: StudyData, pairs: list[tuple[str, str]]) -> list[Plot]:
    """Mean first objective over each pair of searched parameters."""
    return [_heatmap(data, x, y) for x, y in pairs]


def _heatmap(data: StudyData, x: str, y: str) -> Plot:
    grid = heatmap_grid(data, x, y)
    objective, direction = data.objectives[0], data.directions[0]
    label = f"mean {objective} ({'lower' if direction == 'minimize' else 'higher'} is better)"
    text = [
        [f"{m:.3g}<br>n={c}" if c else "" for m, c in zip(means, counts, strict=True)]
        for means, counts in zip(grid.mean, grid.count, strict=True)
    ]
    axes = (_axis_name(data.param(x)), _axis_name(data.param(y)), label)
    static = partial(draw_heatmap, mean=grid.mean, count=grid.count, x_labels=grid.x_labels,
                     y_labels=grid.y_labels, axis_names=axes)  # fmt: skip

    def interactive() -> Any:
        import plotly.graph_objects as go

        z = [[None if math.isnan(v) else float(v) for v in row] for row in grid.mean]
        tip = f"{x}: %{{x}}<br>{y}: %{{y}}<br>%{{text}}<extra></extra>"
        fig = go.Figure(go.Heatmap(z=z, x=grid.x_labels, y=grid.y_labels, text=text,
                                   texttemplate="%{text}", colorscale="Viridis", hovertemplate=tip,
                                   colorbar={"title": {"text": f"mean {objective}"}}))  # fmt: skip
        fig.update_xaxes(type="category", title_text=axes[0])
        fig.update_yaxes(type="category", title_text=axes[1])
        return fig.update_layout(height=460)

    n = int(grid.count.sum())
    caption = (
        f"{label} over {x} and {y}, both searched by this study; {n} completed trials, "
        "n per cell; empty cells were never sampled."
    )
    return Plot(f"heatmap_{x}_{y}", f"Heatmap: {x} × {y}", caption, static, interactive)


def _axis_name(param: ParamInfo) -> str:
    return f"{param.name} (log scale)" if param.log else param.name


def _xs(param: ParamInfo, done: list[TrialRecord]) -> list[Any]:
    return [t.params.get(param.name) for t in done]


def slice_plot(data: StudyData) -> Plot | None:
    """The first objective against each searched parameter, one panel each."""
    params = [p for p in data.params if p.varies]
    done = data.complete()
    if not params or not done:
        return None
    cols = min(3, len(params))
    rows = math.ceil(len(params) / cols)
    objective = data.objectives[0]
    ys = [(t.values or [math.nan])[0] for t in done]
    numbers, texts = [t.number for t in done], [hover(t, data) for t in done]

    static = partial(
        draw_slices,
        xs=[[numeric_value(p, v) for v in _xs(p, done)] for p in params],
        y=ys,
        shade=numbers,
        names=[p.name for p in params],
        logx=[p.log for p in params],
        ticks=[
            [str(c) for c in p.choices] if p.choices and not p.ordered else None for p in params
        ],
        ylabel=objective,
    )

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        fig = make_subplots(
            rows=rows, cols=cols, shared_yaxes=True, subplot_titles=[p.name for p in params]
        )
        for k, p in enumerate(params):
            row, col = k // cols + 1, k % cols + 1
            categorical = p.choices is not None
            xs = [str(v) if categorical else v for v in _xs(p, done)]
            marker = {"color": numbers, "colorscale": "Viridis", "showscale": k == 0,
                      "line": {"width": 0.5, "color": "#333"},
                      "colorbar": {"title": {"text": "trial"}}}  # fmt: skip
            fig.add_scatter(x=xs, y=ys, mode="markers", row=row, col=col, showlegend=False,
                            text=texts, hoverinfo="text", marker=marker)  # fmt: skip
            axis: dict[str, Any] = {"title_text": p.name}
            if categorical:
                choices = [str(c) for c in p.choices or ()]
                axis.update(type="category", categoryorder="array", categoryarray=choices)
            elif p.log:
                axis["type"] = "log"
            fig.update_xaxes(row=row, col=col, **axis)
            fig.update_yaxes(title_text=objective if col == 1 else None, row=row, col=col)
        return fig.update_layout(height=320 * rows)

    caption = (
        f"{objective} of each completed trial against each searched parameter "
        "(colour: trial number)."
    )
    return Plot("slices", "Slice plots", caption, static, interactive)


def _dimension(p: ParamInfo, done: list[TrialRecord]) -> tuple[str, list[float], list[str] | None]:
    """A parallel-coordinate axis: its label, values (log10 if log-sampled) and tick labels."""
    values = [numeric_value(p, t.params.get(p.name, math.nan)) for t in done]
    if p.choices is not None and not p.ordered:
        return p.name, values, [str(c) for c in p.choices]
    if p.log:
        return f"log10({p.name})", [math.log10(v) for v in values], None
    return p.name, values, None


def parallel_plot(data: StudyData) -> Plot | None:
    """Every completed trial as a line through its parameters and objectives."""
    params = [p for p in data.params if p.varies]
    done = data.complete()
    if not params or not done:
        return None
    dims = [_dimension(p, done) for p in params]
    dims += [
        (name, [(t.values or [])[i] for t in done], None) for i, name in enumerate(data.objectives)
    ]
    colour = [(t.values or [math.nan])[0] for t in done]

    static = partial(
        draw_parallel,
        labels=[label for label, _, _ in dims],
        values=np.array([values for _, values, _ in dims], dtype=np.float64),
        ticks=[ticks for _, _, ticks in dims],
        shade=colour,
    )

    def interactive() -> Any:
        import plotly.graph_objects as go

        dimensions = []
        for label, values, ticks in dims:
            entry: dict[str, Any] = {"label": label, "values": values}
            if ticks:
                entry.update(tickvals=list(range(len(ticks))), ticktext=ticks)
            dimensions.append(entry)
        line = {"color": colour, "colorscale": "Viridis", "showscale": True,
                "colorbar": {"title": {"text": data.objectives[0]}}}  # fmt: skip
        return go.Figure(go.Parcoords(dimensions=dimensions, line=line)).update_layout(height=440)

    caption = (
        f"One line per completed trial ({len(done)}), coloured by {data.objectives[0]}; "
        "drag along an axis to select a range."
    )
    return Plot("parallel", "Parallel coordinates", caption, static, interactive)


def pareto_plot(data: StudyData) -> Plot | None:
    """The first two objectives of every completed trial, the Pareto front highlighted."""
    if not data.multi or not data.complete():
        return None
    done = data.complete()
    front = sorted(data.pareto_front(), key=lambda t: (t.values or [])[0])

    def pts(trials: list[TrialRecord], i: int) -> list[float]:
        return [(t.values or [])[i] for t in trials]

    numbers = [str(t.number) for t in front]
    lines = [
        Line(pts(done, 0), pts(done, 1), "dominated", "#9a9a9a", kind="points"),
        Line(pts(front, 0), pts(front, 1), "", COLORS[3], kind="step"),
        Line(pts(front, 0), pts(front, 1), "Pareto front", COLORS[3], kind="points", notes=numbers),
    ]
    ox, oy = (f"{data.objectives[i]} ({data.directions[i]})" for i in (0, 1))
    panel = Panel(lines, xlabel=ox, ylabel=oy)
    static = partial(draw_panels, panels=[panel])
    texts = [[hover(t, data) for t in done], [], [hover(t, data) for t in front]]
    interactive = partial(plotly_panels, [panel], texts)

    more = (
        f" ({len(data.objectives)} objectives: the first two shown)"
        if len(data.objectives) > 2
        else ""
    )
    caption = (
        f"{len(front)} of {len(done)} completed trials are on the Pareto front "
        f"(numbers: trials){more}."
    )
    return Plot("pareto", "Pareto front", caption, static, interactive)
