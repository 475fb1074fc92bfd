"""What a study leaves on disk: ``summary.csv``, ``best_config.yaml``, and the confirmation of the
top configurations on fresh seeds, scored once on the test split.
"""

from __future__ import annotations

import statistics
from collections import Counter
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import FrozenTrial, TrialState

from dno._io import atomic_path, read_yaml_mapping
from dno.data import Dataset
from dno.errors import UsageError
from dno.evaluation import score_checkpoint
from dno.search._runner import TrialRunner
from dno.search._study import StudySpec
from dno.tracking import (
    BEST_CONFIG,
    CONFIRMATION,
    FINAL_RESULTS,
    RETRY_ATTR,
    RUN_CONFIG,
    SUMMARY,
    RunFolder,
    confirm_folder,
    json_safe,
    trial_folder,
    trial_params,
    trial_reason,
    trial_runs,
    trial_state,
    write_csv,
)

__all__ = ["CONFIRM_SEED_BASE", "best_run", "confirm_top", "write_summary"]

#: Confirmation runs use seeds from here on: never seen during the search.
CONFIRM_SEED_BASE = 10_000


def _state_name(trial: FrozenTrial) -> str:
    """The trial's state as ``summary.csv`` spells it (a failed trial is Optuna's ``fail``)."""
    state = trial_state(trial.state.name, trial.user_attrs)
    return "fail" if state == "failed" else state


def summary_rows(study: optuna.Study, spec: StudySpec) -> list[dict[str, Any]]:
    """One tidy row per trial: state, objectives, every parameter, seeds, cost, reasons."""
    rows = []
    for t in study.get_trials(deepcopy=False):
        row: dict[str, Any] = {"trial": t.number, "state": _state_name(t)}
        values = t.values if t.state == TrialState.COMPLETE and t.values else []
        for i, name in enumerate(spec.objectives):
            row[name] = values[i] if i < len(values) else None
        row.update({f"param_{k}": v for k, v in sorted(t.params.items())})
        row["seed_values"] = " ".join(f"{v:.6g}" for v in t.user_attrs.get("seed_values", []))
        row["epochs_run"] = t.user_attrs.get("epochs_run")
        row["seconds"] = t.user_attrs.get("seconds")
        row["fail_reason"] = trial_reason(t.user_attrs)
        row["retry_of"] = t.user_attrs.get(RETRY_ATTR, "")
        rows.append(row)
    return rows


def best_trials(study: optuna.Study, spec: StudySpec, k: int) -> list[FrozenTrial]:
    """The k best completed trials by the first objective (the Pareto front first if multi)."""
    complete = [t for t in study.get_trials(deepcopy=False) if t.state == TrialState.COMPLETE]
    sign = 1 if spec.directions[0] == "minimize" else -1
    ranked = sorted(complete, key=lambda t: sign * t.values[0])
    if len(spec.objectives) > 1:
        front = {t.number for t in study.best_trials}
        ranked = [t for t in ranked if t.number in front] + [
            t for t in ranked if t.number not in front
        ]
    return ranked[:k]


def write_summary(
    study: optuna.Study, spec: StudySpec, folder: Path, runner: TrialRunner | None = None
) -> dict[str, Any]:
    """Write ``summary.csv`` and ``best_config.yaml``; return a short description."""
    write_csv(folder / SUMMARY, summary_rows(study, spec))
    best = best_trials(study, spec, 1) if spec.objectives else []
    states = [_state_name(t) for t in study.get_trials(deepcopy=False)]
    info: dict[str, Any] = {"trials": len(states), "states": dict(Counter(states)), "best": None}
    if best:
        trial = best[0]
        run = _first_run(folder, trial.number)
        config = RunFolder(run).read_json(RUN_CONFIG) if run else {"params": trial.params}
        document = {
            "study": spec.name,
            "trial": trial.number,
            "objectives": dict(zip(spec.objectives, trial.values, strict=True)),
            "model": spec.model,
            "family": spec.family,
            "config": json_safe(config),
        }
        with atomic_path(folder / BEST_CONFIG) as tmp:
            tmp.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
        info["best"] = document
    return info


def best_run(folder: Path) -> tuple[int, Path]:
    """The best trial of a study folder and its run folder (its first seed's, with ``--seeds``).

    Reads ``best_config.yaml`` (written after every search), so it needs no storage.

    Raises:
        UsageError: no ``best_config.yaml`` (no completed trial yet), or the best trial ran a
            user's program (not a dno model), or its run folder is missing.
    """
    path = folder / BEST_CONFIG
    if not path.is_file():
        raise UsageError(
            f"{str(folder)!r} has no best_config.yaml: the study has no completed trial yet, or "
            "it is not a study folder"
        )
    document = read_yaml_mapping(path, "best configuration file")
    number = int(document.get("trial", -1))
    if str(document.get("model", "")).startswith("program:"):
        raise UsageError(
            f"the best trial ({number}) of {document.get('study')!r} ran a program, not a dno "
            "model: evaluate its outputs with the program itself"
        )
    run = _first_run(folder, number)
    if run is None:
        raise UsageError(
            f"the best trial's run folder {str(trial_folder(folder, number))!r} is missing"
        )
    return number, run


def _first_run(folder: Path, number: int) -> Path | None:
    """The run folder of a trial's first seed, if it holds a ``config.json``."""
    run = trial_runs(trial_folder(folder, number))[0]
    return run if (run / RUN_CONFIG).is_file() else None


def confirm_top(
    study: optuna.Study,
    spec: StudySpec,
    runner: TrialRunner,
    dataset: Dataset,
    folder: Path,
    top: int,
    seeds: int,
) -> list[dict[str, Any]]:
    """Re-run the top configurations on fresh seeds; score each once on the test split.

    Resumable: a confirmation run already completed is read back, not trained again.
    Writes ``confirmation.csv``.
    """
    rows = []
    for trial in best_trials(study, spec, top):
        params = trial_params(folder, trial.number) or dict(trial.params)
        val, test = [], []
        for k in range(seeds):
            seed = CONFIRM_SEED_BASE + k
            run = RunFolder(confirm_folder(folder, trial.number, seed))
            if run.status() not in ("completed", "stopped_early"):
                runner.run(run.path, params, seed, lambda step, value: None)
            result = run.read_json(FINAL_RESULTS)
            val.append(float(result["best_val_rel_l2"]))
            test.append(score_checkpoint(run.best_checkpoint, dataset.splits["test"]).relative_l2)
        rows.append(
            {
                "trial": trial.number,
                "search_score": trial.values[0],
                "confirm_val_mean": statistics.fmean(val),
                "test_mean": statistics.fmean(test),
                "test_std": statistics.stdev(test) if len(test) > 1 else 0.0,
                "test_seeds": " ".join(f"{v:.6g}" for v in test),
                **{f"param_{k}": v for k, v in sorted(trial.params.items())},
            }
        )
    if rows:
        write_csv(folder / CONFIRMATION, rows)
    return rows


def format_table(rows: list[dict[str, Any]], objective: str) -> str:
    """The confirmation table: search score (val) beside the confirmed test score."""
    lines = [
        f"{'trial':>5}  {'search ' + objective:>18}  {'confirm val':>12}  {'test (mean ± std)':>22}"
    ]
    for r in rows:
        lines.append(
            f"{r['trial']:>5}  {r['search_score']:>18.4g}  {r['confirm_val_mean']:>12.4g}  "
            f"{r['test_mean']:>12.4g} ± {r['test_std']:<8.2g}"
        )
    return "\n".join(lines)
