"""The aggregate of finished benchmarks: ``dno benchmark --aggregate DIR [DIR ...]``.

A **task** is one benchmark folder in one regime. Each run's score is divided by the median of
the baseline's runs on the same task (:func:`dno.compare.normalise_to_baseline`: 1 is the
baseline's typical score, and a ratio has no unit, so families whose errors differ in scale can
be pooled); then, per regime and model, rliable's statistics (:mod:`dno.compare._aggregate`):
the interquartile mean of the normalised runs of every task pooled, with a stratified-bootstrap
95% interval (seeds resampled within each task), the probability that each model beats each
other one, with its interval, and performance profiles with their bands.

A model missing from a task (not in that protocol, or every run of it failed) is aggregated over
the tasks it has: its row counts them, so an IQM over fewer tasks is seen as such. The
probability of improvement of two models averages over the tasks both have; two models with no
task in common get none. A failed or non-finite run is left out, as in the leaderboard, and
counted (``runs`` against ``runs_total``).

What is read (the contract the benchmark's files keep; a future field is ignored):

- ``benchmark.json`` with ``"status": "done"`` (a finished benchmark);
- ``leaderboard.json`` (``"kind": "dno-leaderboard"``) with ``"protocol"`` (``name``,
  ``family``, ``budget``, ``baseline``), ``"ranking_metric"`` and ``"values"``: metric ->
  model -> one value per seed in the order of ``"seeds"`` (null: the run failed or its value was
  not finite). These top-level values are the regime ``in_distribution``;
- optionally ``"regimes"``: regime name -> ``{"values": {metric: {model: [...]}}, ...}`` in the
  same form, one task each. A regime named ``in_distribution`` there replaces the top-level
  values; the other keys of a regime are not read.

Regimes are matched by name across folders, models by their entry name in the protocols. Every
folder is normalised by the same baseline (the protocols' own, which must agree, or
``baseline``) on the same metric (their ranking metric, which must agree, or ``metric``).

Files (``OUT``): ``aggregate.md`` (to read), ``aggregate.json`` (everything: the tasks, each
normalised run, each statistic, the profiles) and ``report/index.html`` (:mod:`dno.report`).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dno import __version__
from dno._io import atomic_path, make_folder
from dno.compare import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    Interval,
    improvement_interval,
    iqm_interval,
    markdown_table,
    normalise_to_baseline,
    profile_band,
)
from dno.errors import UsageError
from dno.evaluation import canonical_name, get_metric, metric_names
from dno.tracking import (
    AGGREGATE_JSON,
    AGGREGATE_MD,
    BENCHMARK_JSON,
    LEADERBOARD_JSON,
    json_safe,
    read_json,
    write_json,
)

__all__ = [
    "IN_DISTRIBUTION",
    "Aggregate",
    "Improvement",
    "ModelAggregate",
    "RegimeAggregate",
    "Task",
    "aggregate_benchmarks",
    "aggregate_document",
    "format_aggregate",
    "write_aggregate",
]

#: The regime of a leaderboard's top-level values: the protocol's own test split.
IN_DISTRIBUTION = "in_distribution"
#: Thresholds of a performance profile.
PROFILE_POINTS = 101
#: The interval's coverage.
CONFIDENCE = 0.95
_DASH = "—"

Values = dict[str, dict[str, list[float | None]]]  # metric -> model -> one value per seed


@dataclass(frozen=True)
class Task:
    """One benchmark folder in one regime: each model's normalised runs.

    Attributes:
        name: how the tables call it (the protocol's name, the folder's too if two share it).
        folder: the benchmark folder, as given.
        protocol, family, budget: the protocol's.
        regime: the regime's name.
        baseline_median: the baseline's median raw score: what every score here was divided by.
        scores: model -> normalised score per seed (None: failed or not finite).
    """

    name: str
    folder: str
    protocol: str
    family: str
    budget: str | None
    regime: str
    baseline_median: float
    scores: dict[str, list[float | None]]

    def runs(self, model: str) -> np.ndarray:
        """The model's finite normalised runs here (empty if it has none)."""
        return np.array([v for v in self.scores.get(model, []) if v is not None], dtype=float)


@dataclass(frozen=True)
class ModelAggregate:
    """A model in one regime: its IQM (None if no run finished) over ``tasks`` tasks, from
    ``runs`` finite runs of the ``runs_total`` it has; its ``rank`` among the models with runs
    on every task of the regime (None for the others: their IQM is over other tasks)."""

    model: str
    iqm: Interval | None
    tasks: int
    runs: int
    runs_total: int
    rank: int | None = None


@dataclass(frozen=True)
class Improvement:
    """P(``x`` better than ``y``) with its interval, over the ``tasks`` both have."""

    x: str
    y: str
    probability: Interval
    tasks: int


@dataclass
class RegimeAggregate:
    """One regime's statistics.

    Attributes:
        regime: its name.
        tasks: its tasks.
        models: the ranked models (runs on every task), best IQM first; then the others.
        improvements: ``(x, y)`` -> P(x better than y), for every ordered pair with a task in
            common.
        thresholds: the profiles' thresholds (normalised scores), shape (PROFILE_POINTS,).
        profiles: model -> (profile, band low, band high), each of the thresholds' shape.
    """

    regime: str
    tasks: list[Task]
    models: list[ModelAggregate]
    improvements: dict[tuple[str, str], Improvement]
    thresholds: np.ndarray
    profiles: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = field(default_factory=dict)


@dataclass
class Aggregate:
    """The aggregate of ``folders`` on ``metric``, normalised by ``baseline``."""

    folders: list[str]
    metric: str
    baseline: str
    regimes: list[RegimeAggregate]
    resamples: int = BOOTSTRAP_RESAMPLES
    seed: int = BOOTSTRAP_SEED

    @property
    def lower_is_better(self) -> bool:
        return get_metric(self.metric).lower_is_better


@dataclass(frozen=True)
class _Benchmark:
    """A finished benchmark folder as read: its protocol's facts and each regime's values."""

    folder: str
    protocol: str
    family: str
    budget: str | None
    baseline: str
    ranking_metric: str
    regimes: dict[str, Values]


def _read_benchmark(folder: str | os.PathLike[str]) -> _Benchmark:
    """Read and check a finished benchmark folder (see the module doc); one line if it is not."""
    where = str(folder)
    path = Path(folder)
    if not path.is_dir():
        raise UsageError(f"--aggregate: {where!r} is not a folder; expected a benchmark folder")
    expected = "expected a folder written by dno benchmark"
    if not (path / BENCHMARK_JSON).is_file():
        raise UsageError(f"--aggregate: {where!r} holds no {BENCHMARK_JSON}; {expected}")
    status = read_json(path / BENCHMARK_JSON).get("status")
    if status != "done":
        raise UsageError(
            f"--aggregate: {where!r} is not a finished benchmark ({BENCHMARK_JSON} says status "
            f"{status!r}); rerun its dno benchmark command to finish it"
        )
    board_path = path / LEADERBOARD_JSON
    if not board_path.is_file():
        raise UsageError(
            f"--aggregate: {where!r} holds no {LEADERBOARD_JSON}; rerun its dno benchmark "
            "command to write it"
        )
    board = read_json(board_path)
    protocol = board.get("protocol")
    if board.get("kind") != "dno-leaderboard" or not isinstance(protocol, dict):
        raise UsageError(f"--aggregate: {board_path} is not a dno benchmark leaderboard")
    regimes = {IN_DISTRIBUTION: _values(board.get("values"), board_path, IN_DISTRIBUTION)}
    extra = board.get("regimes") or {}
    if not isinstance(extra, dict):
        raise UsageError(f"--aggregate: {board_path}: regimes is not a mapping of regimes")
    for regime, content in extra.items():
        found = content.get("values") if isinstance(content, dict) else None
        regimes[str(regime)] = _values(found, board_path, str(regime))
    return _Benchmark(
        folder=where,
        protocol=str(protocol.get("name", path.name)),
        family=str(protocol.get("family", "")),
        budget=protocol.get("budget"),
        baseline=str(protocol.get("baseline", "")),
        ranking_metric=canonical_name(str(board.get("ranking_metric", ""))),
        regimes=regimes,
    )


def _values(found: Any, path: Path, regime: str) -> Values:
    """``found`` checked as metric -> model -> per-seed values (numbers or null)."""
    shape = "metric -> model -> one number (or null) per seed"
    if not isinstance(found, dict):
        raise UsageError(f"--aggregate: {path}: regime {regime}: no values ({shape})")
    values: Values = {}
    for metric, models in found.items():
        if not isinstance(models, dict):
            raise UsageError(f"--aggregate: {path}: regime {regime}: {metric}: expected {shape}")
        values[canonical_name(str(metric))] = {
            str(model): _runs(runs, f"{path}: regime {regime}: {metric}: {model}")
            for model, runs in models.items()
        }
    return values


def _runs(runs: Any, where: str) -> list[float | None]:
    def number(v: Any) -> bool:
        return isinstance(v, int | float) and not isinstance(v, bool)

    if not isinstance(runs, list) or not all(v is None or number(v) for v in runs):
        raise UsageError(f"--aggregate: {where}: expected a list of numbers (null: a failed run)")
    return [None if v is None or not np.isfinite(v) else float(v) for v in runs]


def _common(benchmarks: list[_Benchmark], what: str, flag: str, value: str | None) -> str:
    """The one value of ``what`` the benchmarks share, or ``value`` if given; else one line
    naming each folder's."""
    if value is not None:
        return value
    found = {getattr(b, what) for b in benchmarks}
    if len(found) == 1:
        return found.pop()
    each = ", ".join(f"{b.folder!r} {getattr(b, what)}" for b in benchmarks)
    noun = "ranking metrics" if what == "ranking_metric" else "baselines"
    raise UsageError(
        f"--aggregate: the benchmarks have different {noun} ({each}); give {flag} NAME, one "
        "that every folder holds"
    )


def _metric(name: str) -> str:
    """A score of the metric table with a direction (what a ratio to the baseline can rank)."""
    try:
        metric = get_metric(name)
    except UsageError as error:
        raise UsageError(f"--metric: {error}") from None
    if metric.kind != "score" or not metric.direction.searchable:
        scores = ", ".join(metric_names(kind="score", searchable=True))
        raise UsageError(
            f"--metric {name!r} cannot be aggregated; expected a score with a direction: {scores}"
        )
    return metric.name


def _tasks(benchmarks: list[_Benchmark], metric: str, baseline: str) -> list[Task]:
    """Every (folder, regime), normalised by the baseline's median on it."""
    names = [b.protocol for b in benchmarks]
    tasks = []
    for b in benchmarks:
        name = b.protocol if names.count(b.protocol) == 1 else f"{b.protocol} [{b.folder}]"
        for regime, values in b.regimes.items():
            where = f"--aggregate: {b.folder!r}"
            if regime != IN_DISTRIBUTION:
                where += f" (regime {regime})"
            if metric not in values:
                raise UsageError(
                    f"{where} has no test {metric} values; it holds: {', '.join(values)}"
                )
            scores, median = _normalised(values[metric], baseline, where, metric)
            tasks.append(
                Task(name, b.folder, b.protocol, b.family, b.budget, regime, median, scores)
            )
    return tasks


def _normalised(
    per_model: dict[str, list[float | None]], baseline: str, where: str, metric: str
) -> tuple[dict[str, list[float | None]], float]:
    """Every model's runs over the baseline's median (failed runs stay None), and the median."""
    if baseline not in per_model:
        raise UsageError(
            f"{where}: the baseline {baseline!r} is not one of its models "
            f"({', '.join(per_model)}); give --baseline NAME, a model of every folder"
        )
    base = _nan(per_model[baseline])
    try:
        ratios = {
            model: normalise_to_baseline(_nan(runs), base) for model, runs in per_model.items()
        }
    except ValueError as error:  # no finite baseline run, or a median <= 0
        raise UsageError(f"{where}: {metric} of {baseline}: {error}") from None
    scores = {
        model: [None if np.isnan(x) else float(x) for x in ratio] for model, ratio in ratios.items()
    }
    return scores, float(np.nanmedian(base))


def _nan(runs: Sequence[float | None]) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in runs], dtype=float)


def aggregate_benchmarks(
    folders: Sequence[str | os.PathLike[str]],
    *,
    metric: str | None = None,
    baseline: str | None = None,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> Aggregate:
    """The aggregate of finished benchmark folders (see the module doc).

    Args:
        folders: benchmark folders written by ``dno benchmark`` (at least one).
        metric: the test score to aggregate (default: the folders' ranking metric).
        baseline: the model every task is normalised by (default: the protocols' baseline).
        resamples: bootstrap resamples of every interval and band.
        seed: the bootstrap's seed (the same for every statistic).

    Raises:
        UsageError: a folder that is not a finished benchmark, a folder given twice, folders
            with different metrics or baselines (and none given), or a metric or baseline a
            folder lacks: one line naming the folder or file.
    """
    if not folders:
        raise UsageError("--aggregate: give at least one benchmark folder")
    seen: dict[Path, str] = {}
    for folder in folders:
        key = Path(folder).resolve()
        if key in seen:
            raise UsageError(f"--aggregate: {str(folder)!r} is given twice (as {seen[key]!r})")
        seen[key] = str(folder)
    benchmarks = [_read_benchmark(folder) for folder in folders]
    chosen = _metric(_common(benchmarks, "ranking_metric", "--metric", metric))
    base = _common(benchmarks, "baseline", "--baseline", baseline)
    tasks = _tasks(benchmarks, chosen, base)
    lower = get_metric(chosen).lower_is_better
    regimes = [
        _regime(regime, [t for t in tasks if t.regime == regime], lower, resamples, seed)
        for regime in dict.fromkeys(t.regime for t in tasks)
    ]
    return Aggregate([str(f) for f in folders], chosen, base, regimes, resamples, seed)


def _regime(
    regime: str, tasks: list[Task], lower: bool, resamples: int, seed: int
) -> RegimeAggregate:
    """One regime's IQMs, probabilities of improvement and profiles."""
    models = list(dict.fromkeys(m for t in tasks for m in t.scores))
    has = {m: [t for t in tasks if t.runs(m).size] for m in models}
    rows = []
    for m in models:
        runs = [t.runs(m) for t in has[m]]
        iqm = iqm_interval(runs, resamples=resamples, random_state=seed) if runs else None
        total = sum(len(t.scores[m]) for t in tasks if m in t.scores)
        rows.append(ModelAggregate(m, iqm, len(runs), sum(r.size for r in runs), total))
    rows = _ranked(rows, len(tasks), lower)
    pooled = np.concatenate([t.runs(m) for m in models for t in has[m]] or [np.ones(1)])
    thresholds = _thresholds(pooled)
    profiles = {  # in the ranking's order, as the legend lists them
        r.model: profile_band([t.runs(r.model) for t in has[r.model]], thresholds,
                              lower_is_better=lower, resamples=resamples, random_state=seed)
        for r in rows if r.iqm is not None
    }  # fmt: skip
    improvements = _improvements(has, lower, resamples, seed)
    return RegimeAggregate(regime, tasks, rows, improvements, thresholds, profiles)


def _ranked(rows: list[ModelAggregate], tasks: int, lower: bool) -> list[ModelAggregate]:
    """Best IQM first among the models with runs on all ``tasks`` (ranked 1, 2, ...), then
    the others by IQM (unranked), then those with no run."""
    sign = 1.0 if lower else -1.0

    def order(row: ModelAggregate) -> tuple[bool, bool, float]:
        estimate = sign * row.iqm.estimate if row.iqm else 0.0
        return row.iqm is None, row.tasks < tasks, estimate

    rows = sorted(rows, key=order)
    full = [row for row in rows if row.iqm is not None and row.tasks == tasks]
    rank = {row.model: i for i, row in enumerate(full, start=1)}
    return [replace(row, rank=rank.get(row.model)) for row in rows]


def _improvements(
    has: dict[str, list[Task]], lower: bool, resamples: int, seed: int
) -> dict[tuple[str, str], Improvement]:
    """P(x better than y) for every ordered pair of models with a task in common (``has``:
    model -> the tasks where it has runs); P(y better than x) is ``1 - P(x better than y)``
    with the interval's ends swapped (the same resamples)."""
    models = list(has)
    improvements: dict[tuple[str, str], Improvement] = {}
    for i, x in enumerate(models):
        for y in models[i + 1 :]:
            shared = [t for t in has[x] if any(t is u for u in has[y])]
            if not shared:
                continue
            p = improvement_interval(
                [t.runs(x) for t in shared], [t.runs(y) for t in shared],
                lower_is_better=lower, resamples=resamples, random_state=seed,
            )  # fmt: skip
            flipped = Interval(
                1.0 - p.estimate,
                None if p.high is None else 1.0 - p.high,
                None if p.low is None else 1.0 - p.low,
            )
            improvements[(x, y)] = Improvement(x, y, p, len(shared))
            improvements[(y, x)] = Improvement(y, x, flipped, len(shared))
    return improvements


def _thresholds(scores: np.ndarray) -> np.ndarray:
    """:data:`PROFILE_POINTS` thresholds a little beyond the range of ``scores``: evenly spaced
    in log for positive ratios (the usual case), else linearly."""
    low, high = float(scores.min()), float(scores.max())
    if low > 0:
        return np.geomspace(low / 1.05, high * 1.05, PROFILE_POINTS)
    pad = 0.05 * (high - low) or 1.0
    return np.linspace(low - pad, high + pad, PROFILE_POINTS)


def _number(value: float | None, digits: int = 3) -> str:
    return _DASH if value is None else f"{value:.{digits}g}"


def _interval_cell(interval: Interval | None, digits: int = 3) -> str:
    if interval is None:
        return _DASH
    if interval.low is None or interval.high is None:
        return _number(interval.estimate, digits)
    low, high = _number(interval.low, digits), _number(interval.high, digits)
    return f"{_number(interval.estimate, digits)} [{low}, {high}]"


def _improvement_cell(regime: RegimeAggregate, x: str, y: str) -> str:
    if x == y:
        return _DASH
    found = regime.improvements.get((x, y))
    return _interval_cell(found.probability, 2) if found else "no shared task"


def _regime_lines(agg: Aggregate, regime: RegimeAggregate) -> list[str]:
    """A regime's table, ranked by IQM, and its matrix of probabilities of improvement."""
    label = get_metric(agg.metric).label
    header = ["rank", "model", f"IQM of {label} / {agg.baseline} [95% CI]",
              f"P(better than {agg.baseline}) [95% CI]", "tasks", "runs"]  # fmt: skip
    body = []
    for row in regime.models:
        name = f"{row.model} (baseline)" if row.model == agg.baseline else row.model
        body.append([
            _DASH if row.rank is None else str(row.rank), name, _interval_cell(row.iqm),
            _improvement_cell(regime, row.model, agg.baseline),
            f"{row.tasks}/{len(regime.tasks)}", f"{row.runs}/{row.runs_total}",
        ])  # fmt: skip
    order = [row.model for row in regime.models]
    matrix = [[x, *(_improvement_cell(regime, x, y) for y in order)] for x in order]
    return [
        f"## Regime {regime.regime}: {len(regime.tasks)} task{'s' * (len(regime.tasks) != 1)} "
        f"({', '.join(t.name for t in regime.tasks)})",
        "",
        markdown_table(header, body),
        "",
        "Probability of improvement: P(row better than column) [95% CI], over the tasks both have.",
        "",
        markdown_table(["model", *order], matrix),
        "",
    ]


def _task_lines(agg: Aggregate) -> list[str]:
    """Every task: where it comes from and what its scores were divided by."""
    metric = get_metric(agg.metric)
    unit = f" ({metric.unit})" if metric.unit else ""
    header = ["task", "regime", "family", "budget", "folder", "seeds",
              f"{agg.baseline} median{unit}", "models"]  # fmt: skip
    body = [
        [t.name, t.regime, t.family, t.budget or _DASH, t.folder,
         str(len(t.scores[agg.baseline])), f"{t.baseline_median:.4g}", str(len(t.scores))]
        for regime in agg.regimes for t in regime.tasks
    ]  # fmt: skip
    return ["## Tasks", "", markdown_table(header, body), ""]


def _how(agg: Aggregate) -> str:
    metric = get_metric(agg.metric)
    better = "lower" if agg.lower_is_better else "higher"
    return (
        f"A task is one benchmark folder in one regime. Each run's test {metric.label} is "
        f"divided by the median of {agg.baseline}'s runs on the same task: 1 is the baseline's "
        f"typical score and {better} is better; a ratio has no unit, so families pool. IQM: "
        "the mean of the middle 50% of every normalised run of every task pooled. 95% "
        "intervals: stratified percentile bootstrap (seeds resampled within each task, "
        f"{agg.resamples:,} resamples, seed {agg.seed}). P(X better than Y): per task, the "
        "probability that a run of X drawn at random beats one of Y (ties half), averaged over "
        "the tasks both have; X and Y resampled independently for its interval. A model "
        "missing from a task is aggregated over the tasks it has (its tasks column) and listed "
        "after the ranked models, unranked; failed and non-finite runs are left out (its runs "
        "column). The statistics are rliable's "
        "(Agarwal et al. 2021)."
    )


def format_aggregate(agg: Aggregate) -> str:
    """``aggregate.md``: the headline, each regime's table and matrix, the tasks, how."""
    metric = get_metric(agg.metric)
    parts = [
        f"# Aggregate of {len(agg.folders)} benchmarks: {metric.label} (test) relative to "
        f"{agg.baseline}",
        "",
        _how(agg) + f" The performance profiles are drawn in report/index.html. dno {__version__}.",
        "",
    ]
    for regime in agg.regimes:
        parts += _regime_lines(agg, regime)
    parts += _task_lines(agg)
    return "\n".join(parts)


def aggregate_document(agg: Aggregate) -> dict[str, Any]:
    """Everything, JSON-safe (what the report draws from)."""
    metric = get_metric(agg.metric)
    return dict(json_safe({
        "kind": "dno-aggregate",
        "format_version": 1,
        "dno_version": __version__,
        "folders": agg.folders,
        "metric": {"name": metric.name, "label": metric.label, "unit": metric.unit,
                   "direction": metric.direction.value, "description": metric.description},
        "baseline": agg.baseline,
        "normalisation": f"score / median of {agg.baseline}'s scores on the same task",
        "bootstrap": {"resamples": agg.resamples, "seed": agg.seed, "confidence": CONFIDENCE},
        "how": _how(agg),
        "regimes": {r.regime: _regime_document(r) for r in agg.regimes},
    }))  # fmt: skip


def _regime_document(regime: RegimeAggregate) -> dict[str, Any]:
    return {
        "tasks": [
            {"task": t.name, "folder": t.folder, "protocol": t.protocol, "family": t.family,
             "budget": t.budget, "seeds": max(map(len, t.scores.values())),
             "baseline_median": t.baseline_median, "scores": t.scores}
            for t in regime.tasks
        ],
        "models": [
            {"model": r.model, "rank": r.rank, "tasks": r.tasks, "runs": r.runs,
             "runs_total": r.runs_total, "iqm": r.iqm}
            for r in regime.models
        ],
        "improvement": [
            {"x": p.x, "y": p.y, "tasks": p.tasks, **vars(p.probability)}
            for p in regime.improvements.values()
        ],
        "profiles": {
            "thresholds": regime.thresholds,
            "models": {m: {"fraction": f, "low": lo, "high": hi}
                       for m, (f, lo, hi) in regime.profiles.items()},
        },
    }  # fmt: skip


def write_aggregate(agg: Aggregate, folder: str | os.PathLike[str]) -> dict[str, Path]:
    """Write ``aggregate.md`` and ``aggregate.json`` in ``folder`` (made if needed)."""
    out = make_folder(folder)
    with atomic_path(out / AGGREGATE_MD) as tmp:
        tmp.write_text(format_aggregate(agg), encoding="utf-8")
    return {
        "md": out / AGGREGATE_MD,
        "json": write_json(out / AGGREGATE_JSON, aggregate_document(agg)),
    }
