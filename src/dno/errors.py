"""The two kinds of error a user can see, and the one warning.

Library code raises these at the boundary (a bad argument, a bad file) with a message that names
the bad value and what was expected. The command line prints the message as one line and exits
with status 2 for :class:`UsageError` and 1 for :class:`DnoError`; no traceback is shown.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["DnoError", "DnoWarning", "UsageError", "unknown_name"]


class DnoError(Exception):
    """A failure the user can act on (a corrupt file, a blown-up solve, ...). Exit status 1."""

    exit_status = 1


class UsageError(DnoError, ValueError):
    """A bad argument or option value (unknown family, empty prior, ...). Exit status 2."""

    exit_status = 2


class DnoWarning(UserWarning):
    """Something will spoil a result that is still made (an undersampled delay window, ...).

    The command line prints it as one ``dno: warning: ...`` line on stderr and goes on.
    """


def unknown_name(kind: str, name: object, valid: Iterable[str], *, hint: str = "") -> UsageError:
    """The one error for a name dno does not know: the valid names and the closest match.

    Args:
        kind: what the name is, in the user's words (``"model"``, ``"metric"``, ``"--set key"``).
        name: the name given.
        valid: every name that would have been accepted.
        hint: an optional last sentence (where the names come from, how to list them).

    Example:
        >>> str(unknown_name("family", "mackay", ["mackey", "neutral"]))
        "unknown family 'mackay' (did you mean 'mackey'?); expected one of: mackey, neutral"
    """
    names = sorted(dict.fromkeys(valid))
    close = difflib.get_close_matches(str(name), names, n=1, cutoff=0.6)
    guess = f" (did you mean {close[0]!r}?)" if close else ""
    tail = f". {hint}" if hint else ""
    return UsageError(f"unknown {kind} {name!r}{guess}; expected one of: {', '.join(names)}{tail}")
