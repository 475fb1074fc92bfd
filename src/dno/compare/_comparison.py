"""Run a comparison: every approach on every seed, resumable, scored and summarized.

Run folders: ``<out>/<name>/<approach>/seed-<s>/`` (a normal ``dno train`` run folder). Seeds
are the outer loop, so an interrupted comparison has balanced pairs. Resuming:

- a run whose ``final_results.json`` says ``completed`` or ``stopped_early`` is read back;
- a run that failed with a non-finite loss (``failed``; deterministic for its seed) is read
  back as failed, not retried;
- an interrupted run (``running``) continues from its ``last.pt`` (or starts again without one);
  a run that raised any other error is recorded as failed and retried on the next invocation;
- a folder whose ``config.json`` differs from the plan (``device`` and ``amp`` aside) is an
  error naming the keys: the results would not be the plan's.

A run's score is cached in ``comparison_score.json`` beside it (keyed by metric, split and the
best checkpoint's modification time).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from dno.compare._records import ComparisonPlan, ComparisonResult, RunRecord
from dno.compare._stats import BOOTSTRAP_RESAMPLES, compare_approaches
from dno.data import Dataset
from dno.errors import DnoError, UsageError
from dno.evaluation import EvaluationConfig, get_metric, qualify, run_metric, score_run
from dno.tracking import (
    COMPARISON_SCORE,
    FINAL_RESULTS,
    RUN_CONFIG,
    RunFolder,
    comparison_run,
    json_safe,
)
from dno.training import TRAINING_DEFAULTS, NonFiniteLoss, TrainConfig, train

__all__ = ["BOOTSTRAP_SEED", "check_dataset", "run_comparison", "run_one"]

#: Seed of every bootstrap interval of a comparison.
BOOTSTRAP_SEED = 0
_DONE = ("completed", "stopped_early")
#: Config keys that may differ between a saved run and the plan (where it runs, not what).
_FREE_KEYS = ("device", "amp", "dno_version", "data")

Log = Callable[[str], None]


def run_comparison(
    plan: ComparisonPlan,
    dataset: Dataset,
    out: str | Path = "comparisons",
    *,
    progress: bool = False,
    log: Log | None = None,
) -> ComparisonResult:
    """Train (or read back) every approach x seed, score and compare; nothing is written but
    the runs (:func:`dno.compare.write_comparison` writes the tables).

    Args:
        plan: a validated plan (:func:`dno.compare.load_plan`).
        dataset: the data (its family must be the plan's).
        out: the folder of comparisons; this one goes to ``out/plan.name``.
        progress: show each training's progress bar.
        log: called with one line per run (e.g. ``print``).

    Raises:
        UsageError: the dataset does not fit the plan, or a run folder holds another config.
    """
    check_dataset(plan, dataset)
    folder = Path(out) / plan.name
    total = len(plan.seeds) * len(plan.approaches)
    runs = []
    for seed in plan.seeds:
        for approach in plan.approaches:
            record = run_one(plan, approach.name, seed, dataset, folder, progress=progress)
            runs.append(record)
            if log is not None:
                log(f"[{len(runs)}/{total}] {_describe(record, plan.metric.label)}")
    values = {
        a.name: [next(r.value for r in runs if r.approach == a.name and r.seed == s)
                 for s in plan.seeds]
        for a in plan.approaches
    }  # fmt: skip
    rows = compare_approaches(
        values, plan.baseline, lower_is_better=plan.metric.lower_is_better, alpha=plan.alpha,
        resamples=BOOTSTRAP_RESAMPLES, seed=BOOTSTRAP_SEED,
    )  # fmt: skip
    return ComparisonResult(plan, folder, dataset.path, runs, rows)


def check_dataset(plan: ComparisonPlan, dataset: Dataset) -> None:
    """The dataset's family is the plan's and it has every parameter the configs name."""
    if dataset.family != plan.family:
        raise UsageError(
            f"{plan.source}: family {plan.family!r}, but {dataset.path} holds "
            f"{dataset.family!r} data"
        )
    for approach in plan.approaches:
        for key in ("edge_params", "cond_params"):
            for name in approach.config[key]:
                if name not in dataset.parameters:
                    raise UsageError(
                        f"{plan.source}: approach {approach.name!r}: {key} names {name!r}; "
                        f"the {dataset.family} data has: {', '.join(dataset.parameters)}"
                    )


def run_one(
    plan: ComparisonPlan,
    approach: str,
    seed: int,
    dataset: Dataset,
    folder: Path,
    *,
    progress: bool = False,
    device: str | None = None,
) -> RunRecord:
    """Train (or read back) ``approach`` on ``seed`` and score it with the plan's metric;
    ``device`` (if given) replaces the config's, which never changes what a run computes."""
    path = comparison_run(folder, approach, seed)
    config = plan.config_for(approach, seed)
    if device is not None:
        config = replace(config, device=device)
    status = _saved_status(path, config, approach, seed)
    record = RunRecord(approach, seed, path, status or "new", None)
    if status in (*_DONE, "failed"):
        _read_back(record)
    else:
        resume = status == "running" and RunFolder(path).last_checkpoint.exists()
        _train(record, config, dataset, resume, progress)
    if record.status in _DONE:
        _score(record, plan, dataset)
    return record


def _saved_status(path: Path, config: TrainConfig, approach: str, seed: int) -> str | None:
    """The status of a run folder already there (None if there is none); its config must match."""
    run = RunFolder(path)
    if not run.config_path.exists():
        return None
    saved = _flat(run.read_json(RUN_CONFIG))
    plain = _flat(json_safe(config))
    # an option added after the run was made, at its default, computes what the run computed
    saved |= {k: v for k, v in json_safe(TRAINING_DEFAULTS).items() if k not in saved}
    differing = sorted(
        k for k in set(saved) | set(plain) if k not in _FREE_KEYS and saved.get(k) != plain.get(k)
    )
    if differing:
        changes = ", ".join(f"{k}: {saved.get(k)!r} -> {plain.get(k)!r}" for k in differing)
        raise UsageError(
            f"approach {approach!r}, seed {seed}: {path} holds a run of another config "
            f"({changes}); delete that folder or use another --out"
        )
    return run.status() or "running"


def _flat(config: dict[str, Any]) -> dict[str, Any]:
    """Training options and model keys in one namespace (they never share a name)."""
    return {
        **{k: v for k, v in config.items() if k != "model_config"},
        **(config.get("model_config") or {}),
    }


def _read_back(record: RunRecord) -> None:
    results = RunFolder(record.path).read_json(FINAL_RESULTS)
    record.status = str(results["status"])
    record.reason = str(results.get("reason") or "")
    record.epochs_run = results.get("epochs_run")
    record.seconds = results.get("seconds")


def _train(
    record: RunRecord, config: TrainConfig, dataset: Dataset, resume: bool, progress: bool
) -> None:
    record.trained = True
    started = time.perf_counter()
    try:
        results = train(config, dataset, record.path, resume=resume, progress=progress)
    except NonFiniteLoss as error:
        record.status, record.reason = "failed", str(error)
    except UsageError as error:
        raise UsageError(f"approach {record.approach!r}, seed {record.seed}: {error}") from None
    except Exception as error:  # recorded, and retried on the next invocation
        record.status, record.reason = "failed", f"{type(error).__name__}: {error}"
    else:
        record.status = str(results["status"])
        record.epochs_run = results.get("epochs_run")
    record.seconds = time.perf_counter() - started


def _score(record: RunRecord, plan: ComparisonPlan, dataset: Dataset) -> None:
    """Score a finished run with the plan's metric (cached beside the run)."""
    metric = plan.metric
    best = RunFolder(record.path).best_checkpoint
    if not best.exists():
        record.status, record.reason = "failed", "no best checkpoint (no finite validation score)"
        return
    key = {
        "metric": metric.name,
        "split": metric.split,
        "best_mtime_ns": best.stat().st_mtime_ns,
        "table": 2,
    }  # the metric table's windows (older caches: other windows)
    cache = record.path / COMPARISON_SCORE
    if cache.exists() and not record.trained:
        saved = RunFolder(record.path).read_json(COMPARISON_SCORE)
        if all(saved.get(k) == v for k, v in key.items()):
            record.value = saved.get("value")
    if record.value is None:
        record.value = _compute(metric.name, metric.split, record, dataset)
        RunFolder(record.path).write_json(COMPARISON_SCORE, {**key, "value": record.value})
    if record.value is None or not math.isfinite(record.value):
        record.status, record.value = "failed", None
        record.reason = f"non-finite {metric.label}"


def _compute(name: str, split: str | None, record: RunRecord, dataset: Dataset) -> float | None:
    """The run's value of a metric of the table: a cost from its ``final_results.json``, a score
    from its best weights on the split (``dno evaluate``'s windows, at the run's validation
    horizon)."""
    results = RunFolder(record.path).results()
    if split is None and get_metric(name).kind == "run":
        return run_metric(results, name)
    if split == "val" and (recorded := run_metric(results, qualify(name, "val"))) is not None:
        return recorded  # training scored its kept weights on these windows at this horizon
    horizon = results.get("val_horizon_delays") or EvaluationConfig.horizon_delays
    config = EvaluationConfig(horizon_delays=int(horizon))
    try:
        value = score_run(record.path, split or "val", [name], config, data=dataset.path or None)
    except DnoError as error:
        raise DnoError(f"cannot score {record.path} with {name}: {error}") from None
    return value[name]


def _describe(record: RunRecord, label: str) -> str:
    head = f"{record.approach} seed {record.seed}: "
    how = f"trained in {record.seconds or 0.0:.1f} s" if record.trained else "read back"
    if record.status not in _DONE:
        return head + f"failed ({how}): {record.reason}"
    return head + f"{how}, {label} = {record.value:.4g}"
