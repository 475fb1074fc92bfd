"""Tables of the report: every trial of a study, and comparison tables found on disk.

Each table is written as a page of its own (``tables/NAME.html``, no script) and as CSV, and
the smaller ones are shown in ``index.html`` too.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from dno._io import atomic_path
from dno._names import slug
from dno.errors import UsageError
from dno.report._plotting import fmt
from dno.report._records import StudyData
from dno.tracking import (
    COMPARISON_CSV,
    COMPARISON_MD,
    REPORT_INDEX,
    REPORT_TABLES,
    read_csv,
    write_csv,
)

__all__ = [
    "Table",
    "comparison_tables",
    "has_comparison",
    "table_html",
    "trial_rows",
    "write_table",
]

CSS = """
body{font-family:system-ui,-apple-system,"Segoe UI",sans-serif;margin:24px auto;max-width:1300px;
color:#1d2330;padding:0 16px;line-height:1.45}
table{border-collapse:collapse;font-size:13px;margin:8px 0 16px}
th,td{border-bottom:1px solid #e1e4ea;padding:4px 10px;text-align:right;white-space:nowrap}
th{background:#f3f5f8;position:sticky;top:0}
td.text,th.text{text-align:left;white-space:normal}
tr.complete td:first-child{border-left:3px solid #2ca02c}
tr.pruned td:first-child{border-left:3px solid #bbb}
tr.failed td:first-child,tr.interrupted td:first-child{border-left:3px solid #d62728}
.scroll{overflow-x:auto}
"""


@dataclass
class Table:
    """A table written to disk (paths relative to the report folder).

    Attributes:
        key: a unique name (the file stem).
        title: shown above it.
        columns: column names.
        rows: the cells, one dict per row.
        html: the table's own page.
        csv: the same table as CSV.
        source: where it came from (a file), if read from disk.
    """

    key: str
    title: str
    columns: list[str]
    rows: list[dict[str, Any]]
    html: str = ""
    csv: str = ""
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "title": self.title,
            "html": self.html,
            "csv": self.csv,
            "rows": len(self.rows),
            "source": self.source,
        }


def trial_rows(data: StudyData) -> tuple[list[str], list[dict[str, Any]]]:
    """Every trial: number, state, objectives, searched parameters, epochs, seconds, reason."""
    names = [p.name for p in data.params]
    columns = ["trial", "state", *data.objectives, *names, "epochs", "seconds", "reason"]
    rows = []
    for t in data.trials:
        row: dict[str, Any] = {"trial": t.number, "state": t.state}
        values: list[float | None] = [*t.values] if t.values else [None] * len(data.objectives)
        row.update(zip(data.objectives, values, strict=True))
        row.update({n: t.params.get(n) for n in names})
        row.update({"epochs": t.epochs, "seconds": t.seconds, "reason": t.reason})
        rows.append(row)
    return columns, rows


def _cell(value: Any, column: str) -> str:
    if value is None:
        return "<td>–</td>"
    if column == "seconds" and isinstance(value, float):
        return f"<td>{value:.1f}</td>"
    text = html.escape(fmt(value))
    return f"<td>{text}</td>" if isinstance(value, int | float) else f"<td class='text'>{text}</td>"


def table_html(columns: list[str], rows: list[dict[str, Any]]) -> str:
    """An HTML table (escaped); a row's ``state`` becomes its class."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(
        f"<tr class='{html.escape(str(row.get('state', '')))}'>"
        + "".join(_cell(row.get(c), c) for c in columns)
        + "</tr>"
        for row in rows
    )
    table = f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
    return f"<div class='scroll'>{table}</div>"


def write_table(table: Table, out: Path, back: str = f"../{REPORT_INDEX}") -> Table:
    """Write ``tables/KEY.html`` and ``tables/KEY.csv``; fill the table's paths."""
    folder = out / REPORT_TABLES
    folder.mkdir(parents=True, exist_ok=True)
    page = (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(table.title)}</title><style>{CSS}</style></head><body>"
        f"<p><a href='{back}'>← report</a></p><h1>{html.escape(table.title)}</h1>"
        f"{table_html(table.columns, table.rows)}</body></html>\n"
    )
    with atomic_path(folder / f"{table.key}.html") as tmp:
        tmp.write_text(page, encoding="utf-8")
    write_csv(folder / f"{table.key}.csv", table.rows, table.columns)
    table.html = f"{REPORT_TABLES}/{table.key}.html"
    table.csv = f"{REPORT_TABLES}/{table.key}.csv"
    return table


def has_comparison(folder: Path) -> bool:
    """Whether ``folder`` holds a comparison table (``comparison.csv`` or ``comparison.md``)."""
    return (folder / COMPARISON_CSV).is_file() or (folder / COMPARISON_MD).is_file()


def comparison_files(folder: Path) -> list[Path]:
    """The comparison folders under ``folder`` (itself, or its sub-folders) with a table."""
    if has_comparison(folder):
        return [folder]
    return sorted(p for p in folder.iterdir() if p.is_dir() and has_comparison(p))


def comparison_tables(folders: list[Path]) -> tuple[list[Table], dict[str, str]]:
    """Comparison tables (``comparison.csv``; ``comparison.md`` shown as text if no CSV).

    Returns:
        ``(tables, markdown)``: the CSV tables, and the Markdown text of those without a CSV.

    Raises:
        UsageError: a folder that does not exist or holds no comparison.
    """
    tables: list[Table] = []
    markdown: dict[str, str] = {}
    for folder in folders:
        if not folder.is_dir():
            raise UsageError(f"--compare {str(folder)!r}: no such folder")
        found = comparison_files(folder)
        if not found:
            raise UsageError(
                f"--compare {str(folder)!r}: no comparison.csv or comparison.md in it "
                "or its sub-folders (written by the comparison command)"
            )
        for path in found:
            key = f"compare-{slug(path.name)}"
            if (source := path / COMPARISON_CSV).is_file():
                rows = read_csv(source)
                title, columns = f"Comparison: {path.name}", list(rows[0]) if rows else []
                tables.append(Table(key, title, columns, rows, source=str(source)))
            else:
                markdown[path.name] = (path / COMPARISON_MD).read_text(encoding="utf-8")
    return tables, markdown
