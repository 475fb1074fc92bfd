"""The leaderboard of a benchmark: per model, mean and 95% interval of every metric over the
seeds, and paired comparisons against the baseline with ``dno compare``'s statistics.

Every number comes from the runs' own files: the test split's ``evaluation_test.json`` summary
(one-step and rollout relative L2 on the protocol's horizon, valid time, amplitude ratio,
parameters) and ``final_results.json`` (training seconds, best validation relative L2). Means,
sample standard deviations and seeded percentile-bootstrap intervals are
:func:`dno.compare.describe`; the paired comparisons are :func:`dno.compare.compare_approaches`
(Wilcoxon signed-rank on the per-seed differences, Welch alongside, Holm across the models,
Hedges' g, a verdict at alpha), for the protocol's metric and for the one-step error.

Files: ``leaderboard.md`` (to read), ``leaderboard.csv`` (one row per model),
``leaderboard_runs.csv`` (one row per model and seed) and ``leaderboard.json`` (everything:
the protocol, each seed's values, each statistic, the column meanings, the reference numbers).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from dno import __version__
from dno._io import atomic_path
from dno.benchmark._protocol import LEADERBOARD_METRICS, Protocol
from dno.benchmark._run import RunResult
from dno.compare import (
    BOOTSTRAP_RESAMPLES,
    BOOTSTRAP_SEED,
    ApproachStats,
    ComparisonResult,
    Metric,
    RunRecord,
    Summary,
    compare_approaches,
    describe,
    format_table,
    markdown_table,
    notes,
    number_cell,
)
from dno.tracking import (
    LEADERBOARD_CSV,
    LEADERBOARD_JSON,
    LEADERBOARD_MD,
    LEADERBOARD_RUNS,
    json_safe,
    write_csv,
    write_json,
)

__all__ = [
    "Leaderboard", "build_leaderboard", "format_leaderboard", "format_results",
    "leaderboard_document",
    "ratio_to_baseline", "run_values", "write_leaderboard",
]  # fmt: skip

#: Where each leaderboard metric is read: the evaluation summary's key, or the run's.
_SOURCES = {
    "one_step_rel_l2": "one_step_relative_l2",
    "rollout_rel_l2": "rollout_relative_l2",
    "valid_time": "valid_time",
    "amplitude_ratio": "amplitude_ratio",
    "parameters": "parameters",
}
#: The paired comparisons: the protocol's metric first, then these if different.
_PAIRED = ("rollout_rel_l2", "one_step_rel_l2")
_DASH = "—"


@dataclass
class Leaderboard:
    """A benchmark's results: the protocol, every run, per-model statistics and comparisons.

    Attributes:
        protocol: the protocol as run.
        runs: every model x seed (failed runs included, with their reasons).
        values: metric -> model -> per-seed values (None: the run failed), seeds in order.
        summaries: metric -> model -> :class:`~dno.compare.Summary` of the finite values.
        comparisons: metric -> ranked :class:`~dno.compare.ApproachStats` against the baseline.
        wall_seconds: the benchmark's wall time, if known.
    """

    protocol: Protocol
    runs: list[RunResult]
    values: dict[str, dict[str, list[float | None]]]
    summaries: dict[str, dict[str, Summary]]
    comparisons: dict[str, list[ApproachStats]]
    wall_seconds: float | None = None

    @property
    def ranking(self) -> list[ApproachStats]:
        """The comparison on the protocol's metric: the leaderboard's order."""
        return self.comparisons[self.protocol.metric]


def run_values(run: RunResult) -> dict[str, float | None]:
    """One run's leaderboard metrics (None where the run failed or a value is not finite)."""
    if not run.ok:
        return dict.fromkeys(LEADERBOARD_METRICS)
    found: dict[str, Any] = {k: run.evaluation.get(v) for k, v in _SOURCES.items()}
    found["train_seconds"] = run.train_seconds
    return {
        k: float(v) if isinstance(v, int | float) and math.isfinite(v) else None
        for k, v in found.items()
    }


def build_leaderboard(
    protocol: Protocol, runs: Sequence[RunResult], wall_seconds: float | None = None
) -> Leaderboard:
    """Statistics of ``runs`` (every model x seed of ``protocol``)."""
    by_key = {(r.model, r.seed): run_values(r) for r in runs}
    values = {
        metric: {
            model: [by_key.get((model, seed), {}).get(metric) for seed in protocol.seeds]
            for model in protocol.models
        }
        for metric in LEADERBOARD_METRICS
    }
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
            lower_is_better=LEADERBOARD_METRICS[metric][1] != 1,
            alpha=plan.alpha,
            resamples=BOOTSTRAP_RESAMPLES,
            seed=BOOTSTRAP_SEED,
        )
        for metric in dict.fromkeys([protocol.metric, *_PAIRED])
    }
    return Leaderboard(protocol, list(runs), values, summaries, comparisons, wall_seconds)


def _interval(s: Summary, digits: int = 3) -> str:
    if s.mean is None:
        return _DASH
    if s.ci_low is None or s.ci_high is None:
        return number_cell(s.mean, digits)
    low, high = number_cell(s.ci_low, digits), number_cell(s.ci_high, digits)
    return f"{number_cell(s.mean, digits)} [{low}, {high}]"


def _main_table(board: Leaderboard) -> str:
    """Per model, in the ranking's order: mean [95% CI] of every metric."""
    baseline = board.protocol.plan.baseline
    header = ["rank", "model", "runs ok"] + [label for label, _ in LEADERBOARD_METRICS.values()]
    body = []
    for row in board.ranking:
        name = row.approach
        ok = sum(v is not None for v in board.values["rollout_rel_l2"][name])
        cells = [str(row.rank), f"{name} (baseline)" if name == baseline else name,
                 f"{ok}/{len(board.protocol.seeds)}"]  # fmt: skip
        for metric in LEADERBOARD_METRICS:
            s = board.summaries[metric][name]
            if metric == "parameters":
                cells.append(_DASH if s.mean is None else f"{s.mean:,.0f}")
            elif metric == "train_seconds":
                cells.append(_DASH if s.mean is None else f"{s.mean:.1f}")
            else:
                cells.append(_interval(s))
        body.append(cells)
    return markdown_table(header, body)


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


def _comparison_result(board: Leaderboard, metric: str) -> ComparisonResult:
    """The comparison of ``metric`` in ``dno compare``'s own records (for its notes)."""
    label, direction = LEADERBOARD_METRICS[metric]
    plan = replace(
        board.protocol.plan,
        metric=Metric(metric, "test", direction != 1, f"{label} on the test split"),
    )
    runs = [
        RunRecord(r.model, r.seed, Path(r.path), r.status, run_values(r)[metric], r.reason)
        for r in board.runs
    ]
    return ComparisonResult(plan, Path("."), "", runs, board.comparisons[metric])


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
    ]
    return "\n".join([format_results(board), *how])


def format_results(board: Leaderboard) -> str:
    """The headline, the table, the reference numbers, the paired comparisons and their notes
    (what ``dno benchmark`` prints)."""
    protocol = board.protocol
    plan, evaluation = protocol.plan, protocol.evaluation
    label = LEADERBOARD_METRICS[protocol.metric][0]
    budget = f", budget {protocol.budget}" if protocol.budget else ""
    parts = [f"# Benchmark: {protocol.name}{budget}", ""]
    if protocol.description:
        parts += [protocol.description, ""]
    parts += [
        f"{protocol.family}: {protocol.data['n']} trajectories (data seed "
        f"{protocol.data['seed']}), {len(protocol.seeds)} training seeds "
        f"({', '.join(map(str, protocol.seeds))}), test split scored once on a horizon of "
        f"{evaluation.horizon_delays} delays; ranked by {label} (lower is better); dno "
        f"{__version__}." + _timing(board),
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
    ]  # fmt: skip
    parts += _reference_lines(board)
    for metric, rows in board.comparisons.items():
        parts += [
            f"## Paired against {plan.baseline}: {LEADERBOARD_METRICS[metric][0]} (test)",
            "",
            format_table(rows),
            "",
            *(f"- {line}" for line in notes(_comparison_result(board, metric))),
            "",
        ]
    return "\n".join(parts)


def _csv_rows(board: Leaderboard) -> list[dict[str, Any]]:
    rows = []
    ranking = {r.approach: r for r in board.ranking}
    for name in [r.approach for r in board.ranking]:
        approach = board.protocol.plan.approach(name)
        row: dict[str, Any] = {
            "rank": ranking[name].rank, "model": name, "architecture": approach.model,
            "baseline": name == board.protocol.plan.baseline,
            "seeds": len(board.protocol.seeds),
            "runs_ok": sum(v is not None for v in board.values["rollout_rel_l2"][name]),
        }  # fmt: skip
        for metric in LEADERBOARD_METRICS:
            s = board.summaries[metric][name]
            row.update({f"{metric}_mean": s.mean, f"{metric}_sd": s.sd,
                        f"{metric}_ci_low": s.ci_low, f"{metric}_ci_high": s.ci_high})  # fmt: skip
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
        rows.append(row)
    return rows


def _run_rows(board: Leaderboard) -> list[dict[str, Any]]:
    return [
        {
            "model": r.model,
            "seed": r.seed,
            "status": r.status,
            "reason": r.reason,
            "val_rel_l2": r.val_rel_l2,
            "epochs_run": r.epochs_run,
            **run_values(r),
            "path": r.path,
        }
        for r in board.runs
    ]


def leaderboard_document(board: Leaderboard) -> dict[str, Any]:
    """Everything, JSON-safe (what ``dno report`` draws from)."""
    return json_safe({
        "kind": "dno-leaderboard",
        "format_version": 1,
        "dno_version": __version__,
        "protocol": board.protocol.to_dict(),
        "metrics": {k: {"label": label, "direction": d}
                    for k, (label, d) in LEADERBOARD_METRICS.items()},
        "ranking_metric": board.protocol.metric,
        "wall_seconds": board.wall_seconds,
        "seeds": list(board.protocol.seeds),
        "values": board.values,
        "summaries": board.summaries,
        "comparisons": {m: [r.to_dict() for r in rows] for m, rows in board.comparisons.items()},
        "rows": _csv_rows(board),
        "runs": _run_rows(board),
        "bootstrap": {"resamples": BOOTSTRAP_RESAMPLES, "seed": BOOTSTRAP_SEED},
    })  # fmt: skip


def write_leaderboard(board: Leaderboard, folder: str | Path) -> dict[str, Path]:
    """Write ``leaderboard.md``, ``.csv``, ``.json`` and ``leaderboard_runs.csv`` in ``folder``."""
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    with atomic_path(out / LEADERBOARD_MD) as tmp:
        tmp.write_text(format_leaderboard(board), encoding="utf-8")
    return {
        "md": out / LEADERBOARD_MD,
        "csv": write_csv(out / LEADERBOARD_CSV, _csv_rows(board)),
        "runs": write_csv(out / LEADERBOARD_RUNS, _run_rows(board)),
        "json": write_json(out / LEADERBOARD_JSON, leaderboard_document(board)),
    }
