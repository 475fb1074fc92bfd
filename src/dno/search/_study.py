"""Studies: create or resume, run trials (one worker), recover trials of killed processes.

A study's specification (model, family, data, search, space, objectives, epochs, seeds, pruner)
is stored in the study itself (user attribute ``dno:spec``), so ``dno worker`` on another
machine needs only the storage URL and the study name, and a rerun with another model or space
is refused instead of mixing two experiments in one study.
"""

from __future__ import annotations

import json
import math
import statistics
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import Trial, TrialState

from dno.errors import DnoError, UsageError
from dno.search._runner import TrialRunner
from dno.search._space import SearchSpace
from dno.search._storage import WORKER_ATTR, heartbeats, stale_trials, worker_identity
from dno.tracking import RunFolder

__all__ = [
    "SEARCHES",
    "StudySpec",
    "count_finished",
    "open_study",
    "run_trials",
]

SEARCHES = ("grid", "random", "bayesian", "multi")
SPEC_ATTR = "dno:spec"
INTERRUPTED_ATTR = "dno:interrupted"
RETRY_ATTR = "dno:retry_of"
FAIL_ATTR = "fail_reason"
#: what a rerun may change in an existing study: how many trials, and when trials are pruned
MUTABLE = ("n_trials", "pruner")


@dataclass
class StudySpec:
    """What a study searches and how; stored with the study (JSON)."""

    name: str
    model: str
    family: str
    data: str
    search: str
    space: dict[str, Any]
    objectives: list[str]
    directions: list[str]
    n_trials: int
    max_epochs: int
    seeds: int
    pruner: dict[str, Any]
    sampler_seed: int
    base: dict[str, Any] = field(default_factory=dict)
    runner: str = "dno"

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StudySpec:
        return cls(**json.loads(text))

    def seed_list(self) -> list[int]:
        """The training seeds of every configuration (the same for all, so runs are paired)."""
        return list(range(self.seeds))


def make_sampler(spec: StudySpec, offset: int = 0) -> optuna.samplers.BaseSampler:
    """Grid trials are enqueued up front, so grid and random both sample with RandomSampler."""
    seed = spec.sampler_seed + offset
    if spec.search in ("bayesian", "multi"):
        return optuna.samplers.TPESampler(
            seed=seed, n_startup_trials=min(5, max(1, spec.n_trials // 3))
        )
    return optuna.samplers.RandomSampler(seed=seed)


def make_pruner(spec: StudySpec) -> optuna.pruners.BasePruner:
    kind = spec.pruner.get("type", "none")
    if kind == "median" and len(spec.objectives) == 1:
        return optuna.pruners.MedianPruner(
            n_startup_trials=int(spec.pruner.get("startup", 3)),
            n_warmup_steps=int(spec.pruner.get("warmup", 1)),
        )
    if kind == "wandb_hyperband" and len(spec.objectives) == 1:  # a sweep's early_terminate
        from dno.search._hyperband import WandbHyperbandPruner

        return WandbHyperbandPruner(spec.pruner["bands"], spec.pruner["eta"], spec.directions[0])
    if kind == "hyperband" and len(spec.objectives) == 1:
        return optuna.pruners.HyperbandPruner(
            min_resource=int(spec.pruner.get("min_iter", 1)),
            max_resource=int(spec.pruner.get("max_iter", spec.max_epochs)),
            reduction_factor=int(spec.pruner.get("eta", 3)),
        )
    return optuna.pruners.NopPruner()


def open_study(
    storage: Any, spec: StudySpec, space: SearchSpace, grid: list[dict[str, Any]] | None
) -> optuna.Study:
    """Create the study, or load it and check that it is the same experiment.

    Raises:
        UsageError: the study exists with another model, family, data, space or search.
    """
    names = [s.study_name for s in storage.get_all_studies()]
    if spec.name in names:
        study = optuna.load_study(study_name=spec.name, storage=storage)
        stored = study.user_attrs.get(SPEC_ATTR)
        if stored is None:
            raise UsageError(f"study {spec.name!r} exists but was not made by dno search")
        old = StudySpec.from_json(stored)
        differing = [
            k for k in old.__dict__ if k not in MUTABLE and old.__dict__[k] != spec.__dict__[k]
        ]
        if differing:
            raise UsageError(
                f"study {spec.name!r} exists with another {', '.join(differing)}; "
                "use another --study name (nothing was changed in the existing study)"
            )
        if any(old.__dict__[k] != spec.__dict__[k] for k in MUTABLE):
            study.set_user_attr(SPEC_ATTR, spec.to_json())
    else:
        study = optuna.create_study(
            study_name=spec.name, storage=storage,
            directions=[optuna.study.StudyDirection[d.upper()] for d in spec.directions],
        )  # fmt: skip
        study.set_user_attr(SPEC_ATTR, spec.to_json())
        for params in grid or []:
            study.enqueue_trial(_to_internal(params, space))
    study.sampler = make_sampler(spec, offset=len(study.get_trials(deepcopy=False)))
    study.pruner = make_pruner(spec)
    return study


def load_spec(study: optuna.Study) -> StudySpec:
    stored = study.user_attrs.get(SPEC_ATTR)
    if stored is None:
        raise DnoError(f"study {study.study_name!r} was not made by dno search")
    return StudySpec.from_json(stored)


def _to_internal(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in space.searched()}


def count_finished(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials``: complete, pruned, or failed for a real reason."""
    return sum(
        1
        for t in study.get_trials(deepcopy=False)
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and INTERRUPTED_ATTR not in t.user_attrs)
    )


def recover_stale(study: optuna.Study, log: Callable[[str], None] | None = None) -> int:
    """Fail the trials of dead processes and enqueue them again with the same parameters."""
    storage = study._storage
    recovered = 0
    for trial, reason in stale_trials(study):
        try:
            storage.set_trial_user_attr(trial._trial_id, INTERRUPTED_ATTR, reason)
            if not storage.set_trial_state_values(trial._trial_id, state=TrialState.FAIL):
                continue
        except optuna.exceptions.UpdateFinishedTrialError:
            continue  # another worker recovered it first
        study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
        recovered += 1
        if log is not None:
            log(f"trial {trial.number} was interrupted ({reason}); re-running its parameters")
    return recovered


def suggest(trial: Trial, space: SearchSpace) -> dict[str, Any]:
    """The trial's configuration: sampled values (through transforms) plus fixed values."""
    params = dict(space.fixed())
    for name, p in space.searched().items():
        params[name] = p.to_config_value(_suggest(trial, name, p.distribution))
    return params


def _suggest(trial: Trial, name: str, dist: BaseDistribution | None) -> Any:
    if isinstance(dist, CategoricalDistribution):
        return trial.suggest_categorical(name, list(dist.choices))
    if isinstance(dist, IntDistribution):
        return trial.suggest_int(name, dist.low, dist.high, step=dist.step, log=dist.log)
    if isinstance(dist, FloatDistribution):
        return trial.suggest_float(name, dist.low, dist.high, step=dist.step, log=dist.log)
    raise DnoError(f"parameter {name!r} has no distribution")


def run_trials(
    study: optuna.Study,
    spec: StudySpec,
    space: SearchSpace,
    runner: TrialRunner,
    results: Path,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
    log: Callable[[str], None] | None = None,
) -> None:
    """Run trials until ``spec.n_trials`` count as finished (this process is one worker)."""
    while True:
        recover_stale(study, log)
        trials = study.get_trials(deepcopy=False)
        waiting = sum(t.state == TrialState.WAITING for t in trials)
        running = sum(t.state == TrialState.RUNNING for t in trials)
        if count_finished(study) + running >= spec.n_trials and waiting == 0:
            return
        if spec.search == "grid" and waiting == 0:
            return  # the grid is exhausted (its points are enqueued at creation)
        trial = study.ask()
        frozen = run_one(study, trial, spec, space, runner, results)
        if on_trial is not None:
            on_trial(frozen)


def run_one(
    study: optuna.Study,
    trial: Trial,
    spec: StudySpec,
    space: SearchSpace,
    runner: TrialRunner,
    results: Path,
) -> optuna.trial.FrozenTrial:
    """Run one asked trial over all its seeds and tell the study; never raises for a failure."""
    storage, trial_id = study._storage, trial._trial_id
    storage.set_trial_user_attr(trial_id, WORKER_ATTR, worker_identity())
    with heartbeats(study, trial_id):
        return _run_seeds(study, trial, spec, space, runner, results)


def _run_seeds(
    study: optuna.Study,
    trial: Trial,
    spec: StudySpec,
    space: SearchSpace,
    runner: TrialRunner,
    results: Path,
) -> optuna.trial.FrozenTrial:
    storage, trial_id = study._storage, trial._trial_id
    folder = results / spec.name / "trials" / str(trial.number)
    record = RunFolder(folder).create()
    started = time.time()
    values: list[dict[str, float]] = []
    try:
        params = suggest(trial, space)
        record.write_json(
            "trial.json", {"number": trial.number, "params": params, "seeds": spec.seed_list()}
        )
        for k, seed in enumerate(spec.seed_list()):

            def report(step: int, value: float, first: bool = k == 0) -> None:
                if first and len(spec.objectives) == 1 and math.isfinite(value):
                    trial.report(value, step)
                    if trial.should_prune():
                        raise optuna.TrialPruned(f"pruned at epoch {step} ({value:.4g})")

            seed_folder = folder if spec.seeds == 1 else folder / "seeds" / str(seed)
            values.append(runner.run(seed_folder, params, seed, report))
            if spec.objectives:
                storage.set_trial_user_attr(
                    trial_id, "seed_values", [v[spec.objectives[0]] for v in values]
                )
    except optuna.TrialPruned as pruned:
        return _finish(study, trial, spec, folder, TrialState.PRUNED, values, started, str(pruned))
    except KeyboardInterrupt:
        storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, "interrupted by the user")
        study.tell(trial, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
        raise
    except Exception as error:  # a failed trial is recorded with its reason; the study goes on
        reason = _reason(error)
        storage.set_trial_user_attr(trial_id, FAIL_ATTR, reason)
        return _finish(study, trial, spec, folder, TrialState.FAIL, values, started, reason)
    return _finish(study, trial, spec, folder, TrialState.COMPLETE, values, started, "")


def _reason(error: BaseException) -> str:
    """One line: the exception's type and first line (where it was raised, if not a dno error)."""
    text = str(error).strip().splitlines()
    reason = f"{type(error).__name__}: {text[0] if text else ''}"
    if not isinstance(error, DnoError):
        frame = traceback.extract_tb(error.__traceback__)[-1]
        reason += f" (at {Path(frame.filename).name}:{frame.lineno})"
    return reason


def _finish(
    study: optuna.Study,
    trial: Trial,
    spec: StudySpec,
    folder: Path,
    state: TrialState,
    values: list[dict[str, float]],
    started: float,
    reason: str,
) -> optuna.trial.FrozenTrial:
    objective = (
        [statistics.fmean(v[name] for v in values) for name in spec.objectives] if values else []
    )
    seconds = time.time() - started
    epochs = sum(v.get("epochs_run", 0.0) for v in values)
    if state == TrialState.PRUNED and not values:
        reported = study._storage.get_trial(trial._trial_id).intermediate_values
        epochs = float(max(reported, default=0))
    study._storage.set_trial_user_attr(trial._trial_id, "epochs_run", epochs)
    study._storage.set_trial_user_attr(trial._trial_id, "seconds", seconds)
    summary = {
        "status": {TrialState.COMPLETE: "completed", TrialState.PRUNED: "pruned"}.get(
            state, "failed"
        ),
        "reason": reason,
        "trial": trial.number,
        "objectives": dict(zip(spec.objectives, objective, strict=False)),
        "seed_values": {name: [v[name] for v in values] for name in spec.objectives},
        "epochs_run": epochs,
        "seconds": seconds,
    }
    if spec.seeds == 1 and (folder / "final_results.json").exists():
        summary = {**RunFolder(folder).read_json("final_results.json"), **summary}
    RunFolder(folder).write_json("final_results.json", summary)
    if state == TrialState.COMPLETE and not spec.objectives:  # a sweep without a metric
        study._storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE)
    elif state == TrialState.COMPLETE:
        study.tell(trial, objective if len(objective) > 1 else objective[0])
    else:
        study.tell(trial, state=state)
    return study._storage.get_trial(trial._trial_id)
