"""The comparison's statistics against scipy called independently and against hand computations."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
from scipy import stats

from dno.compare import (
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

#: Per-seed test errors of a baseline and three approaches on the same 8 seeds.
BASE = [0.302, 0.318, 0.291, 0.347, 0.309, 0.331, 0.297, 0.336]
BETTER = [0.281, 0.305, 0.262, 0.321, 0.294, 0.301, 0.285, 0.312]  # lower on every seed
NOISY = [0.310, 0.309, 0.302, 0.343, 0.303, 0.336, 0.295, 0.346]  # mixed signs, mean above
WORSE = [0.341, 0.352, 0.322, 0.361, 0.349, 0.360, 0.322, 0.371]  # higher on every seed


def test_wilcoxon_matches_scipy_and_the_exact_distribution() -> None:
    for approach in (BETTER, NOISY, WORSE):
        ours = wilcoxon_test(approach, BASE)
        theirs = stats.wilcoxon(approach, BASE)
        assert ours.p == pytest.approx(theirs.pvalue, rel=1e-12)
        assert ours.statistic == pytest.approx(theirs.statistic)
        assert ours.method == "exact" and ours.n == 8
    # every difference negative: W+ = 0, the most extreme of 2^8 sign patterns, both tails
    assert wilcoxon_test(BETTER, BASE).p == pytest.approx(2 / 2**8)
    assert wilcoxon_test(BETTER, BASE).direction == -1
    assert wilcoxon_test(WORSE, BASE).direction == 1


def _sign_flip_p(d: np.ndarray) -> float:
    """Exact two-sided p of W+ by enumerating all 2^n sign patterns (average ranks)."""
    ranks = stats.rankdata(np.abs(d))
    observed = ranks[d > 0].sum()
    null = np.array(
        [ranks[np.array(s) > 0].sum() for s in itertools.product((-1, 1), repeat=d.size)]
    )
    eps = 1e-9
    tail = min(np.mean(null <= observed + eps), np.mean(null >= observed - eps))
    return float(min(1.0, 2 * tail))


def test_wilcoxon_with_ties_and_zeros() -> None:
    base = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0])
    d = np.array([-0.5, -0.5, -1.0, 0.25, -1.0, -0.75, -0.25, 0.0])  # ties and one zero
    ours = wilcoxon_test(list(base + d), list(base))
    nonzero = d[d != 0]
    assert ours.n == 7 and "1 zero differences dropped" in ours.note
    assert ours.method.startswith("exact sign-flip")
    assert ours.p == pytest.approx(_sign_flip_p(nonzero), rel=1e-9)
    assert ours.p == pytest.approx(stats.wilcoxon(nonzero).pvalue, rel=1e-9)


def test_too_few_seeds_gives_no_p_value() -> None:
    assert min_wilcoxon_pairs(0.05) == 6  # 2/2^5 = 0.0625 >= 0.05 > 2/2^6
    assert stats.wilcoxon(BETTER[:5], BASE[:5]).pvalue == pytest.approx(0.0625)
    five = wilcoxon_test(BETTER[:5], BASE[:5])
    assert five.p is None and five.note == "too few seeds (n=5, need >= 6)"
    assert wilcoxon_test(BETTER[:6], BASE[:6]).p == pytest.approx(2 / 2**6)
    # a failed seed (None) drops its pair
    assert wilcoxon_test([*BETTER[:5], None], BASE[:6]).p is None
    identical = wilcoxon_test(BASE, BASE)
    assert identical.p is None and identical.note == "identical on every paired seed"
    welch = welch_test([0.3], [0.2, 0.4])
    assert welch.p is None and welch.note == "too few seeds (n=1 and 2, need >= 2 in each)"


def test_welch_matches_scipy_and_the_satterthwaite_formula() -> None:
    a, b = np.array(NOISY[:5]), np.array(BASE)
    ours = welch_test(list(a), list(b))
    theirs = stats.ttest_ind(a, b, equal_var=False)
    assert ours.p == pytest.approx(theirs.pvalue, rel=1e-12)
    assert ours.statistic == pytest.approx(theirs.statistic, rel=1e-12)
    va, vb = a.var(ddof=1) / a.size, b.var(ddof=1) / b.size
    df = (va + vb) ** 2 / (va**2 / (a.size - 1) + vb**2 / (b.size - 1))
    assert ours.df == pytest.approx(df)
    assert ours.statistic == pytest.approx((a.mean() - b.mean()) / math.sqrt(va + vb))


def test_holm_by_hand_and_by_the_rejection_procedure() -> None:
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1: 0.02, 0.03, 0.06, 0.04 -> running max
    assert holm([0.01, 0.04, 0.03, 0.005]) == pytest.approx([0.03, 0.06, 0.06, 0.02])
    assert holm([0.5, None, 0.6]) == [pytest.approx(1.0), None, pytest.approx(1.0)]
    assert holm([]) == []
    p = [0.012, 0.2, 0.003, 0.04, 0.011, 0.9]
    adjusted = holm(p)
    for alpha in (0.01, 0.02, 0.05, 0.1, 0.3):
        # Holm (1979): reject the sorted hypotheses until p_(k) > alpha / (m - k + 1)
        order = np.argsort(p)
        rejected = set()
        for k, i in enumerate(order):
            if p[i] > alpha / (len(p) - k):
                break
            rejected.add(int(i))
        assert {i for i, q in enumerate(adjusted) if q is not None and q <= alpha} == rejected


def test_bootstrap_is_seeded_contains_the_mean_and_matches_scipy() -> None:
    values = np.array(BASE)
    ci = bootstrap_mean_ci(values, seed=3)
    assert ci == bootstrap_mean_ci(list(values), seed=3)
    assert ci != bootstrap_mean_ci(values, seed=4)
    assert ci is not None and ci[0] < values.mean() < ci[1]
    # the documented algorithm, written out
    index = np.random.default_rng(3).integers(0, values.size, size=(10_000, values.size))
    expected = np.quantile(values[index].mean(axis=1), [0.025, 0.975])
    assert ci == pytest.approx(tuple(expected), rel=1e-15)
    # scipy's percentile bootstrap agrees within Monte Carlo error
    theirs = stats.bootstrap(
        (values,), np.mean, n_resamples=10_000, method="percentile", rng=np.random.default_rng(9)
    ).confidence_interval
    tolerance = 0.05 * values.std(ddof=1)
    assert ci[0] == pytest.approx(theirs.low, abs=tolerance)
    assert ci[1] == pytest.approx(theirs.high, abs=tolerance)
    assert bootstrap_mean_ci([0.3]) is None
    summary = describe([0.3, None, 0.5, float("nan")])
    assert (summary.n, summary.mean) == (2, pytest.approx(0.4))
    assert summary.sd == pytest.approx(np.std([0.3, 0.5], ddof=1))


def test_effect_sizes_by_hand() -> None:
    a, b = np.array(BETTER[:6]), np.array(BASE)
    n1, n2 = a.size, b.size
    pooled = math.sqrt(((n1 - 1) * a.var(ddof=1) + (n2 - 1) * b.var(ddof=1)) / (n1 + n2 - 2))
    df = n1 + n2 - 2
    exact_j = math.gamma(df / 2) / (math.sqrt(df / 2) * math.gamma((df - 1) / 2))
    g = hedges_g(list(a), list(b))
    assert g == pytest.approx(exact_j * (a.mean() - b.mean()) / pooled, rel=1e-12)
    approximate_j = 1 - 3 / (4 * (n1 + n2) - 9)
    assert g == pytest.approx(approximate_j * (a.mean() - b.mean()) / pooled, rel=2e-3)
    assert g is not None and g < 0  # lower error than the baseline
    d = np.array(BETTER) - np.array(BASE)
    assert cohen_dz(BETTER, BASE) == pytest.approx(d.mean() / d.std(ddof=1))
    assert hedges_g([0.3], BASE) is None and hedges_g([1.0, 1.0], [1.0, 1.0]) is None
    assert relative_change(0.9, 1.0) == pytest.approx(-0.1)
    assert relative_change(-1.1, -1.0) == pytest.approx(-0.1)
    assert relative_change(0.5, 0.0) is None


def test_verdict_follows_the_metric_direction() -> None:
    assert decide(0.01, -1, lower_is_better=True, alpha=0.05) == "better"
    assert decide(0.01, 1, lower_is_better=True, alpha=0.05) == "worse"
    assert decide(0.01, 1, lower_is_better=False, alpha=0.05) == "better"
    assert decide(0.05, -1, lower_is_better=True, alpha=0.05) == "not distinguishable"
    assert decide(None, -1, lower_is_better=True, alpha=0.05) == "not distinguishable"


def test_compare_approaches_ranks_corrects_and_decides() -> None:
    values = {"plain": BASE, "better": BETTER, "noisy": NOISY, "worse": WORSE}
    rows = compare_approaches(values, "plain", alpha=0.05)
    by_name = {r.approach: r for r in rows}
    assert [r.approach for r in rows] == ["better", "plain", "noisy", "worse"]
    assert [r.rank for r in rows] == [1, 2, 3, 4]
    raw = [stats.wilcoxon(values[k], BASE).pvalue for k in ("better", "noisy", "worse")]
    for name, adjusted in zip(("better", "noisy", "worse"), holm(raw), strict=True):
        assert by_name[name].wilcoxon_p_holm == pytest.approx(adjusted)
    assert by_name["better"].verdict == "better"
    assert by_name["worse"].verdict == "worse"
    assert by_name["noisy"].verdict == "not distinguishable"
    assert by_name["plain"].verdict == "baseline"
    # the same numbers as a score where higher is better: the verdicts swap
    flipped = {r.approach: r for r in compare_approaches(values, "plain", lower_is_better=False)}
    assert flipped["better"].verdict == "worse" and flipped["worse"].verdict == "better"
    assert flipped["worse"].rank == 1


def test_failed_seeds_are_counted_and_unpaired() -> None:
    values = {"plain": BASE, "flaky": [*BETTER[:6], None, float("nan")]}
    rows = {r.approach: r for r in compare_approaches(values, "plain")}
    flaky = rows["flaky"]
    assert (flaky.n_failed, flaky.summary.n) == (2, 6)
    assert flaky.wilcoxon is not None and flaky.wilcoxon.n == 6
    assert flaky.wilcoxon.p == pytest.approx(stats.wilcoxon(BETTER[:6], BASE[:6]).pvalue)
    assert flaky.welch is not None
    assert flaky.welch.p == pytest.approx(stats.ttest_ind(BETTER[:6], BASE, equal_var=False).pvalue)
    with pytest.raises(ValueError, match="baseline 'nope'"):
        compare_approaches(values, "nope")
