"""The budget ledger of a benchmark: what every model spent in each phase, and whether the
budgets a fair comparison needs equal were equal, checked from the files rather than assumed.

``OUT/ledger.json``::

    {"kind": "dno-ledger",
     "models": {MODEL: {"tune":    {"trials", "epochs", "optimizer_steps", "parameters",
                                    "wall_seconds", "cpu_seconds", "devices", ...},
                        "retrain": {"runs", "seeds", "epochs", "optimizer_steps", "parameters",
                                    "wall_seconds", "cpu_seconds", "devices"},
                        "test":    {"evaluations", "wall_seconds", "cpu_seconds", "devices"}}},
     "checks": [{"phase", "what", "equal", "values": {MODEL: value}}],
     "equal": true,                      # every check held
     "flag_ratio": 1.25,
     "flagged": {MODEL: {"wall_seconds": 1.9}}}   # tuning seconds over the models' median

The tune row comes from each study's trials (:func:`dno.benchmark.tune.tuning_record`: every
trial's epochs, optimizer steps, and the wall and CPU seconds of its training epochs), the
retrain row from each run's ``final_results.json`` and ``config.json``, the test row from each
run's ``test_cost.json``. Seconds are those of the epochs (training and validation), measured in
the process that trained; optimizer steps are epochs x steps per epoch. Checked equal: per
phase, the trials, epoch cap, patience, sampler, sampler seed, seeds, data and objective of the
searches; the seeds, epoch cap, patience and data of the runs; the horizon of the tests. What
cannot be equal (epochs run under early stopping, seconds, parameters) is reported, and a model
whose tuning took more than :data:`FLAG_RATIO` times the median seconds is flagged.
"""

from __future__ import annotations

import statistics
from collections.abc import Sequence
from typing import Any

from dno.benchmark._execution import RunResult
from dno.benchmark._protocol import Protocol

__all__ = ["FLAG_RATIO", "build_ledger", "median_ratios"]

#: A model whose tuning took more than this many times the models' median seconds is flagged.
FLAG_RATIO = 1.25
#: What the tuning record holds that every model's search must share.
_TUNE_BUDGET = ("trials", "max_epochs", "patience", "search", "sampler_seed", "seeds",
                "data", "objective", "pruner")  # fmt: skip


def _spent(rows: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Sums of the runs' epochs, steps and seconds; their parameter counts and devices."""

    def total(key: str) -> float | None:
        values = [row.get(key) for row in rows]
        numbers = [v for v in values if isinstance(v, int | float)]
        return sum(numbers) if rows and len(numbers) == len(values) else None

    counts = sorted({int(row["parameters"]) for row in rows if row.get("parameters") is not None})
    return {
        "epochs": total("epochs"),
        "optimizer_steps": total("optimizer_steps"),
        "parameters": counts[0] if len(counts) == 1 else counts,
        "wall_seconds": total("wall_seconds"),
        "cpu_seconds": total("cpu_seconds"),
        "devices": sorted({str(row["device"]) for row in rows if row.get("device")}),
    }


def _tune_row(record: dict[str, Any], chosen_parameters: Any) -> dict[str, Any]:
    sizes = record.get("parameters") or []
    return {
        "trials": record["trials"],
        "states": record.get("states", {}),
        "epochs": record["epochs"],
        "optimizer_steps": record["optimizer_steps"],
        "parameters": {
            "chosen": chosen_parameters,
            "min": min(sizes) if sizes else None,
            "max": max(sizes) if sizes else None,
        },
        "wall_seconds": record["wall_seconds"],
        "cpu_seconds": record["cpu_seconds"],
        "trial_seconds": record.get("trial_seconds"),
        "devices": record.get("devices", []),
    }


def build_ledger(protocol: Protocol, runs: Sequence[RunResult]) -> dict[str, Any]:
    """The ledger of ``runs`` (and of ``protocol.tuning`` when tuned); see the module doc."""
    models: dict[str, dict[str, Any]] = {}
    for name in protocol.models:
        finished = [r for r in runs if r.model == name and r.cost]
        retrain = {
            "runs": len(finished),
            "seeds": [r.seed for r in finished],
            **_spent([r.cost for r in finished]),
        }
        tests = [r.cost["test"] for r in finished if r.cost.get("test")]
        test = {
            "evaluations": len(tests),
            "wall_seconds": sum(float(t.get("seconds") or 0.0) for t in tests),
            "cpu_seconds": sum(float(t.get("cpu_seconds") or 0.0) for t in tests),
            "devices": sorted({str(t["device"]) for t in tests if t.get("device")}),
        }
        phases: dict[str, Any] = {"retrain": retrain, "test": test}
        if protocol.tuning:
            phases = {"tune": _tune_row(protocol.tuning[name], retrain["parameters"]), **phases}
        models[name] = phases
    checks = _checks(protocol, runs)
    flagged = _flagged(models)
    return {
        "kind": "dno-ledger",
        "format_version": 1,
        "tuned": bool(protocol.tuning),
        "models": models,
        "checks": checks,
        "equal": all(check["equal"] for check in checks),
        "flag_ratio": FLAG_RATIO,
        "flagged": flagged,
    }


def _check(phase: str, what: str, values: dict[str, Any]) -> dict[str, Any]:
    distinct = {repr(v) for v in values.values()}
    return {"phase": phase, "what": what, "equal": len(distinct) <= 1, "values": values}


def _checks(protocol: Protocol, runs: Sequence[RunResult]) -> list[dict[str, Any]]:
    """Every budget that must be the same for every model, with each model's value."""
    checks = []
    if protocol.tuning:
        for key in _TUNE_BUDGET:
            values = {name: record.get(key) for name, record in protocol.tuning.items()}
            checks.append(_check("tune", key, values))
    by_model: dict[str, list[RunResult]] = {m: [] for m in protocol.models}
    for run in runs:
        if run.cost:
            by_model[run.model].append(run)
    seeds = {m: [r.seed for r in rs] for m, rs in by_model.items()}
    checks.append(_check("retrain", "seeds", seeds))
    for key in ("max_epochs", "patience"):
        values = {m: sorted({r.cost.get(key) for r in rs}, key=repr) for m, rs in by_model.items()}
        checks.append(_check("retrain", key, values))
    data = {m: [r.cost.get("data") for r in rs] for m, rs in by_model.items()}
    checks.append(_check("retrain", "data", data))
    horizons = {
        m: sorted({r.evaluation.get("horizon_delays") for r in rs if r.ok}, key=repr)
        for m, rs in by_model.items()
    }
    checks.append(_check("test", "horizon_delays", horizons))
    return checks


def _flagged(models: dict[str, dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Models whose tuning took more than :data:`FLAG_RATIO` x the median wall or CPU seconds:
    model -> {measure: its ratio to the median}."""
    flagged: dict[str, dict[str, float]] = {}
    for measure in ("wall_seconds", "cpu_seconds"):
        for model, ratio in median_ratios(models, measure).items():
            if ratio > FLAG_RATIO:
                flagged.setdefault(model, {})[measure] = ratio
    return flagged


def median_ratios(models: dict[str, dict[str, Any]], measure: str) -> dict[str, float]:
    """Each model's tuning ``measure`` (``wall_seconds``, ``cpu_seconds``) over the models'
    median (empty when not tuned, or with fewer than two models or a zero median)."""
    spent = {m: p["tune"][measure] for m, p in models.items() if "tune" in p}
    spent = {m: float(v) for m, v in spent.items() if v is not None}
    median = statistics.median(spent.values()) if len(spent) > 1 else 0.0
    return {m: v / median for m, v in spent.items()} if median > 0 else {}
