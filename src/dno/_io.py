"""Atomic file writing: a file appears whole or not at all."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from dno.errors import DnoError, UsageError

__all__ = ["atomic_path", "check_writable"]


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
    if not os.access(folder, os.W_OK):
        raise DnoError(f"folder {str(folder)!r} is not writable")
    return target


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
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask
