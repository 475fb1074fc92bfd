"""Core budgets and device plans: each training process gets its share, each worker its device."""

from __future__ import annotations

import os

import pytest
import torch

import dno._cores as cores
from dno._cores import (
    THREAD_VARIABLES,
    WorkerSlot,
    core_budget,
    plan_workers,
    thread_environment,
    use_threads,
)
from dno.errors import UsageError


@pytest.fixture
def eight_cores(monkeypatch: pytest.MonkeyPatch) -> None:
    """This process may run on 8 cores (of a machine that may have more)."""
    monkeypatch.setattr(os, "sched_getaffinity", lambda _: set(range(8)))
    monkeypatch.setattr(os, "cpu_count", lambda: 64)


@pytest.mark.usefixtures("eight_cores")
def test_share_is_usable_cores_divided_by_workers() -> None:
    assert cores.usable_cores() == 8  # the affinity, not the machine's 64
    assert [core_budget(w, idle=False) for w in (1, 2, 3, 8, 16)] == [8, 4, 2, 1, 1]
    assert core_budget(3, threads=5) == 5  # --threads wins


@pytest.mark.usefixtures("eight_cores")
def test_share_stays_within_the_cores_other_processes_leave_idle() -> None:
    assert core_budget(1, idle=7.2) == 7
    assert core_budget(1, idle=1.0) == 1  # one busy neighbour on two cores: one thread
    assert core_budget(2, idle=3.0) == 1
    assert core_budget(1, idle=0.1) == 1  # at least one
    assert core_budget(1, threads=4, idle=0.0) == 4  # an explicit budget is kept


def test_idle_cores_measures_this_machine() -> None:
    idle = cores.idle_cores(0.05)
    assert idle is not None and 0.0 <= idle <= cores.usable_cores() + 1e-9


@pytest.mark.parametrize("threads", [0, -2, 10**9])
def test_bad_budget_is_refused(threads: int) -> None:
    with pytest.raises(UsageError, match=f"--threads {threads}; expected an integer from 1 to"):
        core_budget(1, threads=threads)


def test_program_environment_keeps_what_the_user_set() -> None:
    env = thread_environment(3, {"MKL_NUM_THREADS": "7", "PATH": "/bin"})
    assert env == {name: "3" for name in THREAD_VARIABLES if name != "MKL_NUM_THREADS"}


def test_use_threads_sets_torch_and_is_recorded() -> None:
    before = torch.get_num_threads()
    try:
        assert use_threads(1) == 1
        assert torch.get_num_threads() == 1
        assert cores.applied_threads() == 1
        assert thread_environment(environ={})["OMP_NUM_THREADS"] == "1"
    finally:
        use_threads(before)


@pytest.mark.usefixtures("eight_cores")
def test_devices_pin_one_worker_each_with_its_own_share() -> None:
    slots = plan_workers(None, "cuda:0,cuda:1", idle=False)
    assert slots == [WorkerSlot("cuda:0", 4, True), WorkerSlot("cuda:1", 4, True)]
    # auto: one worker per visible GPU (a faked list of three)
    slots = plan_workers(None, "auto", visible=["cuda:0", "cuda:1", "cuda:2"], idle=False)
    assert [s.device for s in slots] == ["cuda:0", "cuda:1", "cuda:2"]
    assert {s.threads for s in slots} == {2}
    # more workers than devices: round robin
    slots = plan_workers(4, "cpu,cuda:1", idle=False)
    assert [s.device for s in slots] == ["cpu", "cuda:1", "cpu", "cuda:1"]
    assert {s.threads for s in slots} == {2}


@pytest.mark.usefixtures("eight_cores")
def test_auto_without_a_gpu_keeps_the_studys_device() -> None:
    assert plan_workers(None, "auto", visible=[], idle=False) == [WorkerSlot(None, 8, True)]
    assert plan_workers(2, None, threads=3) == [WorkerSlot(None, 3, adaptive=False)] * 2


@pytest.mark.parametrize("devices", ["", "gpu0", "cuda:x", "cuda:0,,cuda:1"])
def test_bad_device_list_is_one_clear_error(devices: str) -> None:
    with pytest.raises(UsageError, match="is not a device; expected auto or a comma-separated"):
        plan_workers(None, devices, idle=False)


class _FakeLoad:
    """/proc/stat and this process's CPU time, advanced by hand: ``run(others, own)`` is one
    second in which other processes keep ``others`` cores busy and this one ``own``."""

    def __init__(self, cpus: int) -> None:
        self.cpus, self.busy, self.total, self.own = cpus, 0, 0, 0.0

    def cpu_times(self) -> dict[str, tuple[int, int]]:
        per_busy, per_total = self.busy // self.cpus, self.total // self.cpus
        return {f"cpu{i}": (per_total - per_busy, per_total) for i in range(self.cpus)}

    def run(self, others: float, own: float) -> None:
        self.total += 100 * self.cpus
        self.busy += round(100 * (others + own))
        self.own += own


@pytest.fixture
def load(monkeypatch: pytest.MonkeyPatch) -> _FakeLoad:
    """Eight cores whose load the test sets, and this process's CPU time with it."""
    fake = _FakeLoad(8)
    monkeypatch.setattr(cores, "_cpu_times", fake.cpu_times)
    monkeypatch.setattr(cores.time, "process_time", lambda: fake.own)
    return fake


@pytest.mark.usefixtures("eight_cores")
def test_an_automatic_budget_follows_the_other_processes_load(load: _FakeLoad) -> None:
    before = torch.get_num_threads()
    try:
        use_threads(4, adaptive=True)
        start = cores.time.monotonic()
        load.run(others=5.0, own=2.0)  # a neighbour takes 5 of 8 cores: 3 are left
        assert cores.adapt_threads(start + 0.5) == 4  # within the period: no new reading
        assert cores.adapt_threads(start + 1.0) == 3
        assert torch.get_num_threads() == 3
        load.run(others=7.6, own=1.0)
        assert cores.adapt_threads(start + 2.0) == 1  # at least one
        load.run(others=0.2, own=1.0)  # the neighbours are done: back to the budget, not more
        assert cores.adapt_threads(start + 3.0) == 4
        assert torch.get_num_threads() == 4
        use_threads(4)  # an explicit budget is used as given
        load.run(others=6.0, own=2.0)
        assert cores.adapt_threads(start + 5.0) is None
        assert torch.get_num_threads() == 4
    finally:
        use_threads(before)


@pytest.mark.usefixtures("eight_cores")
def test_an_automatic_budget_is_sized_to_the_training_step(load: _FakeLoad) -> None:
    before = torch.get_num_threads()
    try:
        use_threads(4, adaptive=True)
        assert cores.fit_threads(cores.ELEMENTS_PER_THREAD // 3) == 1  # a tiny step: one thread
        assert torch.get_num_threads() == 1
        start = cores.time.monotonic()
        load.run(others=0.0, own=1.0)  # a quiet machine does not lift it above the step's size
        assert cores.adapt_threads(start + 1.0) == 1
        assert (
            cores.fit_threads(5 * cores.ELEMENTS_PER_THREAD // 2) == 2
        )  # the next trial is larger
        assert cores.fit_threads(50 * cores.ELEMENTS_PER_THREAD) == 4  # never above the budget
        assert torch.get_num_threads() == 4
        use_threads(4)  # an explicit budget is used as given
        assert cores.fit_threads(cores.ELEMENTS_PER_THREAD // 3) is None
        assert torch.get_num_threads() == 4
    finally:
        use_threads(before)
