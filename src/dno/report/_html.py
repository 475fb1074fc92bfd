"""``index.html``: one self-contained page, headline numbers first.

CSS is inline, plotly.js is embedded once in the head (from the plotly package, no CDN), every
interactive figure is inline, PNG files are linked relatively: the folder works offline, moved
anywhere. A last script counts the figures plotly drew and records script errors in
``data-*`` attributes of ``<body>``, so a headless browser can check the page.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any

from dno.report._plotting import Rendered, fmt, plotly_js
from dno.report._records import StudyData, TrialRecord
from dno.report._run_figures import Artifact
from dno.report._tables import CSS as TABLE_CSS
from dno.report._tables import Table, table_html, trial_rows

__all__ = ["StudySection", "index_page"]

CSS = (
    TABLE_CSS
    + """
header{border-bottom:2px solid #1d2330;margin-bottom:12px}
h1{margin:0 0 4px;font-size:26px} h2{margin-top:36px;border-bottom:1px solid #ccd2dc}
h3{margin:4px 0;font-size:16px}
nav a{margin-right:14px} .muted{color:#5b6475;font-size:13px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0}
.card{border:1px solid #dde2ea;border-radius:8px;padding:10px 14px;min-width:170px;
background:#fafbfc}
.card .value{font-size:22px;font-weight:600} .card .label{color:#5b6475;font-size:12px}
figure{margin:18px 0;padding:10px;border:1px solid #e6e9ef;border-radius:8px}
figure img{max-width:100%} figcaption{color:#434b5c;font-size:13px;margin-top:4px}
.notes{background:#fff8e6;border-left:4px solid #f0b400;padding:6px 12px;font-size:13px}
.empty{background:#fdeeee;border-left:4px solid #d62728;padding:10px 14px}
.gallery{display:grid;grid-template-columns:repeat(auto-fill,minmax(360px,1fr));gap:10px}
.gallery figure{margin:0} pre{background:#f6f7f9;padding:10px;overflow-x:auto}
summary{cursor:pointer;font-weight:600;margin:8px 0}
"""
)

STATUS_SCRIPT = """<script>
(function(){
  var errors = 0;
  window.addEventListener('error', function(){ errors += 1; document.body.dataset.scriptErrors = errors; });
  window.addEventListener('load', function(){
    document.body.dataset.scriptErrors = errors;
    document.body.dataset.figuresDrawn = document.querySelectorAll('.js-plotly-plot').length;
  });
})();
</script>"""  # noqa: E501


@dataclass
class StudySection:
    """What ``index.html`` shows for one study."""

    data: StudyData
    group: str
    figures: list[Rendered] = field(default_factory=list)
    artifacts: list[Artifact] = field(default_factory=list)
    trials_table: Table | None = None
    notes: list[str] = field(default_factory=list)
    pairs: list[tuple[str, str]] = field(default_factory=list)


def _esc(value: Any) -> str:
    return html.escape(str(value))


def _card(value: str, label: str) -> str:
    return f"<div class='card'><div class='value'>{_esc(value)}</div><div class='label'>{_esc(label)}</div></div>"  # noqa: E501


def _values(data: StudyData, t: TrialRecord) -> str:
    return ", ".join(
        f"{n} = {fmt(v)}" for n, v in zip(data.objectives, t.values or [], strict=False)
    )


def _params(t: TrialRecord) -> str:
    return ", ".join(f"{k} = {fmt(v)}" for k, v in sorted(t.params.items())) or "(none searched)"


def headline_rows(sections: list[StudySection]) -> str:
    """The summary table: one row per study, the best trial and its confirmation first."""
    columns = [
        "study",
        "model",
        "family",
        "search",
        "trials",
        "complete",
        "pruned",
        "failed",
        "best trial",
        "best",
        "confirmed on test",
        "best parameters",
    ]
    rows = []
    for s in sections:
        d, counts, best = s.data, s.data.counts(), s.data.best(1)
        rows.append(
            {
                "study": d.name,
                "model": d.model,
                "family": d.family,
                "search": d.search,
                "trials": counts["trials"],
                "complete": counts["complete"],
                "pruned": counts["pruned"],
                "failed": counts["failed"] + counts["interrupted"],
                "best trial": best[0].number if best else None,
                "best": _values(d, best[0]) if best else "no completed trial",
                "confirmed on test": _confirmed(d),
                "best parameters": _params(best[0]) if best else "",
            }
        )
    return table_html(columns, rows)


def _confirmed(data: StudyData) -> str | None:
    """The chosen configuration's test score after the confirmation (the test counterpart of
    the first objective, else the rollout error), or None."""
    chosen = [r for r in data.confirmation if r.get("chosen") in (True, "True", 1)]
    if not chosen or not data.objectives:
        return None
    row, objective = chosen[0], data.objectives[0]
    name = "test_" + objective[4:] if objective.startswith("val_") else "test_rollout_rel_l2"
    value = row.get(name)
    if not isinstance(value, int | float):
        return None
    return f"{fmt(value)} {name} (trial {row.get('trial')}, fresh seeds)"


def figure_block(fig: Rendered) -> str:
    """A figure: the interactive version inline (or the PNG), caption and links to both files."""
    body = fig.fragment if fig.fragment else f"<img src='{_esc(fig.png)}' alt='{_esc(fig.title)}'>"
    links = f"<a href='{_esc(fig.png)}'>PNG</a>"
    if fig.html:
        links += f" · <a href='{_esc(fig.html)}'>interactive page</a>"
    return (
        f"<figure id='{_esc(fig.group)}-{_esc(fig.key)}' class='report-figure' "
        f"data-interactive='{'yes' if fig.fragment else 'no'}'><h3>{_esc(fig.title)}</h3>"
        f"{body}<figcaption>{_esc(fig.caption)} {links}</figcaption></figure>"
    )


def _study_cards(data: StudyData) -> str:
    counts, best = data.counts(), data.best(1)
    cards = [
        _card(str(counts["trials"]), f"trials ({data.n_trials} planned)"),
        _card(str(counts["complete"]), "completed"),
        _card(str(counts["pruned"]), "pruned"),
        _card(str(counts["failed"] + counts["interrupted"]), "failed or interrupted"),
    ]
    if best:
        cards.insert(
            0,
            _card(
                fmt((best[0].values or [0.0])[0]),
                f"best {data.objectives[0]} (trial {best[0].number})",
            ),
        )
    if data.multi:
        cards.insert(1, _card(str(len(data.pareto_front())), "trials on the Pareto front"))
    if (confirmed := _confirmed(data)) is not None:
        cards.insert(1, _card(confirmed.split(" (")[0], "confirmed on test (fresh seeds)"))
    return f"<div class='cards'>{''.join(cards)}</div>"


def study_section(s: StudySection) -> str:
    """One study: cards, notes, figures, the best trials' own figures, the top trials."""
    d = s.data
    what = f"{d.search} search of {d.model}" + (f" on {d.family}" if d.family != "-" else "")
    parts = [
        f"<section id='study-{_esc(s.group)}'><h2>Study {_esc(d.name)}</h2>",
        f"<p class='muted'>{_esc(what)}; objectives: "
        f"{_esc(', '.join(f'{o} ({r})' for o, r in zip(d.objectives, d.directions, strict=True)))}"
        f"; searched: {_esc(', '.join(p.name for p in d.params) or 'nothing')}; "
        f"folder {_esc(d.folder)}</p>",
        _study_cards(d),
    ]
    if not d.complete():
        counts = ", ".join(f"{n} {k}" for k, n in d.counts().items() if n and k != "trials")
        parts.append(
            f"<p class='empty'><b>No completed trials</b> in this study "
            f"({d.counts()['trials']} trials{': ' + counts if counts else ''}). "
            "There is nothing to plot yet; the trials and their states are listed "
            "below.</p>"
        )
    if s.notes:
        parts.append("<div class='notes'>" + "<br>".join(_esc(n) for n in s.notes) + "</div>")
    parts += [figure_block(f) for f in s.figures]
    if s.artifacts:
        parts.append(_gallery(s.artifacts))
    parts.append(_trials_part(s))
    return "".join(parts) + "</section>"


def _gallery(artifacts: list[Artifact]) -> str:
    """The best trials' own figures, one block per trial; only the best one opened."""
    trials = list(dict.fromkeys(a.trial for a in artifacts))
    parts = ["<h3>The best trials' own figures</h3>"]
    for i, trial in enumerate(trials):
        mine = [a for a in artifacts if a.trial == trial]
        images = "".join(
            f"<figure><img src='{_esc(a.path)}' alt='{_esc(a.title)}' loading='lazy'>"
            f"<figcaption>{_esc(a.title)}</figcaption></figure>"
            for a in mine
        )
        opened = " open" if i == 0 else ""
        parts.append(
            f"<details{opened}><summary>trial {trial} ({len(mine)} figures)</summary>"
            f"<div class='gallery'>{images}</div></details>"
        )
    return "".join(parts)


def _trials_part(s: StudySection) -> str:
    columns, rows = trial_rows(s.data)
    ranked = {t.number: i for i, t in enumerate(s.data.ranked())}
    top = sorted((r for r in rows if r["trial"] in ranked), key=lambda r: ranked[r["trial"]])[:10]
    shown = top if s.data.complete() else rows
    link = ""
    if s.trials_table:
        link = (
            f" <a href='{_esc(s.trials_table.html)}'>all {len(rows)} trials</a> "
            f"(<a href='{_esc(s.trials_table.csv)}'>CSV</a>)"
        )
    title = "Best trials" if s.data.complete() else "Trials"
    return f"<h3>{title}{link}</h3>{table_html(columns, shown)}"


def index_page(
    title: str,
    sections: list[StudySection],
    across: list[Rendered],
    tables: list[Table],
    markdown: dict[str, str],
    notes: list[str],
    interactive: bool,
    footer: str,
) -> str:
    """The whole ``index.html``."""
    nav = ["<a href='#summary'>summary</a>"]
    if across:
        nav.append("<a href='#across'>across studies</a>")
    nav += [f"<a href='#study-{_esc(s.group)}'>{_esc(s.data.name)}</a>" for s in sections]
    if tables or markdown:
        nav.append("<a href='#comparisons'>comparisons</a>")
    head = (
        f"<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{_esc(title)}</title><style>{CSS}</style>"
    )
    if interactive:
        head += f"<script type='text/javascript'>{plotly_js()}</script>"
    parts = [
        head,
        f"</head><body>{STATUS_SCRIPT}<header><h1>{_esc(title)}</h1>",
        f"<p class='muted'>{_esc(footer)}</p><nav>{''.join(nav)}</nav></header>",
        "<section id='summary'><h2>Summary</h2>",
        headline_rows(sections),
    ]
    if notes:
        parts.append("<div class='notes'>" + "<br>".join(_esc(n) for n in notes) + "</div>")
    parts.append("</section>")
    if across:
        parts += [
            "<section id='across'><h2>Across studies</h2>",
            *(figure_block(f) for f in across),
            "</section>",
        ]
    parts += [study_section(s) for s in sections]
    if tables or markdown:
        parts.append("<section id='comparisons'><h2>Comparisons</h2>")
        for t in tables:
            parts.append(
                f"<h3>{_esc(t.title)} <a href='{_esc(t.html)}'>page</a> "
                f"(<a href='{_esc(t.csv)}'>CSV</a>)</h3>{table_html(t.columns, t.rows)}"
            )
        parts += [
            f"<h3>Comparison: {_esc(k)}</h3><pre>{_esc(v)}</pre>" for k, v in markdown.items()
        ]
        parts.append("</section>")
    parts.append(
        "<footer class='muted'><p><a href='visualization_report.json'>"
        "visualization_report.json</a>: totals, models, families, best and worst "
        "trials, every figure's files.</p></footer></body></html>\n"
    )
    return "".join(parts)
