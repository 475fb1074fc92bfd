"""Run a benchmark: the data once, every model x seed (in parallel workers), the test split once.

The folder ``OUT``::

    benchmark.json                 the resolved protocol, the machine, the workers, the wall time,
                                   the provenance (dno, git commit, libraries, command line)
    data/FAMILY-nN-seedS-DIGEST.h5 the protocol's dataset (generated once; reused by a rerun;
                                   with data_seeds one per training seed)
    data/FAMILY-REGIME-nN-seedS-DIGEST.h5  each regime's test data but in_distribution's
                                   (dno.benchmark._regimes; likewise once, per dataset)
    tuning/                        with --tune: every model's search (dno.benchmark.tune)
    runs/MODEL/seed-S/             a dno train run folder per model and seed, with its
                                   evaluation_test.json (dno evaluate on the test split) and
                                   test_cost.json (that evaluation's wall and CPU seconds) and
                                   regime_scores.json (the same weights on each regime's data)
    leaderboard.{md,csv,json}, leaderboard_runs.csv    (see dno.benchmark.leaderboard)
    ledger.json                    the budget per model and phase (see dno.benchmark.ledger)

Every run trains on the train split and keeps the weights of its best validation epoch (the
selection); only then is the test split scored, once, with the protocol's
:class:`~dno.evaluation.EvaluationConfig` (one horizon in delays for every model). A rerun
resumes: finished runs and their test scores are read back, an interrupted run continues from
its last checkpoint, and a run folder holding another configuration is an error naming the keys
(:func:`dno.compare.run_one`). After the test split, the same weights are scored on each other
regime's data on the same horizon with the same metrics (:func:`dno.evaluation.score_run`), a
model whose weights fit only its own grid recorded as such for ``resolution``; a rerun reads
finished regime scores back. Runs go to ``workers`` processes, each with its share of the
cores (:func:`dno._cores.plan_workers`), seeds as the outer loop so that an interrupted
benchmark has balanced pairs.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dno import __version__
from dno._cores import (
    WorkerSlot,
    exit_with_parent,
    plan_workers,
    select_device,
    sigterm_interrupts,
    usable_cores,
    use_threads,
)
from dno._io import confine_writes, folder_lock, make_folder
from dno._provenance import provenance
from dno.benchmark._protocol import Protocol
from dno.benchmark._regimes import IN_DISTRIBUTION, regime_dataset
from dno.compare import run_one
from dno.data import Dataset, generate_dataset, read_dataset
from dno.errors import DnoError, UsageError
from dno.evaluation import ResolutionError, canonical_names, evaluate_run, score_run
from dno.tracking import (
    BENCHMARK_JSON,
    DATA_FOLDER,
    EVALUATION_JSON,
    FINAL_RESULTS,
    REGIME_SCORES,
    RUN_CONFIG,
    RUNS_FOLDER,
    TEST_COST,
    RunFolder,
    read_json,
    write_json,
)

__all__ = [
    "CANNOT_CHANGE_RESOLUTION",
    "RunResult",
    "Workers",
    "benchmark_folder",
    "benchmark_runs",
    "protocol_dataset",
    "regime_datasets",
    "run_benchmark",
]  # fmt: skip

Log = Callable[[str], None]
_DONE = ("completed", "stopped_early")
#: A regime's score of a model that cannot evaluate on another spatial grid.
CANNOT_CHANGE_RESOLUTION = "cannot change resolution"
#: The run folders of a benchmark, under its folder.
RUNS = RUNS_FOLDER


@dataclass
class RunResult:
    """One model on one seed: how training ended and the test split's evaluation summary."""

    model: str
    seed: int
    path: str  # relative to the benchmark's folder
    status: str
    reason: str = ""
    trained_now: bool = False
    val_score: float | None = None  # the protocol's select metric on validation
    epochs_run: int | None = None
    train_seconds: float | None = None
    evaluation: dict[str, Any] = field(default_factory=dict)
    #: what the run spent and on what (from its final_results.json and config.json), and the
    #: test evaluation's seconds (from test_cost.json): the budget ledger's retrain and test rows
    cost: dict[str, Any] = field(default_factory=dict)
    #: every regime but in_distribution: ``{"status": "scored" | CANNOT_CHANGE_RESOLUTION |
    #: "failed", "reason", "data" (the file's name), "values": {metric: value or None}}``
    regimes: dict[str, dict[str, Any]] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status in _DONE and bool(self.evaluation)


def protocol_dataset(
    protocol: Protocol, folder: Path, log: Log | None = None, seed: int | None = None
) -> Path:
    """The protocol's dataset in ``folder/data/`` (with ``data_seeds``, training seed
    ``seed``'s own): generated from its data seed once, then reused."""
    request = protocol.data_request(seed)
    path = folder / DATA_FOLDER / protocol.data_file(seed)
    if path.is_file():
        return path
    make_folder(path.parent)
    if log is not None:
        log(f"generating {request['n']} {protocol.family} trajectories (data seed "
            f"{request['seed']}) into {path}")  # fmt: skip
    generate_dataset(
        protocol.family, request["n"], request["seed"], path, request.get("priors") or None,
        t_end=request.get("t_end"), dt=request.get("dt"), dt_obs=request.get("dt_obs"),
        grid_points=request.get("grid_points"),
    )  # fmt: skip
    return path


@dataclass(frozen=True)
class Workers:
    """Where a benchmark's runs (and a tuned benchmark's trials) train.

    Attributes:
        count: local worker processes (default: one per device in ``devices``, else 1).
        devices: ``auto`` (every visible GPU) or a list such as ``cuda:0,cuda:1``, one per
            worker in turn; None: ``device`` for every run.
        threads: threads per worker (default: this machine's idle cores shared by the workers).
        device: the device of every run when ``devices`` is None.
    """

    count: int | None = None
    devices: str | None = None
    threads: int | None = None
    device: str = "auto"

    @classmethod
    def of(cls, workers: Workers | int | None) -> Workers:
        """``workers`` as given, or that many workers with the defaults."""
        return workers if isinstance(workers, Workers) else cls(workers)

    def slots(self) -> list[WorkerSlot]:
        """The local workers (each with ``device`` unless ``devices`` names its own), checked:
        too many workers or an unavailable device fail now, not in every run."""
        slots = plan_workers(self.count, self.devices, self.threads)
        slots = [WorkerSlot(s.device or self.device, s.threads, s.adaptive) for s in slots]
        for slot in slots:
            select_device(slot.device or "auto")
        return slots


def run_benchmark(
    protocol: Protocol,
    out: str | Path,
    workers: Workers | int | None = None,
    *,
    log: Log | None = None,
) -> list[RunResult]:
    """Train and test every model x seed of ``protocol`` into ``out`` (resumable).

    Args:
        protocol: a validated protocol (:func:`dno.benchmark.load_protocol`).
        out: the benchmark's folder (see the module doc).
        workers: the local workers, their threads and devices (:class:`Workers`; a number:
            that many, with the defaults).
        log: called with one line per finished run.

    Returns:
        Every run, in the order of the protocol (seed-major, then model).

    Raises:
        UsageError: more ``workers`` than this machine holds, or an unavailable device (before
            anything is made); a protocol loaded with ``tune`` that was not tuned
            (:func:`dno.benchmark.tune_protocol` first).
        DnoError: another ``dno benchmark`` runs in ``out`` (:func:`dno._io.folder_lock`), or
            a symbolic link in ``out`` leads out of it (:func:`dno._io.confine_writes`).
    """
    if protocol.tune is not None and not protocol.tuning:
        raise UsageError(
            f"{protocol.name} is to be tuned first: dno.benchmark.tune_protocol(protocol, out) "
            "gives the protocol with every model's best configuration"
        )
    slots = Workers.of(workers).slots()
    with benchmark_folder(out) as folder:
        return _run(protocol, folder, slots, log)


@contextlib.contextmanager
def benchmark_folder(out: str | Path) -> Iterator[Path]:
    """The benchmark's folder, created and held: one ``dno benchmark`` at a time in it
    (:func:`dno._io.folder_lock`), writes confined to it, SIGTERM an interrupt."""
    folder = Path(out)
    with (
        confine_writes(folder),
        sigterm_interrupts(),
        folder_lock(make_folder(folder), "dno benchmark"),
    ):
        yield folder


def _run(
    protocol: Protocol, folder: Path, slots: list[WorkerSlot], log: Log | None
) -> list[RunResult]:
    started = time.perf_counter()
    data = {seed: protocol_dataset(protocol, folder, log, seed) for seed in protocol.seeds}
    regimes = regime_datasets(protocol, folder, data, log)
    record = {
        "kind": "dno-benchmark",
        "dno_version": __version__,
        "protocol": protocol.to_dict(),
        "data": sorted({str(path.relative_to(folder)) for path in data.values()}),
        "regime_data": {
            name: sorted({str(files[name].relative_to(folder)) for files in regimes.values()})
            for name in protocol.regime_names[1:]
        },
        "tuned": bool(protocol.tuning),
        "workers": len(slots),
        "threads_per_worker": slots[0].threads,
        "devices": [s.device for s in slots],
        "usable_cores": usable_cores(),
        "provenance": provenance(
            ",".join(str(select_device(s.device or "auto")) for s in slots), slots[0].threads
        ),
    }
    write_json(folder / BENCHMARK_JSON, {**record, "status": "running"})
    jobs = [(seed, model) for seed in protocol.seeds for model in protocol.models]
    results: dict[tuple[int, str], RunResult] = {}
    for result in benchmark_runs(protocol, data, folder / RUNS, jobs, slots, regimes):
        results[(result.seed, result.model)] = result
        if log is not None:
            log(f"[{len(results)}/{len(jobs)}] {_describe(result, protocol.select)}")
    seconds = time.perf_counter() - started
    write_json(folder / BENCHMARK_JSON, {**record, "status": "done", "seconds": seconds})
    return [results[job] for job in jobs]


def regime_datasets(
    protocol: Protocol, folder: Path, data: Mapping[int, Path], log: Log | None = None
) -> dict[int, dict[str, Path]]:
    """Per training seed, each regime's test data but in_distribution's (generated once per
    dataset from its data seed, :func:`dno.benchmark.regime_dataset`); ``data`` maps each seed
    to the protocol's dataset, whose test split sets the number of trajectories."""
    made: dict[tuple[str, str], Path] = {}
    files: dict[int, dict[str, Path]] = {}
    for seed, main in data.items():
        files[seed] = {}
        for regime in protocol.regimes:
            if regime.name == IN_DISTRIBUTION:
                continue
            key = (regime.name, str(main))
            if key not in made:
                request = protocol.data_request(seed)
                made[key] = regime_dataset(regime, protocol.family, request, main, folder, log)
            files[seed][regime.name] = made[key]
    return files


def benchmark_runs(
    protocol: Protocol,
    data: Mapping[int, Path],
    runs: Path,
    jobs: list[tuple[int, str]],
    slots: list[WorkerSlot],
    regimes: Mapping[int, Mapping[str, Path]] | None = None,
) -> Iterator[RunResult]:
    """Each job ``(seed, model)``, trained or read back and tested, as it finishes; ``data``
    maps each seed to its dataset file, ``regimes`` each seed to its regimes' files (none:
    only the test split)."""
    regimes = regimes or {}
    if len(slots) == 1 or len(jobs) <= 1:
        use_threads(slots[0].threads, adaptive=slots[0].adaptive)
        for seed, model in jobs:
            files = regimes.get(seed, {})
            yield _run_job(protocol, data[seed], runs, seed, model, slots[0].device, files)
        return
    context = multiprocessing.get_context("spawn")  # no forked torch or OpenMP state
    queue = context.Queue()
    for slot in slots:
        queue.put(slot)
    executor = ProcessPoolExecutor(
        len(slots), mp_context=context, initializer=_start_worker, initargs=(queue, os.getpid())
    )
    try:
        futures: list[Future[RunResult]] = [
            executor.submit(
                _run_in_worker, protocol, data[seed], runs, seed, model, regimes.get(seed, {})
            )
            for seed, model in jobs
        ]
        for future in as_completed(futures):
            try:
                yield future.result()
            except BrokenProcessPool:
                raise DnoError(
                    "a benchmark worker process died (killed, or out of memory?); finished runs "
                    "are kept: rerun the same command to resume, with fewer --workers if memory "
                    "ran out"
                ) from None
    except BaseException:  # an interrupt or a failure: the runs in progress end now
        _end_workers(executor)
        raise
    finally:  # no new run starts; finished ones are on disk
        executor.shutdown(wait=True, cancel_futures=True)


def _end_workers(executor: ProcessPoolExecutor, grace: float = 5.0) -> None:
    """End the pool's worker processes (their runs continue from their last checkpoint on a
    rerun): SIGTERM, then SIGKILL for those still there after ``grace`` seconds. Python 3.14's
    ``terminate_workers`` does the same; before it, the pool's processes are private."""
    processes = list(getattr(executor, "_processes", {}).values())
    for process in processes:
        process.terminate()
    deadline = time.monotonic() + grace
    for process in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            process.kill()
            process.join()


_SLOT: list[WorkerSlot] = []
_DATASETS: dict[str, Dataset] = {}


def _start_worker(queue: Any, parent: int) -> None:
    """A worker process takes one slot (its device and threads) for its lifetime, and ends
    when the benchmark process is gone (killed), instead of training on as an orphan."""
    slot = queue.get()
    _SLOT.append(slot)
    use_threads(slot.threads, adaptive=slot.adaptive)
    exit_with_parent(parent)


def _run_in_worker(
    protocol: Protocol,
    data_path: Path,
    runs: Path,
    seed: int,
    model: str,
    regimes: Mapping[str, Path],
) -> RunResult:
    with confine_writes(runs.parent):
        return _run_job(protocol, data_path, runs, seed, model, _SLOT[0].device, regimes)


def _dataset(path: Path) -> Dataset:
    """The dataset, read once per process."""
    key = str(path)
    if key not in _DATASETS:
        _DATASETS[key] = read_dataset(path)
    return _DATASETS[key]


def _run_job(
    protocol: Protocol,
    data_path: Path,
    runs: Path,
    seed: int,
    model: str,
    device: str | None,
    regimes: Mapping[str, Path] | None = None,
) -> RunResult:
    """Train (or read back) one model on one seed, then score its best weights on test once,
    and on each regime's data (``regimes``: regime -> file)."""
    dataset = _dataset(data_path)
    record = run_one(protocol.plan, model, seed, dataset, runs, device=device)
    where = record.path.relative_to(runs.parent).as_posix()  # runs/MODEL/seed-S
    result = RunResult(
        model, seed, where, record.status, record.reason, record.trained, record.value
    )
    if record.status not in _DONE:
        return result
    folder = RunFolder(record.path)
    results = folder.read_json(FINAL_RESULTS)
    result.epochs_run = results.get("epochs_run")
    result.train_seconds = results.get("seconds")
    result.cost = _run_cost(folder, results, data_path)
    try:
        result.evaluation = _test_once(record.path, protocol, data_path, device or "cpu")
    except DnoError as error:
        result.status, result.reason = "failed", f"test evaluation: {error}"
    if (record.path / TEST_COST).is_file():
        result.cost["test"] = read_json(record.path / TEST_COST)
    if result.ok and regimes:
        result.regimes = _score_regimes(record.path, protocol, regimes)
    return result


def _score_regimes(
    run: Path, protocol: Protocol, regimes: Mapping[str, Path]
) -> dict[str, dict[str, Any]]:
    """The kept weights on each regime's data (the test split's horizon and metrics), each
    regime read back from ``regime_scores.json`` when this checkpoint was scored on the same
    file with the same evaluation config, else scored and written at once (resumable)."""
    path = run / REGIME_SCORES
    config = protocol.evaluation.to_dict()
    names = list(protocol.regime_metrics)
    saved: dict[str, Any] = {}
    if (
        path.is_file()
        and path.stat().st_mtime_ns >= RunFolder(run).best_checkpoint.stat().st_mtime_ns
    ):
        found = read_json(path)
        if found.get("config") == config:
            saved = dict(found.get("regimes") or {})
    scores: dict[str, dict[str, Any]] = {}
    for name, data in regimes.items():
        done = saved.get(name)
        if done and done.get("data") == data.name and set(names) <= set(done.get("values", {})):
            scores[name] = done
            continue
        entry: dict[str, Any] = {"data": data.name, "status": "scored", "reason": ""}
        try:
            entry["values"] = score_run(
                run, "test", names, protocol.evaluation, data=data, resolution=True
            )
        except ResolutionError as error:
            entry.update(status=CANNOT_CHANGE_RESOLUTION, reason=str(error))
            entry["values"] = dict.fromkeys(names)
        except DnoError as error:
            entry.update(status="failed", reason=str(error))
            entry["values"] = dict.fromkeys(names)
        scores[name] = entry
        if entry["status"] != "failed":  # a failure is tried again on a rerun
            write_json(path, {"config": config, "regimes": {**saved, **scores}})
    return scores


def _run_cost(folder: RunFolder, results: dict[str, Any], data_path: Path) -> dict[str, Any]:
    """What a finished run spent (the ledger's retrain row) and the budget it ran with."""
    config = folder.read_json(RUN_CONFIG)
    return {
        "epochs": results.get("epochs_run"),
        "optimizer_steps": results.get("optimizer_steps"),
        "parameters": results.get("parameters"),
        "wall_seconds": results.get("seconds"),
        "cpu_seconds": results.get("cpu_seconds"),
        "device": results.get("device"),
        "max_epochs": config.get("max_epochs"),
        "patience": config.get("patience"),
        "data": data_path.name,
    }


def _test_once(run: Path, protocol: Protocol, data_path: Path, device: str) -> dict[str, Any]:
    """The run's test summary: read back if this checkpoint was already tested with this
    evaluation config, else ``dno evaluate --split test`` (once), its wall and CPU seconds
    written to ``test_cost.json``."""
    path = run / EVALUATION_JSON.format(split="test")
    best = RunFolder(run).best_checkpoint
    config = protocol.evaluation
    if path.is_file() and path.stat().st_mtime_ns >= best.stat().st_mtime_ns:
        saved = read_json(path)
        if saved.get("config") == config.to_dict():
            return dict(saved["summary"])
    started, cpu_started = time.perf_counter(), time.process_time()
    evaluated = evaluate_run(run, "test", config, device, data=data_path, figures=False)
    cost = {
        "seconds": time.perf_counter() - started,
        "cpu_seconds": time.process_time() - cpu_started,
        "device": str(select_device(device)),
        "windows": evaluated.get("data", {}).get("windows"),
    }
    write_json(run / TEST_COST, cost)
    return dict(evaluated["summary"])


def _describe(result: RunResult, select: str) -> str:
    head = f"{result.model} seed {result.seed}: "
    how = f"trained in {result.train_seconds or 0.0:.1f} s" if result.trained_now else "read back"
    if not result.ok:
        return head + f"failed ({how}): {result.reason}"
    summary = canonical_names(result.evaluation)
    return (
        head + f"{how}, {select} {result.val_score:.4g}; test one-step "
        f"{_number(summary.get('rel_l2'))}, rollout {_number(summary.get('rollout_rel_l2'))} "
        f"over {summary['horizon_delays']} delays"
    )


def _number(value: Any) -> str:
    return "NaN" if value is None else f"{value:.4g}"
