"""dno.compare's aggregate statistics against rliable's own numbers, and their properties."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from dno.compare import (
    improvement_interval,
    interquartile_mean,
    iqm_interval,
    normalise_to_baseline,
    performance_profile,
    probability_of_improvement,
    profile_band,
)

# Fixed inputs, runs x tasks (rliable's layout); Z has 4 runs, the others 5.
X = np.array([[0.81, 1.20, 0.95], [0.92, 1.05, 1.40], [0.77, 0.99, 1.10],
              [1.03, 1.31, 0.88], [0.85, 1.12, 1.02]])  # fmt: skip
Y = np.array([[1.00, 1.00, 0.95], [0.98, 1.21, 1.15], [1.10, 0.93, 1.07],
              [0.94, 1.08, 1.30], [1.05, 1.17, 0.99]])  # fmt: skip
Z = np.array([[0.70, 1.30, 1.00], [1.20, 0.90, 0.95], [0.88, 1.00, 1.22],
              [0.95, 1.08, 0.80]])  # fmt: skip
TAUS = np.array([0.8, 0.9, 1.0, 1.1, 1.2, 1.3])

# rliable 1.2.0 (arch 7.2.0, pandas 2.3.3, numpy 2.4.6, scipy 1.17.1) in a scratch venv, not a
# dependency of dno; each call after np.random.seed(5), the global state its stratified
# bootstraps draw from (they ignore random_state):
#   library.get_interval_estimates({"x": X}, lambda s: np.array([metrics.aggregate_iqm(s)]),
#                                  reps=2000)
#   library.get_interval_estimates({"xy": [X, Y]}, metrics.probability_of_improvement, reps=2000)
#   library.get_interval_estimates({"xz": [X, Z]}, metrics.probability_of_improvement,
#                                  reps=50000)
#   library.create_performance_profile({"x": X}, TAUS, reps=2000)
# (estimate, low, high); the profile: (profile, band low, band high) at TAUS.
RLIABLE_IQM_X = (1.0066666666666668, 0.9477777777777779, 1.0844444444444445)
RLIABLE_POI_XY = (0.37999999999999995, 0.18666666666666668, 0.5733333333333334)
RLIABLE_POI_XZ = (0.5583333333333333, 0.325, 0.7833333333333333)
RLIABLE_PROFILE_X = (
    [0.9333333333333333, 0.7333333333333333, 0.5333333333333333, 0.26666666666666666,
     0.13333333333333333, 0.13333333333333333],
    [0.8, 0.5333333333333333, 0.3333333333333333, 0.06666666666666667, 0.0, 0.0],
    [1.0, 0.9333333333333333, 0.7333333333333333, 0.4666666666666667, 0.3333333333333333,
     0.3333333333333333],
)  # fmt: skip


def tasks(matrix: np.ndarray) -> list[np.ndarray]:
    """rliable's (runs, tasks) matrix as dno's list of tasks."""
    return list(matrix.T)


def rliable_draws() -> np.random.RandomState:
    """The stream rliable drew from: numpy's global state after np.random.seed(5)."""
    return np.random.RandomState(5)


def test_iqm_and_its_interval_are_rliables() -> None:
    found = iqm_interval(tasks(X), resamples=2000, random_state=rliable_draws())
    assert (found.estimate, found.low, found.high) == pytest.approx(RLIABLE_IQM_X, rel=1e-12)
    assert interquartile_mean(tasks(X)) == pytest.approx(stats.trim_mean(X, 0.25, axis=None))


def test_probability_of_improvement_and_its_interval_are_rliables() -> None:
    found = improvement_interval(
        tasks(X), tasks(Y), lower_is_better=False, resamples=2000, random_state=rliable_draws()
    )
    assert (found.estimate, found.low, found.high) == pytest.approx(RLIABLE_POI_XY, rel=1e-12)
    # the point estimate is the Mann-Whitney U over n_x n_y per task, averaged (rliable's)
    u = [stats.mannwhitneyu(X[:, t], Y[:, t]).statistic / 25 for t in range(3)]
    assert probability_of_improvement(tasks(X), tasks(Y), lower_is_better=False) == np.mean(u)


def test_unequal_run_counts_agree_with_rliable_within_resampling_error() -> None:
    """With 5 runs against 4 the draws come in another order than rliable's: the intervals
    agree within the bootstrap's own error (50,000 resamples each)."""
    found = improvement_interval(
        tasks(X), tasks(Z), lower_is_better=False, resamples=50_000, random_state=1
    )
    assert found.estimate == pytest.approx(RLIABLE_POI_XZ[0], rel=1e-12)
    assert (found.low, found.high) == pytest.approx(RLIABLE_POI_XZ[1:], abs=0.02)


def test_performance_profile_and_its_band_are_rliables() -> None:
    profile, low, high = profile_band(
        tasks(X), TAUS, lower_is_better=False, resamples=2000, random_state=rliable_draws()
    )
    for ours, theirs in zip((profile, low, high), RLIABLE_PROFILE_X, strict=True):
        assert ours == pytest.approx(theirs, abs=1e-12)


def test_lower_is_better_is_the_negated_score() -> None:
    """An error's statistics are those of its negation; P(Y better) = 1 - P(X better)."""
    x, y = tasks(X), tasks(Y)
    negated = [-a for a in x], [-b for b in y]
    lower = improvement_interval(x, y, lower_is_better=True, resamples=500, random_state=3)
    higher = improvement_interval(*negated, lower_is_better=False, resamples=500, random_state=3)
    assert lower == higher
    assert probability_of_improvement(y, x, lower_is_better=True) == pytest.approx(
        1 - lower.estimate
    )
    below = performance_profile(x, TAUS, lower_is_better=True)
    assert below == pytest.approx(performance_profile(negated[0], -TAUS, lower_is_better=False))
    assert below == pytest.approx([(tau > X).mean() for tau in TAUS])


def test_ties_count_half() -> None:
    same = [np.array([1.0, 2.0]), np.array([3.0, 3.0])]
    assert probability_of_improvement(same, same, lower_is_better=True) == 0.5
    assert probability_of_improvement([[1.0]], [[1.0, 2.0]], lower_is_better=True) == 0.75


def test_resamples_stay_within_their_task() -> None:
    """Tasks of 3 and 5 runs in disjoint ranges: every resample keeps 3 runs of the first, so
    the profile between the ranges is 3/8 in every resample, and the IQM stays between what the
    trimmed middle four can hold."""
    low_task, high_task = np.array([0.1, 0.2, 0.3]), np.array([10.0, 11.0, 12.0, 13.0, 14.0])
    profile, band_low, band_high = profile_band(
        [low_task, high_task], [1.0], lower_is_better=True, resamples=2000, random_state=0
    )
    assert profile[0] == band_low[0] == band_high[0] == 3 / 8
    iqm = iqm_interval([low_task, high_task], resamples=2000, random_state=0)
    assert iqm.low is not None and iqm.high is not None
    # the middle four of eight: the largest of the three low runs and the three lowest high ones
    assert (0.1 + 3 * 10.0) / 4 <= iqm.low <= iqm.estimate <= iqm.high <= (0.3 + 3 * 14.0) / 4
    assert iqm.estimate == pytest.approx((0.3 + 10 + 11 + 12) / 4)


def test_intervals_are_seeded_and_cover_the_estimate() -> None:
    x = [np.random.default_rng(k).lognormal(size=8) for k in range(4)]
    first = iqm_interval(x, resamples=3000, random_state=7)
    assert first == iqm_interval(x, resamples=3000, random_state=7)
    assert first != iqm_interval(x, resamples=3000, random_state=8)
    assert first.low is not None and first.high is not None
    assert first.low < first.estimate < first.high


def test_one_run_has_no_interval() -> None:
    found = iqm_interval([[0.5]], resamples=100)
    assert (found.estimate, found.low, found.high) == (0.5, None, None)


def test_normalised_by_the_baseline_median() -> None:
    ratios = normalise_to_baseline([0.2, np.nan, 0.9], [0.1, 0.3, np.nan, 0.2])
    assert ratios == pytest.approx([1.0, np.nan, 4.5], nan_ok=True)
    with pytest.raises(ValueError, match="no finite run"):
        normalise_to_baseline([1.0], [np.nan, np.inf])
    with pytest.raises(ValueError, match="median score is 0"):
        normalise_to_baseline([1.0], [0.0, 0.0, 1.0])


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: interquartile_mean([]), "at least one task"),
        (lambda: interquartile_mean([[1.0], []]), "at least one run in every task"),
        (lambda: probability_of_improvement([[1.0]], [[1.0], [2.0]], lower_is_better=True),
         "X has 1 tasks and Y 2"),
        (lambda: iqm_interval([[1.0, 2.0]], resamples=0), "resamples 0"),
    ],
)  # fmt: skip
def test_bad_input_is_one_clear_error(call: object, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        call()  # type: ignore[operator]
