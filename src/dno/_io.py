"""Atomic file writing: a file appears whole or not at all.

Temporary files live beside their target as ``.NAME.dno-HOST-PID-XXXX.tmp``: a process killed
with SIGKILL cannot remove its own, so the next write of the same target on the same host
removes those whose process is gone (:func:`remove_stale_temporaries`).
"""

from __future__ import annotations

import contextlib
import glob
import os
import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dno.errors import DnoError, UsageError

__all__ = [
    "MAX_TEXT_BYTES",
    "atomic_path",
    "check_folder_writable",
    "check_writable",
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


#: Bytes of a config, sweep or comparison file at most.
MAX_TEXT_BYTES = 16 * 2**20


def read_yaml_mapping(path: str | os.PathLike[str], what: str) -> dict[str, Any]:
    """The mapping in a YAML file the user wrote (a config, sweep or comparison file), checked;
    ``what`` names the file in errors. An empty file is an empty mapping.

    Raises:
        UsageError: the file does not exist, is larger than :data:`MAX_TEXT_BYTES`, is not UTF-8,
            is not valid YAML, or holds no mapping (naming it).
        OSError: it cannot be read (the command line names it in one line).
    """
    import yaml

    target = Path(path)
    if not target.is_file():
        raise UsageError(f"{what} {str(target)!r} does not exist")
    if (size := target.stat().st_size) > MAX_TEXT_BYTES:
        raise UsageError(
            f"{what} {str(target)!r} holds {size:,} bytes; expected at most {MAX_TEXT_BYTES:,}"
        )
    raw = target.read_bytes()
    try:
        data = yaml.safe_load(raw.decode("utf-8")) or {}
    except UnicodeDecodeError as error:
        byte = raw[error.start : error.start + 1]
        raise UsageError(
            f"{what} {str(target)!r} is not UTF-8 text (byte {byte!r} at position "
            f"{error.start}); save it as UTF-8"
        ) from None
    except yaml.YAMLError as error:
        first = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise UsageError(f"{what} {str(target)!r} is not valid YAML: {first}") from None
    if not isinstance(data, dict):
        raise UsageError(f"{what} {str(target)!r} must hold a mapping of keys")
    return {str(key): value for key, value in data.items()}


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success move it into place atomically.

    On any exception the temporary file is removed and ``path`` is left as it was.

    Example:
        >>> import tempfile, pathlib
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
        >>> with atomic_path(out) as tmp:
        ...     _ = tmp.write_text("whole")
        >>> out.read_text()
        'whole'
    """
    target = Path(path)
    with temporary_path(target) as tmp:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)


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
