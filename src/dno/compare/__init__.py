"""Multi-seed comparisons with real statistics: ``dno compare FILE.yaml``.

A comparison file names a baseline and approaches (each a training configuration), a family and
seeds. Every approach runs on the same seeds, so comparisons are paired. The result is a table
ranked by the chosen metric: mean, standard deviation, 95% bootstrap interval, relative change
against the baseline, a paired Wilcoxon signed-rank test (Welch's t-test alongside), Holm's
correction across approaches, Hedges' g and a verdict per approach (better, worse, not
distinguishable at alpha). See :mod:`dno.compare._stats` for every formula.

Across tasks (``dno benchmark --aggregate``): rliable's interquartile mean, probability of
improvement and performance profiles with stratified-bootstrap intervals
(:mod:`dno.compare._aggregate`).

Example:
    >>> from dno.compare import load_plan, run_comparison  # doctest: +SKIP
    >>> plan = load_plan("spectral-norm-ab.yaml")  # doctest: +SKIP
    >>> result = run_comparison(plan, dataset, "comparisons", log=print)  # doctest: +SKIP
    >>> files = write_comparison(result)  # doctest: +SKIP
"""

from __future__ import annotations

from dno.compare import _aggregate, _comparison, _plan, _records, _stats, _study_comparison, _table
from dno.compare._aggregate import *  # noqa: F403
from dno.compare._comparison import *  # noqa: F403
from dno.compare._plan import *  # noqa: F403
from dno.compare._records import *  # noqa: F403
from dno.compare._stats import *  # noqa: F403
from dno.compare._study_comparison import *  # noqa: F403
from dno.compare._table import *  # noqa: F403

__all__ = [
    *_aggregate.__all__,
    *_plan.__all__,
    *_records.__all__,
    *_comparison.__all__,
    *_stats.__all__,
    *_study_comparison.__all__,
    *_table.__all__,
]
