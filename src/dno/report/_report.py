"""``dno report``: read studies back from storage and disk, write figures, tables, JSON, HTML."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from dno import __version__
from dno._io import atomic_path
from dno._names import slug
from dno.errors import UsageError
from dno.report._analysis import IMPORTANCE_METHODS, choose_pairs, parse_pairs
from dno.report._collect import load_study_data
from dno.report._html import StudySection, index_page
from dno.report._plotting import Plot, Rendered, render, require_plotly, write_plotly_js
from dno.report._records import StudyData, TrialRecord
from dno.report._run_figures import (
    box_plots,
    convergence_plot,
    copy_artifacts,
    evaluation_plots,
    evaluations,
)
from dno.report._study_figures import (
    heatmap_plots,
    history_plot,
    importance_plot,
    parallel_plot,
    pareto_plot,
    slice_plot,
)
from dno.report._tables import Table, comparison_tables, has_comparison, trial_rows, write_table
from dno.tracking import (
    REPORT_FIGURES,
    REPORT_FOLDER,
    REPORT_INDEX,
    REPORT_JSON,
    REPORT_TABLES,
    SHOWN_TRIALS,
    write_json,
)

__all__ = ["ReportResult", "write_report"]

#: Best trials whose runs (curves, predictions, evaluations) the report shows.
BEST_TRIALS = SHOWN_TRIALS


@dataclass
class ReportResult:
    """What :func:`write_report` wrote.

    Attributes:
        out: the report folder.
        index: ``out/index.html``.
        json: ``out/visualization_report.json``.
        figures: every figure (paths relative to ``out``).
        studies: the studies as read.
        notes: remarks shown in the report (what was left out and why).
        seconds: wall time.
    """

    out: Path
    index: Path
    json: Path
    figures: list[Rendered] = field(default_factory=list)
    studies: list[StudyData] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0


def write_report(
    studies: Sequence[str],
    out: str | Path | None = None,
    results: str | Path = "hyperparameter_results",
    storage: str | None = None,
    pairs: Sequence[str] | None = None,
    compare: Sequence[str | Path] | None = None,
    interactive: bool = True,
    importance: str = "ped-anova",
    log: Callable[[str], None] | None = None,
) -> ReportResult:
    """Write the report of one or more studies from what is in their storage and folders.

    Args:
        studies: study folders (``RESULTS/NAME``) or names (in ``results`` / ``storage``).
        out: the report folder (default: ``STUDY/report`` for one study, ``report`` for several).
        results: where study names are looked up.
        storage: a database URL (or journal file) holding the studies.
        pairs: heatmap pairs ``"a:b"`` (default: pairs of the most important parameters).
        compare: folders holding comparison tables (``comparison.csv`` / ``.md``).
        interactive: also write the plotly figures (needs plotly).
        importance: Optuna's importance evaluator, ``ped-anova`` or ``fanova``.
        log: receives one line per step.

    Returns:
        The :class:`ReportResult`.

    Raises:
        UsageError: no such study, a bad pair, a missing comparison folder.
        DnoError: plotly is missing (with ``interactive``), or a storage cannot be read.

    Example:
        >>> write_report(["hyperparameter_results/fno-mackey-random"])  # doctest: +SKIP
    """
    started = time.perf_counter()
    say = log or (lambda _: None)
    _check_options(studies, importance, interactive)
    requested = parse_pairs(list(pairs or []))
    loaded = [load_study_data(s, Path(results), storage, importance) for s in studies]
    _check_pairs(requested, loaded)
    folders = [Path(c) for c in compare or []]
    # a study's own comparison (dno compare --study writes it into the study folder)
    folders += [d.folder for d in loaded if has_comparison(d.folder) and d.folder not in folders]
    tables, markdown = comparison_tables(folders)
    default = loaded[0].folder / REPORT_FOLDER if len(loaded) == 1 else Path(REPORT_FOLDER)
    target = Path(out) if out else default
    _prepare(target)
    sections = []
    for data, group in zip(loaded, _groups(loaded), strict=True):
        say(f"study {data.name}: {len(data.trials)} trials, {len(data.complete())} completed")
        sections.append(_study_section(data, group, requested, target, interactive))
    across = [render(p, "all", target, interactive) for p in box_plots(loaded)]
    drawn = [f for s in sections for f in s.figures] + across
    if any(f.html for f in drawn):
        write_plotly_js(target)  # once, for the figures' own pages
    tables = [write_table(t, target) for t in tables]
    notes = [f"{s.data.name}: {n}" for s in sections for n in s.notes] if len(sections) > 1 else []
    result = ReportResult(target, target / REPORT_INDEX, target / REPORT_JSON, drawn, loaded, notes)
    footer = (
        f"generated {_now()} by dno {__version__} from "
        f"{', '.join(str(d.folder) for d in loaded)}; regenerate with: dno report "
        f"{' '.join(studies)}"
    )
    title = f"dno report: {', '.join(d.name for d in loaded)}"
    embed = any(f.fragment for f in drawn)
    page = index_page(title, sections, across, tables, markdown, notes, embed, footer)
    with atomic_path(result.index) as tmp:
        tmp.write_text(page, encoding="utf-8")
    result.seconds = time.perf_counter() - started
    _write_json(result, sections, across, tables)
    return result


def _check_options(studies: Sequence[str], importance: str, interactive: bool) -> None:
    if not studies:
        raise UsageError("no study given")
    if importance not in IMPORTANCE_METHODS:
        raise UsageError(
            f"importance {importance!r}; expected one of {', '.join(IMPORTANCE_METHODS)}"
        )
    if interactive:
        require_plotly()


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _check_pairs(requested: list[tuple[str, str]], studies: list[StudyData]) -> None:
    """A requested pair must have been searched (both parameters) by at least one study."""
    for a, b in requested:
        if not any({a, b} <= {p.name for p in s.params if p.varies} for s in studies):
            searched = sorted({p.name for s in studies for p in s.params if p.varies})
            raise UsageError(
                f"--pairs {a}:{b}: no study searched both; searched parameters: "
                f"{', '.join(searched) or 'none'}"
            )


def _prepare(out: Path) -> None:
    """Make the folder; clear the figures and tables of an earlier report there (only ours)."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {str(out)!r} is a file; expected a folder")
    if (out / REPORT_JSON).is_file():
        for name in (REPORT_FIGURES, REPORT_TABLES):
            shutil.rmtree(out / name, ignore_errors=True)
    out.mkdir(parents=True, exist_ok=True)


def _groups(studies: list[StudyData]) -> list[str]:
    """A unique folder name per study (``all`` is kept for figures across studies)."""
    seen: set[str] = {"all"}
    groups = []
    for s in studies:
        base = slug(s.name)
        name, k = base, 2
        while name in seen:
            name, k = f"{base}-{k}", k + 1
        seen.add(name)
        groups.append(name)
    return groups


def _study_section(
    data: StudyData, group: str, requested: list[tuple[str, str]], out: Path, interactive: bool
) -> StudySection:
    """Figures, copied run figures and the trials table of one study."""
    section = StudySection(data, group, notes=list(data.notes))
    columns, rows = trial_rows(data)
    section.trials_table = write_table(
        Table(f"{group}-trials", f"Trials of {data.name}", columns, rows), out
    )
    if not data.complete():
        section.notes.append("no completed trials: nothing to plot")
        return section
    pairs, pair_notes = choose_pairs(data, requested or None)
    section.notes += pair_notes
    section.pairs = pairs
    if data.importance is not None and data.importance.note:
        section.notes.append(f"importance: {data.importance.note}")
    best = data.best(BEST_TRIALS)
    evaluated = evaluations(best)
    plots = _study_plots(data, pairs, best, evaluated)
    section.figures = [render(p, group, out, interactive) for p in plots]
    section.artifacts = copy_artifacts(best, group, out)
    if not evaluated:
        runs = " ".join(str(t.run_dirs()[0]) for t in best)
        section.notes.append(
            "no rollout or spectral diagnostics: the best trials were not "
            f"evaluated (run: dno evaluate RUN for {runs})"
        )
    return section


def _study_plots(
    data: StudyData,
    pairs: list[tuple[str, str]],
    best: list[TrialRecord],
    evaluated: list[tuple[TrialRecord, dict[str, Any]]],
) -> list[Plot]:
    candidates: list[Plot | None] = [
        history_plot(data),
        pareto_plot(data),
        importance_plot(data),
        *heatmap_plots(data, pairs),
        slice_plot(data),
        parallel_plot(data),
        convergence_plot(data, best),
        *evaluation_plots(evaluated),
    ]
    return [p for p in candidates if p is not None]


def _trial_json(data: StudyData, t: TrialRecord) -> dict[str, Any]:
    return {
        "trial": t.number,
        "values": dict(zip(data.objectives, t.values or [], strict=False)),
        "params": t.params,
        "folder": str(t.folder),
    }


def _study_json(s: StudySection) -> dict[str, Any]:
    d = s.data
    imp = d.importance
    return {
        "name": d.name,
        "folder": str(d.folder),
        "group": s.group,
        "model": d.model,
        "family": d.family,
        "search": d.search,
        "objectives": d.objectives,
        "directions": d.directions,
        "searched_parameters": [p.name for p in d.params],
        "totals": d.counts(),
        "best": [_trial_json(d, t) for t in d.best(BEST_TRIALS)],
        "worst": [_trial_json(d, t) for t in d.worst(BEST_TRIALS)],
        "pareto_front": [t.number for t in d.pareto_front()] if d.multi else None,
        "importance": None
        if imp is None
        else {
            "method": imp.method,
            "values": imp.values,
            "spearman": imp.spearman,
            "eta": imp.eta,
            "trials": imp.trials,
            "note": imp.note,
        },
        "heatmap_pairs": [list(pair) for pair in s.pairs],
        "confirmation": d.confirmation,
        "notes": s.notes,
        "figures": [f.to_json() for f in s.figures],
        "artifacts": [a.to_json() for a in s.artifacts],
        "trials_table": s.trials_table.to_json() if s.trials_table else None,
    }


def _write_json(
    result: ReportResult, sections: list[StudySection], across: list[Rendered], tables: list[Table]
) -> None:
    totals: dict[str, int] = {"studies": len(sections)}
    for s in sections:
        for k, n in s.data.counts().items():
            totals[k] = totals.get(k, 0) + n
    document = {
        "format": "dno-report",
        "format_version": 1,
        "dno_version": __version__,
        "created": _now(),
        "seconds": round(result.seconds, 3),
        "index": REPORT_INDEX,
        "totals": totals,
        "models": sorted({s.data.model for s in sections}),
        "families": sorted({s.data.family for s in sections}),
        "studies": [_study_json(s) for s in sections],
        "figures": [f.to_json() for f in result.figures],
        "artifacts": [a.to_json() for s in sections for a in s.artifacts],
        "tables": [
            t.to_json() for t in [*(s.trials_table for s in sections if s.trials_table), *tables]
        ],
        "across_studies": [f.to_json() for f in across],
    }
    write_json(result.json, document)
