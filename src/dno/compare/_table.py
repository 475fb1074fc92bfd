"""The comparison's outputs: a Markdown table with a note on how to read it, CSV and JSON.

``comparison.json`` is self-describing (the plan, every run, every statistic, what each column
means, the methods), so the HTML report can render it without dno's live objects.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from pathlib import Path
from typing import Any

from dno import __version__
from dno._io import atomic_path
from dno.compare._records import Approach, ComparisonResult, RunRecord
from dno.compare._stats import BOOTSTRAP_RESAMPLES, ApproachStats, min_wilcoxon_pairs
from dno.tracking import (
    COMPARISON_CSV,
    COMPARISON_JSON,
    COMPARISON_MD,
    json_safe,
    write_csv,
    write_json,
)

__all__ = [
    "COLUMNS",
    "comparison_document",
    "csv_rows",
    "format_markdown",
    "format_table",
    "markdown_table",
    "notes",
    "number_cell",
    "write_comparison",
    "write_tables",
]

#: The table's columns and what they mean (also in comparison.json and comparison.md).
COLUMNS: dict[str, str] = {
    "rank": "order by the mean of the metric, best first",
    "approach": "the approach's name; the baseline is marked",
    "seeds ok": "successful runs / seeds; a failed run is left out of every statistic, and "
    "its seed out of the paired test",
    "mean": "mean of the metric over the successful seeds",
    "sd": "sample standard deviation (n - 1) over the successful seeds",
    "95% CI": f"percentile bootstrap interval of the mean ({BOOTSTRAP_RESAMPLES:,} resamples, "
    "seeded); too narrow with a handful of seeds, a description rather than a test",
    "vs baseline": "relative change of the mean: (mean - baseline mean) / |baseline mean|",
    "Wilcoxon p": "two-sided Wilcoxon signed-rank test of the paired per-seed differences "
    "(approach - baseline), zero differences dropped; exact null distribution (exact sign-flip "
    "permutation when differences tie); no p-value when too few seeds could ever reject",
    "Holm p": "the Wilcoxon p-value after Holm's step-down correction across the approaches",
    "Welch p (Holm)": "Welch's unequal-variance t-test of the two groups of seeds (unpaired, "
    "reported alongside), and in brackets after Holm's correction",
    "Hedges' g": "(mean - baseline mean) / pooled sd, times the exact small-sample correction J; "
    "about 0.2 small, 0.5 medium, 0.8 large, and very uncertain with few seeds",
    "verdict": "better or worse when the Holm-adjusted Wilcoxon p < alpha (direction from the "
    "signed ranks and the metric's direction); otherwise not distinguishable, which is not "
    "evidence that the approaches are equal",
}
_DASH = "—"


def number_cell(value: float | None, digits: int = 4) -> str:
    """A table cell: ``digits`` significant digits, or a dash for a missing value."""
    return _DASH if value is None else f"{value:.{digits}g}"


def _p(value: float | None) -> str:
    if value is None:
        return _DASH
    return f"{value:.3f}" if value >= 0.001 else f"{value:.1e}"


def _cells(row: ApproachStats) -> list[str]:
    s = row.summary
    ci = _DASH if s.ci_low is None else f"[{number_cell(s.ci_low)}, {number_cell(s.ci_high)}]"
    name = f"{row.approach} (baseline)" if row.is_baseline else row.approach
    cells = [str(row.rank), name, f"{s.n}/{row.n_seeds}", number_cell(s.mean)]
    cells += [number_cell(s.sd), ci]
    if row.is_baseline:
        return [*cells, _DASH, _DASH, _DASH, _DASH, _DASH, "baseline"]
    change = _DASH if row.relative_change is None else f"{100 * row.relative_change:+.1f}%"
    wilcoxon, welch = row.wilcoxon, row.welch
    assert wilcoxon is not None and welch is not None
    w_p = _p(wilcoxon.p) if wilcoxon.p is not None else wilcoxon.note
    t_p = f"{_p(welch.p)} ({_p(row.welch_p_holm)})" if welch.p is not None else welch.note
    g = _DASH if row.hedges_g is None else f"{row.hedges_g:+.2f}"
    return [*cells, change, w_p, _p(row.wilcoxon_p_holm), t_p, g, row.verdict]


def format_table(rows: list[ApproachStats]) -> str:
    """The ranked table as Markdown, padded so it also reads as plain text."""
    right = {"rank", "mean", "sd", "vs baseline", "Holm p", "Hedges' g"}
    return markdown_table(list(COLUMNS), [_cells(r) for r in rows], right)


def markdown_table(
    header: Sequence[str], body: Sequence[Sequence[str]], right: Collection[str] = ()
) -> str:
    """A Markdown table padded so it also reads as plain text; columns named in ``right`` are
    right-aligned."""
    widths = [max(len(line[i]) for line in [header, *body]) for i in range(len(header))]

    def line(cells: Sequence[str]) -> str:
        padded = [
            c.rjust(w) if h in right else c.ljust(w)
            for c, w, h in zip(cells, widths, header, strict=True)
        ]
        return "| " + " | ".join(padded) + " |"

    rule = [
        "-" * (w - 1) + ":" if h in right else "-" * w for w, h in zip(widths, header, strict=True)
    ]
    return "\n".join([line(header), "| " + " | ".join(rule) + " |", *map(line, body)])


def _headline(result: ComparisonResult) -> str:
    plan = result.plan
    seeds = ", ".join(map(str, plan.seeds))
    direction = "lower" if plan.metric.lower_is_better else "higher"
    return (
        f"{plan.family} data {result.dataset}; metric {plan.metric.label}, {direction} is "
        f"better; seeds {seeds} (paired); alpha = {plan.alpha:g}"
    )


def notes(result: ComparisonResult) -> list[str]:
    """Verdict reasons, failed runs and whether the seeds could ever give a verdict."""
    plan = result.plan
    lines = [
        f"{r.approach}: {r.verdict} ({r.verdict_reason})" for r in result.rows if not r.is_baseline
    ]
    for row in result.rows:
        failed = [run for run in result.runs if run.approach == row.approach and run.value is None]
        if failed:
            detail = "; ".join(f"seed {run.seed}: {run.reason}" for run in failed)
            lines.append(f"{row.approach}: {len(failed)} of {row.n_seeds} seeds failed ({detail})")
    m, n = len(plan.approaches) - 1, len(plan.seeds)
    need = min_wilcoxon_pairs(plan.alpha / m)
    if n < need:
        smallest = 2.0 ** (1 - n)
        holm_part = f" (times {m} for Holm's correction)" if m > 1 else ""
        lines.append(
            f"with {n} paired seeds the smallest possible Wilcoxon p is 2/2^{n} = "
            f"{smallest:.3g}{holm_part}, not below alpha = {plan.alpha:g}: no approach can be "
            f"called better or worse; run >= {need} seeds"
        )
    return lines


def format_markdown(result: ComparisonResult) -> str:
    """``comparison.md``: title, the table, notes and how to read it."""
    plan = result.plan
    parts = [f"# Comparison: {plan.name}", ""]
    if plan.description:
        parts += [plan.description, ""]
    parts += [_headline(result) + ".", "", format_table(result.rows), ""]
    parts += ["## Notes", "", *(f"- {line}" for line in notes(result)), ""]
    parts += [
        "## How to read this",
        "",
        f"Every approach ran on the same seeds ({len(plan.seeds)}), so seed s of an approach "
        "is compared with seed s of the baseline. The metric: "
        f"{plan.metric.meaning}. Columns:",
        "",
        *(f"- **{name}**: {meaning}." for name, meaning in COLUMNS.items()),
        "",
        "Also in comparison.csv and comparison.json: Cohen's d_z of the paired differences "
        "(mean / sd of the differences), the mean paired difference and its bootstrap "
        "interval, the test statistics, Welch's degrees of freedom and every seed's value.",
        "",
    ]
    return "\n".join(parts)


def csv_rows(
    rows: list[ApproachStats], seeds: Sequence[int], models: Mapping[str, str]
) -> list[dict[str, Any]]:
    """``comparison.csv``: one flat row per approach (rank order), every statistic and every
    seed's value; ``models`` maps each approach to its model."""
    flat = []
    for r in rows:
        s, w, t = r.summary, r.wilcoxon, r.welch
        diff = r.difference_ci or (None, None)
        row: dict[str, Any] = {
            "rank": r.rank, "approach": r.approach, "baseline": r.is_baseline,
            "model": models[r.approach], "seeds": r.n_seeds,
            "failed": r.n_failed, "mean": s.mean, "sd": s.sd, "ci_low": s.ci_low,
            "ci_high": s.ci_high, "relative_change": r.relative_change,
            "mean_difference": r.mean_difference, "difference_ci_low": diff[0],
            "difference_ci_high": diff[1],
            "wilcoxon_p": w and w.p, "wilcoxon_p_holm": r.wilcoxon_p_holm,
            "wilcoxon_statistic": w and w.statistic, "wilcoxon_n": w and w.n,
            "wilcoxon_method": w and w.method, "wilcoxon_note": w and w.note,
            "welch_p": t and t.p, "welch_p_holm": r.welch_p_holm,
            "welch_t": t and t.statistic, "welch_df": t and t.df, "welch_note": t and t.note,
            "hedges_g": r.hedges_g, "d_z": r.d_z, "verdict": r.verdict,
            "verdict_reason": r.verdict_reason,
        }  # fmt: skip
        row.update({f"seed_{seed}": v for seed, v in zip(seeds, r.values, strict=True)})
        flat.append(row)
    return flat


def _rows(result: ComparisonResult) -> list[dict[str, Any]]:
    models = {a.name: a.model for a in result.plan.approaches}
    return csv_rows(result.rows, result.plan.seeds, models)


def comparison_document(result: ComparisonResult) -> dict[str, Any]:
    """Everything, JSON-safe: plan, runs, table, column meanings, methods and notes."""
    plan = result.plan
    metric = plan.metric
    return json_safe(
        {
            "kind": "dno-comparison",
            "format_version": 1,
            "dno_version": __version__,
            "name": plan.name,
            "description": plan.description,
            "source": plan.source,
            "family": plan.family,
            "dataset": result.dataset,
            "metric": {
                "name": metric.name,
                "split": metric.split,
                "lower_is_better": metric.lower_is_better,
                "meaning": metric.meaning,
            },
            "alpha": plan.alpha,
            "seeds": list(plan.seeds),
            "baseline": plan.baseline,
            "approaches": {a.name: _approach_record(a) for a in plan.approaches},
            "shared": plan.shared,
            "methods": _methods(),
            "columns": COLUMNS,
            "table": [r.to_dict() for r in result.rows],
            "rows": _rows(result),
            "runs": [_run_record(run, result.folder) for run in result.runs],
            "notes": notes(result),
        }
    )


def _approach_record(approach: Approach) -> dict[str, Any]:
    return {
        "model": approach.model,
        "set": approach.overrides,
        "description": approach.description,
        "config": approach.config,
    }


def _run_record(run: RunRecord, folder: Path) -> dict[str, Any]:
    return {
        "approach": run.approach,
        "seed": run.seed,
        "path": str(run.path.relative_to(folder)),
        "status": run.status,
        "value": run.value,
        "reason": run.reason,
        "trained_now": run.trained,
        "epochs_run": run.epochs_run,
        "seconds": run.seconds,
    }


def _methods() -> dict[str, str]:
    from dno.compare import _stats

    return {
        "summary": "mean and sample standard deviation (ddof=1) of the successful seeds",
        "confidence_interval": f"percentile bootstrap of the mean, {BOOTSTRAP_RESAMPLES} "
        "resamples, numpy default_rng(0), linear-interpolated 2.5% and 97.5% quantiles",
        "paired_test": "scipy.stats.wilcoxon on the non-zero differences approach - baseline, "
        "two-sided; exact if no ties and n <= 50, exact sign-flip permutation with ties and "
        "n <= 13, else the normal approximation; needs 2/2^n < alpha",
        "unpaired_test": "scipy.stats.ttest_ind(equal_var=False), Welch-Satterthwaite df",
        "correction": "Holm step-down across the approaches with a p-value, per test",
        "effect_size": "Hedges' g with exact J; Cohen's d_z of the paired differences",
        "verdict": "Holm-adjusted Wilcoxon p < alpha: better/worse, else not distinguishable",
        "reference": (_stats.__doc__ or "").strip(),
    }


def write_tables(
    folder: Path, markdown: str, rows: list[dict[str, Any]], document: Any = None
) -> dict[str, Path]:
    """Write ``comparison.csv`` (``rows``), ``comparison.md`` and, if given,
    ``comparison.json`` into ``folder``: the one writer of ``dno compare`` and ``--study``."""
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / COMPARISON_MD) as tmp:
        tmp.write_text(markdown, encoding="utf-8")
    files = {"csv": write_csv(folder / COMPARISON_CSV, rows), "md": folder / COMPARISON_MD}
    if document is not None:
        files["json"] = write_json(folder / COMPARISON_JSON, document)
    return files


def write_comparison(result: ComparisonResult) -> dict[str, Path]:
    """Write ``comparison.csv``, ``comparison.md`` and ``comparison.json`` into the folder."""
    markdown, document = format_markdown(result), comparison_document(result)
    return write_tables(result.folder, markdown, _rows(result), document)
