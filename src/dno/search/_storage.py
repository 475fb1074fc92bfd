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
import json
import os
import re
import shutil
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

from dno._io import check_confined, make_folder, process_alive
from dno._names import check_name
from dno.errors import DnoError, DnoWarning, UsageError
from dno.tracking import STUDY_JOURNAL

__all__ = [
    "HEARTBEAT_GRACE",
    "STORAGE_OUTAGE",
    "WORKER_ATTR",
    "ReconnectingStorage",
    "StorageLost",
    "connection_lost",
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
#: Seconds a lost database is waited for, retrying, before a command gives up (one line).
STORAGE_OUTAGE = 60.0
#: The longest wait between two attempts to reach a lost database (seconds).
RETRY_WAIT = 4.0


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
        make_folder(path.parent)
        from optuna.storages.journal import JournalFileOpenLock, JournalStorage

        lock = JournalFileOpenLock(str(check_confined(path)))
        mend_torn_journal(path, lock)
        return JournalStorage(_journal_file(path, lock)), f"journal:{path.resolve()}"
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
            return ReconnectingStorage(storage, url), url  # type: ignore[abstract]
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


def _journal_file(path: Path, lock: Any) -> Any:
    """Optuna's journal file, except that an append that fails (a full disk) leaves no torn
    record (the file is cut back to where the append began) and its error names the file."""
    from optuna.storages.journal import JournalFileBackend

    class JournalFile(JournalFileBackend):
        def append_logs(self, logs: list[dict[str, Any]]) -> None:
            text = "".join(json.dumps(log, separators=(",", ":")) + "\n" for log in logs)
            lock.acquire()
            try:
                _append(path, text.encode("utf-8"))
            finally:
                lock.release()

    return JournalFile(str(path), lock_obj=lock)


def _append(path: Path, data: bytes) -> None:
    """Append ``data`` to ``path`` whole and synced, or not at all (raising, naming the file)."""
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    start = os.lseek(fd, 0, os.SEEK_END)
    try:
        view = memoryview(data)
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    except OSError as error:
        with contextlib.suppress(OSError):
            os.ftruncate(fd, start)
        raise OSError(error.errno, error.strerror, str(path)) from None
    finally:
        os.close(fd)


def mend_torn_journal(path: Path, lock: Any) -> Path | None:
    """Drop a torn last record of the journal ``path`` (a write cut short by a crash or a full
    disk), keeping the original beside it; the copy's path, or None if the journal was whole.

    Optuna reads a journal up to a torn last line, but its next record would be appended to
    that line, leaving a line it cannot read in the middle of the journal: every later read of
    the study fails. The journal is checked and cut under Optuna's own lock (``lock``), so no
    process appends meanwhile; one line (a :class:`~dno.errors.DnoWarning`) says what was done.
    """
    if not _is_torn(path):
        return None  # the usual case, checked without the lock (a read-only study stays readable)
    try:
        lock.acquire()
    except OSError as error:  # a folder the user may not write: Optuna reads up to the tear
        warnings.warn(f"{path} ends in a torn record; it cannot be mended here "
                      f"({error.strerror or error}), so it is read without it", DnoWarning,
                      stacklevel=2)  # fmt: skip
        return None
    try:
        with path.open("rb") as journal:  # again, now that no process appends
            size = journal.seek(0, os.SEEK_END)
            keep = _torn_tail(journal, size)
            if keep == size:
                return None  # it was an append in progress
            stamp = f"{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}"
            copy = path.with_name(f"{path.name}.torn-{stamp}")
            journal.seek(0)
            with copy.open("xb") as saved:
                shutil.copyfileobj(journal, saved)
        os.truncate(path, keep)
    finally:
        lock.release()
    warnings.warn(
        f"{path} ended in a torn record ({size - keep} bytes of a write cut short); dropped it "
        f"and kept every whole record (the original is {copy.name}); a trial it finished is "
        "re-run",
        DnoWarning,
        stacklevel=2,
    )
    return copy


def _is_torn(path: Path) -> bool:
    if not path.is_file():
        return False
    with path.open("rb") as journal:
        size = journal.seek(0, os.SEEK_END)
        return size > 0 and _torn_tail(journal, size) < size


def _torn_tail(journal: Any, size: int) -> int:
    """Where the journal's last line starts if it is torn (not a JSON object ending in a
    newline, as every record Optuna writes is), else ``size``. Only the last line can be torn:
    Optuna appends whole lines under its lock."""
    start = size - 1  # the last byte may be the line's own newline
    while start > 0:
        step = min(start, 1 << 16)
        journal.seek(start - step)
        cut = journal.read(step).rfind(b"\n")
        if cut >= 0:
            start = start - step + cut + 1
            break
        start -= step
    start = max(start, 0)
    journal.seek(start)
    last = journal.read(size - start)
    return size if last.endswith(b"\n") and _is_record(last) else start


def _is_record(line: bytes) -> bool:
    try:
        return isinstance(json.loads(line), dict)
    except ValueError:
        return False


class StorageLost(DnoError):
    """The study's database could not be reached for :data:`STORAGE_OUTAGE` seconds."""


class ReconnectingStorage(BaseStorage):
    """An RDB storage whose calls are retried with backoff while its database is unreachable.

    A database restart (a sub-second outage) or a network cut breaks the connections in the
    pool; SQLAlchemy's ``pool_pre_ping`` replaces broken connections when they are taken, and
    a call that failed on one is made again, after 0.25 s, 0.5 s, ... (at most
    :data:`RETRY_WAIT`), for up to :data:`STORAGE_OUTAGE` seconds; one
    :class:`~dno.errors.DnoWarning` line says the database was lost. Beyond that,
    :class:`StorageLost`: the trials in progress stay running in the database, and a rerun
    re-runs them (their processes are gone, :func:`stale_trials`).
    """

    def __init__(self, storage: BaseStorage, url: str) -> None:
        self._inner = storage
        self._url = url

    def _call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        deadline, wait, warned = time.monotonic() + STORAGE_OUTAGE, 0.25, False
        while True:
            try:
                return getattr(self._inner, name)(*args, **kwargs)
            except Exception as error:
                lost = connection_lost(error)
                if lost is None:
                    raise
                if time.monotonic() + wait > deadline:
                    raise StorageLost(
                        f"lost the connection to storage {describe_url(self._url)} for "
                        f"{STORAGE_OUTAGE:.0f} s ({lost}); rerun the same command when the "
                        "database is back: finished trials are kept, the trials in progress "
                        "are re-run"
                    ) from None
                if not warned:
                    warnings.warn(
                        f"lost the connection to storage {describe_url(self._url)} ({lost}); "
                        f"retrying for up to {STORAGE_OUTAGE:.0f} s",
                        DnoWarning,
                        stacklevel=3,
                    )
                    warned = True
                with contextlib.suppress(Exception):
                    self._inner.remove_session()
                time.sleep(wait)
                wait = min(2 * wait, RETRY_WAIT)


def _delegate(name: str) -> Any:
    def call(self: ReconnectingStorage, *args: Any, **kwargs: Any) -> Any:
        return self._call(name, *args, **kwargs)

    call.__name__ = call.__qualname__ = name
    return call


# Every method of Optuna's storage interface goes through ReconnectingStorage._call.
for _name in sorted(n for n in vars(BaseStorage) if not n.startswith("_")):
    if callable(getattr(BaseStorage, _name)):
        setattr(ReconnectingStorage, _name, _delegate(_name))
ReconnectingStorage.__abstractmethods__ = frozenset()


def connection_lost(error: BaseException) -> str | None:
    """One line on why the database connection was lost, if that is what ``error`` (or an error
    behind it) says, else None: a connection SQLAlchemy found broken, an interface error, or an
    operational error of the connection itself (refused, closed, the server shutting down:
    SQLSTATE classes 08 and 57P, or none at all). A query's own failure is not one (nor any
    SQLite error: SQLite has no connection to lose)."""
    try:
        from sqlalchemy import exc
    except ImportError:
        return None
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if _broken(current, exc):
            text = str(getattr(current, "orig", None) or current).strip()
            return text.splitlines()[0] if text else type(current).__name__
        current = current.__cause__ or current.__context__
    return None


def _broken(error: BaseException, exc: Any) -> bool:
    if isinstance(error, exc.InterfaceError | exc.DisconnectionError):
        return True
    if isinstance(error, exc.DBAPIError) and error.connection_invalidated:
        return True
    if not isinstance(error, exc.OperationalError) or type(error.orig).__module__ == "sqlite3":
        return False
    state = getattr(error.orig, "sqlstate", None)
    return state is None or str(state).startswith(("08", "57P"))


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
    """Running trials whose process is gone, with the reason each is considered dead.

    A trial taken from the queue but never started for longer than ``grace`` (no worker
    recorded: its process lost the database right after taking it) is dead too.
    """
    here = socket.gethostname()
    now = time.time()
    found = []
    for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        worker = trial.user_attrs.get(WORKER_ATTR)
        beat = trial.user_attrs.get(HEARTBEAT_ATTR)
        if not isinstance(worker, dict):
            started = trial.datetime_start.timestamp() if trial.datetime_start else now
            if now - started > grace:
                found.append((trial, f"taken {now - started:.0f} s ago and never started"))
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
