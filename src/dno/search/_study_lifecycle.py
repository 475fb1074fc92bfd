"""Studies: create or resume, run trials (one worker), recover trials of killed processes.

A study's specification (model, family, data, search, space, objectives, epochs, seeds, pruner)
is stored in the study itself (user attribute ``dno:spec``), so ``dno worker`` on another
machine needs only the storage URL and the study name, and a rerun with another model or space
is refused instead of mixing two experiments in one study.
"""

from __future__ import annotations

import contextlib
import json
import math
import statistics
import time
import traceback
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import optuna
from optuna.distributions import (
    BaseDistribution,
    CategoricalDistribution,
    FloatDistribution,
    IntDistribution,
)
from optuna.trial import Trial, TrialState

from dno._cores import applied_threads
from dno._io import disk_full_error
from dno.errors import DnoError, UsageError
from dno.evaluation import parse_name, qualify
from dno.search._runner import TrialRunner, trial_metrics
from dno.search._space import SearchSpace
from dno.search._storage import (
    WORKER_ATTR,
    StorageLost,
    heartbeats,
    stale_trials,
    worker_identity,
)
from dno.tracking import (
    FAIL_ATTR,
    FINAL_RESULTS,
    INTERRUPTED_ATTR,
    RETRY_ATTR,
    TRIAL_RECORD,
    RunFolder,
    seed_folder,
    trial_folder,
    trial_reason,
    trial_state,
)

__all__ = [
    "SEARCHES",
    "StudySpec",
    "count_finished",
    "load_spec",
    "open_study",
    "requeue_interrupted",
    "run_trials",
]

SEARCHES = ("grid", "random", "bayesian", "multi")
SPEC_ATTR = "dno:spec"
#: a trial's metrics (every score it recorded, mean over its seeds), complete or not
METRICS_ATTR = "metrics"
#: set on a study whose trials were queued when it was created
QUEUED_ATTR = "dno:queued"
#: Seconds a process waits for a study that another process is creating at the same moment.
CREATION_WAIT = 60.0
#: Seconds between looks at a study whose last trials run in other processes.
POLL_SECONDS = 0.5
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
    #: the first training seed of every configuration (a study stored without it: 0)
    seed_base: int = 0

    def __post_init__(self) -> None:
        if self.runner == "dno":  # a study made before the metric table: its names now
            self.objectives = [_table_name(name) for name in self.objectives]

    def to_json(self) -> str:
        return json.dumps(self.__dict__, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> StudySpec:
        return cls(**json.loads(text))

    def seed_list(self) -> list[int]:
        """The training seeds of every configuration (the same for all, so runs are paired):
        ``seed_base .. seed_base + seeds - 1``."""
        return list(range(self.seed_base, self.seed_base + self.seeds))


def _table_name(name: str) -> str:
    """An objective's name in the metric table (``n_parameters`` is now ``parameters``)."""
    metric, split = parse_name(name)
    return metric.name if split is None else qualify(metric.name, split)


def trial_seed(study_seed: int, number: int) -> int:
    """The sampler seed of trial ``number``: differs per trial, the same on every rerun."""
    return int(np.random.SeedSequence([study_seed, number]).generate_state(1)[0])


class PerTrialSeedSampler(optuna.samplers.BaseSampler):
    """Samples each trial with a sampler seeded by the study's seed and the trial's number.

    Processes that share a study (local workers, ``dno worker`` on other machines, two
    ``dno search`` started at once) therefore never draw from the same random stream, and a
    rerun of a study draws trial ``n`` from the same stream as before. ``make(seed)`` builds
    the per-trial sampler (Optuna keeps no other sampler state between trials: the study's
    trials are the state).
    """

    def __init__(self, study_seed: int, make: Callable[[int], optuna.samplers.BaseSampler]):
        self.study_seed = study_seed
        self._make = make
        self._current: tuple[int, optuna.samplers.BaseSampler] | None = None

    def _for(self, trial: optuna.trial.FrozenTrial) -> optuna.samplers.BaseSampler:
        if self._current is None or self._current[0] != trial.number:
            self._current = (trial.number, self._make(trial_seed(self.study_seed, trial.number)))
        return self._current[1]

    def infer_relative_search_space(
        self, study: optuna.Study, trial: optuna.trial.FrozenTrial
    ) -> dict[str, BaseDistribution]:
        return self._for(trial).infer_relative_search_space(study, trial)

    def sample_relative(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        search_space: dict[str, BaseDistribution],
    ) -> dict[str, Any]:
        return self._for(trial).sample_relative(study, trial, search_space)

    def sample_independent(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        param_name: str,
        param_distribution: BaseDistribution,
    ) -> Any:
        return self._for(trial).sample_independent(study, trial, param_name, param_distribution)

    def before_trial(self, study: optuna.Study, trial: optuna.trial.FrozenTrial) -> None:
        self._for(trial).before_trial(study, trial)

    def after_trial(
        self,
        study: optuna.Study,
        trial: optuna.trial.FrozenTrial,
        state: TrialState,
        values: Sequence[float] | None,
    ) -> None:
        self._for(trial).after_trial(study, trial, state, values)


def make_sampler(spec: StudySpec) -> optuna.samplers.BaseSampler:
    """Random (grid points are enqueued up front) or TPE, seeded per trial.

    TPE runs with Optuna's constant liar: the trials running in other processes count as bad
    results while they run, so parallel workers do not all propose the same promising point (with
    one worker nothing else runs and it changes nothing).
    """
    if spec.search in ("bayesian", "multi"):
        startup = min(5, max(1, spec.n_trials // 3))

        def make(seed: int) -> optuna.samplers.BaseSampler:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.samplers.TPESampler(
                    seed=seed, n_startup_trials=startup, constant_liar=True
                )

        return PerTrialSeedSampler(spec.sampler_seed, make)
    return PerTrialSeedSampler(spec.sampler_seed, optuna.samplers.RandomSampler)


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
    """Create the study with its trials queued, or load it and check that it is the same experiment.

    A new study gets all its trials at once, as WAITING trials (the grid's points, or empty ones
    the sampler fills in): workers then only take queued trials, so exactly ``n_trials`` run
    however many processes share the study. The spec is stored last, so a process that opens
    the study at the same instant (and lost the race to create it) waits for a complete study.

    Raises:
        UsageError: the study exists with another model, family, data, space or search.
    """
    directions = [optuna.study.StudyDirection[d.upper()] for d in spec.directions]
    try:
        study = optuna.create_study(study_name=spec.name, storage=storage, directions=directions)
    except optuna.exceptions.DuplicatedStudyError:
        study = _load_same(storage, spec, space)
    else:
        if spec.objectives:  # optuna-dashboard shows the names, not "Objective 0"
            study.set_metric_names(spec.objectives)
        for params in grid if grid is not None else [{}] * spec.n_trials:
            study.enqueue_trial(_to_internal(params, space))
        study.set_user_attr(QUEUED_ATTR, True)
        study.set_user_attr(SPEC_ATTR, spec.to_json())
    study.sampler = make_sampler(spec)
    study.pruner = make_pruner(spec)
    return study


def _load_same(storage: Any, spec: StudySpec, space: SearchSpace) -> optuna.Study:
    study = optuna.load_study(study_name=spec.name, storage=storage)
    deadline = time.monotonic() + CREATION_WAIT
    while (stored := study.user_attrs.get(SPEC_ATTR)) is None and time.monotonic() < deadline:
        if any(t.state != TrialState.WAITING for t in study.get_trials(deepcopy=False)):
            break  # trials ran, yet no spec: not a dno study
        time.sleep(0.2)  # being created by another process right now
        study = optuna.load_study(study_name=spec.name, storage=storage)
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
    # a study made before dno queued its trials up front gets its queue on its first resume
    legacy = QUEUED_ATTR not in study.user_attrs
    if (spec.n_trials > old.n_trials or legacy) and spec.search != "grid":
        for _ in range(spec.n_trials - _queued_or_counted(study)):
            study.enqueue_trial({})  # the trials the larger --n-trials adds
    if legacy:
        study.set_user_attr(QUEUED_ATTR, True)
    return study


def _queued_or_counted(study: optuna.Study) -> int:
    """Trials that are or will be counted: finished, running or waiting to run."""
    waiting = (TrialState.RUNNING, TrialState.WAITING)
    return count_finished(study) + len(study.get_trials(deepcopy=False, states=waiting))


def load_spec(study: optuna.Study) -> StudySpec:
    stored = study.user_attrs.get(SPEC_ATTR)
    if stored is None:
        raise DnoError(f"study {study.study_name!r} was not made by dno search")
    return StudySpec.from_json(stored)


def _to_internal(params: dict[str, Any], space: SearchSpace) -> dict[str, Any]:
    return {k: v for k, v in params.items() if k in space.searched()}


def count_finished(study: optuna.Study) -> int:
    """Trials that count towards ``n_trials``: complete, pruned, or failed for a real reason."""
    states = [trial_state(t.state.name, t.user_attrs) for t in study.get_trials(deepcopy=False)]
    return sum(state in ("complete", "pruned", "failed") for state in states)


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
    idle: Callable[[], object] | None = None,
) -> None:
    """Run the study's queued trials until none is left (this process is one worker).

    When the queue is empty but trials still run in other processes, the worker waits for
    them, so that a trial whose process dies is re-run (with its parameters) by a survivor;
    meanwhile it calls ``idle`` (again each time another trial has finished).
    """
    idle_at = -1  # the finished trials when idle was last called
    while True:
        recover_stale(study, log)
        running = study.get_trials(deepcopy=False, states=(TrialState.RUNNING,))
        finished = count_finished(study)
        wanted = finished + len(running) < spec.n_trials  # a rerun may lower it
        trial = claim_waiting(study) if wanted else None
        if trial is None:
            if not running:
                return
            if idle is not None and finished != idle_at:
                idle_at = finished
                idle()
            time.sleep(POLL_SECONDS)
            continue
        frozen = run_one(study, trial, spec, space, runner, results)
        if on_trial is not None:
            on_trial(frozen)


def claim_waiting(study: optuna.Study) -> Trial | None:
    """Take the first queued trial no other process took (None when the queue is empty).

    Unlike ``study.ask()`` this never creates a trial: the queue holds exactly the study's
    trials. Taking one is atomic in every storage (the state moves from WAITING to RUNNING
    once; a process that loses the race gets False and tries the next).
    """
    storage = study._storage
    for waiting in study.get_trials(deepcopy=False, states=(TrialState.WAITING,)):
        try:
            if storage.set_trial_state_values(waiting._trial_id, state=TrialState.RUNNING):
                return Trial(study, waiting._trial_id)
        except optuna.exceptions.UpdateFinishedTrialError:
            continue
    return None


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
    folder = trial_folder(results / spec.name, trial.number)
    record = RunFolder(folder).create()
    started = time.time()
    values: list[dict[str, float]] = []
    with heartbeats(study, trial_id):
        try:
            params = suggest(trial, space)
            seeds = spec.seed_list()
            record.write_json(
                TRIAL_RECORD, {"number": trial.number, "params": params, "seeds": seeds}
            )
            for k, seed in enumerate(seeds):

                def report(step: int, value: float, first: bool = k == 0) -> None:
                    if first and len(spec.objectives) == 1 and math.isfinite(value):
                        trial.report(value, step)
                        # the last epoch has nothing left to save: the trial completes
                        if step < spec.max_epochs and trial.should_prune():
                            raise optuna.TrialPruned(f"pruned at epoch {step} ({value:.4g})")

                values.append(
                    runner.run(seed_folder(folder, seed, spec.seeds), params, seed, report)
                )
                if spec.objectives:
                    storage.set_trial_user_attr(
                        trial_id, "seed_values", [v[spec.objectives[0]] for v in values]
                    )
        except optuna.TrialPruned as pruned:
            state, reason = TrialState.PRUNED, str(pruned)
        except KeyboardInterrupt:
            storage.set_trial_user_attr(trial_id, INTERRUPTED_ATTR, "interrupted by the user")
            study.tell(trial, state=TrialState.FAIL)
            study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
            raise
        except Exception as error:  # a failed trial is recorded with its reason; the study goes on
            _stop_if_infrastructure(study, trial, error)
            state, reason = TrialState.FAIL, _reason(error)
            storage.set_trial_user_attr(trial_id, FAIL_ATTR, reason)
        else:
            state, reason = TrialState.COMPLETE, ""
        metrics = _recorded_metrics(folder, spec, values)
        storage.set_trial_user_attr(trial_id, METRICS_ATTR, metrics)
        return _finish(study, trial, spec, folder, state, values, started, reason, metrics)


def _recorded_metrics(
    folder: Path, spec: StudySpec, values: list[dict[str, float]]
) -> dict[str, float]:
    """Every metric of the metric table the trial's seeds recorded, the mean over the seeds
    that have it: returned by the runner, or read back from a seed's ``final_results.json``
    (a pruned or failed run keeps the scores of its best epoch)."""
    per_seed = [dict(v) for v in values]
    for seed in spec.seed_list()[len(values) :]:
        path = seed_folder(folder, seed, spec.seeds) / FINAL_RESULTS
        if path.is_file():
            per_seed.append(trial_metrics(RunFolder(path.parent).results()))
    names = [n for n in dict.fromkeys(n for v in per_seed for n in v) if n != "epochs_run"]
    return {n: statistics.fmean(v[n] for v in per_seed if n in v) for n in names}


def _stop_if_infrastructure(study: optuna.Study, trial: Trial, error: Exception) -> None:
    """Stop the study, in one line, when the machine failed the trial rather than its
    configuration: the disk is full (the trial is recorded as interrupted, with the file, and
    queued again), or the database is lost (nothing can be recorded; a rerun finds the trial's
    process gone). A configuration's failure returns, to be recorded as failed.

    Raises:
        DnoError: naming what failed and how to resume.
    """
    if isinstance(error, StorageLost):
        raise error
    full = disk_full_error(error)
    if full is None:
        return
    where = f" writing {full.filename!r}" if full.filename else ""
    reason = f"no space left on the device{where}"
    with contextlib.suppress(Exception):  # the study's journal may be on the full disk too
        study._storage.set_trial_user_attr(trial._trial_id, INTERRUPTED_ATTR, reason)
        study.tell(trial, state=TrialState.FAIL)
        study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
    raise DnoError(
        f"trial {trial.number} stopped: {reason}; free space there and rerun the same command "
        f"(finished trials are kept; trial {trial.number}'s parameters are run again)"
    ) from None


def requeue_interrupted(study: optuna.Study, log: Callable[[str], None] | None = None) -> int:
    """Queue again every interrupted trial (disk full, killed, interrupted) that no queued or
    later trial repeats: the idea of Optuna's ``RetryFailedTrialCallback``, on resume, for a
    process that could not queue its own repeat. Run by the process that starts a search."""
    trials = study.get_trials(deepcopy=False)
    repeated = {t.user_attrs.get(RETRY_ATTR) for t in trials}
    requeued = 0
    for trial in trials:
        if trial_state(trial.state.name, trial.user_attrs) != "interrupted":
            continue
        if trial.number in repeated:
            continue
        study.enqueue_trial(trial.params, user_attrs={RETRY_ATTR: trial.number})
        requeued += 1
        if log is not None:
            log(f"trial {trial.number} was interrupted ({trial_reason(trial.user_attrs)}); "
                "re-running its parameters")  # fmt: skip
    return requeued


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
    metrics: dict[str, float],
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
        "metrics": metrics,
        "epochs_run": epochs,
        "seconds": seconds,
        "threads": applied_threads(),
    }
    if spec.seeds == 1:  # the trial's own run folder: keep what training wrote
        summary = {**RunFolder(folder).results(), **summary}
    RunFolder(folder).write_json(FINAL_RESULTS, summary)
    if state == TrialState.COMPLETE and not spec.objectives:  # a sweep without a metric
        study._storage.set_trial_state_values(trial._trial_id, TrialState.COMPLETE)
    elif state == TrialState.COMPLETE:
        study.tell(trial, objective if len(objective) > 1 else objective[0])
    else:
        study.tell(trial, state=state)
    return study._storage.get_trial(trial._trial_id)
