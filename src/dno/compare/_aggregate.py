"""Statistics of an aggregate across tasks: rliable's (Agarwal et al. 2021, "Deep Reinforcement
Learning at the Edge of the Statistical Precipice"), in numpy and scipy.

Pure numpy and scipy; nothing else of dno. A model's scores are a sequence of tasks, each a 1-D
array of its runs (one per seed) on that task, finite and already normalised
(:func:`normalise_to_baseline`). Tasks may hold different numbers of runs (rliable's score
matrices cannot); with the same number everywhere every number here is rliable's, to the last
digit, when the bootstrap draws from the same stream (``tests/compare/test_aggregate.py``
compares them with values rliable 1.2.0 computed).

- **Normalisation**: a run's score over the median of the baseline's runs on the same task. 1 is
  the baseline's typical score; the ratio has no unit, so the errors of families whose scales
  differ become comparable. One number per task (as rliable's human-normalised Atari scores):
  each model's runs on a task are its raw scores rescaled, so the per-task probability of
  improvement is the raw one, and a failed baseline seed takes no other model's run with it.
- **Interquartile mean** (IQM): the 25% trimmed mean of every run of every task pooled,
  ``scipy.stats.trim_mean(runs, 0.25)`` (``int(0.25 N)`` runs cut at each end of N). A task
  with more runs weighs more.
- **Stratified bootstrap**: a resample draws, within each task, as many runs as the task holds,
  with replacement; the tasks themselves are kept (the interval is for other seeds on the same
  tasks). The interval is the percentile one: the ``(1 - confidence) / 2`` and
  ``(1 + confidence) / 2`` quantiles (numpy's linear interpolation) of the statistic over
  ``resamples`` resamples.
- **Probability of improvement** P(X > Y): per task, the Mann-Whitney U of X's runs against Y's
  over ``n_x n_y``, the probability that a run of X drawn at random beats one of Y (a tie counts
  half), averaged over the tasks. For its interval X and Y are resampled independently, each
  stratified by task (rliable's ``StratifiedIndependentBootstrap``). ``P(Y > X) = 1 - P(X > Y)``.
- **Performance profile**: at a threshold tau, the fraction of all runs (pooled) whose score is
  better than tau (below it when lower is better, above it otherwise; strictly); its band is
  the pointwise percentile interval of the stratified bootstrap.

"Better" follows ``lower_is_better``: the statistics of a lower-is-better score are those of its
negation (``P(X better than Y)`` is ``P(-X > -Y)``), so rliable's higher-is-better definitions
hold as written.

Example:
    >>> runs = [np.array([0.8, 0.9, 1.0, 1.1]), np.array([0.5, 0.7, 0.6, 2.0])]
    >>> interquartile_mean(runs)
    0.85
    >>> probability_of_improvement(runs, [np.ones(4), np.ones(4)], lower_is_better=True)
    0.6875
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

__all__ = [
    "Interval",
    "RandomSource",
    "improvement_interval",
    "interquartile_mean",
    "iqm_interval",
    "normalise_to_baseline",
    "performance_profile",
    "probability_of_improvement",
    "profile_band",
]

#: The draws of a bootstrap: a seed for numpy's default generator, or a legacy ``RandomState``
#: (what rliable draws from: numpy's global state, in its tests).
RandomSource = int | np.random.RandomState
#: The fraction of runs cut at each end by the interquartile mean.
_TRIM = 0.25


@dataclass(frozen=True)
class Interval:
    """A statistic and its percentile-bootstrap interval (None with fewer than 2 runs)."""

    estimate: float
    low: float | None
    high: float | None


def normalise_to_baseline(runs: ArrayLike, baseline_runs: ArrayLike) -> np.ndarray:
    """``runs`` over the median of ``baseline_runs`` (its finite values); shape as ``runs``.

    Raises:
        ValueError: the baseline has no finite run, or its median is not positive (a ratio
            would not keep the order of the scores).

    Example:
        >>> normalise_to_baseline([0.2, 0.4], [0.1, 0.2, np.nan, 0.3])
        array([1., 2.])
    """
    base = np.asarray(baseline_runs, dtype=float)
    base = base[np.isfinite(base)]
    if base.size == 0:
        raise ValueError("the baseline has no finite run")
    scale = float(np.median(base))
    if not scale > 0:
        raise ValueError(f"the baseline's median score is {scale:g}; a ratio needs a positive one")
    return np.asarray(runs, dtype=float) / scale


def _oriented(tasks: Sequence[ArrayLike], lower_is_better: bool) -> list[np.ndarray]:
    """Each task's runs as floats, negated when lower is better (so that higher is better)."""
    sign = -1.0 if lower_is_better else 1.0
    out = [sign * np.asarray(runs, dtype=float).ravel() for runs in tasks]
    if not out or any(runs.size == 0 for runs in out):
        raise ValueError("expected at least one task, and at least one run in every task")
    return out


def interquartile_mean(tasks: Sequence[ArrayLike]) -> float:
    """The 25% trimmed mean of the runs of every task pooled (``scipy.stats.trim_mean``)."""
    from scipy import stats  # here: scipy.stats takes most of a second to import

    pooled = np.concatenate(_oriented(tasks, lower_is_better=False))
    return float(stats.trim_mean(pooled, _TRIM))


def _improvement(x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """P(x > y), ties half, of runs ``x`` (..., n_x) against ``y`` (..., n_y): shape (...)."""
    greater = (x[..., :, None] > y[..., None, :]).sum(axis=(-2, -1))
    ties = (x[..., :, None] == y[..., None, :]).sum(axis=(-2, -1))
    return np.asarray((greater + 0.5 * ties) / (x.shape[-1] * y.shape[-1]))


def _check_paired(x: Sequence[ArrayLike], y: Sequence[ArrayLike]) -> None:
    if len(x) != len(y):
        raise ValueError(f"X has {len(x)} tasks and Y {len(y)}; expected the same tasks")


def probability_of_improvement(
    x: Sequence[ArrayLike], y: Sequence[ArrayLike], *, lower_is_better: bool
) -> float:
    """P(X better than Y): per task the Mann-Whitney U over ``n_x n_y``, averaged over tasks.

    Args:
        x, y: per task, each model's runs; the same tasks in the same order.
        lower_is_better: the score's direction (errors: True).
    """
    _check_paired(x, y)
    xs, ys = _oriented(x, lower_is_better), _oriented(y, lower_is_better)
    return float(np.mean([_improvement(a, b) for a, b in zip(xs, ys, strict=True)]))


def performance_profile(
    tasks: Sequence[ArrayLike], thresholds: ArrayLike, *, lower_is_better: bool
) -> np.ndarray:
    """The fraction of all runs better than each threshold; shape (thresholds,)."""
    sign = -1.0 if lower_is_better else 1.0
    pooled = np.concatenate(_oriented(tasks, lower_is_better))
    taus = sign * np.asarray(thresholds, dtype=float).ravel()
    return np.asarray((pooled[None, :] > taus[:, None]).mean(axis=1))


def _generator(random_state: RandomSource) -> np.random.Generator | np.random.RandomState:
    if isinstance(random_state, np.random.RandomState):
        return random_state
    return np.random.default_rng(random_state)


def _draws(
    rng: np.random.Generator | np.random.RandomState,
    groups: Sequence[Sequence[int]],
    resamples: int,
) -> list[list[np.ndarray]]:
    """Run indices of a stratified bootstrap, per group (a model) and task: shape (resamples,
    n) among the task's n runs.

    When every task of every group holds the same n runs, one draw of shape (resamples, groups,
    n, tasks): rliable's order (per resample, group after group, a (runs, tasks) matrix), so a
    ``RandomState`` seeded as rliable's numpy global state gives rliable's resamples. Otherwise
    each group's tasks in turn, (resamples, n) each.
    """
    counts = {n for group in groups for n in group}
    if len(counts) == 1:
        n, tasks = counts.pop(), len(groups[0])
        drawn = rng.choice(n, size=(resamples, len(groups), n, tasks), replace=True)
        return [[drawn[:, g, :, t] for t in range(tasks)] for g in range(len(groups))]
    return [[rng.choice(n, size=(resamples, n), replace=True) for n in group] for group in groups]


def _interval(values: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    """The percentile interval of bootstrap ``values`` (resamples, ...) along the resamples."""
    low, high = np.quantile(values, [(1 - confidence) / 2, (1 + confidence) / 2], axis=0)
    return low, high


def _check_bootstrap(resamples: int, confidence: float) -> None:
    if resamples < 1 or not 0 < confidence < 1:
        raise ValueError(
            f"resamples {resamples}, confidence {confidence}; expected >= 1 and in (0, 1)"
        )


def _resampled(tasks: list[np.ndarray], draws: list[np.ndarray]) -> np.ndarray:
    """Every task's resampled runs side by side: shape (resamples, total runs)."""
    return np.concatenate([runs[index] for runs, index in zip(tasks, draws, strict=True)], axis=1)


def iqm_interval(
    tasks: Sequence[ArrayLike],
    *,
    resamples: int,
    confidence: float = 0.95,
    random_state: RandomSource = 0,
) -> Interval:
    """The interquartile mean and its stratified-bootstrap percentile interval.

    Args:
        tasks: per task, the model's runs.
        resamples: bootstrap resamples.
        confidence: the interval's coverage.
        random_state: the draws (see :data:`RandomSource`).
    """
    _check_bootstrap(resamples, confidence)
    runs = _oriented(tasks, lower_is_better=False)
    estimate = interquartile_mean(runs)
    if sum(r.size for r in runs) < 2:
        return Interval(estimate, None, None)
    draws = _draws(_generator(random_state), [[r.size for r in runs]], resamples)[0]
    from scipy import stats

    values = stats.trim_mean(_resampled(runs, draws), _TRIM, axis=1)
    low, high = _interval(values, confidence)
    return Interval(estimate, float(low), float(high))


def improvement_interval(
    x: Sequence[ArrayLike],
    y: Sequence[ArrayLike],
    *,
    lower_is_better: bool,
    resamples: int,
    confidence: float = 0.95,
    random_state: RandomSource = 0,
) -> Interval:
    """P(X better than Y) and its percentile interval, X and Y resampled independently, each
    stratified by task (arguments as in :func:`probability_of_improvement` and
    :func:`iqm_interval`)."""
    _check_bootstrap(resamples, confidence)
    _check_paired(x, y)
    xs, ys = _oriented(x, lower_is_better), _oriented(y, lower_is_better)
    estimate = float(np.mean([_improvement(a, b) for a, b in zip(xs, ys, strict=True)]))
    if sum(r.size for r in xs) + sum(r.size for r in ys) < 3:
        return Interval(estimate, None, None)
    groups = [[r.size for r in xs], [r.size for r in ys]]
    x_draws, y_draws = _draws(_generator(random_state), groups, resamples)
    per_task = [
        _improvement(a[i], b[j]) for a, b, i, j in zip(xs, ys, x_draws, y_draws, strict=True)
    ]
    low, high = _interval(np.mean(per_task, axis=0), confidence)
    return Interval(estimate, float(low), float(high))


def profile_band(
    tasks: Sequence[ArrayLike],
    thresholds: ArrayLike,
    *,
    lower_is_better: bool,
    resamples: int,
    confidence: float = 0.95,
    random_state: RandomSource = 0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The performance profile at ``thresholds`` and its pointwise percentile band: three
    arrays of shape (thresholds,) (profile, low, high); arguments as in :func:`iqm_interval`."""
    _check_bootstrap(resamples, confidence)
    sign = -1.0 if lower_is_better else 1.0
    runs = _oriented(tasks, lower_is_better)
    taus = sign * np.asarray(thresholds, dtype=float).ravel()
    profile = performance_profile(tasks, thresholds, lower_is_better=lower_is_better)
    draws = _draws(_generator(random_state), [[r.size for r in runs]], resamples)[0]
    pooled = _resampled(runs, draws)
    # one threshold at a time: (resamples, runs, thresholds) at once can take gigabytes
    fractions = np.stack([(pooled > tau).mean(axis=1) for tau in taus], axis=1)
    low, high = _interval(fractions, confidence)
    return profile, low, high
