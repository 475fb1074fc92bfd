"""The page of an aggregate of benchmarks (``dno benchmark --aggregate``): per regime, the
interquartile means with their intervals, the probabilities of improvement and the performance
profiles, drawn from ``aggregate.json`` and ``aggregate.md`` alone."""

from __future__ import annotations

import html
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from dno.plotting import color, draw_intervals, draw_probabilities, draw_profiles
from dno.report._html import figure_block
from dno.report._pages import page_top
from dno.report._plotting import (
    Plot,
    Rendered,
    render,
    spans_decades,
)
from dno.report._tables import table_html
from dno.tracking import AGGREGATE_JSON, AGGREGATE_MD

__all__ = ["draw_aggregate", "is_aggregate"]


def is_aggregate(folder: str | Path) -> bool:
    """Whether ``folder`` holds an aggregate's ``aggregate.json``."""
    return (Path(folder) / AGGREGATE_JSON).is_file()


def draw_aggregate(
    document: dict[str, Any], folder: Path, target: Path, interactive: bool
) -> tuple[list[Rendered], str]:
    """The aggregate's figures, per regime (rendered into ``target``), and its page."""
    colors = _colors(document)
    figures: dict[str, list[Rendered]] = {}
    for regime, content in document["regimes"].items():
        plots = [
            _iqm_plot(document, content, colors),
            _improvement_plot(document, content),
            _profile_plot(document, content, colors),
        ]
        figures[regime] = [render(plot, regime, target, interactive) for plot in plots]
    markdown = (folder / AGGREGATE_MD).read_text(encoding="utf-8")
    every = [f for found in figures.values() for f in found]
    return every, _page(document, figures, markdown, interactive)


def _colors(document: dict[str, Any]) -> dict[str, str]:
    """One colour per model on every figure of the page (the first regime's order first)."""
    names = [row["model"] for r in document["regimes"].values() for row in r["models"]]
    return {name: color(k) for k, name in enumerate(dict.fromkeys(names))}


def _ratio_label(document: dict[str, Any]) -> str:
    return f"{document['metric']['label']} / {document['baseline']}'s median on the task"


def _number(value: float | None) -> float:
    return float("nan") if value is None else float(value)


def _iqm_plot(document: dict[str, Any], regime: dict[str, Any], colors: dict[str, str]) -> Plot:
    """Each model's IQM (best on top) and its 95% interval; the baseline's 1 marked."""
    rows = [row for row in regime["models"] if row["iqm"] is not None]
    labels = [f"{row['model']} ({row['tasks']}/{len(regime['tasks'])} tasks)" for row in rows]
    estimate = [row["iqm"]["estimate"] for row in rows]
    low = [_number(row["iqm"]["low"]) for row in rows]
    high = [_number(row["iqm"]["high"]) for row in rows]
    hues = [colors[row["model"]] for row in rows]
    xlabel = f"IQM of {_ratio_label(document)}"
    static = partial(
        draw_intervals, labels=labels, estimates=estimate, lows=low, highs=high, colors=hues,
        xlabel=xlabel, reference=1.0,
    )  # fmt: skip

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        for name, e, a, b, hue in zip(labels, estimate, low, high, hues, strict=True):
            bar = {"type": "data", "symmetric": False, "array": [b - e], "arrayminus": [e - a]}
            fig.add_scatter(x=[e], y=[name], mode="markers", marker={"color": hue, "size": 10},
                            error_x=bar, showlegend=False, name=name)  # fmt: skip
        fig.add_vline(x=1.0, line_color="#999", line_width=1)
        fig.update_yaxes(autorange="reversed")
        return fig.update_xaxes(title_text=xlabel).update_layout(height=160 + 36 * len(rows))

    better = "lower" if document["metric"]["direction"] != "maximize" else "higher"
    caption = (
        f"Interquartile mean over every run of every task, each run's score divided by the "
        f"median of {document['baseline']}'s runs on its task (1, the grey line: the "
        f"baseline; {better} is better), with its stratified-bootstrap 95% interval."
    )
    return Plot("iqm", "Interquartile mean (IQM)", caption, static, interactive)


def _improvement_matrix(
    regime: dict[str, Any],
) -> tuple[list[str], np.ndarray, np.ndarray, np.ndarray]:
    """The models (ranked) and three (models, models) arrays: P(row better than column) and
    its interval's ends (NaN: none)."""
    models = [row["model"] for row in regime["models"]]
    index = {m: i for i, m in enumerate(models)}
    arrays = np.full((3, len(models), len(models)), np.nan)
    for cell in regime["improvement"]:
        i, j = index[cell["x"]], index[cell["y"]]
        arrays[:, i, j] = [_number(cell[k]) for k in ("estimate", "low", "high")]
    return models, arrays[0], arrays[1], arrays[2]


def _improvement_plot(document: dict[str, Any], regime: dict[str, Any]) -> Plot:
    models, p, low, high = _improvement_matrix(regime)
    names = ("X (row)", "Y (column)")
    static = partial(
        draw_probabilities, probability=p, lows=low, highs=high, labels=models, axis_names=names
    )

    def interactive() -> Any:
        import plotly.graph_objects as go

        text = [
            [
                "" if np.isnan(p[i, j]) else f"{p[i, j]:.2f}<br>[{low[i, j]:.2f}, {high[i, j]:.2f}]"
                for j in range(len(models))
            ]
            for i in range(len(models))
        ]
        z = [[None if np.isnan(v) else float(v) for v in row] for row in p]
        fig = go.Figure(go.Heatmap(
            z=z, x=models, y=models, zmin=0, zmax=1,
            colorscale="RdBu", text=text, texttemplate="%{text}",
            hovertemplate="P(%{y} better than %{x}) = %{text}<extra></extra>",
            colorbar={"title": {"text": "probability"}},
        ))  # fmt: skip
        fig.update_yaxes(autorange="reversed", title_text=names[0])
        return fig.update_xaxes(title_text=names[1]).update_layout(height=220 + 50 * len(models))

    caption = (
        "P(X better than Y): per task, the probability that a run of X drawn at random beats "
        "one of Y (ties half), averaged over the tasks both have; below, its stratified-"
        "bootstrap 95% interval. Blue: the row wins; red: the column wins."
    )
    return Plot("improvement", "Probability of improvement", caption, static, interactive)


def _profile_plot(document: dict[str, Any], regime: dict[str, Any], colors: dict[str, str]) -> Plot:
    profiles = regime["profiles"]
    taus = np.asarray(profiles["thresholds"], dtype=float)
    models = list(profiles["models"])
    curves = [
        {k: np.asarray(profiles["models"][m][k], dtype=float) for k in ("fraction", "low", "high")}
        for m in models
    ]
    hues = [colors[m] for m in models]
    logx = spans_decades([float(taus.min()), float(taus.max())])
    xlabel = f"threshold on {_ratio_label(document)}"
    static = partial(
        draw_profiles, thresholds=taus, fractions=[c["fraction"] for c in curves],
        lows=[c["low"] for c in curves], highs=[c["high"] for c in curves], labels=models,
        colors=hues, xlabel=xlabel, reference=1.0, logx=logx,
    )  # fmt: skip

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        x = taus.tolist()
        for name, curve, hue in zip(models, curves, hues, strict=True):
            band = {"width": 0}
            fig.add_scatter(x=x, y=curve["low"].tolist(), mode="lines", line=band,
                            showlegend=False, hoverinfo="skip", legendgroup=name)  # fmt: skip
            fig.add_scatter(x=x, y=curve["high"].tolist(), mode="lines", line=band, fill="tonexty",
                            fillcolor=_transparent(hue), showlegend=False, hoverinfo="skip",
                            legendgroup=name)  # fmt: skip
            fig.add_scatter(x=x, y=curve["fraction"].tolist(), mode="lines", name=name,
                            line={"color": hue}, legendgroup=name)  # fmt: skip
        fig.add_vline(x=1.0, line_color="#999", line_width=1)
        fig.update_xaxes(title_text=xlabel, type="log" if logx else "linear")
        fig.update_yaxes(title_text="fraction of runs better than the threshold", range=[0, 1])
        return fig.update_layout(height=440)

    better = "below" if document["metric"]["direction"] != "maximize" else "above"
    caption = (
        f"Performance profiles: the fraction of all runs (every task pooled) whose normalised "
        f"score is {better} the threshold, with its stratified-bootstrap 95% band; a curve "
        "above another is better everywhere. The grey line: the baseline's median."
    )
    return Plot("profiles", "Performance profiles", caption, static, interactive)


def _transparent(hue: str, alpha: float = 0.18) -> str:
    """``#rrggbb`` as an ``rgba`` colour with ``alpha``."""
    r, g, b = (int(hue[k : k + 2], 16) for k in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _cell(value: float | None) -> str | None:
    return None if value is None else f"{value:.3g}"


def _rows(document: dict[str, Any], regime: dict[str, Any]) -> list[dict[str, Any]]:
    """The regime's table on the page: one row per model, best IQM first."""
    baseline = document["baseline"]
    against = {c["x"]: c for c in regime["improvement"] if c["y"] == baseline}
    rows = []
    for row in regime["models"]:
        iqm = row["iqm"] or {}
        vs = against.get(row["model"], {})
        rows.append({
            "rank": row["rank"],
            "model": f"{row['model']} (baseline)" if row["model"] == baseline else row["model"],
            "IQM": _cell(iqm.get("estimate")), "CI low": _cell(iqm.get("low")),
            "CI high": _cell(iqm.get("high")),
            f"P(better than {baseline})": _cell(vs.get("estimate")),
            "P CI": None if vs.get("low") is None else f"[{vs['low']:.2f}, {vs['high']:.2f}]",
            "tasks": f"{row['tasks']}/{len(regime['tasks'])}",
            "runs": f"{row['runs']}/{row['runs_total']}",
        })  # fmt: skip
    return rows


def _section(document: dict[str, Any], name: str, figures: list[Rendered]) -> str:
    regime = document["regimes"][name]
    rows = _rows(document, regime)
    tasks = ", ".join(t["task"] for t in regime["tasks"])
    return "".join([
        f"<section id='regime-{html.escape(name)}'><h2>Regime {html.escape(name)}</h2>",
        f"<p class='muted'>{len(regime['tasks'])} tasks: {html.escape(tasks)}</p>",
        table_html(list(rows[0]) if rows else [], rows),
        *(figure_block(f) for f in figures),
        "</section>",
    ])  # fmt: skip


def _page(
    document: dict[str, Any], figures: dict[str, list[Rendered]], markdown: str, interactive: bool
) -> str:
    metric = document["metric"]
    title = f"Aggregate of {len(document['folders'])} benchmarks: {metric['label']}"
    boot = document["bootstrap"]
    facts = (
        f"test {metric['name']} relative to {document['baseline']}; regimes: "
        f"{', '.join(document['regimes'])}; {boot['resamples']:,} bootstrap resamples (seed "
        f"{boot['seed']}); dno {document['dno_version']}"
    )
    parts = [
        page_top(title, facts, interactive),
        f"<p>{html.escape(document['how'])}</p>",
        *(_section(document, name, figures[name]) for name in document["regimes"]),
        "<section id='tables'><h2>The aggregate file</h2>",
        f"<pre>{html.escape(markdown)}</pre></section>",
        "<footer class='muted'><p>From aggregate.json (written by dno benchmark --aggregate "
        f"from the folders: {html.escape(', '.join(document['folders']))}).</p></footer>"
        "</body></html>\n",
    ]
    return "".join(parts)
