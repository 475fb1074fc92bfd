"""Names that become paths: one check for names the user gives, one slug for derived file names.

Nothing a user types may lead a command to write outside the folder it was given: a study,
comparison or approach name is refused unless it is a plain folder name (:func:`check_name`),
and any other text that becomes part of a file name (a sweep parameter, a metric, a group) goes
through :func:`slug`.
"""

from __future__ import annotations

import hashlib
import re

from dno.errors import UsageError

__all__ = ["MAX_NAME_LENGTH", "check_name", "slug"]

#: Characters of a folder name: letters, digits, ``_ . + -``; never starting with ``.`` or ``-``.
_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
MAX_NAME_LENGTH = 128


def check_name(name: str, what: str) -> str:
    """Return ``name`` if it is a plain folder name; else raise one clear error.

    Example:
        >>> check_name("fno-mackey-random", "study name")
        'fno-mackey-random'

    Raises:
        UsageError: ``name`` holds a path separator, ``..``, a leading dot or dash, a space or
            another character outside letters, digits and ``_ . + -``, or is too long.
    """
    if not isinstance(name, str) or not _NAME.match(name) or len(name) > MAX_NAME_LENGTH:
        raise UsageError(
            f"{what} {name!r} is not a folder name; expected letters, digits and _ . + - "
            f"(not starting with . or -, at most {MAX_NAME_LENGTH} characters)"
        )
    return name


def slug(text: str) -> str:
    """A file- and id-safe name for any text: letters, digits, ``-`` and ``_`` only.

    A plain folder name (see :func:`check_name`) is kept as it is; any other text gets a short
    hash of the original, so two different texts never share a file name.

    Example:
        >>> slug("lr")
        'lr'
        >>> slug("a/../../x")
        'a-x-8ad23833'
    """
    text = str(text)
    if _NAME.match(text) and len(text) <= MAX_NAME_LENGTH:
        return text
    cleaned = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-")[:64] or "x"
    if cleaned == text:
        return cleaned
    return f"{cleaned}-{hashlib.sha256(text.encode('utf-8', 'replace')).hexdigest()[:8]}"
