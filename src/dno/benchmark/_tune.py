"""Tune a benchmark: every model searched with the same budget, its best configuration kept.

``dno benchmark PROTOCOL --tune N`` first runs one ``dno search`` study per model of the
protocol (the baseline too) into ``OUT/tuning/``::

    tuning/spaces/MODEL.yaml   the model's shipped space, with the keys the protocol sets for it
                               fixed at the protocol's values
    tuning/MODEL/              the study: study.journal, summary.csv, best_config.yaml, trial-N/

Every study gets the same budget (:class:`~dno.benchmark.TuneSettings`): the same number of
trials, epoch cap and patience, sampler and sampler seed, training seeds (never one of the
protocol's) and data, no pruning (each trial's score is a whole sample of its configuration),
and the same objective: the protocol's metric on the validation split, at the epoch the
protocol's ``select`` keeps, as the retrained runs will. The test split is not read. The best
configuration of each study then replaces the model's own (:meth:`Protocol.with_configs`), and
:func:`dno.benchmark.run_benchmark` trains it on the protocol's seeds and tests it once.

A rerun resumes every study where it stopped (finished trials are kept; an interrupted trial
runs again) and finds the same best configurations. Each model's record (``Protocol.tuning``)
holds the chosen configuration, what the search spent (from its trials' own files) and its
tuning curve: the expected best validation score of ``n`` trials for ``n = 1 .. N``, computed
from the trials without re-running any (:func:`expected_best`; Dodge et al. 2019, "Show your
work").
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from dno._io import atomic_path, make_folder, read_yaml_mapping
from dno.benchmark._execution import Workers, benchmark_folder, protocol_dataset
from dno.benchmark._protocol import Protocol
from dno.compare import Approach
from dno.errors import UsageError
from dno.evaluation import get_metric, parse_name
from dno.search import (
    SearchOptions,
    count_finished,
    locate_study,
    run_search,
    shipped_space_file,
    space_from_description,
)
from dno.tracking import (
    FINAL_RESULTS,
    TUNING_FOLDER,
    RunFolder,
    read_json,
    trial_folder,
    trial_params,
    trial_runs,
)

__all__ = ["expected_best", "tune_protocol"]

Log = Callable[[str], None]
#: The tuning studies of a benchmark, under its folder.
TUNING = TUNING_FOLDER  # the studies of a tuned benchmark, inside its folder


def expected_best(values: Sequence[float], lower_is_better: bool) -> tuple[np.ndarray, np.ndarray]:
    """The expected best of ``n`` trials drawn from ``values``, and its standard deviation, for
    ``n = 1 .. len(values)`` (Dodge et al. 2019, eq. 1).

    The ``N`` trials' scores are the empirical distribution of one trial's score; the best of
    ``n`` independent draws from it is the ``i``-th best of the sorted scores with probability
    ``(i/N)^n - ((i-1)/N)^n`` (scores sorted from worst to best). At ``n = N`` the expectation
    is below the best score seen unless every draw found it: it is the mean of the best of ``N``
    draws with replacement, not the maximum.

    Args:
        values: the trials' scores (finite), shape (N,).
        lower_is_better: the score's direction.

    Returns:
        ``(mean, sd)``, each of shape (N,): entry ``n - 1`` is for ``n`` trials.

    Example:
        >>> mean, sd = expected_best([3.0, 1.0, 2.0], lower_is_better=True)
        >>> [round(float(v), 4) for v in mean]
        [2.0, 1.4444, 1.2963]
    """
    scores = np.asarray(values, dtype=np.float64)
    if scores.ndim != 1 or scores.size == 0 or not np.all(np.isfinite(scores)):
        raise UsageError(f"expected_best needs finite scores of shape (N,), got {scores.shape}")
    ordered = np.sort(scores)[::-1] if lower_is_better else np.sort(scores)  # worst to best
    count = ordered.size
    n = np.arange(1, count + 1)[:, None]
    i = np.arange(1, count + 1)[None, :]
    weight = (i / count) ** n - ((i - 1) / count) ** n  # (n, i): P(the best of n is the i-th)
    mean = weight @ ordered
    variance = np.clip(weight @ ordered**2 - mean**2, 0.0, None)
    return mean, np.sqrt(variance)


def tune_protocol(
    protocol: Protocol,
    out: str | Path,
    workers: Workers | int | None = None,
    *,
    log: Log | None = None,
) -> Protocol:
    """Search every model of ``protocol`` (loaded with ``tune=...``) into ``out/tuning/`` and
    return the protocol with each model's best configuration and its record (resumable).

    Args:
        protocol: a protocol with :attr:`Protocol.tune` set.
        out: the benchmark's folder.
        workers: each study's local workers, their threads and devices (:class:`Workers`, as
            ``dno search``; its ``device``, when ``devices`` is None, is the trials' device,
            ``auto``: the protocol's); a number: that many, with the defaults.
        log: called with the search's lines and one line per tuned model.

    Raises:
        UsageError: the protocol is not tuned, or a bad worker or device request (before any
            training).
        DnoError: every trial of a model failed (its first reason), or another ``dno
            benchmark`` runs in ``out``.
    """
    tune = protocol.tune
    if tune is None:
        raise UsageError("tune_protocol needs a protocol loaded with tune=N (trials per model)")
    workers = Workers.of(workers)
    workers.slots()  # a bad request fails now, before the data are made
    say = log or (lambda _: None)
    records: dict[str, dict[str, Any]] = {}
    with benchmark_folder(out) as folder:
        data_path = protocol_dataset(protocol, folder, log, seed=protocol.tune_data_seed)
        for k, approach in enumerate(protocol.plan.approaches, 1):
            say(f"tuning {approach.name} ({k}/{len(protocol.models)}): {tune.trials} trials")
            options = _search_options(protocol, approach, folder, data_path, workers.device)
            options = replace(
                options, workers=workers.count, devices=workers.devices, threads=workers.threads
            )
            started = time.perf_counter()
            run_search(options, log=say)
            record = tuning_record(folder / TUNING / approach.name)
            record["invocation_seconds"] = time.perf_counter() - started
            records[approach.name] = record
            say(_describe(approach.name, record))
    chosen = {name: record["params"] for name, record in records.items()}
    return replace(protocol.with_configs(chosen), tuning=records)


def _search_options(
    protocol: Protocol, approach: Approach, folder: Path, data_path: Path, device: str
) -> SearchOptions:
    """The study of one model: the runs' shared config and the model's own keys as its base
    (the trials' epoch cap and patience from ``tune``), the shipped space with what they set
    fixed, the tuning's seeds, sampler and objective, no pruning and no confirmation."""
    tune = protocol.tune
    assert tune is not None
    base = {**protocol.plan.shared, **approach.overrides, "patience": tune.patience}
    for key in ("max_epochs", "seed"):
        base.pop(key, None)
    if device != "auto":
        base["device"] = device
    return SearchOptions(
        model=approach.model, family=protocol.family, data=data_path, search=tune.search,
        n_trials=tune.trials, max_epochs=tune.max_epochs, results=folder / TUNING,
        space=_space(folder, approach, base), seeds=tune.seeds, seed_base=tune.seed_base,
        study=approach.name, seed=tune.sampler_seed, pruner="none",
        objectives=[tune.objective], confirm_top=0, base=base, progress=False, quiet=True,
    )  # fmt: skip


def _space(folder: Path, approach: Approach, base: dict[str, Any]) -> Path:
    """``tuning/spaces/MODEL.yaml``: the model's shipped space, keys of ``base`` fixed."""
    shipped = read_yaml_mapping(shipped_space_file(approach.model), "search space file")
    parameters = {
        name: {"value": base[name]} if name in base else spec
        for name, spec in shipped["parameters"].items()
    }
    # the space each model was searched in, as run: beside its study (a tuned benchmark's own)
    path = make_folder(folder / TUNING / "spaces") / f"{approach.name}.yaml"
    header = (
        f"# {approach.name}: the shipped space of {approach.model} (configs/spaces/"
        f"{approach.model}.yaml), the keys the protocol sets fixed at its values\n"
    )
    with atomic_path(path) as tmp:
        text = yaml.safe_dump({"parameters": parameters}, sort_keys=False)
        tmp.write_text(header + text, encoding="utf-8")
    return path


def tuning_record(study_folder: Path) -> dict[str, Any]:
    """What a model's study found and spent, from the study and its trials' files.

    Returns:
        ``trials`` (finished), ``states``, ``best_trial``, ``best_value`` (the objective on
        validation), ``params`` (the searched keys of the best trial), ``values`` (every
        complete trial's objective, in trial order), ``curve`` (:func:`expected_best`: ``n``,
        ``expected``, ``sd``), the budget the study stored (``max_epochs``, ``patience``,
        ``search``, ``sampler_seed``, ``seeds``, ``data``, ``objective``, ``pruner``) and the
        cost (``epochs``, ``optimizer_steps``, ``wall_seconds`` and ``cpu_seconds`` of the
        training epochs, ``trial_seconds``: the trials' whole wall time, ``parameters`` of every
        trial, ``devices``).
    """
    study, spec, folder = locate_study(str(study_folder), study_folder.parent)
    trials = study.get_trials(deepcopy=False)
    lower = get_metric(parse_name(spec.objectives[0])[0].name).lower_is_better
    complete = [t for t in trials if t.state.name == "COMPLETE" and t.values]
    complete = [t for t in complete if math.isfinite(t.values[0])]
    values = [float(t.values[0]) for t in complete]
    states: dict[str, int] = {}
    for t in trials:
        states[t.state.name.lower()] = states.get(t.state.name.lower(), 0) + 1
    record: dict[str, Any] = {
        "study": f"{TUNING}/{folder.name}",
        "objective": spec.objectives[0],
        "direction": spec.directions[0],
        "trials": count_finished(study),
        "asked": spec.n_trials,
        "states": states,
        "max_epochs": spec.max_epochs,
        "patience": spec.base.get("patience"),
        "search": spec.search,
        "sampler_seed": spec.sampler_seed,
        "seeds": spec.seed_list(),
        "pruner": spec.pruner.get("type"),
        "data": Path(spec.data).name,
        "values": values,
        "best_trial": None,
        "best_value": None,
        "params": {},
        **_trial_costs(folder, [t.number for t in trials]),
        "trial_seconds": sum(float(t.user_attrs.get("seconds") or 0.0) for t in trials),
    }
    if not complete:
        return record
    best = (min if lower else max)(complete, key=lambda t: t.values[0])
    searched = space_from_description(spec.space).searched()
    params = trial_params(folder, best.number) or {}
    mean, sd = expected_best(values, lower)
    record.update(
        best_trial=best.number, best_value=float(best.values[0]),
        params={k: v for k, v in params.items() if k in searched},
        curve={"n": list(range(1, len(values) + 1)), "expected": mean.tolist(),
               "sd": sd.tolist()},
    )  # fmt: skip
    return record


def _trial_costs(folder: Path, numbers: list[int]) -> dict[str, Any]:
    """The epochs, optimizer steps, epoch wall and CPU seconds, parameters and devices of every
    run of the trials ``numbers`` (interrupted ones too: their work was spent)."""
    epochs = steps = 0
    wall = cpu = 0.0
    parameters: list[int] = []
    devices: set[str] = set()
    for number in numbers:
        for run in trial_runs(trial_folder(folder, number)):
            if not RunFolder(run).metrics_path.is_file():
                continue  # the trial never trained an epoch
            rows = RunFolder(run).read_metrics()
            results_path = run / FINAL_RESULTS
            epochs += len(rows)
            wall += sum(float(r.get("seconds") or 0.0) for r in rows)
            if results_path.is_file():
                results = read_json(results_path)
                steps += int(results.get("steps_per_epoch") or 0) * len(rows)
                cpu += float(results.get("cpu_seconds") or 0.0)
                if isinstance(results.get("parameters"), int | float):
                    parameters.append(int(results["parameters"]))
                if results.get("device"):
                    devices.add(str(results["device"]))
    return {
        "epochs": epochs, "optimizer_steps": steps, "wall_seconds": wall, "cpu_seconds": cpu,
        "parameters": parameters, "devices": sorted(devices),
    }  # fmt: skip


def _describe(name: str, record: dict[str, Any]) -> str:
    if record["best_trial"] is None:
        return f"tuned {name}: no trial completed"
    params = ", ".join(f"{k}={_short(v)}" for k, v in sorted(record["params"].items()))
    return (
        f"tuned {name}: {record['trials']} trials, {record['wall_seconds']:.0f} s of training "
        f"({record['cpu_seconds']:.0f} CPU s); best {record['objective']} "
        f"{record['best_value']:.4g} (trial {record['best_trial']}): {params}"
    )


def _short(value: Any) -> str:
    return f"{value:.3g}" if isinstance(value, float) else str(value)
