"""Figures of one study's search: history, importance, heatmaps, slices, parallel coordinates,
the Pareto front. Each returns :class:`~dno.report._plotting.Plot` objects over plain data.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import numpy as np

from dno.report._analysis import IMPORTANCE_METHODS, heatmap_grid, numeric_value
from dno.report._plotting import Plot, fmt, spans_decades
from dno.report._records import ParamInfo, StudyData, TrialRecord

if TYPE_CHECKING:
    from matplotlib.figure import Figure

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
    n = len(data.objectives)

    def static(fig: Figure) -> None:
        for i, (ax, name) in enumerate(
            zip(fig.subplots(1, n, squeeze=False)[0], data.objectives, strict=True)
        ):
            ys = [(t.values or [])[i] for t in done]
            xs = [t.number for t in done]
            ax.scatter(xs, ys, s=18, color="#1f77b4", label="completed trial")
            ax.step(
                xs,
                _running_best(ys, data.sign(i)),
                where="post",
                color="#d62728",
                label="best so far",
            )
            ax.set(xlabel="trial", ylabel=f"{name} ({data.directions[i]})")
            if spans_decades(ys):
                ax.set_yscale("log")
            ax.legend(fontsize=8)

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        fig = make_subplots(rows=1, cols=n, subplot_titles=data.objectives)
        for i, name in enumerate(data.objectives):
            ys = [(t.values or [])[i] for t in done]
            xs = [t.number for t in done]
            fig.add_scatter(
                x=xs,
                y=ys,
                mode="markers",
                name="completed trial",
                row=1,
                col=i + 1,
                text=[hover(t, data) for t in done],
                hoverinfo="text",
                marker={"color": "#1f77b4"},
                showlegend=i == 0,
            )
            fig.add_scatter(
                x=xs,
                y=_running_best(ys, data.sign(i)),
                mode="lines",
                line={"shape": "hv", "color": "#d62728"},
                name="best so far",
                row=1,
                col=i + 1,
                showlegend=i == 0,
            )
            fig.update_xaxes(title_text="trial", row=1, col=i + 1)
            fig.update_yaxes(
                title_text=f"{name} ({data.directions[i]})",
                row=1,
                col=i + 1,
                type="log" if spans_decades(ys) else "linear",
            )
        return fig.update_layout(height=420)

    caption = (
        f"{counts['complete']} completed of {counts['trials']} trials "
        f"({counts['pruned']} pruned, {counts['failed']} failed, "
        f"{counts['interrupted']} interrupted and re-run); only completed trials have a value."
    )
    return Plot(
        "history", "Optimization history", caption, static, interactive, size=(4.5 * n + 1, 4.2)
    )


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
    colours = ["#2ca02c" if data.sign(0) * (r or 0.0) < 0 else "#d62728" for r in rho]
    labels = [
        f"η = {imp.eta[n]:.2f} (unordered)"
        if n in imp.eta
        else ("constant" if r is None else f"ρ = {r:+.2f}")
        for n, r in zip(names, rho, strict=True)
    ]

    def static(fig: Figure) -> None:
        a, b = fig.subplots(1, 2, sharey=True)
        a.barh(names, [imp.values[n] for n in names], color="#1f77b4")
        a.set(title=left, xlabel="importance" if evaluated else "score")
        b.barh(
            names,
            [r or 0.0 for r in rho],
            color=colours,
        )
        b.axvline(0, color="#444", lw=0.8)
        b.set(title=f"Spearman ρ with {objective}", xlim=(-1.05, 1.05), xlabel="ρ")
        for y, text in enumerate(labels):
            b.text(0.02, y, text, va="center", fontsize=8, color="#222")

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        fig = make_subplots(
            rows=1, cols=2, shared_yaxes=True, subplot_titles=[left, f"Spearman ρ with {objective}"]
        )
        fig.add_bar(
            y=names,
            x=[imp.values[n] for n in names],
            orientation="h",
            row=1,
            col=1,
            marker_color="#1f77b4",
            name="importance",
        )
        fig.add_bar(
            y=names,
            x=[r or 0.0 for r in rho],
            orientation="h",
            row=1,
            col=2,
            text=labels,
            textposition="auto",
            name="Spearman ρ",
            marker_color=colours,
        )
        fig.update_xaxes(range=[-1.05, 1.05], row=1, col=2)
        return fig.update_layout(height=max(300, 60 + 40 * len(names)), showlegend=False)

    caption = (
        f"Left: {_method_text(imp.method) if evaluated else imp.note}; "
        f"{imp.trials} completed trials, objective {objective}. Right: Spearman's rank "
        "correlation of each parameter with the objective; green: larger values go with a "
        "better objective, red: with a worse one (η, the correlation ratio, for unordered "
        "choices)."
    )
    return Plot(
        "importance",
        "Parameter importance and correlation",
        caption,
        static,
        interactive,
        size=(10.0, 1.2 + 0.45 * len(names)),
    )


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
        [
            f"{grid.mean[i, j]:.3g}<br>n={grid.count[i, j]}" if grid.count[i, j] else ""
            for j in range(len(grid.x_labels))
        ]
        for i in range(len(grid.y_labels))
    ]

    def static(fig: Figure) -> None:
        ax = fig.subplots()
        image = ax.imshow(
            np.ma.masked_invalid(grid.mean), origin="lower", aspect="auto", cmap="viridis"
        )
        fig.colorbar(image, ax=ax, label=label)
        ax.set_xticks(range(len(grid.x_labels)), grid.x_labels, rotation=30, ha="right")
        ax.set_yticks(range(len(grid.y_labels)), grid.y_labels)
        ax.set(xlabel=_axis_name(data.param(x)), ylabel=_axis_name(data.param(y)))
        low = float(np.nanmin(grid.mean)) if grid.count.any() else 0.0
        span = float(np.nanmax(grid.mean)) - low if grid.count.any() else 1.0
        for i in range(len(grid.y_labels)):
            for j in range(len(grid.x_labels)):
                if grid.count[i, j]:
                    bright = (grid.mean[i, j] - low) > 0.6 * span  # viridis turns light there
                    ax.text(
                        j,
                        i,
                        text[i][j].replace("<br>", "\n"),
                        ha="center",
                        va="center",
                        fontsize=8,
                        color="black" if bright else "white",
                    )

    def interactive() -> Any:
        import plotly.graph_objects as go

        z = [[None if math.isnan(v) else float(v) for v in row] for row in grid.mean]
        fig = go.Figure(
            go.Heatmap(
                z=z,
                x=grid.x_labels,
                y=grid.y_labels,
                text=text,
                texttemplate="%{text}",
                colorscale="Viridis",
                colorbar={"title": {"text": f"mean {objective}"}},
                hovertemplate=f"{x}: %{{x}}<br>{y}: %{{y}}<br>%{{text}}<extra></extra>",
            )
        )
        fig.update_xaxes(type="category", title_text=_axis_name(data.param(x)))
        fig.update_yaxes(type="category", title_text=_axis_name(data.param(y)))
        return fig.update_layout(height=460)

    n = int(grid.count.sum())
    caption = (
        f"{label} over {x} and {y}, both searched by this study; {n} completed trials, "
        "n per cell; empty cells were never sampled."
    )
    return Plot(
        f"heatmap_{x}_{y}", f"Heatmap: {x} × {y}", caption, static, interactive, size=(7.5, 5.5)
    )


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
    numbers = [t.number for t in done]

    def static(fig: Figure) -> None:
        axes = fig.subplots(rows, cols, squeeze=False, sharey=True).ravel()
        for ax, p in zip(axes, params, strict=False):
            xs = [numeric_value(p, v) for v in _xs(p, done)]
            points = ax.scatter(xs, ys, c=numbers, cmap="viridis", edgecolors="#333", lw=0.3, s=22)
            ax.set(xlabel=p.name)
            if p.log:
                ax.set_xscale("log")
            if p.choices is not None and not p.ordered:
                ax.set_xticks(range(len(p.choices)), [str(c) for c in p.choices])
        for ax in axes[len(params) :]:
            ax.set_visible(False)
        for ax in axes[::cols]:
            ax.set_ylabel(objective)
        fig.colorbar(points, ax=list(axes), label="trial", shrink=0.8)

    def interactive() -> Any:
        from plotly.subplots import make_subplots

        fig = make_subplots(
            rows=rows, cols=cols, shared_yaxes=True, subplot_titles=[p.name for p in params]
        )
        for k, p in enumerate(params):
            row, col = k // cols + 1, k % cols + 1
            categorical = p.choices is not None
            xs = [str(v) if categorical else v for v in _xs(p, done)]
            fig.add_scatter(
                x=xs,
                y=ys,
                mode="markers",
                row=row,
                col=col,
                showlegend=False,
                text=[hover(t, data) for t in done],
                hoverinfo="text",
                marker={
                    "color": numbers,
                    "colorscale": "Viridis",
                    "showscale": k == 0,
                    "line": {"width": 0.5, "color": "#333"},
                    "colorbar": {"title": {"text": "trial"}},
                },
            )
            axis: dict[str, Any] = {"title_text": p.name}
            if categorical:
                axis.update(
                    type="category",
                    categoryorder="array",
                    categoryarray=[str(c) for c in p.choices or ()],
                )
            elif p.log:
                axis["type"] = "log"
            fig.update_xaxes(row=row, col=col, **axis)
            fig.update_yaxes(title_text=objective if col == 1 else None, row=row, col=col)
        return fig.update_layout(height=320 * rows)

    caption = (
        f"{objective} of each completed trial against each searched parameter "
        "(colour: trial number)."
    )
    return Plot(
        "slices", "Slice plots", caption, static, interactive, size=(4.0 * cols + 1, 3.4 * rows)
    )


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

    def static(fig: Figure) -> None:
        ax = fig.subplots()
        scaled = np.array([_unit(values) for _, values, _ in dims])  # (dims, trials)
        norm = (np.asarray(colour) - min(colour)) / ((max(colour) - min(colour)) or 1.0)
        from matplotlib import colormaps

        cmap = colormaps["viridis"]
        for k in np.argsort(-norm):  # the best trials (low values) drawn last, on top
            ax.plot(range(len(dims)), scaled[:, k], color=cmap(norm[k]), lw=1.0, alpha=0.8)
        for d, (_, values, ticks) in enumerate(dims):
            ax.axvline(d, color="#444", lw=0.8)
            finite = [v for v in values if math.isfinite(v)]
            low, high = (f"{min(finite):.3g}", f"{max(finite):.3g}") if finite else ("", "")
            if ticks:
                low, high = ticks[0], ticks[-1]
            ax.text(d, -0.06, low, ha="center", va="top", fontsize=7)
            ax.text(d, 1.06, high, ha="center", va="bottom", fontsize=7)
        ax.set_xticks(range(len(dims)), [label for label, _, _ in dims], rotation=20)
        ax.set(ylim=(-0.15, 1.15), yticks=[])

    def interactive() -> Any:
        import plotly.graph_objects as go

        dimensions = []
        for label, values, ticks in dims:
            entry: dict[str, Any] = {"label": label, "values": values}
            if ticks:
                entry.update(tickvals=list(range(len(ticks))), ticktext=ticks)
            dimensions.append(entry)
        line = {
            "color": colour,
            "colorscale": "Viridis",
            "showscale": True,
            "colorbar": {"title": {"text": data.objectives[0]}},
        }
        return go.Figure(go.Parcoords(dimensions=dimensions, line=line)).update_layout(height=440)

    caption = (
        f"One line per completed trial ({len(done)}), coloured by {data.objectives[0]}; "
        "drag along an axis to select a range."
    )
    return Plot(
        "parallel",
        "Parallel coordinates",
        caption,
        static,
        interactive,
        size=(max(7.0, 1.6 * len(dims)), 4.5),
    )


def _unit(values: list[float]) -> list[float]:
    finite = [v for v in values if math.isfinite(v)]
    if not finite:
        return [0.5] * len(values)
    low, high = min(finite), max(finite)
    return [(v - low) / (high - low) if high > low else 0.5 for v in values]


def pareto_plot(data: StudyData) -> Plot | None:
    """The first two objectives of every completed trial, the Pareto front highlighted."""
    if not data.multi or not data.complete():
        return None
    done = data.complete()
    front = sorted(data.pareto_front(), key=lambda t: (t.values or [])[0])
    ox, oy = data.objectives[0], data.objectives[1]

    def pts(trials: list[TrialRecord], i: int) -> list[float]:
        return [(t.values or [])[i] for t in trials]

    def static(fig: Figure) -> None:
        ax = fig.subplots()
        ax.scatter(pts(done, 0), pts(done, 1), color="#9a9a9a", s=20, label="dominated")
        ax.step(pts(front, 0), pts(front, 1), where="post", color="#d62728", lw=1)
        ax.scatter(pts(front, 0), pts(front, 1), color="#d62728", s=30, label="Pareto front")
        for t in front:
            ax.annotate(
                str(t.number),
                ((t.values or [])[0], (t.values or [])[1]),
                fontsize=7,
                xytext=(3, 3),
                textcoords="offset points",
            )
        ax.set(xlabel=f"{ox} ({data.directions[0]})", ylabel=f"{oy} ({data.directions[1]})")
        ax.legend(fontsize=8)

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        fig.add_scatter(
            x=pts(done, 0),
            y=pts(done, 1),
            mode="markers",
            name="dominated",
            marker={"color": "#9a9a9a"},
            text=[hover(t, data) for t in done],
            hoverinfo="text",
        )
        fig.add_scatter(
            x=pts(front, 0),
            y=pts(front, 1),
            mode="lines+markers",
            name="Pareto front",
            line={"shape": "hv", "color": "#d62728"},
            text=[hover(t, data) for t in front],
            hoverinfo="text",
        )
        fig.update_xaxes(title_text=f"{ox} ({data.directions[0]})")
        fig.update_yaxes(title_text=f"{oy} ({data.directions[1]})")
        return fig.update_layout(height=460)

    more = (
        f" ({len(data.objectives)} objectives: the first two shown)"
        if len(data.objectives) > 2
        else ""
    )
    caption = (
        f"{len(front)} of {len(done)} completed trials are on the Pareto front "
        f"(numbers: trials){more}."
    )
    return Plot("pareto", "Pareto front", caption, static, interactive, size=(7.5, 5.0))
