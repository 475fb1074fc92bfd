"""What the figures show, computed on plain data: correlations, importance, pairs, heatmap cells.

- Spearman's rho of each ordered parameter with the first objective; for unordered categorical
  parameters the correlation ratio eta (how much of the objective's variance the groups explain).
- Importance: one of Optuna's evaluators on the first objective, when there are at least
  :data:`MIN_IMPORTANCE_TRIALS` completed trials: PED-ANOVA (the default; deterministic, how much
  each parameter matters to reach the top 10 % of trials) or fANOVA (a random forest with seed
  0; needs scikit-learn). With fewer trials, or if the evaluator fails, the parameters are ranked
  by absolute rho (or eta), and the report says so.
- Heatmap cells: the mean of the first objective over the completed trials in each cell of two
  parameters (choices for categorical and small integer ranges, equal-width bins in the sampled
  scale otherwise), with the count of trials per cell.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from dno.errors import DnoError, UsageError
from dno.report._records import Importance, ParamInfo, StudyData, TrialRecord

if TYPE_CHECKING:
    import optuna

__all__ = [
    "IMPORTANCE_METHODS",
    "MIN_IMPORTANCE_TRIALS",
    "HeatmapGrid",
    "choose_pairs",
    "compute_importance",
    "heatmap_grid",
    "parse_pairs",
]

#: Importance evaluators (Optuna's) and how the report names them.
IMPORTANCE_METHODS = {"ped-anova": "PED-ANOVA", "fanova": "fANOVA"}
#: Neither evaluator says much with fewer completed trials than this.
MIN_IMPORTANCE_TRIALS = 10
#: PED-ANOVA: the importance of reaching the top 10 % of trials (at least 2 of them).
PED_ANOVA_QUANTILE = 0.1
PED_ANOVA_MIN_TOP = 2
#: Heatmaps drawn per study when no pairs are given: the pairs of the three most important.
DEFAULT_TOP_PARAMS = 3
#: An integer range with at most this many values is shown value by value.
MAX_INT_LEVELS = 8


def numeric_value(param: ParamInfo, value: Any) -> float:
    """A parameter value as a number: itself if ordered, its choice index if not."""
    if param.choices is not None and not param.ordered:
        return float(param.choices.index(value)) if value in param.choices else math.nan
    return float(value)


def spearman(x: np.ndarray, y: np.ndarray) -> float | None:
    """Spearman's rank correlation (ties get average ranks); None if either is constant."""
    from scipy.stats import rankdata

    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return None
    rx, ry = rankdata(x), rankdata(y)
    return float(np.corrcoef(rx, ry)[0, 1])


def correlation_ratio(groups: np.ndarray, y: np.ndarray) -> float:
    """eta: sqrt(between-group sum of squares / total sum of squares), in [0, 1]."""
    total = float(np.sum((y - y.mean()) ** 2))
    if total == 0:
        return 0.0
    between = sum(
        np.sum(groups == g) * (y[groups == g].mean() - y.mean()) ** 2 for g in np.unique(groups)
    )
    return float(math.sqrt(between / total))


def _columns(data: StudyData) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Each parameter's values and the first objective, over completed trials that set them."""
    done = data.complete()
    y = np.array([(t.values or [math.nan])[0] for t in done], dtype=float)
    columns = {
        p.name: np.array([numeric_value(p, t.params.get(p.name, math.nan)) for t in done])
        for p in data.params
    }
    return columns, y


def correlations(data: StudyData) -> tuple[dict[str, float | None], dict[str, float]]:
    """Spearman's rho (ordered parameters) and eta (unordered ones) with the first objective."""
    columns, y = _columns(data)
    rho: dict[str, float | None] = {}
    eta: dict[str, float] = {}
    for p in data.params:
        x = columns[p.name]
        keep = np.isfinite(x) & np.isfinite(y)
        if p.ordered:
            rho[p.name] = spearman(x[keep], y[keep])
        else:
            rho[p.name] = None
            eta[p.name] = correlation_ratio(x[keep], y[keep]) if keep.sum() > 1 else 0.0
    return rho, eta


def compute_importance(
    study: optuna.Study | None, data: StudyData, method: str = "ped-anova"
) -> Importance | None:
    """Importance of each searched parameter for the first objective (see the module doc).

    Args:
        study: the loaded study (None: only the correlation ranking is possible).
        data: the same study as plain data.
        method: ``ped-anova`` or ``fanova`` (Optuna's evaluators; fANOVA needs scikit-learn).

    Raises:
        UsageError: an unknown method.
        DnoError: ``fanova`` without scikit-learn installed.
    """
    if method not in IMPORTANCE_METHODS:
        raise UsageError(f"importance {method!r}; expected one of {', '.join(IMPORTANCE_METHODS)}")
    names = [p.name for p in data.params if p.varies]
    done = data.complete()
    if not names or not done:
        return None
    rho, eta = correlations(data)
    fallback = {n: eta[n] if n in eta else abs(rho.get(n) or 0.0) for n in names}
    label = IMPORTANCE_METHODS[method]
    if study is None:
        note = f"no study storage to compute {label} from"
    elif len(done) < MIN_IMPORTANCE_TRIALS:
        note = f"{len(done)} completed trials; {label} needs at least {MIN_IMPORTANCE_TRIALS}"
    else:
        try:
            values = _evaluate(study, data, names, method)
        except DnoError:
            raise
        except Exception as error:  # optuna raises several kinds for degenerate studies
            note = f"{label} failed ({type(error).__name__}: {str(error).strip()[:120]})"
        else:
            return Importance(method, values, rho, eta, len(done))
    note += "; parameters ranked by |Spearman rho| (eta for unordered choices)"
    return Importance("correlation", fallback, rho, eta, len(done), note)


def _evaluate(
    study: optuna.Study, data: StudyData, names: list[str], method: str
) -> dict[str, float]:
    """Optuna's importance of ``names`` for the first objective (lower signed value is better)."""
    import optuna

    evaluator: optuna.importance.BaseImportanceEvaluator
    if method == "fanova":
        try:
            import sklearn  # noqa: F401
        except ImportError:
            raise DnoError(
                "--importance fanova needs scikit-learn: pip install scikit-learn "
                "(or use the default, ped-anova)"
            ) from None
        evaluator = optuna.importance.FanovaImportanceEvaluator(seed=0)
    else:
        n = len(data.complete())
        quantile = max(PED_ANOVA_QUANTILE, PED_ANOVA_MIN_TOP / n)
        evaluator = optuna.importance.PedAnovaImportanceEvaluator(target_quantile=quantile)
    sign = data.sign(0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # PED-ANOVA warns that a target is minimized: it is
        values = optuna.importance.get_param_importances(
            study, evaluator=evaluator, params=names, target=lambda t: sign * t.values[0]
        )
    return {name: float(values.get(name, 0.0)) for name in names}


def parse_pairs(texts: list[str] | None) -> list[tuple[str, str]]:
    """``["a:b", ...]`` -> ``[("a", "b"), ...]``.

    Raises:
        UsageError: a pair that is not two different names joined by ``:``.
    """
    pairs = []
    for text in texts or []:
        parts = text.split(":")
        if len(parts) != 2 or not all(parts) or parts[0] == parts[1]:
            raise UsageError(f"--pairs {text!r}: expected two different parameters as NAME:NAME")
        pairs.append((parts[0], parts[1]))
    return pairs


def choose_pairs(
    data: StudyData, requested: list[tuple[str, str]] | None = None
) -> tuple[list[tuple[str, str]], list[str]]:
    """The parameter pairs to draw heatmaps of, and notes on what was left out and why.

    Only parameters the study really searched (and that take more than one value) qualify.
    Requested pairs are kept if the study searched both parameters; otherwise the pairs of the
    :data:`DEFAULT_TOP_PARAMS` most important parameters.
    """
    searched = [p.name for p in data.params if p.varies]
    notes: list[str] = []
    if requested:
        kept = [(a, b) for a, b in requested if a in searched and b in searched]
        for a, b in requested:
            if (a, b) not in kept:
                missing = [n for n in (a, b) if n not in searched]
                notes.append(
                    f"no heatmap {a}:{b}: {', '.join(missing)} not searched by this study "
                    f"(searched: {', '.join(searched) or 'none'})"
                )
        return kept, notes
    if len(searched) < 2:
        notes.append(f"no heatmap: the study searched {len(searched)} parameter(s)")
        return [], notes
    ranking = data.importance.ranking() if data.importance else sorted(searched)
    top = [n for n in ranking if n in searched][:DEFAULT_TOP_PARAMS]
    pairs = [(top[i], top[j]) for i in range(len(top)) for j in range(i + 1, len(top))]
    return pairs, notes


@dataclass(frozen=True)
class HeatmapGrid:
    """Mean objective per cell of two parameters.

    Attributes:
        x_labels, y_labels: cell labels along each parameter.
        mean: shape (len(y_labels), len(x_labels)); NaN where no trial fell.
        count: trials per cell, same shape.
    """

    x_labels: list[str]
    y_labels: list[str]
    mean: np.ndarray
    count: np.ndarray


def _bins_for(n_trials: int) -> int:
    return int(min(6, max(2, round(math.sqrt(n_trials) / 1.5))))


def axis_cells(param: ParamInfo, values: list[Any], n_bins: int) -> tuple[list[str], list[int]]:
    """Cell labels along one parameter and the cell of each value."""
    if param.choices is not None:
        labels = [str(c) for c in param.choices]
        return labels, [param.choices.index(v) if v in param.choices else -1 for v in values]
    low, high = float(param.low or 0.0), float(param.high or 0.0)
    step = param.step or (1.0 if param.kind == "int" else None)
    if step is not None and (high - low) / step + 1 <= MAX_INT_LEVELS:
        levels = [low + i * step for i in range(round((high - low) / step) + 1)]
        labels = [f"{v:g}" for v in levels]
        return labels, [round((float(v) - low) / step) for v in values]
    scale = np.log10 if param.log else (lambda v: v)
    edges = np.linspace(scale(low), scale(high), n_bins + 1)
    real = 10**edges if param.log else edges
    labels = [f"{real[i]:.2g}–{real[i + 1]:.2g}" for i in range(n_bins)]
    cells = np.clip(np.digitize(scale(np.asarray(values, float)), edges[1:-1]), 0, n_bins - 1)
    return labels, [int(c) for c in cells]


def heatmap_grid(data: StudyData, x: str, y: str) -> HeatmapGrid:
    """The mean first objective of completed trials over parameters ``x`` and ``y``."""
    done: list[TrialRecord] = [t for t in data.complete() if x in t.params and y in t.params]
    n_bins = _bins_for(len(done))
    x_labels, x_cells = axis_cells(data.param(x), [t.params[x] for t in done], n_bins)
    y_labels, y_cells = axis_cells(data.param(y), [t.params[y] for t in done], n_bins)
    total = np.zeros((len(y_labels), len(x_labels)))
    count = np.zeros((len(y_labels), len(x_labels)), dtype=int)
    for t, i, j in zip(done, y_cells, x_cells, strict=True):
        if i >= 0 and j >= 0:
            total[i, j] += (t.values or [math.nan])[0]
            count[i, j] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return HeatmapGrid(x_labels, y_labels, mean, count)
