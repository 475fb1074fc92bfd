"""Statistics of a multi-seed comparison: every approach against one baseline, seeds paired.

Pure numpy and scipy; nothing else of dno. The numbers, for per-seed values ``a`` (an approach)
and ``b`` (the baseline), ``d = a - b`` over the seeds where both runs succeeded:

- **Summary**: n, mean, sample standard deviation (``ddof=1``).
- **95% confidence interval of the mean**: a seeded percentile bootstrap. Draw
  ``resamples`` (10,000) samples of size n with replacement,
  ``idx = default_rng(seed).integers(0, n, (resamples, n))``, take each sample's mean and the
  2.5% and 97.5% quantiles of those means (numpy's linear interpolation). With few seeds a
  percentile interval is too narrow (it ignores the uncertainty of the spread); it is a
  description, the tests below decide.
- **Paired test** (the verdict's): Wilcoxon signed-rank on ``d``, two-sided, zero differences
  dropped (Wilcoxon's rule, ``zero_method="wilcox"``). The p-value is exact (the null
  distribution of W+) when no two ``|d|`` tie and n <= 50; with ties and n <= 13 it is the exact
  sign-flip permutation distribution (every one of the 2^n sign patterns); otherwise the normal
  approximation with the tie-corrected variance and no continuity correction. The smallest
  two-sided p attainable with n non-zero differences is 2 / 2^n (0.0625 at n = 5, 0.031 at
  n = 6), so with fewer than :func:`min_wilcoxon_pairs` (6 at alpha = 0.05) no p-value is
  given: the test could not reject whatever the data.
- **Welch's t-test** (reported alongside, unpaired, all successful seeds of each group):
  ``t = (mean_a - mean_b) / sqrt(s_a^2/n_a + s_b^2/n_b)`` with the Welch-Satterthwaite degrees of
  freedom; needs n >= 2 in each group.
- **Holm's step-down correction** across the approaches that have a p-value (m of them): sort
  ``p_(1) <= ... <= p_(m)``, ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))``. Wilcoxon and
  Welch p-values are corrected as two separate families.
- **Effect sizes**, approach minus baseline (negative = lower metric):
  Hedges' g = ``J(df) (mean_a - mean_b) / s_pooled``,
  ``s_pooled = sqrt(((n_a - 1) s_a^2 + (n_b - 1) s_b^2) / df)``, ``df = n_a + n_b - 2``, with
  the exact small-sample correction ``J(df) = Gamma(df/2) / (sqrt(df/2) Gamma((df-1)/2))``
  (about ``1 - 3 / (4 df - 1)``); and, for the pairs, ``d_z = mean(d) / sd(d)`` (Cohen's d of
  the paired differences, not bias-corrected), which is what the paired test sees.
- **Relative change**: ``(mean_a - mean_b) / |mean_b|``.
- **Verdict** at level alpha: the Holm-adjusted Wilcoxon p < alpha gives ``better`` or
  ``worse`` by the direction of the signed ranks (``W+ - W-`` of ``d``) and of the metric
  (lower is better for errors); anything else, a missing p-value included, is
  ``not distinguishable`` (which is not evidence of equality).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "BOOTSTRAP_RESAMPLES",
    "VERDICTS",
    "ApproachStats",
    "Summary",
    "TestResult",
    "bootstrap_mean_ci",
    "cohen_dz",
    "compare_approaches",
    "decide",
    "describe",
    "hedges_g",
    "holm",
    "min_verdict_seeds",
    "min_wilcoxon_pairs",
    "relative_change",
    "welch_test",
    "wilcoxon_test",
]

#: Bootstrap resamples of every confidence interval.
BOOTSTRAP_RESAMPLES = 10_000
#: Verdicts of an approach against the baseline (the baseline's own row says "baseline").
VERDICTS = ("better", "worse", "not distinguishable")
#: Largest n for the exact Wilcoxon distribution (no ties) and for the exact sign-flip
#: enumeration (ties: 2^13 = 8192 sign patterns).
_EXACT_MAX, _PERMUTATION_MAX = 50, 13


@dataclass(frozen=True)
class Summary:
    """Mean, sample standard deviation and bootstrap interval of one approach's values."""

    n: int
    mean: float | None
    sd: float | None
    ci_low: float | None
    ci_high: float | None


@dataclass(frozen=True)
class TestResult:
    """One two-sided test of an approach against the baseline.

    ``p`` is None when the test cannot be done; ``note`` then says why. ``direction`` is the
    sign of the effect (approach minus baseline) that the test looks at.
    """

    test: str
    p: float | None
    statistic: float | None = None
    n: int = 0
    method: str = ""
    note: str = ""
    df: float | None = None
    direction: int = 0


@dataclass
class ApproachStats:
    """Everything the comparison table says about one approach (see the module doc)."""

    approach: str
    is_baseline: bool
    rank: int
    n_seeds: int
    n_failed: int
    summary: Summary
    values: list[float | None]
    mean_difference: float | None = None
    difference_ci: tuple[float, float] | None = None
    relative_change: float | None = None
    wilcoxon: TestResult | None = None
    welch: TestResult | None = None
    wilcoxon_p_holm: float | None = None
    welch_p_holm: float | None = None
    hedges_g: float | None = None
    d_z: float | None = None
    verdict: str = "baseline"
    verdict_reason: str = ""

    def to_dict(self) -> dict[str, Any]:
        """Plain values (nested dicts for the summary and the tests)."""
        return asdict(self)


def _finite(values: Sequence[float | None]) -> np.ndarray:
    return np.array([v for v in values if v is not None and math.isfinite(v)], dtype=float)


def bootstrap_mean_ci(
    values: ArrayLike,
    *,
    confidence: float = 0.95,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> tuple[float, float] | None:
    """Seeded percentile bootstrap interval of the mean; None for fewer than 2 values.

    ``idx = default_rng(seed).integers(0, n, (resamples, n))``; the interval is the
    ``(1 - confidence) / 2`` and ``(1 + confidence) / 2`` quantiles of ``values[idx].mean(1)``.

    Example:
        >>> bootstrap_mean_ci([1.0, 2.0, 3.0, 4.0], seed=0)  # doctest: +ELLIPSIS
        (1.5, 3.5)
    """
    x = np.asarray(values, dtype=float)
    if x.size < 2:
        return None
    index = np.random.default_rng(seed).integers(0, x.size, size=(resamples, x.size))
    means = x[index].mean(axis=1)
    low, high = np.quantile(means, [(1 - confidence) / 2, (1 + confidence) / 2])
    return float(low), float(high)


def describe(
    values: Sequence[float | None], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0
) -> Summary:
    """n, mean, sd (ddof=1) and the 95% bootstrap interval of the finite values."""
    x = _finite(values)
    if x.size == 0:
        return Summary(0, None, None, None, None)
    ci = bootstrap_mean_ci(x, resamples=resamples, seed=seed)
    return Summary(
        n=int(x.size),
        mean=float(x.mean()),
        sd=float(x.std(ddof=1)) if x.size > 1 else None,
        ci_low=ci[0] if ci else None,
        ci_high=ci[1] if ci else None,
    )


def min_wilcoxon_pairs(alpha: float) -> int:
    """Fewest non-zero paired differences whose best two-sided p, ``2 / 2^n``, is < alpha."""
    n = 1
    while 2.0 ** (1 - n) >= alpha:
        n += 1
    return n


def min_verdict_seeds(alpha: float, comparisons: int) -> int:
    """Fewest paired seeds with which any of ``comparisons`` Wilcoxon tests can give a verdict.

    Holm's smallest adjusted p-value is ``comparisons * p_(1)``, and the smallest two-sided p of
    n pairs is ``2 / 2^n``: a verdict needs ``comparisons * 2 / 2^n < alpha``, that is
    :func:`min_wilcoxon_pairs` at ``alpha / comparisons`` (6 seeds for one comparison at 0.05,
    8 for six).
    """
    return min_wilcoxon_pairs(alpha / max(1, comparisons))


def _pairs(
    approach: Sequence[float | None], baseline: Sequence[float | None]
) -> tuple[np.ndarray, np.ndarray]:
    both = [
        (a, b)
        for a, b in zip(approach, baseline, strict=True)
        if a is not None and b is not None and math.isfinite(a) and math.isfinite(b)
    ]
    pairs = np.array(both, dtype=float).reshape(-1, 2)
    return pairs[:, 0], pairs[:, 1]


def _wilcoxon_method(d: np.ndarray) -> tuple[Any, str]:
    """The scipy ``method`` for the non-zero differences ``d`` and its plain name."""
    from scipy import stats  # here: scipy.stats takes most of a second to import

    ties = np.unique(np.abs(d)).size < d.size
    if not ties and d.size <= _EXACT_MAX:
        return "exact", "exact"
    if ties and d.size <= _PERMUTATION_MAX and hasattr(stats, "PermutationMethod"):
        return stats.PermutationMethod(n_resamples=np.inf), "exact sign-flip permutation (ties)"
    return "asymptotic", "normal approximation (tie-corrected)"


def wilcoxon_test(
    approach: Sequence[float | None], baseline: Sequence[float | None], *, alpha: float = 0.05
) -> TestResult:
    """Two-sided Wilcoxon signed-rank test of the paired differences ``approach - baseline``.

    Seeds are paired by position; a seed missing (None) on either side is left out. Zero
    differences are dropped; fewer than ``min_wilcoxon_pairs(alpha)`` non-zero differences give
    no p-value (``note`` says so).
    """
    a, b = _pairs(approach, baseline)
    d = a - b
    nonzero = d[d != 0]
    need = min_wilcoxon_pairs(alpha)
    if d.size and not nonzero.size:
        return TestResult("wilcoxon", None, n=int(d.size), note="identical on every paired seed")
    if nonzero.size < need:
        zeros = f" non-zero of {d.size} pairs" if nonzero.size < d.size else ""
        note = f"too few seeds (n={nonzero.size}{zeros}, need >= {need})"
        return TestResult("wilcoxon", None, n=int(nonzero.size), note=note)
    from scipy import stats

    ranks = stats.rankdata(np.abs(nonzero))
    w_plus, w_minus = ranks[nonzero > 0].sum(), ranks[nonzero < 0].sum()
    method, name = _wilcoxon_method(nonzero)
    result = stats.wilcoxon(nonzero, zero_method="wilcox", method=method)
    return TestResult(
        "wilcoxon",
        float(result.pvalue),
        statistic=float(result.statistic),
        n=int(nonzero.size),
        method=name,
        note=f"{d.size - nonzero.size} zero differences dropped" if nonzero.size < d.size else "",
        direction=int(np.sign(w_plus - w_minus)),
    )


def welch_test(approach: Sequence[float | None], baseline: Sequence[float | None]) -> TestResult:
    """Welch's unequal-variance t-test (two-sided) of all finite values of each group."""
    a, b = _finite(approach), _finite(baseline)
    if a.size < 2 or b.size < 2:
        note = f"too few seeds (n={a.size} and {b.size}, need >= 2 in each)"
        return TestResult("welch", None, n=int(min(a.size, b.size)), note=note)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    if va + vb == 0:
        return TestResult("welch", None, n=int(a.size + b.size), note="zero variance in both")
    from scipy import stats

    result = stats.ttest_ind(a, b, equal_var=False)
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    return TestResult(
        "welch",
        float(result.pvalue),
        statistic=float(result.statistic),
        n=int(a.size + b.size),
        method="Welch t-test (unequal variances)",
        df=float(df),
        direction=int(np.sign(a.mean() - b.mean())),
    )


def holm(pvalues: Sequence[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values; None entries stay None and are not counted in m.

    ``p~_(i) = max_{j <= i} min(1, (m - j + 1) p_(j))`` over the sorted p-values.

    Example:
        >>> holm([0.01, None, 0.04, 0.03])
        [0.03, None, 0.06, 0.06]
    """
    present = [(p, i) for i, p in enumerate(pvalues) if p is not None]
    m = len(present)
    adjusted: list[float | None] = [None] * len(pvalues)
    running = 0.0
    for j, (p, i) in enumerate(sorted(present, key=lambda item: item[0])):
        running = max(running, min(1.0, (m - j) * p))
        adjusted[i] = running
    return adjusted


def hedges_g(approach: Sequence[float | None], baseline: Sequence[float | None]) -> float | None:
    """Hedges' g of ``approach - baseline`` (pooled sd, exact small-sample correction J).

    None with fewer than 2 values in a group or a zero pooled standard deviation.
    """
    a, b = _finite(approach), _finite(baseline)
    if a.size < 2 or b.size < 2:
        return None
    df = a.size + b.size - 2
    pooled = math.sqrt(((a.size - 1) * a.var(ddof=1) + (b.size - 1) * b.var(ddof=1)) / df)
    if pooled == 0:
        return None
    from scipy import special

    j = math.exp(special.gammaln(df / 2) - special.gammaln((df - 1) / 2)) / math.sqrt(df / 2)
    return float(j * (a.mean() - b.mean()) / pooled)


def cohen_dz(approach: Sequence[float | None], baseline: Sequence[float | None]) -> float | None:
    """``mean(d) / sd(d)`` of the paired differences; None for < 2 pairs or sd(d) = 0."""
    a, b = _pairs(approach, baseline)
    d = a - b
    if d.size < 2 or d.std(ddof=1) == 0:
        return None
    return float(d.mean() / d.std(ddof=1))


def relative_change(mean: float | None, baseline_mean: float | None) -> float | None:
    """``(mean - baseline_mean) / |baseline_mean|``; None if either is missing or it is 0."""
    if mean is None or baseline_mean is None or baseline_mean == 0:
        return None
    return (mean - baseline_mean) / abs(baseline_mean)


def decide(p_adjusted: float | None, direction: int, *, lower_is_better: bool, alpha: float) -> str:
    """``better`` / ``worse`` when ``p_adjusted < alpha``, else ``not distinguishable``.

    ``direction`` is the sign of approach minus baseline; with ``lower_is_better`` a negative
    direction is ``better``.
    """
    if p_adjusted is None or not p_adjusted < alpha or direction == 0:
        return "not distinguishable"
    improved = direction < 0 if lower_is_better else direction > 0
    return "better" if improved else "worse"


def compare_approaches(
    values: Mapping[str, Sequence[float | None]],
    baseline: str,
    *,
    lower_is_better: bool = True,
    alpha: float = 0.05,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = 0,
) -> list[ApproachStats]:
    """Every approach against ``baseline``, ranked by mean (best first).

    Args:
        values: approach -> per-seed values, the same seeds in the same order for every
            approach (None or a non-finite value: that seed's run failed).
        baseline: the approach the others are compared with.
        lower_is_better: the metric's direction (errors: True).
        alpha: the level of the verdict (after Holm's correction).
        resamples: bootstrap resamples; seed: the bootstrap's seed (the same for every approach).

    Returns:
        One :class:`ApproachStats` per approach, best mean first, failed-everywhere last.
    """
    if baseline not in values:
        raise ValueError(f"baseline {baseline!r} is not among the approaches {list(values)}")
    base = values[baseline]
    rows = [_row(name, v, base, name == baseline, resamples, seed) for name, v in values.items()]
    others = [r for r in rows if not r.is_baseline]
    for row in others:
        row.wilcoxon = wilcoxon_test(row.values, base, alpha=alpha)
        row.welch = welch_test(row.values, base)
    w_holm = holm([r.wilcoxon.p for r in others if r.wilcoxon is not None])
    t_holm = holm([r.welch.p for r in others if r.welch is not None])
    for row, p_w, p_t in zip(others, w_holm, t_holm, strict=True):
        row.wilcoxon_p_holm, row.welch_p_holm = p_w, p_t
        _judge(row, lower_is_better, alpha)
    sign = 1.0 if lower_is_better else -1.0
    rows.sort(key=lambda r: (r.summary.mean is None, sign * (r.summary.mean or 0.0)))
    for rank, row in enumerate(rows, start=1):
        row.rank = rank
    return rows


def _row(
    name: str,
    values: Sequence[float | None],
    base: Sequence[float | None],
    is_baseline: bool,
    resamples: int,
    seed: int,
) -> ApproachStats:
    if len(values) != len(base):
        raise ValueError(f"approach {name!r} has {len(values)} seeds, the baseline {len(base)}")
    clean = [v if v is not None and math.isfinite(v) else None for v in values]
    summary = describe(clean, resamples=resamples, seed=seed)
    row = ApproachStats(
        approach=name, is_baseline=is_baseline, rank=0, n_seeds=len(clean),
        n_failed=sum(v is None for v in clean), summary=summary, values=clean,
    )  # fmt: skip
    if is_baseline:
        return row
    a, b = _pairs(clean, base)
    row.mean_difference = float((a - b).mean()) if a.size else None
    row.difference_ci = bootstrap_mean_ci(a - b, resamples=resamples, seed=seed)
    base_values = _finite(base)
    base_mean = float(base_values.mean()) if base_values.size else None
    row.relative_change = relative_change(summary.mean, base_mean)
    row.hedges_g = hedges_g(clean, base)
    row.d_z = cohen_dz(clean, base)
    return row


def _judge(row: ApproachStats, lower_is_better: bool, alpha: float) -> None:
    test = row.wilcoxon
    assert test is not None
    row.verdict = decide(
        row.wilcoxon_p_holm, test.direction, lower_is_better=lower_is_better, alpha=alpha
    )
    if row.wilcoxon_p_holm is None:
        row.verdict_reason = f"no paired test: {test.note}"
    else:
        relation = "<" if row.wilcoxon_p_holm < alpha else ">="
        row.verdict_reason = (
            f"Holm-adjusted Wilcoxon p = {row.wilcoxon_p_holm:.3g} {relation} alpha = {alpha:g}"
        )
