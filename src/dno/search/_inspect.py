"""Reading studies back: find a study by folder or name, list its trials, replay one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import optuna

from dno.errors import DnoError, UsageError
from dno.search._storage import open_storage, stale_trials
from dno.search._study_lifecycle import METRICS_ATTR, StudySpec, load_spec
from dno.tracking import (
    STUDY_JOURNAL,
    SUMMARY,
    replay_folder,
    trial_params,
    trial_reason,
    trial_state,
)

__all__ = ["locate_study", "replay_trial", "trial_table"]


def locate_study(
    study: str, results: Path, storage: str | None = None, scoring: str | None = None
) -> tuple[optuna.Study, StudySpec, Path]:
    """``(study, spec, folder)`` of a study, from its folder (``RESULTS/NAME``, holding
    ``study.journal``) or its name; with ``scoring`` (what the caller does with the objective,
    e.g. ``"compare"``) a study without an objective (a sweep without a metric) is an error."""
    path = Path(study)
    if storage is None and (path / STUDY_JOURNAL).is_file():
        name, results = path.name, path.parent
    elif storage is None and not (results / study / STUDY_JOURNAL).is_file():
        raise UsageError(
            f"no study {study!r}: not a study folder and no {results / study / STUDY_JOURNAL}; "
            "pass the folder (RESULTS/NAME), or --results / --storage"
        )
    else:
        name = study
    opened, _ = open_storage(storage, results, name)
    try:
        loaded = optuna.load_study(study_name=name, storage=opened)
    except KeyError:
        raise UsageError(f"no study {name!r} in that storage") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = load_spec(loaded)
    if scoring and not spec.objectives:
        raise UsageError(
            f"study {name!r} has no objective (its sweep has no metric): nothing to {scoring}; "
            f"its trials are in {results / name / SUMMARY}"
        )
    return loaded, spec, results / name


def trial_table(study: optuna.Study, spec: StudySpec) -> str:
    """One line per trial: number, state, objective(s), epochs, seconds, parameters or reason.

    A pruned or failed trial shows the objectives its best epoch had, where it recorded them. A
    trial still marked running whose process is gone (killed, or stopped before it could say
    so) is shown as interrupted, with the reason; the study's next run re-runs it.
    """
    gone = {t.number: reason for t, reason in stale_trials(study)}
    lines = [f"{'trial':>5}  {'state':<11} {' '.join(f'{o:>14}' for o in spec.objectives)}"
             f"  {'epochs':>6}  {'seconds':>7}  parameters / reason"]  # fmt: skip
    for t in study.get_trials(deepcopy=False):
        state = "interrupted" if t.number in gone else trial_state(t.state.name, t.user_attrs)
        recorded = t.user_attrs.get(METRICS_ATTR) or {}  # a pruned trial's best epoch
        values = (
            t.values
            if t.values and state == "complete"
            else [recorded.get(name) for name in spec.objectives]
        )
        shown = " ".join(f"{v:>14.5g}" if v is not None else f"{'-':>14}" for v in values)
        rerun = f"{gone[t.number]}; the next dno search re-runs it" if t.number in gone else ""
        detail = (
            rerun
            or trial_reason(t.user_attrs)
            or ", ".join(
                f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                for k, v in sorted(t.params.items())
            )
        )
        epochs = t.user_attrs.get("epochs_run")
        seconds = t.user_attrs.get("seconds")
        lines.append(
            f"{t.number:>5}  {state:<11} {shown}  {epochs if epochs is not None else '-':>6}  "
            f"{f'{seconds:.1f}' if seconds is not None else '-':>7}  {detail}"
        )
    return "\n".join(lines)


def replay_trial(
    study: optuna.Study, spec: StudySpec, folder: Path, number: int, seed: int | None = None
) -> dict[str, Any]:
    """Re-run trial ``number`` from its recorded parameters and seed; compare its objective."""
    trials = {t.number: t for t in study.get_trials(deepcopy=False)}
    if number not in trials:
        raise UsageError(f"study {spec.name!r} has no trial {number} (trials 0-{len(trials) - 1})")
    trial = trials[number]
    params = trial_params(folder, number)
    if params is None:
        raise DnoError(f"trial {number} of {str(folder)!r} has no recorded configuration")
    seeds = spec.seed_list()
    seed = seeds[0] if seed is None else seed
    from dno.search._search import make_runner

    runner = make_runner(spec)
    out = replay_folder(folder, number, seed)
    metrics = runner.run(out, params, seed, lambda step, value: None)
    recorded_values = trial.user_attrs.get("seed_values", [])
    recorded = recorded_values[seeds.index(seed)] if seed in seeds and recorded_values else None
    objective = spec.objectives[0] if spec.objectives else None  # a sweep without a metric
    return {
        "trial": number,
        "seed": seed,
        "state": trial_state(trial.state.name, trial.user_attrs),
        "objective": objective,
        "recorded": recorded,
        "replayed": metrics[objective] if objective else None,
        "folder": out,
    }
