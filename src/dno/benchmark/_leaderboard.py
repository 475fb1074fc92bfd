"""The leaderboard of a benchmark: per model, mean and 95% interval of every metric over the
seeds, and paired comparisons against the baseline with ``dno compare``'s statistics.

Every number comes from the runs' own files: the test split's ``evaluation_test.json`` summary
(one-step and rollout relative L2 on the protocol's horizon, valid time, amplitude ratio,
parameters) and ``final_results.json`` (training seconds, the selected validation score); the
columns, their labels and directions are the metric table's (:data:`LEADERBOARD_METRICS`). A run
whose score is not finite (a rollout that blew up) is marked as such in every file and left out
of the statistics, with a warning that counts it. Means,
sample standard deviations and seeded percentile-bootstrap intervals are
:func:`dno.compare.describe`; the paired comparisons are :func:`dno.compare.compare_approaches`
(Wilcoxon signed-rank on the per-seed differences, Welch alongside, Holm across the models,
Hedges' g, a verdict at alpha), for the protocol's metric and for the one-step error.

A tuned benchmark's leaderboard also says, per model, that it was tuned, its trials, the wall
and CPU seconds of its search (flagged above 1.25 times the models' median), the chosen
hyperparameters, and its tuning curve (the expected best validation score of n trials, with the
ranking of the models at each n); every leaderboard says which variance its intervals hold (the
training's, or also the data's with ``data_seeds``), what each model spent (the budget ledger,
``ledger.json``) and the provenance (dno's version and git commit, libraries, machine, command).

Each regime of the protocol but ``in_distribution`` (the test split: the values above) gets its
own table with the same statistics, from the runs' ``regime_scores.json``
(:class:`RegimeBoard`): a model that cannot evaluate on a finer grid is a row saying so, with the
reason. Every table shows each model's parameters and optimizer steps (a win is not just a bigger
network or a longer training).

Files: ``leaderboard.md`` (to read), ``leaderboard.csv`` (one row per regime and model),
``leaderboard_runs.csv`` (one row per model and seed), ``leaderboard.json`` (everything:
the protocol, each seed's values, each statistic, the column meanings, the reference numbers,
the tuning and its curves, the ledger, the provenance; its top-level values are the regime
``in_distribution`` and ``"regimes"`` holds the others in the same form, the contract
:mod:`dno.benchmark._aggregate` reads) and ``ledger.json``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from dno import __version__
from dno._io import atomic_path
from dno._provenance import provenance
from dno.benchmark._execution import RunResult
from dno.benchmark._ledger import build_ledger, median_ratios
from dno.benchmark._protocol import LEADERBOARD_METRICS, Protocol
from dno.benchmark._regimes import IN_DISTRIBUTION, Regime
from dno.compare import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    ApproachStats,
    ComparisonResult,
    RankedBy,
    RunRecord,
    Summary,
    compare_approaches,
    describe,
    format_table,
    markdown_table,
    notes,
    number_cell,
)
from dno.errors import DnoWarning
from dno.evaluation import METRICS, canonical_names, get_metric
from dno.tracking import (
    LEADERBOARD_CSV,
    LEADERBOARD_JSON,
    LEADERBOARD_MD,
    LEADERBOARD_RUNS,
    LEDGER_JSON,
    json_safe,
    write_csv,
    write_json,
)

__all__ = [
    "Leaderboard", "RegimeBoard", "build_leaderboard", "format_leaderboard", "format_results",
    "leaderboard_document", "ratio_to_baseline", "regime_values", "run_values",
    "write_leaderboard",
]  # fmt: skip

#: The paired comparisons: the protocol's metric first, then these if different.
_PAIRED = ("rollout_rel_l2", "rel_l2")
_DASH = "—"


Values = dict[str, dict[str, list[float | None]]]  # metric -> model -> one value per seed


@dataclass
class RegimeBoard:
    """One regime beyond the test split: the leaderboard's statistics on its data.

    Attributes:
        regime: the regime (its name and how its data were drawn).
        metrics: its columns (the leaderboard's scores).
        values, summaries, comparisons, nonfinite: as in :class:`Leaderboard`.
        unavailable: model -> why it has no score here (every run of it cannot change
            resolution, or failed on the regime's data).
        data: the regime's files (under ``data/``).
    """

    regime: Regime
    metrics: tuple[str, ...]
    values: Values
    summaries: dict[str, dict[str, Summary]]
    comparisons: dict[str, list[ApproachStats]]
    nonfinite: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    unavailable: dict[str, str] = field(default_factory=dict)
    data: list[str] = field(default_factory=list)

    @property
    def ranking(self) -> list[ApproachStats]:
        return self.comparisons[next(iter(self.comparisons))]


@dataclass
class Leaderboard:
    """A benchmark's results: the protocol, every run, per-model statistics and comparisons.

    Attributes:
        protocol: the protocol as run.
        runs: every model x seed (failed runs included, with their reasons).
        values: metric -> model -> per-seed values (None: the run failed or the value is not
            finite), seeds in order.
        summaries: metric -> model -> :class:`~dno.compare.Summary` of the finite values.
        comparisons: metric -> ranked :class:`~dno.compare.ApproachStats` against the baseline.
        nonfinite: metric -> ``(model, seed)`` of the finished runs whose value is NaN or
            infinite (left out of the statistics, and said).
        wall_seconds: the benchmark's wall time, if known.
        ledger: the budget ledger (:func:`dno.benchmark.build_ledger`).
        regimes: every regime of the protocol but ``in_distribution``, by name.
    """

    protocol: Protocol
    runs: list[RunResult]
    values: dict[str, dict[str, list[float | None]]]
    summaries: dict[str, dict[str, Summary]]
    comparisons: dict[str, list[ApproachStats]]
    nonfinite: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    wall_seconds: float | None = None
    ledger: dict[str, Any] = field(default_factory=dict)
    regimes: dict[str, RegimeBoard] = field(default_factory=dict)

    @property
    def metrics(self) -> tuple[str, ...]:
        """The leaderboard's columns: :data:`LEADERBOARD_METRICS`, and the protocol's metric."""
        return tuple(dict.fromkeys([*LEADERBOARD_METRICS, self.protocol.metric]))

    @property
    def ranking(self) -> list[ApproachStats]:
        """The comparison on the protocol's metric: the leaderboard's order."""
        return self.comparisons[self.protocol.metric]


def run_values(run: RunResult) -> dict[str, float | None]:
    """One run's leaderboard metrics, as recorded: None where the run failed; a non-finite score
    stays NaN here (see :func:`build_leaderboard`)."""
    names = tuple(dict.fromkeys([*LEADERBOARD_METRICS, *METRICS]))
    if not run.ok:
        return dict.fromkeys(names)
    found = canonical_names(run.evaluation)
    if run.train_seconds is not None:
        found["train_seconds"] = run.train_seconds
    values: dict[str, float | None] = {}
    for name in names:
        value = found.get(name)
        if value is None and name in found:
            value = math.nan  # JSON has no NaN: a score the evaluation could not give
        number = isinstance(value, int | float) and not isinstance(value, bool)
        values[name] = float(value) if number and value is not None else None
    return values


def regime_values(run: RunResult, regime: str) -> dict[str, float | None]:
    """One run's scores on ``regime``'s data: None where the run failed or has no score there;
    a score that was not finite is NaN (see :func:`build_leaderboard`)."""
    entry = run.regimes.get(regime) if run.ok else None
    if not entry or entry.get("status") != "scored":
        return {}
    return {k: math.nan if v is None else float(v) for k, v in entry["values"].items()}


def build_leaderboard(
    protocol: Protocol, runs: Sequence[RunResult], wall_seconds: float | None = None
) -> Leaderboard:
    """Statistics of ``runs`` (every model x seed of ``protocol``) on the test split and on
    each other regime; a non-finite score of a finished run is left out of the statistics with
    a warning that counts it."""
    by_key = {(r.model, r.seed): run_values(r) for r in runs}
    names = tuple(dict.fromkeys([*LEADERBOARD_METRICS, protocol.metric]))
    values, nonfinite = _values(protocol, names, by_key, "test")
    summaries, comparisons = _statistics(protocol, values)
    regimes = {}
    for regime in protocol.regimes:
        if regime.name != IN_DISTRIBUTION:
            regimes[regime.name] = _regime_board(protocol, regime, runs)
    return Leaderboard(
        protocol, list(runs), values, summaries, comparisons, nonfinite, wall_seconds,
        build_ledger(protocol, runs), regimes,
    )  # fmt: skip


def _values(
    protocol: Protocol,
    names: Sequence[str],
    by_key: dict[tuple[str, int], dict[str, float | None]],
    where: str,
) -> tuple[Values, dict[str, list[tuple[str, int]]]]:
    """metric -> model -> per-seed values (non-finite ones None, and counted with a warning)."""
    nonfinite: dict[str, list[tuple[str, int]]] = {}
    values: Values = {}
    for metric in names:
        values[metric] = {}
        for model in protocol.models:
            row = []
            for seed in protocol.seeds:
                value = by_key.get((model, seed), {}).get(metric)
                if value is not None and not math.isfinite(value):
                    nonfinite.setdefault(metric, []).append((model, seed))
                    value = None
                row.append(value)
            values[metric][model] = row
    for metric, found in nonfinite.items():
        shown = ", ".join(f"{model} seed {seed}" for model, seed in found[:5])
        more = f" and {len(found) - 5} more" if len(found) > 5 else ""
        warnings.warn(
            f"{len(found)} finished runs have a non-finite {where} {metric} ({shown}{more}): "
            "marked NaN and left out of its statistics",
            DnoWarning,
            stacklevel=3,
        )
    return values, nonfinite


def _statistics(
    protocol: Protocol, values: Values
) -> tuple[dict[str, dict[str, Summary]], dict[str, list[ApproachStats]]]:
    """The summaries of every metric, and the paired comparisons against the baseline."""
    summaries = {
        metric: {
            model: describe(v, resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED)
            for model, v in per_model.items()
        }
        for metric, per_model in values.items()
    }
    plan = protocol.plan
    comparisons = {
        metric: compare_approaches(
            values[metric],
            plan.baseline,
            lower_is_better=get_metric(metric).lower_is_better,
            alpha=plan.alpha,
            resamples=BOOTSTRAP_RESAMPLES,
            seed=BOOTSTRAP_SEED,
        )
        for metric in dict.fromkeys([protocol.metric, *_PAIRED])
        if metric in values
    }
    return summaries, comparisons


def _regime_board(protocol: Protocol, regime: Regime, runs: Sequence[RunResult]) -> RegimeBoard:
    """The statistics of ``regime``, and the models that have no score there, with why."""
    by_key = {(r.model, r.seed): regime_values(r, regime.name) for r in runs}
    metrics = protocol.regime_metrics
    values, nonfinite = _values(protocol, metrics, by_key, f"{regime.name}")
    summaries, comparisons = _statistics(protocol, values)
    unavailable = {}
    for model in protocol.models:
        entries = [r.regimes.get(regime.name) or {} for r in runs if r.model == model and r.ok]
        if entries and not any(e.get("status") == "scored" for e in entries):
            unavailable[model] = str(entries[0].get("reason") or entries[0].get("status"))
    data = sorted({str(e["data"]) for r in runs for e in [r.regimes.get(regime.name)] if e})
    return RegimeBoard(regime, metrics, values, summaries, comparisons, nonfinite,
                       unavailable, data)  # fmt: skip


def _interval(s: Summary, digits: int = 3) -> str:
    if s.mean is None:
        return _DASH
    if s.ci_low is None or s.ci_high is None:
        return number_cell(s.mean, digits)
    low, high = number_cell(s.ci_low, digits), number_cell(s.ci_high, digits)
    return f"{number_cell(s.mean, digits)} [{low}, {high}]"


def _runs_ok(board: Leaderboard, model: str) -> int:
    """How many of a model's runs finished and were tested."""
    return sum(r.ok for r in board.runs if r.model == model)


def _nan_count(board: Leaderboard | RegimeBoard, metric: str, model: str) -> int:
    return sum(m == model for m, _ in board.nonfinite.get(metric, []))


def _cell(board: Leaderboard | RegimeBoard, metric: str, model: str) -> str:
    """A metric's cell: mean [95% CI] (a count's mean in its own form), NaNs counted."""
    s, unit = board.summaries[metric][model], get_metric(metric).unit
    if unit == "parameters":
        text = _DASH if s.mean is None else f"{s.mean:,.0f}"
    elif unit == "s":
        text = _DASH if s.mean is None else f"{s.mean:.1f}"
    else:
        text = _interval(s)
    nans = _nan_count(board, metric, model)
    return f"{text} ({nans} NaN)" if nans else text


def _main_table(board: Leaderboard) -> str:
    """Per model, in the ranking's order: mean [95% CI] of every metric, optimizer steps."""
    baseline = board.protocol.plan.baseline
    header = ["rank", "model", "config", "runs ok"] + [_label(m) for m in board.metrics]
    body = []
    for row in board.ranking:
        name = row.approach
        cells = [str(row.rank), f"{name} (baseline)" if name == baseline else name,
                 _config_kind(board, name),
                 f"{_runs_ok(board, name)}/{len(board.protocol.seeds)}"]  # fmt: skip
        steps = _optimizer_steps(board, name)
        body.append(
            cells + [_cell(board, metric, name) for metric in board.metrics]
            + [_DASH if steps is None else f"{steps:,.0f}"]
        )  # fmt: skip
    return markdown_table([*header, "optimizer steps"], body)


def _optimizer_steps(board: Leaderboard, model: str) -> float | None:
    """The mean of a model's optimizer steps over its finished runs (None: none recorded)."""
    steps = [r.cost.get("optimizer_steps") for r in board.runs if r.model == model and r.ok]
    found = [s for s in steps if isinstance(s, int | float)]
    return float(np.mean(found)) if found else None


def _regime_table(board: Leaderboard, regime: RegimeBoard) -> str:
    """A regime's table: per model, in its ranking's order, mean [95% CI] of its scores; a
    model without a score there is a row saying why."""
    baseline, seeds = board.protocol.plan.baseline, len(board.protocol.seeds)
    header = ["rank", "model", "runs scored"] + [_label(m) for m in regime.metrics]
    body = []
    for row in regime.ranking:
        name = row.approach
        shown = f"{name} (baseline)" if name == baseline else name
        if name in regime.unavailable:
            why = [regime.unavailable[name]] + [_DASH] * (len(regime.metrics) - 1)
            body.append([_DASH, shown, f"0/{seeds}", *why])
            continue
        scored = row.summary.n
        cells = [_cell(regime, metric, name) for metric in regime.metrics]
        body.append([str(row.rank), shown, f"{scored}/{seeds}", *cells])
    return markdown_table(header, body)


def _regime_data(regime: Regime) -> str:
    """How a regime's data were drawn, in one sentence."""
    parts = regime.parts
    if regime.name == "resolution":
        return (
            f"The training priors on a {parts[0].grid_points}-point grid (the data's finer "
            "grid); each model is rebuilt with the same weights on it."
        )
    assert regime.beyond is not None
    held = []
    for name, sides in regime.sides.items():
        ranges = dict.fromkeys(part.priors[name] for part in parts)
        shown = " or ".join(f"[{lo:.4g}, {hi:.4g}]" for lo, hi in ranges)
        only = f" ({sides[0]} only: the other side leaves the family's domain)"
        held.append(f"{name} in {shown}" + (only if len(sides) == 1 else ""))
    return (
        f"Drawn {regime.beyond[0]:g} to {regime.beyond[1]:g} of each training prior's width "
        f"beyond it: {'; '.join(held)}; the other parameters from their training priors; the "
        f"trajectories split evenly between the {len(parts)} part{'s' * (len(parts) > 1)} "
        "(each held-out parameter above its prior, then below)."
    )


def _regime_lines(board: Leaderboard) -> list[str]:
    """Each regime but in_distribution: its data, its table and its paired comparisons."""
    lines = []
    for name, regime in board.regimes.items():
        files = ", ".join(f"data/{f}" for f in regime.data) or "none"
        lines += [
            f"## Regime: {name}",
            "",
            f"{_regime_data(regime.regime)} Test data only, never seen by training, selection "
            f"or tuning, scored with the test split's horizon and metrics ({files}).",
            "",
            _regime_table(board, regime),
            "",
            *_nonfinite_lines(regime),
        ]
        lines += _paired_lines(board, name, "###")
    return lines


def _paired_lines(board: Leaderboard, regime: str, level: str) -> list[str]:
    """The paired comparisons of ``regime`` against the baseline, each table with its notes."""
    comparisons = (
        board.comparisons if regime == IN_DISTRIBUTION else board.regimes[regime].comparisons
    )
    where = "test" if regime == IN_DISTRIBUTION else regime
    lines = []
    for metric, rows in comparisons.items():
        label = get_metric(metric).label
        lines += [
            f"{level} Paired against {board.protocol.plan.baseline}: {label} ({where})",
            "",
            format_table(rows),
            "",
            *(f"- {line}" for line in notes(_comparison_result(board, metric, regime))),
            "",
        ]
    return lines


def _config_kind(board: Leaderboard, model: str) -> str:
    """``tuned (N trials)``, ``config file`` or ``default``: which configuration a model's runs
    trained (the protocol's ``config:`` and the model's ``set:`` on top of either)."""
    record = board.protocol.tuning.get(model)
    if record:
        return f"tuned ({record['trials']} trials)"
    return "config file" if model in board.protocol.config_files else "default"


def _label(name: str) -> str:
    """A column's label: the table's label and unit (``valid time (tau)``)."""
    metric = get_metric(name)
    unit = metric.unit if metric.unit and metric.unit != "parameters" else ""
    return f"{metric.label} ({unit})" if unit else metric.label


def _reference_lines(board: Leaderboard) -> list[str]:
    """The published numbers beside ours, and the ratio the reference reports, if any."""
    reference = board.protocol.reference
    if not reference:
        return []
    metric = reference["metric"]
    summaries = board.summaries.get(metric, {})
    lines = [f"Reference: {reference['source']} ({metric}).", ""]
    lines += ["| model | reference | this benchmark, mean [95% CI] |", "| --- | --- | --- |"]
    for model, value in reference["values"].items():
        ours = _interval(summaries[model]) if model in summaries else "not run"
        lines.append(f"| {model} | {value:.3g} | {ours} |")
    if reference.get("note"):
        lines += ["", str(reference["note"])]
    ratio = ratio_to_baseline(board, metric)
    if ratio:
        lines += ["", *ratio]
    return [*lines, ""]


def ratio_to_baseline(board: Leaderboard, metric: str) -> list[str]:
    """Each model's mean over the baseline's mean, with a paired-bootstrap 95% interval of the
    ratio of means (the same resampled seeds in both), next to the reference's ratio."""
    plan, reference = board.protocol.plan, board.protocol.reference
    base = board.values[metric][plan.baseline]
    lines = []
    for model, values in board.values[metric].items():
        if model == plan.baseline:
            continue
        pairs = np.array(
            [(a, b) for a, b in zip(values, base, strict=True) if a is not None and b is not None]
        ).reshape(-1, 2)
        if len(pairs) < 2:
            continue
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        index = rng.integers(0, len(pairs), size=(BOOTSTRAP_RESAMPLES, len(pairs)))
        ratios = pairs[index, 0].mean(axis=1) / pairs[index, 1].mean(axis=1)
        low, high = np.quantile(ratios, [0.025, 0.975])
        ratio = pairs[:, 0].mean() / pairs[:, 1].mean()
        published = reference.get("values", {}) if reference else {}
        theirs = ""
        if model in published and plan.baseline in published:
            theirs = f"; reference {published[model] / published[plan.baseline]:.2f}"
        lines.append(
            f"- {model} / {plan.baseline}: {ratio:.2f} [{low:.2f}, {high:.2f}] "
            f"({len(pairs)} paired seeds{theirs})"
        )
    return lines


def _comparison_result(
    board: Leaderboard, metric: str, regime: str = IN_DISTRIBUTION
) -> ComparisonResult:
    """The comparison of ``metric`` on ``regime`` in ``dno compare``'s own records (for its
    notes)."""
    plan = replace(board.protocol.plan, metric=RankedBy(get_metric(metric), "test"))
    if regime == IN_DISTRIBUTION:
        comparisons, value = board.comparisons, lambda r: run_values(r)[metric]
    else:
        comparisons = board.regimes[regime].comparisons
        value = lambda r: regime_values(r, regime).get(metric)  # noqa: E731
    runs = [RunRecord(r.model, r.seed, Path(r.path), r.status, value(r), r.reason)
            for r in board.runs]  # fmt: skip
    return ComparisonResult(plan, Path("."), "", runs, comparisons[metric])


def _timing(board: Leaderboard) -> str:
    """How long this invocation took and how many runs it trained (the rest were read back)."""
    if board.wall_seconds is None:
        return ""
    trained = sum(r.trained_now for r in board.runs)
    return (
        f" This invocation: {board.wall_seconds / 60:.1f} min wall time, {trained} of "
        f"{len(board.runs)} runs trained (the others read back)."
    )


def format_leaderboard(board: Leaderboard) -> str:
    """``leaderboard.md``: :func:`format_results`, then how the numbers were made."""
    evaluation = board.protocol.evaluation
    how = [
        "## How the numbers were made",
        "",
        "Every model trained on the train split of the same data with each seed, and kept the "
        "weights of its best validation epoch; the test split was then scored once with "
        "dno evaluate's protocol (one-step: the model's own m slices; rollout: "
        f"{evaluation.horizon_delays} delays with shift-append; physical units). The paired "
        "tables are dno compare's statistics: seed s of a model against seed s of the "
        "baseline, Wilcoxon signed-rank (no p-value when too few seeds could ever reject), "
        "Welch alongside, Holm across models, Hedges' g. The runs are in runs/MODEL/seed-S/; "
        "leaderboard.json holds every seed's value.",
        "",
        *_ledger_lines(board),
        *_provenance_lines(board_provenance(board)),
    ]
    return "\n".join([format_results(board), *how])


def board_provenance(board: Leaderboard) -> dict[str, Any]:
    """The provenance of this leaderboard: this process's, with the runs' devices."""
    devices = sorted({str(r.cost.get("device")) for r in board.runs if r.cost.get("device")})
    return provenance(",".join(devices) or None)


def format_results(board: Leaderboard) -> str:
    """The headline, the table, the reference numbers, the paired comparisons and their notes
    (what ``dno benchmark`` prints)."""
    protocol = board.protocol
    evaluation = protocol.evaluation
    ranked_by = get_metric(protocol.metric)
    budget = f", budget {protocol.budget}" if protocol.budget else ""
    parts = [f"# Benchmark: {protocol.name}{budget}", ""]
    if protocol.description:
        parts += [protocol.description, ""]
    parts += [
        f"{protocol.family}: {protocol.data['n']} trajectories ({_data_seeds(protocol)}), "
        f"{len(protocol.seeds)} training seeds "
        f"({', '.join(map(str, protocol.seeds))}), test split scored once on a horizon of "
        f"{evaluation.horizon_delays} delays; ranked by {ranked_by.label} "
        f"({ranked_by.direction.words()}); each run kept the epoch with the best "
        f"{protocol.select}; dno {__version__}." + _timing(board),
        "",
        _main_table(board),
        "",
        "Each cell: mean over the seeds [95% percentile-bootstrap interval of the mean]. "
        "Valid time: how long the rollout's normalized error stays below "
        f"{evaluation.valid_threshold:g}, in delays, at most the horizon "
        f"({evaluation.horizon_delays}). Amplitude ratio: the predicted over the true standard "
        "deviation of a window's rollout, the median over the windows (1 is right; below 1, "
        "the prediction is damped).",
        "",
        configurations(protocol),
        "",
        variance(protocol),
        "",
    ]  # fmt: skip
    parts += _nonfinite_lines(board)
    parts += _reference_lines(board)
    parts += _tuning_lines(board)
    parts += _paired_lines(board, IN_DISTRIBUTION, "##")
    parts += _regime_lines(board)
    return "\n".join(parts)


def _data_seeds(protocol: Protocol) -> str:
    if not protocol.data_seeds:
        return f"data seed {protocol.data['seed']}"
    seeds = [protocol.data_seed(s) for s in protocol.seeds]
    return f"data seeds {', '.join(map(str, seeds))}: one dataset per training seed"


def configurations(protocol: Protocol) -> str:
    """One sentence: which configurations trained (default, or tuned and how)."""
    tune = protocol.tune
    if (tune is None or not protocol.tuning) and protocol.config_files:
        files = "; ".join(f"{model}: {path}" for model, path in protocol.config_files.items())
        others = [m for m in protocol.models if m not in protocol.config_files]
        rest = f" {', '.join(others)}: their own defaults." if others else ""
        return (
            f"Configurations: not tuned in this benchmark. From config files ({files}): a "
            "search's best_config.yaml is a configuration tuned elsewhere, its search's budget "
            f"is not in this benchmark's ledger, and its epochs, patience and windows are "
            f"replaced by the protocol's.{rest}"
        )
    if tune is None or not protocol.tuning:
        return (
            "Configurations: each model's own (default) configuration, not tuned; `dno benchmark "
            "--tune N` searches every model first."
        )
    seeds = tune.seed_list()
    data = f"data seed {protocol.data_seed(protocol.tune_data_seed)}"
    return (
        f"Configurations: tuned. Every model (the baseline too) was searched in its shipped "
        f"space with the same budget: {tune.trials} trials ({tune.search} search, sampler seed "
        f"{tune.sampler_seed}), each trained on seed{'s' * (len(seeds) > 1)} "
        f"{', '.join(map(str, seeds))} for at most {tune.max_epochs} "
        f"epoch{'s' * (tune.max_epochs != 1)} with patience "
        f"{tune.patience}, no pruning, on the same data ({data}); the objective: "
        f"{tune.objective} on the validation split at the epoch {protocol.select} keeps. Each "
        f"model's best configuration was then trained on the seeds above (never used by the "
        f"search) and tested once."
    )


def variance(protocol: Protocol) -> str:
    """One sentence: which variance the intervals hold."""
    if protocol.data_seeds:
        return (
            "Variance: each training seed draws its own dataset (data_seeds), so the intervals "
            "hold the variance of the initial weights, the batch order and the data drawn."
        )
    return (
        "Variance: every seed trains on the same dataset, so the intervals hold the variance "
        "of the initial weights and the batch order only, not of the data drawn "
        "(data_seeds: true would add it)."
    )


def _tuning_lines(board: Leaderboard) -> list[str]:
    """The tuning per model (trials, seconds, the chosen hyperparameters) and the tuning
    curves (empty when not tuned)."""
    tuning = board.protocol.tuning
    if not tuning:
        return []
    ledger = board.ledger
    flagged, ratio = ledger.get("flagged", {}), ledger.get("flag_ratio", 1.25)
    wall = median_ratios(ledger.get("models", {}), "wall_seconds")
    objective = next(iter(tuning.values()))["objective"]
    lines = [
        "## Tuning (validation split)",
        "",
        f"| model | trials | best {objective} (trial) | tuning s | tuning CPU s | vs median "
        "| chosen hyperparameters |",
        "| --- | ---: | --- | ---: | ---: | ---: | --- |",
    ]
    for model, record in tuning.items():
        best = (
            f"{record['best_value']:.4g} ({record['best_trial']})"
            if record["best_trial"] is not None else _DASH
        )  # fmt: skip
        mark = f"**{wall[model]:.2f}x, flagged**" if model in flagged else (
            f"{wall[model]:.2f}x" if model in wall else _DASH
        )  # fmt: skip
        params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(record["params"].items()))
        lines.append(
            f"| {model} | {record['trials']} | {best} | {record['wall_seconds']:.0f} | "
            f"{record['cpu_seconds']:.0f} | {mark} | {params or _DASH} |"
        )
    lines += [
        "",
        f"Tuning seconds: the trials' training epochs (wall and CPU of the process that "
        f"trained), summed; flagged: more than {ratio:g} times the models' median (wall or "
        "CPU). Every trial's score and cost is in tuning/MODEL/summary.csv.",
        "",
        *_curve_lines(tuning),
    ]
    return lines


def tuning_ranks(tuning: dict[str, dict[str, Any]], n: int) -> list[str]:
    """The models ranked by their expected best validation score of ``n`` trials (those with
    at least ``n`` complete trials)."""
    scored = {}
    for model, record in tuning.items():
        curve = record.get("curve") or {}
        if len(curve.get("expected", [])) >= n:
            sign = 1.0 if record["direction"] == "minimize" else -1.0
            scored[model] = sign * curve["expected"][n - 1]
    return sorted(scored, key=scored.__getitem__)


def _curve_lines(tuning: dict[str, dict[str, Any]]) -> list[str]:
    """The tuning curves at 1, 2, 4, ... N trials, and where the ranking settles."""
    most = max((len(r.get("values", [])) for r in tuning.values()), default=0)
    if most == 0:
        return []
    shown = sorted({*(2**k for k in range(most.bit_length()) if 2**k <= most), most})
    header = "| model | " + " | ".join(f"n = {n}" for n in shown) + " |"
    lines = [
        "### Tuning curves",
        "",
        "The expected best validation score of n trials drawn from each model's N (mean and "
        "standard deviation; Dodge et al. 2019), from the trials alone, no re-run:",
        "",
        header,
        "|" + " --- |" * (len(shown) + 1),
    ]
    for model, record in tuning.items():
        curve = record.get("curve") or {"expected": [], "sd": []}
        cells = [
            f"{curve['expected'][n - 1]:.4g} ± {curve['sd'][n - 1]:.2g}"
            if n <= len(curve["expected"]) else _DASH
            for n in shown
        ]  # fmt: skip
        lines.append(f"| {model} | " + " | ".join(cells) + " |")
    final = tuning_ranks(tuning, most)
    settled = most
    while settled > 1 and tuning_ranks(tuning, settled - 1) == final:
        settled -= 1
    lines += [
        "",
        f"Ranking by the expected best of {most} trials: {' < '.join(final)}"
        + (" (better first)." if final else "."),
        f"The same ranking from n = {settled} trials on"
        + (
            f"; at n = {settled - 1}: {' < '.join(tuning_ranks(tuning, settled - 1))}."
            if settled > 1 else " (every n)."
        ),
        "",
    ]  # fmt: skip
    return lines


def _ledger_lines(board: Leaderboard) -> list[str]:
    """The budget ledger per model and phase, and the checks of equal budgets."""
    ledger = board.ledger
    if not ledger:
        return []
    lines = [
        "## Budget ledger (ledger.json)",
        "",
        "| model | phase | trials / runs | epochs | optimizer steps | parameters | wall s "
        "| CPU s | device |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for model, phases in ledger["models"].items():
        for phase, row in phases.items():
            count = row.get("trials", row.get("runs", row.get("evaluations")))
            size = row.get("parameters")
            if isinstance(size, dict):
                size = size.get("chosen")
            lines.append(
                f"| {model} | {phase} | {count} | {_count(row.get('epochs'))} | "
                f"{_count(row.get('optimizer_steps'))} | {_count(size)} | "
                f"{_seconds(row.get('wall_seconds'))} | {_seconds(row.get('cpu_seconds'))} | "
                f"{', '.join(row.get('devices') or []) or _DASH} |"
            )
    differing = [c for c in ledger["checks"] if not c["equal"]]
    checked = ", ".join(f"{c['phase']} {c['what']}" for c in ledger["checks"])
    lines += ["", f"Checked equal for every model: {checked}."]
    for check in differing:
        values = "; ".join(f"{m}: {v}" for m, v in check["values"].items())
        lines.append(f"**Not equal**: {check['phase']} {check['what']} ({values}).")
    if not differing:
        lines.append("Every check held.")
    return [*lines, ""]


def _provenance_lines(record: dict[str, Any]) -> list[str]:
    git = record.get("git")
    checkout = (
        f", git commit {git['commit'][:12]}{' (dirty)' if git['dirty'] else ''}" if git else ""
    )
    return [
        "## Provenance",
        "",
        f"dno {record['dno_version']}{checkout}; torch {record['torch']}, numpy "
        f"{record['numpy']}, optuna {record['optuna']}, Python {record['python']}; "
        f"{record['platform']}, {record['cpus']} usable cores; command: `{record['command']}`.",
        "",
    ]


def _count(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(f"{v:,}" for v in value) or _DASH
    return _DASH if value is None else f"{value:,}"


def _seconds(value: Any) -> str:
    return _DASH if value is None else f"{value:.1f}" if value < 10 else f"{value:.0f}"


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def _nonfinite_lines(board: Leaderboard | RegimeBoard) -> list[str]:
    """Which runs had a non-finite score, left out of the statistics (empty if none)."""
    lines = []
    for metric, where in board.nonfinite.items():
        runs = ", ".join(f"{model} seed {seed}" for model, seed in where)
        lines.append(f"Non-finite {metric} (NaN or infinite, left out of its statistics): {runs}.")
    return [*lines, ""] if lines else []


def _csv_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """One row per model of the test split (the regime in_distribution), in its ranking."""
    rows = []
    for name in [r.approach for r in board.ranking]:
        row: dict[str, Any] = {
            "regime": IN_DISTRIBUTION, **_model_columns(board, name),
            "runs_ok": _runs_ok(board, name), **_tuning_columns(board, name),
            "optimizer_steps_mean": _optimizer_steps(board, name),
        }  # fmt: skip
        rows.append({**row, **_statistic_columns(board, board.metrics, name)})
    return rows


def _regime_rows(board: Leaderboard, regime: RegimeBoard) -> list[dict[str, Any]]:
    """One row per model of a regime, in its ranking; ``unavailable``: why it has no score."""
    rows = []
    for r in regime.ranking:
        unavailable = regime.unavailable.get(r.approach, "")
        row: dict[str, Any] = {
            "regime": regime.regime.name, **_model_columns(board, r.approach),
            "rank": None if unavailable else r.rank, "runs_ok": r.summary.n,
            "unavailable": unavailable,
        }  # fmt: skip
        rows.append({**row, **_statistic_columns(regime, regime.metrics, r.approach)})
    return rows


def _model_columns(board: Leaderboard, name: str) -> dict[str, Any]:
    ranking = {r.approach: r.rank for r in board.ranking}
    return {
        "rank": ranking[name], "model": name,
        "architecture": board.protocol.plan.approach(name).model,
        "baseline": name == board.protocol.plan.baseline, "seeds": len(board.protocol.seeds),
    }  # fmt: skip


def _statistic_columns(
    board: Leaderboard | RegimeBoard, metrics: Sequence[str], name: str
) -> dict[str, Any]:
    """A model's summaries of ``metrics`` and its paired comparisons, as CSV columns."""
    row: dict[str, Any] = {}
    for metric in metrics:
        s = board.summaries[metric][name]
        row.update({f"{metric}_mean": s.mean, f"{metric}_sd": s.sd,
                    f"{metric}_ci_low": s.ci_low, f"{metric}_ci_high": s.ci_high,
                    f"{metric}_nonfinite": _nan_count(board, metric, name)})  # fmt: skip
    for metric, rows_ in board.comparisons.items():
        c = next(r for r in rows_ if r.approach == name)
        row.update({
            f"{metric}_relative_change": c.relative_change,
            f"{metric}_wilcoxon_p": c.wilcoxon and c.wilcoxon.p,
            f"{metric}_wilcoxon_p_holm": c.wilcoxon_p_holm,
            f"{metric}_welch_p": c.welch and c.welch.p,
            f"{metric}_welch_p_holm": c.welch_p_holm,
            f"{metric}_hedges_g": c.hedges_g, f"{metric}_d_z": c.d_z,
            f"{metric}_verdict": c.verdict,
        })  # fmt: skip
    return row


def _tuning_columns(board: Leaderboard, name: str) -> dict[str, Any]:
    """A model's tuning in the CSV: tuned or not, trials, seconds, flag, chosen values."""
    record = board.protocol.tuning.get(name)
    if not record:
        return {"tuned": False}
    import json

    return {
        "tuned": True,
        "tuning_trials": record["trials"],
        "tuning_best_val": record["best_value"],
        "tuning_wall_seconds": record["wall_seconds"],
        "tuning_cpu_seconds": record["cpu_seconds"],
        "tuning_flagged": name in board.ledger.get("flagged", {}),
        "tuned_params": json.dumps(record["params"], sort_keys=True),
    }


def _run_rows(board: Leaderboard) -> list[dict[str, Any]]:
    """One row per run: how it ended, its selected validation score, its test values (a
    non-finite one is empty, and named in ``nonfinite``)."""
    rows = []
    for r in board.runs:
        values = {k: v for k, v in run_values(r).items() if k in board.metrics}
        rows.append({
            "model": r.model, "seed": r.seed, "status": r.status, "reason": r.reason,
            board.protocol.select: r.val_score, "epochs_run": r.epochs_run, **values,
            "nonfinite": " ".join(k for k, v in values.items() if v is not None and v != v),
            "path": r.path,
        })  # fmt: skip
    return rows


def leaderboard_document(board: Leaderboard) -> dict[str, Any]:
    """Everything, JSON-safe (what ``dno report`` draws from)."""
    return json_safe({
        "kind": "dno-leaderboard",
        "format_version": 1,
        "dno_version": __version__,
        "protocol": board.protocol.to_dict(),
        "metrics": {k: {"label": get_metric(k).label, "unit": get_metric(k).unit,
                        "direction": get_metric(k).direction.value,
                        "description": get_metric(k).description}
                    for k in board.metrics},
        "ranking_metric": board.protocol.metric,
        "select": board.protocol.select,
        "nonfinite": board.nonfinite,
        "wall_seconds": board.wall_seconds,
        "seeds": list(board.protocol.seeds),
        "values": board.values,
        "summaries": board.summaries,
        "comparisons": {m: [r.to_dict() for r in rows] for m, rows in board.comparisons.items()},
        "rows": _csv_rows(board),
        "runs": _run_rows(board),
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED},
        "tuned": bool(board.protocol.tuning),
        "configurations": configurations(board.protocol),
        "variance": variance(board.protocol),
        "tuning": board.protocol.tuning,
        "tuning_curves": {m: {"objective": r["objective"], "direction": r["direction"],
                              **(r.get("curve") or {})}
                          for m, r in board.protocol.tuning.items()},
        "ledger": board.ledger,
        "provenance": board_provenance(board),
        "regimes": {name: _regime_document(board, regime)
                    for name, regime in board.regimes.items()},
    })  # fmt: skip


def _regime_document(board: Leaderboard, regime: RegimeBoard) -> dict[str, Any]:
    """A regime in ``leaderboard.json``: its values in the top level's form (what
    ``dno benchmark --aggregate`` reads), its statistics, rows and data."""
    return {
        "regime": regime.regime.to_dict(),
        "data": regime.data,
        "metrics": list(regime.metrics),
        "values": regime.values,
        "summaries": regime.summaries,
        "comparisons": {m: [r.to_dict() for r in rows] for m, rows in regime.comparisons.items()},
        "nonfinite": regime.nonfinite,
        "unavailable": regime.unavailable,
        "rows": _regime_rows(board, regime),
    }


def write_leaderboard(board: Leaderboard, folder: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``.csv``, ``.json`` and ``leaderboard_runs.csv`` in ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / LEADERBOARD_MD) as tmp:
        tmp.write_text(format_leaderboard(board), encoding="utf-8")
    return {
        "md": out / LEADERBOARD_MD,
        "csv": write_csv(
            out / LEADERBOARD_CSV,
            _csv_rows(board)
            + [row for r in board.regimes.values() for row in _regime_rows(board, r)],
        ),
        "runs": write_csv(out / LEADERBOARD_RUNS, _run_rows(board)),
        "json": write_json(out / LEADERBOARD_JSON, leaderboard_document(board)),
        "ledger": write_json(out / LEDGER_JSON, json_safe(board.ledger)),
    }
