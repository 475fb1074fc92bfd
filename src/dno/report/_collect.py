"""Read a study back into plain data: its storage (trials, spec) and its folder (CSV files)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dno.report._analysis import compute_importance
from dno.report._records import ParamInfo, StudyData, TrialRecord
from dno.tracking import CONFIRMATION, json_safe, read_csv, trial_folder, trial_reason, trial_state

if TYPE_CHECKING:
    import optuna
    from optuna.distributions import BaseDistribution
    from optuna.trial import FrozenTrial

    from dno.search import StudySpec

__all__ = ["load_study_data", "study_data"]


def load_study_data(
    study: str, results: Path, storage: str | None = None, importance: str = "ped-anova"
) -> StudyData:
    """A study, found by its folder (``RESULTS/NAME``) or its name, as plain data.

    ``importance`` is the evaluator of parameter importance (``ped-anova`` or ``fanova``).

    Raises:
        UsageError: no such study (the message says where it looked).
        DnoError: the storage cannot be read, or the study was not made by ``dno search``.
    """
    from dno.search import locate_study

    loaded, spec, folder = locate_study(study, results, storage, scoring="report on")
    return study_data(loaded, spec, folder, importance)


def study_data(
    study: optuna.Study, spec: StudySpec, folder: Path, importance: str = "ped-anova"
) -> StudyData:
    """Everything the report needs from a loaded study and its folder."""
    frozen = study.get_trials(deepcopy=False)
    data = StudyData(
        name=spec.name,
        folder=folder,
        model=spec.model,
        family=spec.family,
        search=spec.search,
        objectives=list(spec.objectives),
        directions=list(spec.directions),
        params=searched_params(spec.space, frozen),
        trials=[_record(t, folder) for t in frozen],
        confirmation=read_csv(folder / CONFIRMATION),
        n_trials=spec.n_trials,
        max_epochs=spec.max_epochs,
        seeds=spec.seeds,
    )
    data.importance = compute_importance(study, data, importance)
    return data


def _record(trial: FrozenTrial, folder: Path) -> TrialRecord:
    state = trial_state(trial.state.name, trial.user_attrs)
    values = [float(v) for v in trial.values] if state == "complete" and trial.values else None
    return TrialRecord(
        number=trial.number,
        state=state,
        values=values,
        params=dict(trial.params),
        epochs=json_safe(trial.user_attrs.get("epochs_run")),  # a float, None if not finite
        seconds=json_safe(trial.user_attrs.get("seconds")),
        reason=trial_reason(trial.user_attrs),
        folder=trial_folder(folder, trial.number),
        intermediate={int(k): float(v) for k, v in trial.intermediate_values.items()},
    )


def searched_params(space: dict[str, Any], trials: list[FrozenTrial]) -> list[ParamInfo]:
    """The parameters a study really searched: in its space with a distribution, and sampled.

    A fixed value (``value:``) is never a searched parameter, whatever a plotting script assumes.
    """
    from optuna.distributions import json_to_distribution

    sampled: dict[str, BaseDistribution] = {}
    for t in trials:
        for name, dist in t.distributions.items():
            sampled.setdefault(name, dist)
    declared = {
        name: json_to_distribution(entry["distribution"])
        for name, entry in space.items()
        if isinstance(entry, dict) and entry.get("distribution")
    }
    names = sorted(n for n in sampled if n in declared or not space)
    return [param_info(name, declared.get(name, sampled[name])) for name in names]


def param_info(name: str, dist: BaseDistribution) -> ParamInfo:
    """A parameter's description from its Optuna distribution."""
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if isinstance(dist, CategoricalDistribution):
        return ParamInfo(name, "categorical", choices=tuple(dist.choices))
    if isinstance(dist, IntDistribution | FloatDistribution):
        kind = "int" if isinstance(dist, IntDistribution) else "float"
        step = float(dist.step) if dist.step is not None else None
        return ParamInfo(name, kind, float(dist.low), float(dist.high), bool(dist.log), step)
    raise TypeError(f"parameter {name!r} has an unknown distribution {type(dist).__name__}")
