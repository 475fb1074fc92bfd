"""A page drawn from one JSON file of a folder: a benchmark's ``leaderboard.json`` or an
aggregate's ``aggregate.json``. The folder is checked, the page's folder made (with plotly's
script when interactive), the page drawn and ``index.html`` written atomically."""

from __future__ import annotations

import html
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dno._io import atomic_path
from dno.errors import UsageError
from dno.report._html import CSS, STATUS_SCRIPT
from dno.report._plotting import Rendered, plotly_js, require_plotly, write_plotly_js
from dno.tracking import REPORT_FOLDER, REPORT_INDEX, read_json

__all__ = ["BenchmarkReport", "page_top", "write_page"]

#: Draws a page: (the JSON document, its folder, the page's folder, interactive) -> the
#: figures rendered into the page's folder, and the page's HTML.
DrawPage = Callable[[dict[str, Any], Path, Path, bool], tuple[list[Rendered], str]]


@dataclass
class BenchmarkReport:
    """What :func:`dno.report.write_benchmark_report` wrote: ``out/index.html`` and its
    figures."""

    out: Path
    index: Path
    figures: list[Rendered] = field(default_factory=list)
    seconds: float = 0.0


def write_page(
    folder: Path, out: str | Path | None, source: str, writer: str, draw: DrawPage,
    interactive: bool,
) -> BenchmarkReport:  # fmt: skip
    """Draw the page of ``folder/source`` into ``out`` (default ``folder/report``).

    Raises:
        UsageError: ``folder`` holds no ``source`` (``writer`` is the command that writes it).
        DnoError: interactive figures without plotly.
    """
    started = time.perf_counter()
    if not (folder / source).is_file():
        raise UsageError(
            f"{str(folder)!r} holds no {source}; expected a folder written by {writer}"
        )
    if interactive:
        require_plotly()
    document = read_json(folder / source)
    target = Path(out) if out is not None else folder / REPORT_FOLDER
    target.mkdir(parents=True, exist_ok=True)
    if interactive:
        write_plotly_js(target)  # for each figure's own page
    figures, page = draw(document, folder, target, interactive)
    with atomic_path(target / REPORT_INDEX) as tmp:
        tmp.write_text(page, encoding="utf-8")
    return BenchmarkReport(target, target / REPORT_INDEX, figures, time.perf_counter() - started)


def page_top(title: str, facts: str, interactive: bool) -> str:
    """The page's head (plotly's script inline when ``interactive``), its title and a muted
    line of ``facts``: the HTML up to the end of the ``<header>``."""
    head = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(title)}</title><style>{CSS}</style>"
    )
    if interactive:
        head += f"<script type='text/javascript'>{plotly_js()}</script>"
    return (
        f"{head}</head><body>{STATUS_SCRIPT}<header><h1>{html.escape(title)}</h1>"
        f"<p class='muted'>{html.escape(facts)}</p></header>"
    )
