"""What a study leaves on disk: ``summary.csv``, ``best_config.yaml``, the prediction figures of
the trials its report shows, and the confirmation of the top configurations on fresh seeds.

The confirmation re-trains the top configurations on seeds the search never used and compares
them on the validation split, with the leaderboard's metrics and horizon; the configuration it
chooses (the best mean of the first objective) is then scored once on the test split. No choice
reads the test split.
"""

from __future__ import annotations

import math
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
from dno.evaluation import EvaluationConfig, evaluate_run, parse_name
from dno.search._runner import TrialRunner, trial_metrics
from dno.search._study_lifecycle import METRICS_ATTR, StudySpec
from dno.tracking import (
    BEST_CONFIG,
    CONFIRMATION,
    FINAL_RESULTS,
    PREDICTION_FIGURE,
    RETRY_ATTR,
    RUN_CONFIG,
    SHOWN_TRIALS,
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
from dno.training import plot_prediction

__all__ = [
    "CONFIRM_METRICS",
    "CONFIRM_SEED_BASE",
    "best_run",
    "confirm_top",
    "draw_shown_figures",
    "write_summary",
]

#: Confirmation runs use seeds from here on: never seen during the search.
CONFIRM_SEED_BASE = 10_000


def _state_name(trial: FrozenTrial) -> str:
    """The trial's state as ``summary.csv`` spells it (a failed trial is Optuna's ``fail``)."""
    state = trial_state(trial.state.name, trial.user_attrs)
    return "fail" if state == "failed" else state


def summary_rows(study: optuna.Study, spec: StudySpec) -> list[dict[str, Any]]:
    """One tidy row per trial: state, every metric it recorded (the objectives first), every
    parameter, seeds, cost, reasons. A complete trial's objectives are its values in the study;
    a pruned or failed trial shows what its best epoch had."""
    trials = study.get_trials(deepcopy=False)
    recorded = [dict(t.user_attrs.get(METRICS_ATTR) or {}) for t in trials]
    names = list(dict.fromkeys([*spec.objectives, *(n for r in recorded for n in r)]))
    rows = []
    for t, metrics in zip(trials, recorded, strict=True):
        row: dict[str, Any] = {"trial": t.number, "state": _state_name(t)}
        if t.state == TrialState.COMPLETE and t.values:
            metrics.update(zip(spec.objectives, t.values, strict=False))
        row.update({name: metrics.get(name) for name in names})
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
        info["best"] = _write_best_config(spec, folder, best[0], "the search (one run per seed)")
    return info


def draw_shown_figures(
    study: optuna.Study, spec: StudySpec, folder: Path, dataset: Dataset
) -> list[Path]:
    """Draw ``prediction_vs_truth.png`` for the trials a report shows (the
    :data:`~dno.tracking.SHOWN_TRIALS` best, in their first seed's run), where it is missing:
    the trials themselves skip it, so a search does not spend a tenth to a third of a short
    trial on figures nobody opens. Returns the figures drawn."""
    drawn = []
    for trial in best_trials(study, spec, SHOWN_TRIALS):
        run = _first_run(folder, trial.number)
        if run is not None and not (RunFolder(run).artifacts / PREDICTION_FIGURE).is_file():
            path = plot_prediction(run, dataset)
            if path is not None:
                drawn.append(path)
    return drawn


def _write_best_config(
    spec: StudySpec, folder: Path, trial: FrozenTrial, chosen_by: str
) -> dict[str, Any]:
    """``best_config.yaml``: the chosen trial, its objectives, how it was chosen, its config."""
    run = _first_run(folder, trial.number)
    config = RunFolder(run).read_json(RUN_CONFIG) if run else {"params": trial.params}
    document = {
        "study": spec.name,
        "trial": trial.number,
        "objectives": dict(zip(spec.objectives, trial.values, strict=True)),
        "chosen_by": chosen_by,
        "model": spec.model,
        "family": spec.family,
        "config": json_safe(config),
    }
    with atomic_path(folder / BEST_CONFIG) as tmp:
        tmp.write_text(yaml.safe_dump(document, sort_keys=False), encoding="utf-8")
    return document


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


#: What the confirmation reports besides the objectives: the leaderboard's validation scores.
CONFIRM_METRICS = ("val_rel_l2", "val_rollout_rel_l2", "val_valid_time", "val_amplitude_ratio")


def confirm_top(
    study: optuna.Study,
    spec: StudySpec,
    runner: TrialRunner,
    dataset: Dataset,
    folder: Path,
    top: int,
    seeds: int,
) -> list[dict[str, Any]]:
    """Re-run the top configurations on fresh seeds, compare them on validation, and score the
    chosen one once on the test split.

    Every configuration gets the mean and standard deviation over the fresh seeds of each
    objective and of :data:`CONFIRM_METRICS` (validation, at the runs' validation horizon). The
    one with the best mean first objective is ``chosen``; only its runs are scored on the test
    split (``dno evaluate``'s protocol at the same horizon), columns ``test_...``.
    Resumable: a confirmation run already completed is read back, not trained again.
    Writes ``confirmation.csv``.
    """
    names = list(dict.fromkeys([*spec.objectives, *CONFIRM_METRICS]))
    rows: list[dict[str, Any]] = []
    runs: dict[int, list[Path]] = {}
    for trial in best_trials(study, spec, top):
        params = trial_params(folder, trial.number) or dict(trial.params)
        values: dict[str, list[float]] = {name: [] for name in names}
        runs[trial.number] = []
        for k in range(seeds):
            seed = CONFIRM_SEED_BASE + k
            run = RunFolder(confirm_folder(folder, trial.number, seed))
            if run.status() not in ("completed", "stopped_early"):
                runner.run(run.path, params, seed, lambda step, value: None)
            recorded = trial_metrics(run.read_json(FINAL_RESULTS))
            for name in names:
                if name in recorded:
                    values[name].append(recorded[name])
            runs[trial.number].append(run.path)
        row: dict[str, Any] = {"trial": trial.number, "search_score": trial.values[0]}
        for name, found in values.items():
            row[f"{name}_mean"] = statistics.fmean(found) if found else None
            row[f"{name}_sd"] = statistics.stdev(found) if len(found) > 1 else None
        row["seeds"] = " ".join(str(CONFIRM_SEED_BASE + k) for k in range(seeds))
        rows.append({**row, **{f"param_{k}": v for k, v in sorted(trial.params.items())}})
    if rows:
        chosen = _choose(rows, spec)
        for row in rows:
            row["chosen"] = row is chosen
        chosen.update(_test_once(runs[chosen["trial"]], dataset, names))
        write_csv(folder / CONFIRMATION, rows)
        trial = next(t for t in study.get_trials(deepcopy=False) if t.number == chosen["trial"])
        how = f"confirmation: best mean {spec.objectives[0]} over seeds {chosen['seeds']}"
        _write_best_config(spec, folder, trial, how)
    return rows


def _choose(rows: list[dict[str, Any]], spec: StudySpec) -> dict[str, Any]:
    """The row with the best mean first objective over the fresh seeds (validation)."""
    key = f"{spec.objectives[0]}_mean"
    sign = 1 if spec.directions[0] == "minimize" else -1
    ranked = [r for r in rows if isinstance(r.get(key), float)]
    return min(ranked, key=lambda r: sign * r[key]) if ranked else rows[0]


def _test_once(runs: list[Path], dataset: Dataset, names: list[str]) -> dict[str, Any]:
    """The chosen configuration's runs scored on the test split, once, at their validation
    horizon: the test counterpart of every validation score of ``names`` (mean over the runs)."""
    scores = [parse_name(n)[0].name for n in names if parse_name(n)[1] == "val"]
    values: dict[str, list[float]] = {name: [] for name in scores}
    for path in runs:
        horizon = RunFolder(path).read_json(FINAL_RESULTS).get("val_horizon_delays")
        config = EvaluationConfig(horizon_delays=int(horizon or EvaluationConfig.horizon_delays))
        found = evaluate_run(path, "test", config, data=dataset.path or None, figures=False)
        for name in scores:
            value = found["summary"].get(name)
            if isinstance(value, int | float) and math.isfinite(value):
                values[name].append(float(value))
    return {
        f"test_{name}": statistics.fmean(found) if found else None for name, found in values.items()
    }


def format_table(rows: list[dict[str, Any]], objective: str) -> str:
    """The confirmation table: the search's score, the fresh seeds' validation mean ± sd of the
    objective and the rollout error, and the chosen configuration's test scores."""

    def cell(row: dict[str, Any], name: str) -> str:
        mean, sd = row.get(f"{name}_mean"), row.get(f"{name}_sd")
        if mean is None:
            return f"{'-':>20}"
        return f"{mean:>11.4g} ± {sd or 0.0:<6.2g}"

    shown = list(dict.fromkeys([objective, "val_rollout_rel_l2"]))
    lines = [
        f"{'trial':>5}  {'search ' + objective:>22}  "
        + "  ".join(f"{name + ' (fresh seeds)':>20}" for name in shown)
    ]
    for r in rows:
        mark = "  <- chosen" if r.get("chosen") else ""
        lines.append(
            f"{r['trial']:>5}  {r['search_score']:>22.4g}  "
            + "  ".join(cell(r, name) for name in shown)
            + mark
        )
    chosen = next((r for r in rows if r.get("chosen")), None)
    if chosen is not None:
        tests = [
            f"{k} {v:.4g}" for k, v in chosen.items() if k.startswith("test_") and v is not None
        ]
        lines.append(f"test split, scored once for trial {chosen['trial']}: " + ", ".join(tests))
    return "\n".join(lines)
