"""``dno search`` as a library call: build the study, run the workers, summarise, confirm."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import optuna

from dno.data import read_dataset
from dno.errors import DnoError, UsageError
from dno.search._runner import OBJECTIVES, DnoModelRunner
from dno.search._space import SearchSpace, default_space, load_space, space_from_description
from dno.search._storage import open_storage
from dno.search._study import (
    SEARCHES,
    StudySpec,
    count_finished,
    load_spec,
    make_pruner,
    make_sampler,
    open_study,
    run_trials,
)
from dno.search._summary import confirm_top, format_table, write_summary
from dno.training import check_keys

__all__ = ["SearchOptions", "run_search", "run_worker"]

Log = Callable[[str], None]


@dataclass
class SearchOptions:
    """Everything ``dno search`` takes (see its ``--help``)."""

    model: str = "method_of_steps"
    family: str = "mackey"
    data: Path = Path("data/mackey.h5")
    search: str | None = None
    n_trials: int = 12
    max_epochs: int = 10
    results: Path = Path("hyperparameter_results")
    space: Path | None = None
    seeds: int = 1
    workers: int = 1
    storage: str | None = None
    study: str | None = None
    seed: int = 0
    pruner: str = "median"
    objectives: list[str] = field(default_factory=list)
    confirm_top: int = 3
    confirm_seeds: int = 3
    base: dict[str, Any] = field(default_factory=dict)
    progress: bool = True
    wandb: bool = False


def _space_and_search(options: SearchOptions) -> tuple[SearchSpace, str]:
    space = load_space(options.space) if options.space else default_space(options.model)
    if space.program:
        raise UsageError(
            f"{options.space}: sweeps of a user's program (program/command) are not supported "
            "yet; remove program to search dno's own models"
        )
    search = options.search or space.method or "bayesian"
    if options.search and space.method and options.search != space.method:
        raise UsageError(
            f"--search {options.search} contradicts the sweep's method ({space.method}); "
            "drop one of them"
        )
    if search not in SEARCHES:
        raise UsageError(f"--search {search!r}; expected one of: {', '.join(SEARCHES)}")
    return space, search


def _objectives(
    options: SearchOptions, space: SearchSpace, search: str
) -> tuple[list[str], list[str]]:
    if options.objectives:
        names = options.objectives
    elif space.metric:
        names = [space.metric]
    else:
        names = ["val_rel_l2", "n_parameters"] if search == "multi" else ["val_rel_l2"]
    for name in names:
        if name not in OBJECTIVES:
            raise UsageError(
                f"objective {name!r} is not reported by dno models; known: {', '.join(OBJECTIVES)}"
            )
    if search != "multi" and len(names) > 1:
        raise UsageError(f"{len(names)} objectives need --search multi")
    if search == "multi" and len(names) < 2:
        raise UsageError(
            "--search multi needs at least two objectives, e.g. val_rel_l2,n_parameters"
        )
    directions = [OBJECTIVES[n] for n in names]
    if space.metric and len(names) == 1 and space.goal:
        directions = [space.goal]
    return names, directions


def _pruner(options: SearchOptions, space: SearchSpace) -> dict[str, Any]:
    if space.early_terminate is not None:
        spec = dict(space.early_terminate)
        spec.setdefault("max_iter", options.max_epochs)
        min_iter, max_iter, eta = (
            int(spec.get("min_iter", 1)),
            int(spec["max_iter"]),
            int(spec.get("eta", 3)),
        )
        if "s" in spec:
            import math

            brackets = math.floor(math.log(max_iter / min_iter, eta) + 1e-9) + 1
            if int(spec["s"]) != brackets:
                raise UsageError(
                    f"early_terminate s={spec['s']} cannot be honoured: Optuna's hyperband with "
                    f"min_iter={min_iter}, max_iter={max_iter}, eta={eta} has {brackets} brackets"
                )
        return {"type": "hyperband", "min_iter": min_iter, "max_iter": max_iter, "eta": eta}
    if options.pruner not in ("median", "hyperband", "none"):
        raise UsageError(f"--pruner {options.pruner!r}; expected median, hyperband or none")
    return {"type": options.pruner}


def build_spec(
    options: SearchOptions,
) -> tuple[StudySpec, SearchSpace, list[dict[str, Any]] | None]:
    """Validate the options and return the study's spec, space and (for grid) its points."""
    space, search = _space_and_search(options)
    check_keys(options.model, list(space.parameters))
    objectives, directions = _objectives(options, space, search)
    grid = space.grid() if search == "grid" else None
    n_trials = len(grid) if grid is not None else options.n_trials
    if n_trials < 1:
        raise UsageError(f"--n-trials {n_trials}; expected at least 1")
    name = options.study or f"{options.model}-{options.family}-{search}"
    spec = StudySpec(
        name=name,
        model=options.model,
        family=options.family,
        data=str(Path(options.data).resolve()),
        search=search,
        space=space.describe(),
        objectives=objectives,
        directions=directions,
        n_trials=n_trials,
        max_epochs=options.max_epochs,
        seeds=options.seeds,
        pruner=_pruner(options, space),
        sampler_seed=options.seed,
        base=options.base,
    )
    return spec, space, grid


def run_search(options: SearchOptions, log: Log = print) -> dict[str, Any]:
    """Run (or resume) a study to ``n_trials`` finished trials, then summarise and confirm."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec, space, grid = build_spec(options)
    storage, url = open_storage(options.storage, options.results, spec.name)
    study = open_study(storage, spec, space, grid)
    folder = options.results / spec.name
    folder.mkdir(parents=True, exist_ok=True)
    dataset = read_dataset(spec.data)
    if dataset.family != spec.family:
        raise UsageError(f"{spec.data} holds {dataset.family!r} data, not {spec.family!r}")
    runner = DnoModelRunner(
        spec.model, dataset, spec.max_epochs, spec.base, spec.name if options.wandb else None
    )
    done = count_finished(study)
    log(f"study {spec.name}: {spec.search} search of {spec.model} on {spec.family}, "
        f"{done}/{spec.n_trials} trials finished; storage {url}")  # fmt: skip
    if options.workers > 1:
        _run_workers(options, url, spec, study)
    else:
        bar = _bar(spec.n_trials, done, options.progress, spec.name)
        try:
            run_trials(
                study, spec, space, runner, options.results,
                on_trial=lambda t: bar.update(1) if bar is not None else None, log=log,
            )  # fmt: skip
        finally:
            if bar is not None:
                bar.close()
    info = write_summary(study, spec, folder)
    log(f"states: {info['states']}; summary: {folder / 'summary.csv'}")
    rows = []
    if options.confirm_top > 0 and info["best"] is not None:
        log(f"confirming the top {options.confirm_top} configurations on "
            f"{options.confirm_seeds} fresh seeds; scored once on the test split")  # fmt: skip
        rows = confirm_top(
            study, spec, runner, dataset, folder, options.confirm_top, options.confirm_seeds
        )
        log(format_table(rows, spec.objectives[0]))
    return {"spec": spec, "summary": info, "confirmation": rows, "folder": folder}


def run_worker(
    storage_url: str, study_name: str, results: Path, log: Log = print, wandb: bool = False
) -> int:
    """Join an existing study and run its trials until it has enough (``dno worker``)."""
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    storage, _ = open_storage(storage_url, results, study_name)
    try:
        study = optuna.load_study(study_name=study_name, storage=storage)
    except KeyError:
        raise DnoError(f"no study {study_name!r} in {storage_url}") from None
    spec = load_spec(study)
    space = space_from_description(spec.space)
    # Each worker samples with its own stream, so parallel workers do not propose the same point.
    study.sampler = make_sampler(spec, offset=len(study.get_trials(deepcopy=False)) + os.getpid())
    study.pruner = make_pruner(spec)
    if not Path(spec.data).is_file():
        raise DnoError(f"the study's dataset {spec.data} is not on this machine; copy it there")
    runner = DnoModelRunner(
        spec.model, read_dataset(spec.data), spec.max_epochs, spec.base,
        spec.name if wandb else None,
    )  # fmt: skip
    run_trials(study, spec, space, runner, results, log=log)
    return count_finished(study)


def _run_workers(options: SearchOptions, url: str, spec: StudySpec, study: optuna.Study) -> None:
    """Start W ``dno worker`` processes on this study and show their progress until done."""
    command = [sys.executable, "-m", "dno", "worker", "--storage", url, "--study", spec.name,
               "--results", str(options.results), "--parent", str(os.getpid()), "-q"]  # fmt: skip
    if options.wandb:
        command.append("--wandb")
    children = [
        subprocess.Popen(command, start_new_session=True, stdout=subprocess.DEVNULL)
        for _ in range(options.workers)
    ]
    bar = _bar(spec.n_trials, count_finished(study), options.progress, spec.name)
    try:
        while any(child.poll() is None for child in children):
            time.sleep(1.0)
            if bar is not None:
                bar.n = min(count_finished(study), spec.n_trials)
                bar.refresh()
    except BaseException:
        for child in children:
            if child.poll() is None:
                os.killpg(child.pid, signal.SIGTERM)
        raise
    finally:
        if bar is not None:
            bar.close()
    failed = [c.returncode for c in children if c.returncode not in (0, None)]
    if failed:
        raise DnoError(f"{len(failed)} of {len(children)} workers failed (exit {failed[0]})")


def _bar(total: int, done: int, enabled: bool, name: str) -> Any:
    if not enabled:
        return None
    from tqdm import tqdm

    return tqdm(total=total, initial=done, desc=name, unit="trial", file=sys.stderr)
