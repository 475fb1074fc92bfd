"""Study storage: a journal file by default, a database URL for many machines.

- default: Optuna's journal file storage (``<results>/<study>/study.journal``), which several
  local processes share without "database is locked";
- ``postgresql://...`` (or any SQLAlchemy URL): Optuna's RDB storage, for workers on many
  machines.

A trial whose process died is found by :func:`stale_trials`: on the same host by its process
id (and start time), elsewhere by a heartbeat (written every :data:`HEARTBEAT_INTERVAL` seconds
by a thread of the trial's process) older than :data:`HEARTBEAT_GRACE`.
"""

from __future__ import annotations

import contextlib
import os
import re
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import optuna
from optuna.storages import BaseStorage
from optuna.trial import FrozenTrial, TrialState

from dno._io import process_alive
from dno._names import check_name
from dno.errors import DnoError, UsageError
from dno.tracking import STUDY_JOURNAL

__all__ = [
    "HEARTBEAT_GRACE",
    "WORKER_ATTR",
    "describe_url",
    "open_storage",
    "stale_trials",
    "worker_identity",
]

WORKER_ATTR = "dno:worker"
HEARTBEAT_ATTR = "dno:heartbeat"
#: Seconds between heartbeats of a running trial.
HEARTBEAT_INTERVAL = 30.0
#: Attempts to open a new database that other processes are setting up at the same moment.
SCHEMA_ATTEMPTS = 5
#: A trial on another host whose heartbeat is older than this (seconds) is considered dead.
HEARTBEAT_GRACE = 300.0


def describe_url(url: str) -> str:
    """The URL with any password masked, for messages."""
    return re.sub(r"(://[^:/@]+):[^@]*@", r"\1:***@", url)


def journal_path(results: Path, study: str) -> Path:
    """``RESULTS/STUDY/study.journal``; ``study`` must be a plain folder name."""
    return results / check_name(study, "study name") / STUDY_JOURNAL


def open_storage(url: str | None, results: Path, study: str) -> tuple[BaseStorage, str]:
    """Open the study storage; returns ``(storage, url)``.

    Args:
        url: ``None`` (the journal file in the study folder), a journal file path (ending in
            ``.journal`` or starting with ``journal:``), or an SQLAlchemy URL (postgresql, sqlite).
        results: the results folder.
        study: the study name.

    Raises:
        UsageError: an unsupported URL.
        DnoError: a database that cannot be reached (one line, password masked).
    """
    if url is None or url.endswith(".journal") or url.startswith("journal:"):
        path = (
            journal_path(results, study)
            if url is None
            else Path(url.split(":", 1)[-1] if url.startswith("journal:") else url)
        )
        path.parent.mkdir(parents=True, exist_ok=True)
        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock, JournalStorage

        backend = JournalFileBackend(str(path), lock_obj=JournalFileOpenLock(str(path)))
        return JournalStorage(backend), f"journal:{path.resolve()}"
    if not re.match(r"^(postgresql|postgres|sqlite|mysql)(\+\w+)?://", url):
        raise UsageError(
            f"storage {describe_url(url)!r} is not supported; expected a .journal file or a "
            "postgresql:// (or sqlite:///) URL"
        )
    if url.startswith("postgres://"):
        url = "postgresql://" + url[len("postgres://") :]
    for attempt in range(SCHEMA_ATTEMPTS):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                storage = optuna.storages.RDBStorage(
                    url, engine_kwargs={"pool_pre_ping": True, "connect_args": _connect_args(url)}
                )
            return storage, url
        except Exception as error:  # sqlalchemy raises many kinds (OperationalError, ...)
            text = str(error).strip()
            racing = "already exists" in text or "duplicate key" in text
            if racing and attempt + 1 < SCHEMA_ATTEMPTS:
                # workers started together on a new database: another one is creating Optuna's
                # tables right now; they are there on the next attempt
                time.sleep(0.5 * (attempt + 1))
                continue
            first = text.splitlines()[0] if text else type(error).__name__
            raise DnoError(f"cannot reach storage {describe_url(url)}: {first}") from None
    raise AssertionError("unreachable")


def _connect_args(url: str) -> dict[str, Any]:
    return {"connect_timeout": 10} if url.startswith("postgresql") else {}


def worker_identity() -> dict[str, Any]:
    """This process: host, pid and the pid's start time (to tell a reused pid apart)."""
    return {"host": socket.gethostname(), "pid": os.getpid(), "start": _start_time(os.getpid())}


def _stat(pid: int) -> list[str]:
    """The fields of ``/proc/PID/stat`` after the command name ([] where there is none)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return []


def _start_time(pid: int) -> str | None:
    fields = _stat(pid)
    return fields[19] if fields else None  # field 22: start time in clock ticks since boot


def _process_alive(pid: int, start: str | None) -> bool:
    if not process_alive(pid) or _stat(pid)[:1] == ["Z"]:
        return False  # gone, or killed and not yet reaped by its parent
    return start is None or _start_time(pid) == start


def stale_trials(
    study: optuna.Study, grace: float = HEARTBEAT_GRACE
) -> list[tuple[FrozenTrial, str]]:
    """Running trials whose process is gone, with the reason each is considered dead."""
    here = socket.gethostname()
    now = time.time()
    found = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        beat = trial.user_attrs.get(HEARTBEAT_ATTR)
        if not isinstance(worker, dict):
            continue
        if worker.get("host") == here:
            if not _process_alive(int(worker["pid"]), worker.get("start")):
                found.append((trial, f"its process {worker['pid']} on {here} is gone"))
        elif isinstance(beat, int | float) and now - beat > grace:
            found.append((trial, f"no heartbeat from {worker.get('host')} for {now - beat:.0f} s"))
    return found


def heartbeat(study: optuna.Study, trial_id: int) -> None:
    """Record that the trial's process is alive now."""
    study._storage.set_trial_user_attr(trial_id, HEARTBEAT_ATTR, time.time())


@contextlib.contextmanager
def heartbeats(study: optuna.Study, trial_id: int) -> Iterator[None]:
    """Beat for the trial from a background thread while the block runs."""
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(HEARTBEAT_INTERVAL):
            with contextlib.suppress(Exception):  # a finished trial refuses attrs; that is fine
                heartbeat(study, trial_id)

    heartbeat(study, trial_id)
    thread = threading.Thread(target=beat, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
