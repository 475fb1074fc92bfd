"""Reports of studies: static and interactive figures, tables, one self-contained HTML page.

:func:`write_report` reads one or more studies back from their storage and folders (never from
the objects of the run that made them) and writes, into one folder:

- for each figure a PNG (matplotlib) and an interactive page (plotly): optimization history,
  parameter importance (Optuna's PED-ANOVA or fANOVA) beside each parameter's Spearman
  correlation, heatmaps of the mean objective over pairs of parameters the study really
  searched, slice plots, parallel coordinates, the Pareto front of multi-objective studies,
  convergence curves of the best trials, their rollout error and spectra (where ``dno
  evaluate`` ran), and box plots of the objective per model across families when several
  studies are given;
- the best trials' own figures (prediction vs truth, evaluation figures), copied;
- tables of every trial (HTML and CSV) and of comparisons found on disk;
- ``visualization_report.json`` (totals, models, families, best and worst trials, every file);
- ``index.html``, which works offline: plotly.js embedded once, no CDN.

:func:`write_benchmark_report` draws the page of a benchmark folder (``dno benchmark``) from its
``leaderboard.json`` and its runs' test evaluations, or the page of an aggregate of benchmarks
(``dno benchmark --aggregate``) from its ``aggregate.json``.

Example:
    >>> from dno.report import write_report
    >>> result = write_report(["hyperparameter_results/fno-mackey-random"])  # doctest: +SKIP
    >>> result.index  # doctest: +SKIP
    PosixPath('hyperparameter_results/fno-mackey-random/report/index.html')
"""

from __future__ import annotations

from dno.report import _aggregate, _analysis, _benchmark, _collect, _records, _report
from dno.report._aggregate import *  # noqa: F403
from dno.report._analysis import *  # noqa: F403
from dno.report._benchmark import *  # noqa: F403
from dno.report._collect import *  # noqa: F403
from dno.report._records import *  # noqa: F403
from dno.report._report import *  # noqa: F403

__all__ = [
    *_aggregate.__all__,
    *_analysis.__all__,
    *_benchmark.__all__,
    *_collect.__all__,
    *_records.__all__,
    *_report.__all__,
]
