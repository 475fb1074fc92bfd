"""Core budgets and devices: what share of the machine each training process of dno may use.

Every process dno runs for training (``dno train``, ``dno compare``, the local workers of
``dno search``, ``dno worker``, confirmation re-runs, program trials) gets an explicit number of
threads: torch's intra-op and inter-op threads, numba's threads, and, for a user's program, the
standard variables (:data:`THREAD_VARIABLES`) unless the user set them.

The default share is the usable cores (this process's CPU affinity, as under ``taskset`` or a
SLURM allocation, not the machine's count) divided by the local workers, at least 1, and no more
than the cores idle when the budget is taken. The last rule matters: torch's OpenMP threads wait
for each other at every operation, so two threads on two cores beside one unrelated busy process
make a small model's training step 10-70x slower, while one thread keeps its speed
(``benchmarks/bench_workers.py`` measures it). An explicit ``--threads N`` is used as given.

Other load can also start after the budget was taken. So while a process with an automatic
budget trains, :func:`adapt_threads` (called by the trainer at every step, acting about once a
second) watches how many cores other processes keep busy and trains with what they leave idle,
between 1 and the budget, back up when they are done. OpenMP threads keep the default wait
policy (spin briefly, then sleep): ``OMP_WAIT_POLICY=PASSIVE``, which dno's command set before,
made a quiet 2-core ``dno train`` of method_of_steps 2.8x slower (each operation waited for
sleeping threads to wake), for a protection the adaptation now gives.
"""

from __future__ import annotations

import contextlib
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dno.errors import UsageError

if TYPE_CHECKING:
    import torch

__all__ = [
    "THREAD_VARIABLES",
    "WORKERS_PER_CORE",
    "WorkerSlot",
    "adapt_threads",
    "check_workers",
    "core_budget",
    "exit_with_parent",
    "fit_threads",
    "idle_cores",
    "max_workers",
    "plan_workers",
    "select_device",
    "sigterm_interrupts",
    "thread_environment",
    "usable_cores",
    "use_budget",
    "use_threads",
    "visible_devices",
]

#: The variables that size the thread pools of OpenMP, MKL, OpenBLAS and numba in a new process.
THREAD_VARIABLES = (
    "OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "NUMBA_NUM_THREADS",
)  # fmt: skip
#: The most threads a process may be given (``--threads``).
MAX_THREADS = 1024
#: Local worker processes per usable core at most (``--workers``; more devices allow more).
WORKERS_PER_CORE = 4
#: How long :func:`idle_cores` watches the CPUs (seconds).
IDLE_WINDOW = 0.2
#: How often :func:`adapt_threads` looks at the other processes' load (seconds).
ADAPT_PERIOD = 1.0

_applied: int | None = None
_adaptation: _Adaptation | None = None


@dataclass
class _Adaptation:
    """The state of :func:`adapt_threads`: the budget (at most the ``ceiling`` it was given,
    fewer for a small trial: :func:`fit_threads`), the threads in use, the last reading."""

    ceiling: int
    budget: int
    threads: int
    cpus: set[str]
    wall: float
    own: float
    busy: int
    total: int


def usable_cores() -> int:
    """The cores this process may run on (its CPU affinity), at least 1."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not Linux
        return max(1, os.cpu_count() or 1)


def _cpu_times() -> dict[str, tuple[int, int]]:
    """``{cpuN: (idle ticks, total ticks)}`` from /proc/stat."""
    times = {}
    with open("/proc/stat") as handle:
        for line in handle:
            name, *fields = line.split()
            if name.startswith("cpu") and name != "cpu":
                ticks = [int(f) for f in fields[:8]]
                times[name] = (ticks[3] + ticks[4], sum(ticks))  # idle + iowait
    return times


def idle_cores(window: float = IDLE_WINDOW) -> float | None:
    """How many of the usable cores were idle over the next ``window`` seconds (None: unknown)."""
    try:
        cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        before = _cpu_times()
        time.sleep(window)
        after = _cpu_times()
    except (AttributeError, OSError, ValueError, IndexError):
        return None
    idle = 0.0
    for name in cpus & before.keys() & after.keys():
        total = after[name][1] - before[name][1]
        if total > 0:
            idle += (after[name][0] - before[name][0]) / total
    return idle


def core_budget(
    workers: int = 1, threads: int | None = None, idle: float | bool | None = True
) -> int:
    """Threads for each of ``workers`` local training processes.

    Args:
        workers: local processes sharing this machine's usable cores.
        threads: an explicit budget (``--threads``), returned as is.
        idle: ``True`` to measure the idle cores now (:func:`idle_cores`) and stay within them;
            a number to use that measurement; ``False`` or ``None`` to ignore other load.

    Raises:
        UsageError: ``threads`` outside 1..MAX_THREADS, or ``workers`` below 1.
    """
    if threads is not None:
        if not 1 <= threads <= MAX_THREADS:
            raise UsageError(f"--threads {threads}; expected an integer from 1 to {MAX_THREADS}")
        return threads
    if workers < 1:
        raise UsageError(f"--workers {workers}; expected an integer >= 1")
    share = max(1, usable_cores() // workers)
    if idle is True:
        idle = idle_cores() if share > 1 else None
    if isinstance(idle, int | float) and not isinstance(idle, bool):
        # the cores other processes leave free, shared by the workers about to start
        share = min(share, max(1, round(idle) // workers))
    return share


def use_threads(threads: int, adaptive: bool = False) -> int:
    """Make this process compute with ``threads`` threads (torch intra- and inter-op, numba).

    ``adaptive``: the budget was chosen automatically, so :func:`adapt_threads` may train with
    fewer threads while other processes keep cores busy (never more than ``threads``).
    """
    global _applied, _adaptation
    import torch

    _adaptation = _start_adaptation(threads) if adaptive and threads > 1 else None
    if "numba" in sys.modules:
        import numba

        limit = int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]
        # first: with numba's OpenMP layer this resets the OpenMP threads torch also uses
        numba.set_num_threads(max(1, min(threads, limit)))
    torch.set_num_threads(threads)
    # inter-op threads can be set once, before any inter-op work; the first call wins
    with contextlib.suppress(RuntimeError):
        torch.set_num_interop_threads(threads)
    _applied = threads
    return threads


def use_budget(threads: int | None) -> int:
    """Use one process's budget: ``threads`` as given (``--threads``), or :func:`core_budget`'s
    share, adaptive (:func:`adapt_threads`)."""
    return use_threads(core_budget(1, threads), adaptive=threads is None)


def adapt_threads(now: float | None = None) -> int | None:
    """Follow other processes' load with this process's threads; the threads now in use.

    A no-op (None) unless :func:`use_threads` was given an automatic budget of 2 or more
    threads. At most once per :data:`ADAPT_PERIOD`: the usable cores' busy time minus this
    process's own CPU time is the other processes' load, in cores; the threads become the cores
    they leave, rounded, between 1 and the budget. Cheap enough to call at every training step.
    """
    state = _adaptation
    if state is None:
        return None
    now = time.monotonic() if now is None else now
    if now - state.wall < ADAPT_PERIOD:
        return state.threads
    try:
        busy, total = _busy_ticks(state.cpus)
    except (OSError, ValueError, IndexError):
        return state.threads
    own = time.process_time()
    if total > state.total:
        cores = len(state.cpus) * (busy - state.busy) / (total - state.total)
        others = max(0.0, cores - (own - state.own) / (now - state.wall))
        threads = max(1, min(state.budget, round(len(state.cpus) - others)))
        if threads != state.threads:
            import torch

            torch.set_num_threads(threads)
            state.threads = threads
    state.wall, state.own, state.busy, state.total = now, own, busy, total
    return state.threads


#: Elements of a training step's activations per thread: a step whose forward pass outputs
#: fewer than ``k`` times this many (over all its layers) trains on at most ``k`` threads (at
#: least 1). torch splits an operation over threads in grains of 32,768 elements, and below
#: this size its threads wait for each other longer than they compute (``benchmarks/
#: bench_parallel_search.py`` part 0 times steps of each size on 1 and 2 threads).
ELEMENTS_PER_THREAD = 2**18


def fit_threads(elements: int) -> int | None:
    """Size an automatic budget to a training step whose activations hold ``elements``.

    A no-op (None) unless :func:`use_threads` was given an automatic budget of 2 or more
    threads; then the budget becomes ``elements / ELEMENTS_PER_THREAD`` threads, between 1 and
    what :func:`use_threads` was given (so a worker whose trials differ in size gives each its
    own), and :func:`adapt_threads` works within it.

    Returns:
        The threads now in use (None: the budget is explicit, or one thread).
    """
    import torch

    state = _adaptation
    if state is None:
        return None
    loaded = state.threads < state.budget  # other processes' load holds it lower now
    state.budget = max(1, min(state.ceiling, elements // ELEMENTS_PER_THREAD))
    threads = min(state.budget, state.threads) if loaded else state.budget
    if threads != torch.get_num_threads():
        torch.set_num_threads(threads)
    state.threads = threads
    return threads


def _start_adaptation(budget: int) -> _Adaptation | None:
    """The first reading for :func:`adapt_threads`; None where /proc/stat cannot be read."""
    try:
        cpus = {f"cpu{i}" for i in os.sched_getaffinity(0)}
        busy, total = _busy_ticks(cpus)
    except (AttributeError, OSError, ValueError, IndexError):  # not Linux
        return None
    return _Adaptation(
        budget, budget, budget, cpus, time.monotonic(), time.process_time(), busy, total
    )


def _busy_ticks(cpus: set[str]) -> tuple[int, int]:
    """Busy and total ticks of the given CPUs so far, from /proc/stat."""
    times = _cpu_times()
    idle = sum(times[name][0] for name in cpus if name in times)
    total = sum(times[name][1] for name in cpus if name in times)
    return total - idle, total


def applied_threads() -> int:
    """The budget this process was given by :func:`use_threads` (else its usable cores)."""
    return _applied if _applied is not None else usable_cores()


def thread_environment(
    threads: int | None = None, environ: Mapping[str, str] | None = None
) -> dict[str, str]:
    """The thread variables for a child process, leaving out those the user set.

    Args:
        threads: the child's budget (default: this process's, :func:`applied_threads`).
        environ: the environment the child inherits (default ``os.environ``).
    """
    environ = os.environ if environ is None else environ
    value = str(threads if threads is not None else applied_threads())
    return {name: value for name in THREAD_VARIABLES if name not in environ}


@dataclass(frozen=True)
class WorkerSlot:
    """One local worker: the device it trains on (None: the study's) and its threads
    (``adaptive``: an automatic share, see :func:`adapt_threads`)."""

    device: str | None
    threads: int
    adaptive: bool = False


def visible_devices() -> list[str]:
    """The CUDA devices this process sees (``cuda:0``, ``cuda:1``, ...), none without CUDA."""
    import torch

    return [f"cuda:{i}" for i in range(torch.cuda.device_count())]


def plan_workers(
    workers: int | None,
    devices: str | None = None,
    threads: int | None = None,
    visible: Sequence[str] | None = None,
    idle: float | bool | None = True,
) -> list[WorkerSlot]:
    """The local workers of a search: one device each (round robin) and one core share each.

    Args:
        workers: how many (``--workers``); default one per device, or 1.
        devices: ``--devices``: comma-separated (``cuda:0,cuda:1``, ``cpu``) or ``auto`` (every
            visible GPU; no pinning when there is none); None keeps the study's device.
        threads: ``--threads`` for each worker (default: :func:`core_budget`).
        visible: the visible GPUs (default :func:`visible_devices`; tests pass their own).
        idle: passed to :func:`core_budget`.

    Raises:
        UsageError: an empty or malformed device list, or more workers than
            :func:`max_workers`.
    """
    names: list[str | None] = [None]
    if devices == "auto":
        found = list(visible_devices() if visible is None else visible)
        names = list(found) or [None]
    elif devices is not None:
        names = [d.strip() for d in devices.split(",")]
        for name in names:
            if not _device_name(name or ""):
                raise UsageError(
                    f"--devices {devices!r}: {name!r} is not a device; expected auto or a "
                    "comma-separated list such as cuda:0,cuda:1 (or cpu)"
                )
    count = workers if workers is not None else len(names)
    check_workers(count, len(names))
    share = core_budget(count, threads, idle)
    return [WorkerSlot(names[i % len(names)], share, threads is None) for i in range(count)]


def max_workers(devices: int = 1) -> int:
    """The most local worker processes: :data:`WORKERS_PER_CORE` per usable core, or one per
    device when there are more devices (at most :data:`MAX_THREADS`)."""
    return min(MAX_THREADS, max(WORKERS_PER_CORE * usable_cores(), devices))


def check_workers(workers: int, devices: int = 1) -> int:
    """``workers`` if this machine can hold that many local worker processes.

    Raises:
        UsageError: more than :func:`max_workers` (each worker is a process with its own
            copy of torch, about 340 MB, and at least one thread).
    """
    limit = max_workers(devices)
    if workers > limit:
        raise UsageError(
            f"--workers {workers:,} is beyond this machine's limit of {limit} "
            f"({WORKERS_PER_CORE} per usable core, {usable_cores()} cores); more would only "
            "queue for the cores (each worker is a process of about 340 MB)"
        )
    return workers


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Within the block, SIGTERM (``kill``, a batch system ending a job) interrupts the main
    thread like Ctrl-C, so that the block's own clean-up ends its child processes; outside it
    the handler is what it was. Only in the main thread (elsewhere a no-op)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def exit_with_parent(parent: int, code: int = 1) -> None:
    """End this process (exit status ``code``, no clean-up) once its parent ``parent`` is gone,
    instead of training on as an orphan: a watch thread looks once a second."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os._exit(code)

    threading.Thread(target=watch, daemon=True, name="dno-parent-watch").start()


def _device_name(name: str) -> bool:
    kind, _, index = name.partition(":")
    return kind in ("cpu", "cuda", "mps") and (index == "" or index.isdigit())


def select_device(name: str) -> torch.device:
    """``auto`` picks CUDA, then MPS, then the CPU; an unavailable explicit device is an error."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return torch.device("cuda" if cuda else "mps" if mps else "cpu")
    kind, _, index = name.partition(":")
    if (kind == "cuda" and not cuda) or (kind == "mps" and not mps):
        raise UsageError(f"--device {name}: no {kind.upper()} device is available here")
    if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
        raise UsageError(
            f"--device {name}: this machine has {torch.cuda.device_count()} CUDA devices"
        )
    return torch.device(name)
