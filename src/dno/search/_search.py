"""``dno search`` as a library call: build the study, run the workers, summarise, confirm."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path
from typing import Any, Protocol

import optuna

from dno._cores import (
    WorkerSlot,
    core_budget,
    exit_with_parent,
    plan_workers,
    sigterm_interrupts,
    thread_environment,
    use_budget,
    use_threads,
)
from dno._io import confine_writes, make_folder
from dno._limits import MAX_SEEDS, MAX_TRIALS, Rule, at_least, check_fields, is_number, one_of
from dno._names import check_name, slug
from dno.data import Dataset, read_dataset
from dno.errors import DnoError, UsageError
from dno.evaluation import get_metric, parse_name, qualify
from dno.search._program import ProgramRunner
from dno.search._runner import DnoModelRunner, TrialRunner, objective_names
from dno.search._space import SearchSpace, default_space, load_space, space_from_description
from dno.search._storage import describe_url, open_storage
from dno.search._study_lifecycle import (
    SEARCHES,
    StudySpec,
    count_finished,
    load_spec,
    make_pruner,
    make_sampler,
    open_study,
    requeue_interrupted,
    run_trials,
)
from dno.search._summary import confirm_top, draw_shown_figures, format_table, write_summary
from dno.training import check_keys, progress_bar

__all__ = ["SearchOptions", "build_spec", "run_search", "run_worker"]

Log = Callable[[str], None]
#: Seconds a stopped search waits for its local workers to record their trials as interrupted.
STOP_WAIT = 15.0


@dataclass(frozen=True)
class SearchOptions:
    """Everything ``dno search`` takes (see its ``--help``), checked when made.

    Raises:
        UsageError: ``name=value; expected ...`` for the first field out of its range.
    """

    model: str = "method_of_steps"
    #: the family of ``data``; None: the one the dataset file holds (given, it must match)
    family: str | None = None
    data: Path = Path("data/mackey.h5")
    search: str | None = None
    #: trials; None: 12, a grid's size, or the sweep's run_cap (which also caps a given number)
    n_trials: int | None = None
    max_epochs: int = 10
    results: Path = Path("hyperparameter_results")
    space: Path | None = None
    seeds: int = 1
    #: the trials train with seeds ``seed_base .. seed_base + seeds - 1`` (a benchmark's tuning
    #: keeps them apart from the seeds its chosen configurations are retrained and tested on)
    seed_base: int = 0
    #: local worker processes (default: one per device of ``devices``, else 1; 0: none, the
    #: study is created with its trials queued for ``dno worker``)
    workers: int | None = None
    #: threads of each local worker (default: usable cores / workers, see dno._cores)
    threads: int | None = None
    #: ``cuda:0,cuda:1`` or ``auto``: one device per local worker (None: the study's device)
    devices: str | None = None
    storage: str | None = None
    study: str | None = None
    seed: int = 0
    #: median, hyperband or none; None: median for dno's spaces, none for a W&B sweep file
    #: (W&B stops runs early only when the sweep has early_terminate)
    pruner: str | None = None
    #: the median pruner's Optuna settings: it may stop a trial from epoch ``n_warmup_steps`` on
    #: (default ``max(2, max_epochs // 10)``), once ``n_startup_trials`` trials have finished
    pruner_warmup_steps: int | None = None
    pruner_startup_trials: int = 3
    objectives: list[str] = field(default_factory=list)
    #: after the search, the best ``confirm_top`` configurations are trained again on
    #: ``confirm_seeds`` fresh seeds each (``confirm_top * confirm_seeds`` more runs, each as long
    #: as an unpruned trial) and scored once on the test split; 0: no confirmation
    confirm_top: int = 1
    confirm_seeds: int = 3
    base: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    #: no Optuna warnings either (``-q``)
    quiet: bool = False
    wandb: bool = False
    #: program sweeps: per-trial time limit (s), the metric's last or best value
    trial_timeout: float | None = None
    metric_value: str = "last"
    #: program sweeps: the parameter that receives each replicate's seed (None: the seed is only
    #: in the environment variable DNO_SEED, and nothing is added to what the program receives)
    seed_param: str | None = None
    #: program sweeps: the folder programs run from (None: the current folder)
    workdir: Path | None = None

    def __post_init__(self) -> None:
        check_fields(self, _OPTION_RULES)
        for name in ("data", "results", "space", "workdir"):  # a path given as text is fine too
            if isinstance(getattr(self, name), str | os.PathLike):
                object.__setattr__(self, name, Path(getattr(self, name)))


#: The checks of :class:`SearchOptions`, in order (see :func:`dno._limits.check_fields`).
_OPTION_RULES: tuple[Rule, ...] = (
    (("model",), lambda v: isinstance(v, str), "a name"),
    (("family",), lambda v: v is None or isinstance(v, str), "a name or None (the data's)"),
    (("search",), one_of(None, *SEARCHES), f"one of: {', '.join(SEARCHES)}"),
    (("n_trials",), at_least(1, MAX_TRIALS, optional=True), f"1 to {MAX_TRIALS:,} trials"),
    (("max_epochs",), at_least(1), "an integer >= 1"),
    (("seeds", "confirm_seeds"), at_least(1, MAX_SEEDS), f"1 to {MAX_SEEDS:,} seeds"),
    (("seed", "seed_base", "confirm_top", "pruner_startup_trials"), at_least(0),
     "an integer >= 0"),
    (("workers", "pruner_warmup_steps"), at_least(0, optional=True), "an integer >= 0 or None"),
    (("threads",), at_least(1, optional=True), "an integer >= 1 or None"),
    (("pruner",), one_of(None, "median", "hyperband", "none"), "median, hyperband or none"),
    (("metric_value",), one_of("last", "best"), "last or best"),
    (("trial_timeout",), lambda v: v is None or (is_number(v) and v > 0), "seconds > 0 or None"),
    (("objectives",), lambda v: isinstance(v, list | tuple) and all(isinstance(n, str) for n in v),
     "a list of objective names"),
    (("base",), lambda v: isinstance(v, dict), "a mapping of config keys"),
)  # fmt: skip


def _space_and_search(options: SearchOptions) -> tuple[SearchSpace, str]:
    space = load_space(options.space) if options.space else default_space(options.model)
    search = options.search or space.method or "bayesian"
    if options.search and space.method and options.search != space.method:
        raise UsageError(
            f"--search {options.search} contradicts the sweep's method ({space.method}); "
            "drop one of them"
        )
    return space, search


def _objectives(
    options: SearchOptions, space: SearchSpace, search: str
) -> tuple[list[str], list[str]]:
    """The study's objectives (the metric table's names) and their Optuna directions."""
    if space.program:
        if not space.metric and search not in ("grid", "random"):
            raise UsageError(
                f"a {search} search of a program needs metric: {{name: ..., goal: ...}}"
            )
        if not space.metric:  # W&B runs grid and random sweeps without a metric too
            return [], ["minimize"]
        return [space.metric], [space.goal]
    where = "--objectives" if options.objectives else f"{space.source or 'the space'}: metric"
    given = options.objectives or ([space.metric] if space.metric else [])
    if not given:
        given = ["val_rel_l2", "parameters"] if search == "multi" else ["val_rel_l2"]
    names = [_objective(name, where) for name in given]
    if len(set(names)) < len(names):
        raise UsageError(f"{where}: {', '.join(given)} names an objective twice")
    if search != "multi" and len(names) > 1:
        raise UsageError(f"{len(names)} objectives need --search multi")
    if search == "multi" and len(names) < 2:
        raise UsageError(
            "--search multi needs at least two objectives, e.g. "
            "--objectives val_rel_l2,val_rollout_rel_l2,val_noise_gain"
        )
    directions = [get_metric(parse_name(name)[0].name).direction.value for name in names]
    if space.metric and not options.objectives and space.goal != directions[0]:
        raise UsageError(
            f"{where}: goal {space.goal} for {names[0]}, whose direction is {directions[0]} "
            f"({get_metric(parse_name(names[0])[0].name).description})"
        )
    return names, directions


def _objective(name: str, where: str) -> str:
    """An objective's table name (an old name is read), or one line listing the valid ones."""
    if str(name).startswith("test_"):
        raise UsageError(
            f"{where}: {name!r}: a search reads the validation split only (the test split is "
            f"scored once, at the end); use {'val_' + str(name)[len('test_') :]!r}"
        )
    metric, split = parse_name(name, what=f"objective in {where}", splits=("val",))
    qualified = metric.name if split is None else qualify(metric.name, split)
    if qualified not in objective_names():
        raise UsageError(
            f"{where}: {name!r} cannot be an objective ({metric.direction.words(metric.target)}); "
            f"expected one of: {', '.join(objective_names())}"
        )
    return qualified


def _pruner(options: SearchOptions, space: SearchSpace) -> dict[str, Any]:
    if space.early_terminate is not None:  # W&B's hyperband, W&B's brackets
        if options.pruner is not None:
            raise UsageError(
                f"--pruner {options.pruner} contradicts the sweep's early_terminate; drop one"
            )
        bands, eta = space.early_terminate["bands"], space.early_terminate["eta"]
        return {"type": "wandb_hyperband", "bands": bands, "eta": eta}
    pruner = options.pruner or ("none" if space.wandb else "median")
    if pruner != "median":
        return {"type": pruner}
    warmup = options.pruner_warmup_steps
    if warmup is None:
        warmup = max(2, options.max_epochs // 10)
    return {"type": "median", "warmup": warmup, "startup": options.pruner_startup_trials}


def _trial_count(
    options: SearchOptions, space: SearchSpace, grid: list[dict[str, Any]] | None, log: Log
) -> int:
    """How many trials: --n-trials (12), a grid's size, capped by run_cap; said when capped."""
    asked, cap = options.n_trials, space.run_cap
    if grid is None:
        if asked is not None and cap is not None and asked > cap:
            log(f"--n-trials {asked} is capped by the sweep's run_cap: {cap} trials")
        return min(asked or cap or 12, cap or asked or 12)
    count = min([len(grid), *(n for n in (asked, cap) if n is not None)])
    if count < len(grid):
        by = "run_cap" if count == cap else "--n-trials"
        log(f"grid search: {count} of the grid's {len(grid)} points run ({by} {count}), "
            "in W&B's order")  # fmt: skip
    elif asked is not None and asked > len(grid):
        log(f"grid search: the grid has {len(grid)} points, so {len(grid)} trials run, "
            f"not --n-trials {asked}")  # fmt: skip
    return count


def build_spec(
    options: SearchOptions, log: Log = lambda _: None
) -> tuple[StudySpec, SearchSpace, list[dict[str, Any]] | None]:
    """Validate the options and return the study's spec, space and (for grid) its points."""
    space, search = _space_and_search(options)
    if not space.program:
        check_keys(options.model, list(space.parameters))
    objectives, directions = _objectives(options, space, search)
    grid = space.grid() if search == "grid" else None
    n_trials = _trial_count(options, space, grid, log)
    grid = grid[:n_trials] if grid is not None else None
    program = _program_spec(options, space)
    if program and options.seeds > 1 and options.seed_param is None:
        log(
            f"--seeds {options.seeds}: each replicate's seed reaches your program only as the "
            "environment variable DNO_SEED; --seed-param NAME passes it as parameter NAME"
        )
    model = f"program:{program['program']}" if program else options.model
    family = "-" if program else options.family or _data_family(options.data)
    default_name = (
        f"{Path(program['program']).stem}-{search}" if program else f"{model}-{family}-{search}"
    )
    spec = StudySpec(
        name=check_name(options.study, "study name")
        if options.study
        else slug(space.name or default_name),
        model=model,
        family=family,
        data="" if program else str(Path(options.data).resolve()),
        search=search,
        space=space.describe(),
        objectives=objectives,
        directions=directions,
        n_trials=n_trials,
        max_epochs=options.max_epochs,
        seeds=options.seeds,
        seed_base=options.seed_base,
        pruner=_pruner(options, space),
        sampler_seed=options.seed,
        base=program or options.base,
        runner="program" if program else "dno",
    )
    return spec, space, grid


def _program_spec(options: SearchOptions, space: SearchSpace) -> dict[str, Any]:
    """What a program trial needs (stored in the study, so workers can rebuild the runner)."""
    if not space.program:
        return {}
    if "program" not in space.program:
        raise UsageError("a sweep with a command needs program: (the script to run)")
    seed_param = options.seed_param
    if seed_param is not None and (
        not seed_param
        or seed_param in space.parameters
        or seed_param in {p[0] for p in space.nesting().values()}
    ):
        raise UsageError(
            f"--seed-param {seed_param!r}: the sweep already sets {seed_param!r}; name another "
            "parameter, or drop --seed-param to keep the sweep's value"
        )  # fmt: skip
    spec = {
        "program": space.program["program"],
        "command": space.program.get("command"),
        "metric": space.metric,
        "goal": space.goal,
        "workdir": str((options.workdir or Path.cwd()).resolve()),
        "seed_param": seed_param,
        "value": options.metric_value,
        "timeout": options.trial_timeout,
        "nesting": space.nesting(),
    }
    # a missing program or an unknown macro fails before the study
    make_runner_from(spec, sweep_folder=Path(space.source).resolve().parent)
    return spec


def make_runner_from(program: dict[str, Any], sweep_folder: Path | None = None) -> ProgramRunner:
    return ProgramRunner(
        program["program"], program["command"], program["metric"],
        Path(program.get("workdir") or program["base_dir"]),
        seed_param=program["seed_param"], value=program["value"], goal=program["goal"],
        timeout=program["timeout"], nesting=program.get("nesting"), sweep_folder=sweep_folder,
    )  # fmt: skip


def _data_family(data: Path) -> str:
    """The family a dataset file holds."""
    return read_dataset(data, check_values=False).family


def _with_data_family(options: SearchOptions) -> tuple[SearchOptions, Dataset | None]:
    """The options with the family of their dataset, and the dataset (None for a program).

    Raises:
        UsageError: ``family`` is given and the dataset holds another.
    """
    space, _ = _space_and_search(options)
    if space.program:
        return options, None
    dataset = read_dataset(options.data)
    if options.family is not None and options.family != dataset.family:
        raise UsageError(
            f"{str(options.data)!r} holds {dataset.family!r} data, not {options.family!r}; drop "
            f"--family (the data's family is used) or give a {options.family} dataset"
        )
    return replace(options, family=dataset.family), dataset


def make_runner(
    spec: StudySpec, wandb: bool = False, device: str | None = None, dataset: Dataset | None = None
) -> TrialRunner:
    """The trial runner of a study: a user's program, or dno training on the study's data.

    ``device`` overrides the study's device for this process's trials (a worker's own GPU);
    ``dataset`` is the study's data when the caller has read it already.
    """
    if spec.runner == "program":
        return make_runner_from(spec.base)
    if dataset is None:
        if not Path(spec.data).is_file():
            raise DnoError(f"the study's dataset {spec.data} is not on this machine; copy it there")
        dataset = read_dataset(spec.data)
    if dataset.family != spec.family:
        raise UsageError(f"{spec.data} holds {dataset.family!r} data, not {spec.family!r}")
    runner = DnoModelRunner(
        spec.model, dataset, spec.max_epochs, spec.base, spec.name if wandb else None, device,
        objectives=spec.objectives,
    )  # fmt: skip
    runner.check_horizon(space_from_description(spec.space).fixed())
    return runner


def run_search(options: SearchOptions, log: Log = print) -> dict[str, Any]:
    """Run (or resume) a study to ``n_trials`` finished trials, then summarise and confirm.

    Everything is checked (the options, the space, the data and its family) before anything is
    written: a refused search leaves no study folder behind.
    """
    _quiet_optuna(options.quiet)
    options, dataset = _with_data_family(options)
    spec, space, grid = build_spec(options, log)
    slots = plan_workers(options.workers or None, options.devices, options.threads)
    runner = make_runner(spec, options.wandb, slots[0].device, dataset)  # before any file
    with confine_writes(options.results), sigterm_interrupts():
        return _search(options, spec, space, grid, slots, runner, log)


def _search(
    options: SearchOptions,
    spec: StudySpec,
    space: SearchSpace,
    grid: list[dict[str, Any]] | None,
    slots: list[WorkerSlot],
    runner: TrialRunner,
    log: Log,
) -> dict[str, Any]:
    storage, url = open_storage(options.storage, options.results, spec.name)
    study = open_study(storage, spec, space, grid)
    _enqueue_missing(study, grid or [])
    requeue_interrupted(study, log)
    folder = make_folder(options.results / spec.name)
    done = count_finished(study)
    what = spec.model if spec.runner == "program" else f"{spec.model} on {spec.family}"
    already = f", {done} finished before" if done else ""
    log(f"study {spec.name}: {spec.search} search of {what}, {spec.n_trials - done} of "
        f"{spec.n_trials} trials to run{already}; storage {url}")  # fmt: skip
    confirming = isinstance(runner, DnoModelRunner) and options.confirm_top > 0
    if confirming and options.workers != 0:
        log(_confirmation_plan(study, spec, options))
    if options.workers == 0:
        log(f"{spec.n_trials - done} trials queued; run them with: dno worker --storage "
            f"{describe_url(url)} --study {spec.name}")  # fmt: skip
    else:
        # while other workers finish the last trials: the figures of the best trials so far
        figures = (
            partial(draw_shown_figures, study, spec, folder, runner.dataset)
            if isinstance(runner, DnoModelRunner) else None
        )  # fmt: skip
        _run_workers(options, url, spec, study, slots, runner, lambda on_trial: run_trials(
            study, spec, space, runner, options.results, on_trial=on_trial, log=log,
            idle=figures,
        ), log)  # fmt: skip
    info = write_summary(study, spec, folder)
    states = ", ".join(f"{n} {state}" for state, n in info["states"].items())
    log(f"study {spec.name}: {count_finished(study)}/{spec.n_trials} trials finished ({states}); "
        f"summary: {folder / 'summary.csv'}")  # fmt: skip
    _fail_if_all_failed(study, folder)
    if isinstance(runner, DnoModelRunner):
        draw_shown_figures(study, spec, folder, runner.dataset)
    rows = []
    # A program has no test split dno knows of: its studies end with the summary.
    if isinstance(runner, DnoModelRunner) and confirming and info["best"]:
        use_budget(options.threads)  # the workers are done: one run at a time
        runs = min(options.confirm_top, info["states"].get("complete", 0)) * options.confirm_seeds
        cost = _seconds_per_epoch(study)
        about = f", about {runs * spec.max_epochs * cost:.0f} s at most" if cost else ""
        log(f"confirming {_best(options.confirm_top)} on {options.confirm_seeds} fresh seeds "
            f"({runs} runs{about}), compared on validation; the chosen one is scored once on "
            "the test split")  # fmt: skip
        rows = confirm_top(
            study, spec, runner, runner.dataset, folder, options.confirm_top,
            options.confirm_seeds,
        )  # fmt: skip
        log(format_table(rows, spec.objectives[0]))
    return {"spec": spec, "summary": info, "confirmation": rows, "folder": folder}


def _seconds_per_epoch(study: optuna.Study) -> float | None:
    """Seconds per training epoch over the study's finished trials (None before any)."""
    seconds = epochs = 0.0
    for trial in study.get_trials(deepcopy=False):
        spent, ran = trial.user_attrs.get("seconds"), trial.user_attrs.get("epochs_run")
        if isinstance(spent, int | float) and isinstance(ran, int | float) and ran > 0:
            seconds, epochs = seconds + spent, epochs + ran
    return seconds / epochs if epochs else None


def _best(top: int) -> str:
    return "the best configuration" if top == 1 else f"the best {top} configurations"


def _confirmation_plan(study: optuna.Study, spec: StudySpec, options: SearchOptions) -> str:
    """The line that says, before the search, what the confirmation after it will cost."""
    runs = options.confirm_top * options.confirm_seeds
    cost = _seconds_per_epoch(study)
    about = (
        f"about {runs * spec.max_epochs * cost:.0f} s at most (at the trials' {cost:.2g} s per "
        "epoch)" if cost else f"each as long as an unpruned trial of {spec.max_epochs} epochs"
    )  # fmt: skip
    return (
        f"then {runs} confirmation runs ({_best(options.confirm_top)} on "
        f"{options.confirm_seeds} fresh seeds, compared on validation; the chosen one scored "
        f"once on the test split), {about}; --confirm-top 0 skips them"
    )


def _enqueue_missing(study: optuna.Study, grid: list[dict[str, Any]]) -> None:
    """Grid points not yet in the study (a rerun with a larger --n-trials or run_cap) are
    enqueued, in the grid's order; points already run or waiting are not."""
    import json

    def key(point: dict[str, Any]) -> str:
        return json.dumps(point, sort_keys=True, default=str)

    trials = study.get_trials(deepcopy=False)
    present = {key(t.params or t.system_attrs.get("fixed_params", {})) for t in trials}
    for point in grid:
        if key(point) not in present:
            study.enqueue_trial(point)


def _quiet_optuna(quiet: bool) -> None:
    """Optuna's warnings are shown, except with ``-q``."""
    import warnings

    optuna.logging.set_verbosity(optuna.logging.ERROR if quiet else optuna.logging.WARNING)
    if quiet:
        warnings.filterwarnings("ignore", module="optuna")
        warnings.filterwarnings("ignore", category=optuna.exceptions.ExperimentalWarning)


def _fail_if_all_failed(study: optuna.Study, folder: Path) -> None:
    """A study whose every finished trial failed is an error (exit status non-zero)."""
    from dno.tracking import SUMMARY, trial_reason, trial_state

    trials = study.get_trials(deepcopy=False)
    failed = [t for t in trials if trial_state(t.state.name, t.user_attrs) == "failed"]
    if failed and not any(t.state.name in ("COMPLETE", "PRUNED") for t in trials):
        reason = trial_reason(failed[0].user_attrs) or "no reason recorded"
        raise DnoError(
            f"all {len(failed)} trials failed; trial {failed[0].number}: {reason} (every reason "
            f"is in {folder / SUMMARY}, each program's standard error in its trial folder)"
        )


def run_worker(
    storage_url: str,
    study_name: str,
    results: Path,
    log: Log = print,
    wandb: bool = False,
    threads: int | None = None,
    device: str | None = None,
    quiet: bool = False,
    adapt_threads: bool = False,
) -> int:
    """Join an existing study and run its trials until it has enough (``dno worker``).

    Args:
        threads: this worker's core budget (default: every usable core not busy elsewhere).
        device: train on this device instead of the study's (e.g. ``cuda:1``).
        adapt_threads: ``threads`` is an automatic share (a local worker of ``dno search``), so
            fewer may be used while other processes keep cores busy.
    """
    use_threads(core_budget(1, threads), adaptive=threads is None or adapt_threads)
    _quiet_optuna(quiet)
    with confine_writes(results):
        study = _join_study(storage_url, study_name, results)
        spec = load_spec(study)
        space = space_from_description(spec.space)
        run_trials(study, spec, space, make_runner(spec, wandb, device), results, log=log)
        return count_finished(study)


def _join_study(storage_url: str, study_name: str, results: Path) -> optuna.Study:
    """The study in its storage, with its sampler and pruner: a worker's own connection."""
    storage, _ = open_storage(storage_url, results, study_name)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise DnoError(f"no study {study_name!r} in {storage_url}") from None
    spec = load_spec(study)
    study.sampler = make_sampler(spec)  # seeded per trial: workers never share a stream
    study.pruner = make_pruner(spec)
    return study


def _run_workers(
    options: SearchOptions,
    url: str,
    spec: StudySpec,
    study: optuna.Study,
    slots: list[WorkerSlot],
    runner: TrialRunner,
    run_here: Callable[[Callable[[Any], None]], None],
    log: Log,
) -> None:
    """Run the study's trials with one worker per slot: this process is the first (it has read
    the data and imported torch already, so it starts training at once), and each further slot
    gets a worker that joins the study as soon as it has started.

    A further worker is forked from this process where that is safe (:func:`_can_fork`): it
    has torch, the data and the runner already and trains within a fraction of a second.
    Elsewhere it is a ``dno worker`` process, which first imports torch and reads the data (a few
    seconds: a search of short trials may end before it joins).

    Args:
        runner: this process's runner, whose data a forked worker shares.
        run_here: runs this process's share of the trials, calling its argument after each.
    """
    fork = _can_fork(spec, slots)
    if len(slots) > 1:
        how = "forked from it" if fork else "started as dno worker processes"
        log(f"{len(slots)} local workers: this process and {len(slots) - 1} {how}")
    children: list[_Worker] = []
    bar = None

    def show(_: Any = None) -> None:
        if bar is not None:
            bar.n = min(count_finished(study), spec.n_trials)
            bar.refresh()

    try:
        for slot in slots[1:]:  # in the try: a failed start ends those already started
            if fork:
                children.append(_fork_worker(url, spec, options, slot, runner))
            else:
                children.append(_start_worker(url, spec, options, slot))
        # after the forks: the bar's monitor thread would make a fork unsafe
        bar = progress_bar(
            spec.n_trials, count_finished(study), options.progress, spec.name, "trial"
        )
        use_threads(slots[0].threads, adaptive=slots[0].adaptive)
        run_here(show)
        ended = _wait_for_workers(study, children, show)
    except BaseException:
        _end_groups(children, grace=STOP_WAIT)  # each records its trial as interrupted
        raise
    finally:
        if bar is not None:
            bar.close()
    failed = [c.returncode for c in children if c.returncode not in (0, None) and c not in ended]
    if failed:
        raise DnoError(f"{len(failed)} of {len(children) + 1} workers failed (exit {failed[0]})")


class _Worker(Protocol):
    """A local worker process as :func:`_wait_for_workers` and :func:`_end_groups` see it
    (a :class:`subprocess.Popen`, or a :class:`_ForkedWorker`): the leader of its own process
    group."""

    pid: int

    @property
    def returncode(self) -> int | None: ...

    def poll(self) -> int | None: ...


class _ForkedWorker:
    """A worker forked from this process: its pid and, once it has ended, its exit status."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.returncode: int | None = None

    def poll(self) -> int | None:
        if self.returncode is None:
            try:
                done, status = os.waitpid(self.pid, os.WNOHANG)
            except ChildProcessError:  # reaped elsewhere: its status is lost
                self.returncode = 1
                return self.returncode
            if done:
                self.returncode = os.waitstatus_to_exitcode(status)
        return self.returncode


def _start_worker(url: str, spec: StudySpec, options: SearchOptions, slot: WorkerSlot) -> _Worker:
    """A ``dno worker`` process for ``slot``, in a session of its own (Ctrl-C reaches only this
    process, which ends it)."""
    command = [sys.executable, "-m", "dno", "worker", "--storage", url, "--study", spec.name,
               "--results", str(options.results), "--parent", str(os.getpid()), "-q",
               "--threads", str(slot.threads)]  # fmt: skip
    command += (["--device", slot.device] if slot.device else []) + (
        ["--adapt-threads"] if slot.adaptive else []
    )
    if options.wandb:
        command.append("--wandb")
    env = {**os.environ, **thread_environment(slot.threads)}
    return subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL, env=env)


def _can_fork(spec: StudySpec, slots: list[WorkerSlot]) -> bool:
    """Whether the further workers can be forked from this process: on Linux, on the CPU (a
    child forked after its parent touched CUDA cannot use it), one thread each, and while this
    process runs no other Python thread.

    A fork copies only the forking thread: a lock another thread held stays locked in the child,
    and a thread pool the parent had started (OpenMP's, numba's) is gone there, so a child that
    entered a parallel region could hang. On one thread torch enters none; the thread pools of
    OpenBLAS that numpy and scipy start at import are rebuilt in a child (their fork handlers).
    """
    if not sys.platform.startswith("linux") or not hasattr(os, "fork"):
        return False
    if any(slot.device not in (None, "cpu") or slot.threads != 1 for slot in slots[1:]):
        return False
    if spec.runner != "program" and spec.base.get("device", "auto") != "cpu":
        import torch

        if torch.cuda.is_available():
            return False
    return threading.active_count() == 1


def _fork_worker(
    url: str, spec: StudySpec, options: SearchOptions, slot: WorkerSlot, runner: TrialRunner
) -> _ForkedWorker:
    """Fork a worker for ``slot``: it joins the study over its own storage connection and
    runs trials with a runner of its own on the data this process read, then exits (never
    returning into this process's code). Its standard output is discarded (as a ``dno worker``
    process's); its errors go to standard error as one line."""
    sys.stdout.flush()
    sys.stderr.flush()
    parent = os.getpid()
    pid = os.fork()
    if pid:
        with contextlib.suppress(OSError):  # the child does the same: whichever comes first
            os.setpgid(pid, pid)
        return _ForkedWorker(pid)
    status = 1
    try:
        os.setpgid(0, 0)  # a group of its own: Ctrl-C reaches only the parent, which ends it
        os.dup2(os.open(os.devnull, os.O_WRONLY), 1)
        exit_with_parent(parent, 3)  # its trial is run again
        use_threads(slot.threads, adaptive=slot.adaptive)
        _quiet_optuna(True)
        study = _join_study(url, spec.name, options.results)
        dataset = runner.dataset if isinstance(runner, DnoModelRunner) else None
        own = make_runner(spec, options.wandb, slot.device, dataset)
        folder = options.results / spec.name  # idle: the best trials' figures, as the parent
        figures = partial(draw_shown_figures, study, spec, folder, dataset) if dataset else None
        run_trials(study, spec, space_from_description(spec.space), own, options.results,
                   log=lambda _: None, idle=figures)  # fmt: skip
        status = 0
    except KeyboardInterrupt:
        status = 130
    except DnoError as error:
        print(f"dno worker: error: {error}", file=sys.stderr)
        status = error.exit_status
    except BaseException:
        traceback.print_exc()
    finally:
        sys.stderr.flush()
        os._exit(status)


def _wait_for_workers(
    study: optuna.Study, children: list[_Worker], show: Callable[[], None]
) -> list[_Worker]:
    """Wait for the workers' running trials; the workers ended because none was left to them.

    This process's own share ends when no trial waits and none runs, so a worker still starting
    then (importing torch: seconds) has nothing to do: it is ended rather than waited for.
    """
    while any(child.poll() is None for child in children):
        if not study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.RUNNING,)):
            alive = [child for child in children if child.poll() is None]
            _end_groups(alive, grace=STOP_WAIT)
            return alive
        time.sleep(0.2)
        show()
    return []


def _end_groups(children: list[_Worker], grace: float = 5.0) -> None:
    """End each child's process group (a worker and what it started in its group; a program
    trial has a group of its own, ended by its watchdog when the worker is gone): SIGTERM, then
    SIGKILL for those still there after ``grace`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for child in children:
            if child.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.pid, sig)
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline and any(c.poll() is None for c in children):
            time.sleep(0.05)
