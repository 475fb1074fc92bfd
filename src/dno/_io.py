"""Atomic file writing: a file appears whole or not at all.

Temporary files live beside their target as ``.NAME.dno-HOST-PID-XXXX.tmp``: a process killed
with SIGKILL cannot remove its own, so the next write of the same target on the same host
removes those whose process is gone (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import contextvars
import errno
import functools
import glob
import os
import re
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

from dno.errors import DnoError, UsageError

__all__ = [
    "LOCK_FILE",
    "MAX_TEXT_BYTES",
    "MAX_YAML_NODES",
    "atomic_path",
    "check_confined",
    "check_folder_writable",
    "check_writable",
    "confine_writes",
    "disk_full_error",
    "folder_lock",
    "load_yaml",
    "make_folder",
    "process_alive",
    "read_yaml_mapping",
    "remove_stale_temporaries",
    "temporary_path",
]


def check_writable(path: str | os.PathLike[str], overwrite: bool = False) -> Path:
    """Check, before any work is done, that ``path`` can be written.

    Raises:
        UsageError: the file exists and ``overwrite`` is false, or the folder is missing.
        DnoError: the folder is not writable.
    """
    target = Path(path)
    if target.is_dir():
        raise UsageError(f"output path {str(target)!r} is a folder; expected a file name")
    if target.exists() and not overwrite:
        raise UsageError(f"{str(target)!r} exists; pass --overwrite to replace it")
    folder = target.parent if str(target.parent) else Path(".")
    if not folder.is_dir():
        raise UsageError(f"folder {str(folder)!r} of the output path does not exist")
    check_folder_writable(folder)
    return target


def check_folder_writable(folder: str | os.PathLike[str]) -> Path:
    """Check, before any work is done, that a file can be created in the existing ``folder``.

    A probe file is created and removed (permission bits alone miss read-only mounts and
    immutable folders, and say nothing for root).

    Raises:
        DnoError: the folder is not writable (naming it and why).
    """
    path = Path(folder)
    try:
        fd, name = tempfile.mkstemp(prefix=".dno-probe-", dir=path)
    except OSError as error:
        raise DnoError(
            f"folder {str(path)!r} is not writable ({error.strerror or error}); "
            "choose another output folder or fix its permissions"
        ) from None
    os.close(fd)
    os.unlink(name)
    return path


#: Bytes of a YAML file a user wrote (a config, space, sweep, protocol or comparison file) at
#: most; the largest dno ships is 4 KB. A file at the limit is read in well under a second.
MAX_TEXT_BYTES = 2**20
#: Values (mappings, lists and scalars) a YAML document may hold, with what its aliases repeat
#: counted each time: dno's largest shipped file holds about 300. An alias (``*name``) repeats
#: what its anchor (``&name``) holds, so nine nested aliases of nine stand for 9^9 values in 300
#: bytes. Reading a document of this many values takes about 0.3 s.
MAX_YAML_NODES = 50_000


def read_yaml_mapping(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """The mapping in a YAML file the user wrote (a config, sweep or comparison file), checked;
    ``what`` names the file in errors. An empty file is an empty mapping. Read by
    :func:`load_yaml` (numbers such as ``1e-3`` are numbers; aliases are bounded).

    Raises:
        UsageError: the file does not exist, is larger than :data:`MAX_TEXT_BYTES`, is not UTF-8,
            is not valid YAML (naming the line and column), expands beyond
            :data:`MAX_YAML_NODES` values, or holds no mapping (naming it).
        OSError: it cannot be read (the command line names it in one line).
    """
    target = Path(path)
    if not target.is_file():
        raise UsageError(f"{what} {str(target)!r} does not exist")
    if (size := target.stat().st_size) > MAX_TEXT_BYTES:
        raise UsageError(
            f"{what} {str(target)!r} holds {size:,} bytes; expected at most {MAX_TEXT_BYTES:,}"
        )
    raw = target.read_bytes()[: MAX_TEXT_BYTES + 1]  # it may have grown since
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        byte = raw[error.start : error.start + 1]
        raise UsageError(
            f"{what} {str(target)!r} is not UTF-8 text (byte {byte!r} at position "
            f"{error.start}); save it as UTF-8"
        ) from None
    data = load_yaml(text, f"{what} {str(target)!r}") or {}
    if not isinstance(data, dict):
        raise UsageError(f"{what} {str(target)!r} must hold a mapping of keys")
    return {str(key): value for key, value in data.items()}


def load_yaml(text: str, what: str) -> Any:
    """The value of one YAML document a user wrote (a file's text, a ``--set`` value).

    The one YAML reader of dno: PyYAML's safe loader, with two changes. A number in scientific
    notation without a decimal point (``1e-3``, ``5E+4``) is a number, as in YAML 1.2 and JSON
    (YAML 1.1 reads it as text). And a document whose aliases expand to more than
    :data:`MAX_YAML_NODES` values, or whose alias refers to itself, is refused before it is
    built (an alias bomb would otherwise take gigabytes in whatever walks it).

    Args:
        text: the YAML text (at most :data:`MAX_TEXT_BYTES` bytes is the caller's business).
        what: names the source in errors (``"config file 'a.yaml'"``, ``"--set 'lr=...'"``).

    Raises:
        UsageError: not valid YAML (naming the line and column), too many values, or a
            recursive alias.

    Example:
        >>> load_yaml("lr: 1e-3\nlayers: [64, 64]", "example")
        {'lr': 0.001, 'layers': [64, 64]}
    """
    import yaml

    loader = _yaml_loader()(text)
    try:
        _check_size(_yaml_loader()(text), what)
        node = loader.get_single_node()
        if node is None:
            return None
        _check_expansion(node, what)
        return loader.construct_document(node)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or type(error).__name__
        if problem.startswith("but ") and error.context:  # "expected ..., but found ..."
            problem = f"{error.context}, {problem}"
        raise UsageError(f"{what} is not valid YAML{where}: {problem}") from None
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(f"{what} is not valid YAML: {first}") from None
    except RecursionError:
        raise UsageError(f"{what} nests deeper than dno reads; expected a flat file") from None
    finally:
        loader.dispose()


def _too_many(what: str) -> UsageError:
    return UsageError(
        f"{what} holds more than {MAX_YAML_NODES:,} values (counting what each alias *name "
        "repeats of its anchor &name); dno's files hold a few hundred"
    )


def _check_size(scanner: Any, what: str) -> None:
    """Count the document's values on the parser's events, before anything is built (a scan
    of :data:`MAX_YAML_NODES` events takes about 0.1 s; building them, 0.3 s).

    Raises:
        UsageError: more than :data:`MAX_YAML_NODES`.
    """
    import yaml

    values = (yaml.ScalarEvent, yaml.AliasEvent, yaml.CollectionStartEvent)
    count = 0
    try:
        while scanner.check_event():
            count += isinstance(scanner.get_event(), values)
            if count > MAX_YAML_NODES:
                raise _too_many(what)
    finally:
        scanner.dispose()


#: YAML 1.2's scientific numbers that YAML 1.1 reads as text: no decimal point (``1e-3``), or
#: no sign in the exponent (``1.0e3``).
_SCIENTIFIC = r"[-+]?(?:[0-9][0-9_]*(?:\.[0-9_]*)?|\.[0-9_]+)[eE][-+]?[0-9]+"


@functools.cache
def _yaml_loader() -> type[Any]:
    """PyYAML's safe loader (its C parser where built) that also reads :data:`_SCIENTIFIC`."""
    import yaml

    base: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):
        pass

    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float", re.compile(f"^{_SCIENTIFIC}$"), list("-+0123456789.")
    )
    return Loader


def _check_expansion(root: Any, what: str) -> None:
    """Count the values of the composed document as if its aliases were copied out.

    Raises:
        UsageError: more than :data:`MAX_YAML_NODES`, or an alias inside its own anchor.
    """
    sizes: dict[int, int] = {}  # node id -> values below and including it, expanded
    on_path: set[int] = set()
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        children = _yaml_children(node)
        if finished:
            on_path.discard(id(node))
            sizes[id(node)] = min(1 + sum(sizes[id(c)] for c in children), MAX_YAML_NODES + 1)
            if sizes[id(node)] > MAX_YAML_NODES:
                raise _too_many(what)
            continue
        if id(node) in sizes:
            continue
        if id(node) in on_path:
            raise UsageError(f"{what} holds an alias inside its own anchor (a value that "
                             "contains itself)")  # fmt: skip
        on_path.add(id(node))
        stack.append((node, True))
        stack.extend((child, False) for child in children if id(child) not in sizes)


def _yaml_children(node: Any) -> list[Any]:
    """The nodes directly below a composed YAML node (a mapping's keys and values)."""
    value = node.value
    if isinstance(value, list):
        return [part for item in value for part in (item if isinstance(item, tuple) else (item,))]
    return []


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place atomically.

    On any exception the temporary file is removed and ``path`` is left as it was. A write that
    fails because the disk is full raises ``OSError(ENOSPC)`` naming ``path`` (whatever the
    writer raised: torch raises a RuntimeError without a file name). Inside
    :func:`confine_writes` a path reached through a symbolic link that leaves the folder is
    refused (:func:`check_confined`).

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_text("whole")
        >>> out.read_text()
        'whole'
    """
    target = check_confined(path)
    try:
        with temporary_path(target) as tmp:
            try:
                yield tmp
                os.chmod(tmp, 0o666 & ~_umask())
                os.replace(tmp, target)
            except (OSError, RuntimeError) as error:  # before tmp goes, while the disk is full
                if _no_space(error) or not _disk_full(target.parent):
                    raise
                raise _full(target) from error
    except OSError as error:
        if not _no_space(error):
            raise
        raise _full(target) from error


def _no_space(error: BaseException) -> bool:
    return isinstance(error, OSError) and error.errno in (errno.ENOSPC, errno.EDQUOT)


def _full(target: Path) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(target))


#: A disk with less than this many bytes free (for this user) is full.
FULL_BYTES = 2**20


def _disk_full(folder: Path) -> bool:
    """Whether the file system of ``folder`` has less than :data:`FULL_BYTES` free."""
    try:
        stats = os.statvfs(folder)
    except OSError:
        return False
    free = stats.f_bfree if os.geteuid() == 0 else stats.f_bavail
    return free * stats.f_frsize < FULL_BYTES


def disk_full_error(error: BaseException) -> OSError | None:
    """The "no space left" error behind ``error`` (raised by :func:`atomic_path` or a writer,
    possibly wrapped in another error), or None."""
    seen: set[int] = set()
    stack: list[BaseException | None] = [error]
    while stack:
        current = stack.pop()
        if current is None or id(current) in seen:
            continue
        seen.add(id(current))
        if _no_space(current):
            return cast(OSError, current)
        stack += [current.__cause__, current.__context__]
    return None


_CONFINED: contextvars.ContextVar[Path | None] = contextvars.ContextVar(
    "dno_confined_writes", default=None
)


@contextlib.contextmanager
def confine_writes(folder: str | os.PathLike[str]) -> Iterator[Path]:
    """Within the block, refuse writes below ``folder`` (a results folder) that a symbolic link
    inside it leads out of it (:func:`check_confined`). ``folder`` itself may be a link."""
    token = _CONFINED.set(Path(os.path.abspath(folder)))
    try:
        yield Path(folder)
    finally:
        _CONFINED.reset(token)


def check_confined(path: str | os.PathLike[str]) -> Path:
    """``path``, checked against the folder of :func:`confine_writes` (if any): a path below
    that folder must stay below it when its symbolic links are followed.

    Raises:
        DnoError: a link on the way leads out of the folder (naming the link and where it goes).
    """
    target = Path(path)
    root = _CONFINED.get()
    absolute = Path(os.path.abspath(target))
    if root is None or not absolute.is_relative_to(root) or absolute == root:
        return target
    real_root = Path(os.path.realpath(root))
    step = root
    for part in absolute.relative_to(root).parts:
        step = step / part
        if not step.is_symlink():
            continue
        real = Path(os.path.realpath(step))
        if not real.is_relative_to(real_root):
            raise DnoError(
                f"refusing to write {str(target)!r}: {str(step)!r} is a symbolic link to "
                f"{str(real)!r}, outside the results folder {str(root)!r}; replace the link "
                "by a folder, or give that place as the results folder"
            )
    return target


#: The lock file :func:`folder_lock` takes in a folder.
LOCK_FILE = ".dno.lock"


@contextlib.contextmanager
def folder_lock(folder: str | os.PathLike[str], what: str) -> Iterator[Path]:
    """Hold the folder for this process while the block runs, or refuse at once.

    The lock is ``flock`` on :data:`LOCK_FILE` in the folder (which holds the holder's host and
    process id for the message): the kernel drops it when the process ends, however it ends,
    so a killed command leaves no stale lock. The file itself is left in place.

    Args:
        folder: an existing folder.
        what: the command that locks it, in the message (``"dno benchmark"``).

    Raises:
        DnoError: another process holds the folder (naming it, and how to go on).
    """
    import fcntl

    path = check_confined(Path(folder) / LOCK_FILE)
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "another process"
            raise DnoError(
                f"{str(folder)!r} is in use by another {what} ({holder}); wait for it to end, "
                "or give another folder"
            ) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()} on {socket.gethostname()}\n")
        handle.flush()
        yield Path(folder)
    finally:
        handle.close()  # releases the lock


def make_folder(path: str | os.PathLike[str]) -> Path:
    """Make the folder ``path`` and its parents (kept if they exist), checked by
    :func:`check_confined` first."""
    folder = check_confined(path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@contextlib.contextmanager
def temporary_path(beside: str | os.PathLike[str], suffix: str = ".tmp") -> Iterator[Path]:
    """Yield a fresh temporary file path beside ``beside``; it is removed on leaving.

    Stale temporaries of ``beside`` left by killed processes are removed first.
    """
    target = Path(beside)
    remove_stale_temporaries(target)
    prefix = f"{_temporary_prefix(target)}{_host()}-{os.getpid()}-"
    fd, name = tempfile.mkstemp(prefix=prefix, suffix=suffix, dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()


def remove_stale_temporaries(target: str | os.PathLike[str]) -> list[Path]:
    """Remove the temporaries of ``target`` whose writing process (on this host) is gone.

    Returns:
        The paths removed.
    """
    path = Path(target)
    prefix = _temporary_prefix(path)
    removed = []
    with contextlib.suppress(OSError):
        for candidate in path.parent.glob(f"{glob.escape(prefix)}*.tmp"):
            owner = candidate.name[len(prefix) :].rpartition("-")[0]  # HOST-PID
            host, _, pid = owner.rpartition("-")
            if host != _host() or not pid.isdigit() or process_alive(int(pid)):
                continue
            with contextlib.suppress(FileNotFoundError):
                candidate.unlink()
                removed.append(candidate)
    return removed


def _temporary_prefix(target: Path) -> str:
    return f".{target.name}.dno-"


def _host() -> str:
    return socket.gethostname().replace("-", "_") or "host"


def process_alive(pid: int) -> bool:
    """Whether process ``pid`` exists (on this host), whoever owns it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:
        return True  # exists, owned by someone else
    return True


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
