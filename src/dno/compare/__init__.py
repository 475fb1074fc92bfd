"""Multi-seed comparisons with real statistics: ``dno compare FILE.yaml``.

A comparison file names a baseline and approaches (each a training configuration), a family and
seeds. Every approach runs on the same seeds, so comparisons are paired. The result is a table
ranked by the chosen metric: mean, standard deviation, 95% bootstrap interval, relative change
against the baseline, a paired Wilcoxon signed-rank test (Welch's t-test alongside), Holm's
correction across approaches, Hedges' g and a verdict per approach (better, worse, not
distinguishable at alpha). See :mod:`dno.compare._stats` for every formula.

Example:
    >>> from dno.compare import load_plan, run_comparison  # doctest: +SKIP
    >>> plan = load_plan("spectral-norm-ab.yaml")  # doctest: +SKIP
    >>> result = run_comparison(plan, dataset, "comparisons", log=print)  # doctest: +SKIP
    >>> files = write_comparison(result)  # doctest: +SKIP
"""

from __future__ import annotations

from dno.compare._plan import METRICS, PLAN_KEYS, load_plan, parse_plan
from dno.compare._records import Approach, ComparisonPlan, ComparisonResult, Metric, RunRecord
from dno.compare._run import BOOTSTRAP_SEED, check_dataset, run_comparison
from dno.compare._stats import (
    BOOTSTRAP_RESAMPLES,
    VERDICTS,
    ApproachStats,
    Summary,
    TestResult,
    bootstrap_mean_ci,
    cohen_dz,
    compare_approaches,
    decide,
    describe,
    hedges_g,
    holm,
    min_wilcoxon_pairs,
    relative_change,
    welch_test,
    wilcoxon_test,
)
from dno.compare._study import compare_study
from dno.compare._table import (
    COLUMNS,
    comparison_document,
    format_markdown,
    format_table,
    notes,
    write_comparison,
    write_tables,
)

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "BOOTSTRAP_SEED",
    "COLUMNS",
    "METRICS",
    "PLAN_KEYS",
    "VERDICTS",
    "Approach",
    "ApproachStats",
    "ComparisonPlan",
    "ComparisonResult",
    "Metric",
    "RunRecord",
    "Summary",
    "TestResult",
    "bootstrap_mean_ci",
    "check_dataset",
    "cohen_dz",
    "compare_approaches",
    "compare_study",
    "comparison_document",
    "decide",
    "describe",
    "format_markdown",
    "format_table",
    "hedges_g",
    "holm",
    "load_plan",
    "min_wilcoxon_pairs",
    "notes",
    "parse_plan",
    "relative_change",
    "run_comparison",
    "welch_test",
    "wilcoxon_test",
    "write_comparison",
    "write_tables",
]
