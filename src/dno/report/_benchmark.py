"""The page of a benchmark (``dno benchmark``): its leaderboard, box plots across models and
rollout error curves, drawn from ``leaderboard.json`` and the runs' ``evaluation_test.json``
alone (no model is loaded); for a tuned benchmark also each model's search (trials, seconds,
chosen values) and the tuning curves (the expected best validation score of n trials); with
regimes beyond the test split, a table per regime and each model's error by regime."""

from __future__ import annotations

import html
import math
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

from dno.evaluation import METRICS, canonical_name
from dno.plotting import (
    Line,
    Panel,
    color,
    draw_boxes,
    draw_panels,
    draw_regime_errors,
    draw_tuning_curves,
)
from dno.report._aggregate import draw_aggregate, is_aggregate
from dno.report._html import figure_block
from dno.report._pages import BenchmarkReport, page_top, write_page
from dno.report._plotting import (
    Plot,
    Rendered,
    plotly_panels,
    render,
    spans_decades,
)
from dno.report._tables import table_html
from dno.tracking import (
    AGGREGATE_JSON,
    EVALUATION_JSON,
    LEADERBOARD_JSON,
    LEADERBOARD_MD,
    read_json,
)

__all__ = ["BenchmarkReport", "is_benchmark", "write_benchmark_report"]

_TEST_JSON = EVALUATION_JSON.format(split="test")
#: The statistics of the ranking metric shown beside its mean, and their headings.
_RANKING_COLUMNS = {
    "ci_low": "CI low", "ci_high": "CI high", "relative_change": "vs baseline",
    "wilcoxon_p_holm": "Holm p", "hedges_g": "Hedges' g", "verdict": "verdict",
}  # fmt: skip


def _canonical(board: dict[str, Any]) -> dict[str, Any]:
    """``leaderboard.json`` with the metric table's names, also for a file written before they
    changed (``one_step_rel_l2`` is ``rel_l2``; its row keys ``one_step_rel_l2_mean`` ...)."""
    aliases = [(alias, m.name) for m in METRICS.values() for alias in m.aliases]
    name = canonical_name

    def row_key(key: str) -> str:
        for alias, new in aliases:
            if key.startswith(alias + "_"):
                return new + key[len(alias) :]
        return key

    board = dict(board)
    for part in ("metrics", "values", "summaries", "comparisons", "nonfinite"):
        if isinstance(board.get(part), dict):
            board[part] = {name(k): v for k, v in board[part].items()}
    board["ranking_metric"] = name(str(board.get("ranking_metric", "rollout_rel_l2")))
    board["rows"] = [{row_key(k): v for k, v in row.items()} for row in board.get("rows", [])]
    return board


def _columns(board: dict[str, Any]) -> dict[str, str]:
    """The page's table: rank, model, runs ok, the mean of every metric (the ranking metric
    first, with its interval and paired statistics); row key -> heading."""
    ranking = board["ranking_metric"]
    columns = {"rank": "rank", "model": "model", "runs_ok": "runs ok"}
    metrics = board["metrics"]
    for key in dict.fromkeys([ranking, *metrics]):
        info = metrics.get(key) or {"label": key}
        unit = info.get("unit") or ""
        columns[f"{key}_mean"] = (
            f"{info['label']} ({unit})" if unit and unit != "parameters" else (info["label"])
        )
        if key == ranking:
            columns.update({f"{key}_{stat}": text for stat, text in _RANKING_COLUMNS.items()})
    rows = board.get("rows") or [{}]
    for key, heading in (("optimizer_steps_mean", "optimizer steps"), ("unavailable", "no score")):
        if key in rows[0]:
            columns[key] = heading
    return columns


def is_benchmark(folder: str | Path) -> bool:
    """Whether ``folder`` holds a benchmark's ``leaderboard.json`` or an aggregate's
    ``aggregate.json`` (a page :func:`write_benchmark_report` draws)."""
    return (Path(folder) / LEADERBOARD_JSON).is_file() or is_aggregate(folder)


def write_benchmark_report(
    folder: str | Path, out: str | Path | None = None, *, interactive: bool = True
) -> BenchmarkReport:
    """Write the page of a benchmark folder (``dno benchmark``: its ``leaderboard.json``) or of
    an aggregate of benchmarks (``dno benchmark --aggregate``: its ``aggregate.json``) into
    ``out`` (default ``folder/report``).

    Raises:
        UsageError: ``folder`` holds neither file.
        DnoError: interactive figures without plotly.
    """
    folder = Path(folder)
    if is_aggregate(folder):
        source, writer, draw = AGGREGATE_JSON, "dno benchmark --aggregate", draw_aggregate
    else:
        source, writer, draw = LEADERBOARD_JSON, "dno benchmark", _draw
    return write_page(folder, out, source, writer, draw, interactive)


def _draw(
    document: dict[str, Any], folder: Path, target: Path, interactive: bool
) -> tuple[list[Rendered], str]:
    """The benchmark's figures (rendered into ``target``) and its page."""
    board = _canonical(document)
    group = str(board["protocol"]["name"])
    shown = dict.fromkeys([board["ranking_metric"], "rollout_rel_l2", "rel_l2"])
    plots = [_boxes(board, metric) for metric in shown if metric in board["values"]]
    plots.append(_curves(board, folder))
    if board.get("regimes"):
        plots.append(_regime_errors(board))
    if any(c.get("expected") for c in (board.get("tuning_curves") or {}).values()):
        plots.insert(0, _tuning_curves(board))
    figures = [render(plot, group, target, interactive) for plot in plots]
    markdown = (folder / LEADERBOARD_MD).read_text(encoding="utf-8")
    return figures, _page(board, figures, markdown, interactive)


def _models(board: dict[str, Any]) -> list[str]:
    """The models in the leaderboard's order."""
    return [str(row["model"]) for row in board["rows"]]


def _boxes(board: dict[str, Any], metric: str) -> Plot:
    """One box per model of a metric's per-seed values (test split)."""
    models = _models(board)
    label = (board["metrics"].get(metric) or {"label": metric})["label"]
    values = [[v for v in board["values"][metric][m] if v is not None] for m in models]
    baseline = board["protocol"]["baseline"]
    colors = [color(1) if m == baseline else color(0) for m in models]
    logy = spans_decades([v for vs in values for v in vs])
    static = partial(
        draw_boxes, values=values, labels=models, colors=colors,
        legend={"model": color(0), "baseline": color(1)}, ylabel=f"{label} (test)",
        legend_title="", logy=logy,
    )  # fmt: skip

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        for model, ys, hue in zip(models, values, colors, strict=True):
            fig.add_box(y=ys, name=model, boxpoints="all", jitter=0.3, pointpos=0,
                        marker_color=hue, showlegend=False)  # fmt: skip
        fig.update_yaxes(title_text=f"{label} (test)", type="log" if logy else "linear")
        return fig.update_layout(height=440)

    seeds = len(board["seeds"])
    caption = (
        f"{label} on the test split, one point per training seed ({seeds} seeds; the same data "
        f"for all), models in the leaderboard's order; the baseline ({baseline}) in orange."
    )
    return Plot(f"box_{metric}", f"{label} across models", caption, static, interactive)


def _regime_errors(board: dict[str, Any]) -> Plot:
    """Each model's mean ranking metric and its interval in every regime."""
    metric, models = board["ranking_metric"], _models(board)
    regimes = {"in_distribution": board["summaries"]}
    regimes.update({name: r["summaries"] for name, r in board["regimes"].items()})

    def stat(key: str) -> np.ndarray:
        return np.array(
            [[_number(regimes[r].get(metric, {}).get(m, {}).get(key)) for r in regimes]
             for m in models]
        )  # fmt: skip

    means, lows, highs = stat("mean"), stat("ci_low"), stat("ci_high")
    label = (board["metrics"].get(metric) or {"label": metric})["label"]
    colors = [color(k) for k in range(len(models))]
    logy = spans_decades([float(v) for v in means[np.isfinite(means)]])
    names = list(regimes)
    static = partial(
        draw_regime_errors, means=means, lows=lows, highs=highs, models=models, regimes=names,
        colors=colors, ylabel=label, logy=logy,
    )  # fmt: skip

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        for k, model in enumerate(models):
            fig.add_scatter(
                x=names, y=means[k], name=model, mode="lines+markers",
                line={"color": colors[k]},
                error_y={"type": "data", "symmetric": False, "array": highs[k] - means[k],
                         "arrayminus": means[k] - lows[k]},
            )  # fmt: skip
        fig.update_yaxes(title_text=label, type="log" if logy else "linear")
        return fig.update_layout(height=440)

    caption = (
        f"{label} by regime: the mean over the seeds with its 95% bootstrap interval, per "
        "model; in_distribution is the test split, the others are test data beyond the "
        "training priors or on a finer grid (no point: the model has no score there)."
    )
    return Plot(f"regimes_{metric}", f"{label} by regime", caption, static, interactive)


def _number(value: Any) -> float:
    return float(value) if isinstance(value, int | float) else math.nan


def _regime_sections(board: dict[str, Any]) -> list[str]:
    """A table per regime beyond the test split, as the leaderboard's."""
    parts = []
    for name, regime in (board.get("regimes") or {}).items():
        view = {
            "ranking_metric": board["ranking_metric"],
            "metrics": {k: board["metrics"].get(k, {"label": k}) for k in regime["metrics"]},
            "rows": regime["rows"],
        }
        parts += [
            f"<section id='regime-{html.escape(name)}'><h2>Regime: {html.escape(name)}</h2>",
            table_html(list(_columns(view).values()), _cells(view)),
            "<p class='muted'>Test data only (never seen by training, selection or tuning); "
            f"how they were drawn: leaderboard.md. Files: {html.escape(', '.join(regime['data']))}"
            ".</p></section>",
        ]
    return parts


def _curve(path: Path) -> tuple[np.ndarray, np.ndarray] | None:
    if not path.is_file():
        return None
    curve = read_json(path)["rollout"]["error_curve"]
    return np.asarray(curve["time"], dtype=float), np.asarray(curve["relative_l2"], dtype=float)


def _curves(board: dict[str, Any], folder: Path) -> Plot:
    """The rollout relative L2 against time (in delays), the mean over seeds, one line per model."""
    lines = []
    for k, model in enumerate(_models(board)):
        runs = [r for r in board["runs"] if r["model"] == model and r["status"] != "failed"]
        curves = [c for r in runs if (c := _curve(folder / r["path"] / _TEST_JSON)) is not None]
        if not curves:
            continue
        t = curves[0][0]
        mean = np.mean([np.interp(t, ct, cy) for ct, cy in curves], axis=0)
        keep = np.isfinite(mean)
        lines.append(Line(t[keep], mean[keep], f"{model} ({len(curves)})", color(k)))
    horizon = board["protocol"]["evaluation"]["horizon_delays"]
    panel = Panel(lines, "", "time after the window's end (delays)", "relative L2 (test)")
    if spans_decades([float(v) for line in lines for v in line.y]):
        panel = Panel(lines, "", panel.xlabel, panel.ylabel, logy=True)
    caption = (
        f"Rollout error on the test split over the {horizon}-delay horizon: the relative L2 at "
        "each predicted slice, averaged over the windows and then over the seeds (in brackets: "
        "how many seeds)."
    )
    return Plot(
        "rollout_curves", "Rollout error against time", caption,
        partial(draw_panels, panels=[panel]), lambda: plotly_panels([panel]),
    )  # fmt: skip


def _tuning_curves(board: dict[str, Any]) -> Plot:
    """Each model's expected best validation score of n trials, with one standard deviation."""
    curves = {m: c for m, c in board["tuning_curves"].items() if c.get("expected")}
    models = list(curves)
    mean = [np.asarray(curves[m]["expected"], dtype=float) for m in models]
    sd = [np.asarray(curves[m]["sd"], dtype=float) for m in models]
    colors = [color(k) for k in range(len(models))]
    objective = next(iter(curves.values()))["objective"]
    logy = spans_decades([float(v) for y in mean for v in y])
    static = partial(
        draw_tuning_curves, mean=mean, sd=sd, labels=models, colors=colors,
        ylabel=f"expected best {objective}", logy=logy,
    )  # fmt: skip

    def interactive() -> Any:
        import plotly.graph_objects as go

        fig = go.Figure()
        for model, y, spread, hue in zip(models, mean, sd, colors, strict=True):
            n = list(range(1, len(y) + 1))
            fig.add_scatter(x=n + n[::-1], y=list(y + spread) + list(y - spread)[::-1],
                            fill="toself", fillcolor=hue, opacity=0.15, line={"width": 0},
                            hoverinfo="skip", showlegend=False)  # fmt: skip
            fig.add_scatter(x=n, y=list(y), mode="lines+markers", name=model,
                            line={"color": hue})  # fmt: skip
        fig.update_xaxes(title_text="trials n")
        fig.update_yaxes(title_text=f"expected best {objective}", type="log" if logy else "linear")
        return fig.update_layout(height=440)

    caption = (
        f"Tuning curves: the expected best {objective} (validation split) of n trials drawn "
        "from each model's trials, with one standard deviation (Dodge et al. 2019), computed "
        "from the trials without re-running any. A curve still falling at its last n says the "
        "search had not converged; curves that cross say the ranking depends on the budget."
    )
    return Plot("tuning_curves", "Tuning curves", caption, static, interactive)


def _tuning_rows(board: dict[str, Any]) -> list[dict[str, Any]]:
    """One row per model of a tuned benchmark: its search's trials, best score, seconds, flag
    and chosen hyperparameters."""
    flagged = (board.get("ledger") or {}).get("flagged", {})
    rows = []
    for model, record in (board.get("tuning") or {}).items():
        params = ", ".join(f"{k}={_value(v)}" for k, v in sorted(record["params"].items()))
        rows.append({
            "model": model, "trials": record["trials"],
            f"best {record['objective']}": record["best_value"],
            "trial": record["best_trial"], "tuning s": round(record["wall_seconds"]),
            "tuning CPU s": round(record["cpu_seconds"]),
            "flagged": ", ".join(f"{k} {v:.2f}x median" for k, v in flagged.get(model, {}).items()),
            "chosen hyperparameters": params,
        })  # fmt: skip
    return rows


def _value(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _cells(board: dict[str, Any]) -> list[dict[str, Any]]:
    rows, ranking = [], board["ranking_metric"]
    for row in board["rows"]:
        cells = {heading: row.get(key) for key, heading in _columns(board).items()}
        change = row.get(f"{ranking}_relative_change")
        cells["vs baseline"] = (
            None if change is None or not math.isfinite(change) else f"{100 * change:+.1f}%"
        )
        if row.get("baseline"):
            cells["model"] = f"{row['model']} (baseline)"
        rows.append(cells)
    return rows


def _tuning_section(board: dict[str, Any]) -> list[str]:
    rows = _tuning_rows(board)
    if not rows:
        return []
    return [
        "<section id='tuning'><h2>Tuning (validation split)</h2>",
        table_html(list(rows[0]), rows),
        "<p class='muted'>Every model searched with the same budget; seconds: the trials' "
        "training epochs, summed; flagged: above 1.25 times the models' median. Each study is "
        "in tuning/MODEL/ (summary.csv: every trial).</p></section>",
    ]


def _page(board: dict[str, Any], figures: list[Rendered], markdown: str, interactive: bool) -> str:
    protocol = board["protocol"]
    title = f"Benchmark: {protocol['name']}" + (
        f" (budget {protocol['budget']})" if protocol.get("budget") else ""
    )
    wall = board.get("wall_seconds")
    facts = (
        f"{protocol['family']}, {protocol['data']['n']} trajectories, "
        f"{len(board['seeds'])} seeds, horizon {protocol['evaluation']['horizon_delays']} "
        f"delays, baseline {protocol['baseline']}; dno {board['dno_version']}"
        + (f"; this invocation {wall / 60:.1f} min" if wall else "")
    )
    parts = [
        page_top(title, facts, interactive),
        f"<p>{html.escape(protocol.get('description') or '')}</p>",
        "<section id='leaderboard'><h2>Leaderboard (test split)</h2>",
        table_html(list(_columns(board).values()), _cells(board)),
        f"<p class='muted'>Means over the seeds; CI: 95% percentile-bootstrap interval of the "
        f"mean {html.escape(board['ranking_metric'])}; Holm p: paired Wilcoxon against the "
        "baseline after Holm's correction (none when too few seeds could ever reject). Each run "
        f"kept the epoch with the best {html.escape(str(board.get('select', 'val_rel_l2')))}."
        "</p>",
        *(
            f"<p>{html.escape(str(board[key]))}</p>"
            for key in ("configurations", "variance")
            if board.get(key)
        ),
        "</section>",
        *_regime_sections(board),
        *_tuning_section(board),
        "<section id='figures'><h2>Figures</h2>",
        *(figure_block(f) for f in figures),
        "</section><section id='tables'><h2>The leaderboard file</h2>",
        f"<pre>{html.escape(markdown)}</pre></section>",
        "<footer class='muted'><p>From leaderboard.json and the runs' evaluation_test.json "
        "(dno report BENCHMARK_FOLDER redraws this page).</p></footer></body></html>\n",
    ]
    return "".join(parts)
