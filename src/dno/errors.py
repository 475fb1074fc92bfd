"""The two kinds of error a user can see, and the one warning.

Library code raises these at the boundary (a bad argument, a bad file) with a message that names
the bad value and what was expected. The command line prints the message as one line and exits
with status 2 for :class:`UsageError` and 1 for :class:`DnoError`; no traceback is shown.
"""

from __future__ import annotations

__all__ = ["DnoError", "DnoWarning", "UsageError"]


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
