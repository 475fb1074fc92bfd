"""Limits of counts a user sets, checked where the value is read, before any work.

A count far beyond any real experiment (``seeds: 1000000000``) would otherwise allocate until
the kernel stops the process; each limit fails with one line naming the value and the limit.
"""

from __future__ import annotations

from dno.errors import UsageError

__all__ = ["MAX_GRID_SIZE", "MAX_SEEDS", "MAX_TRIALS", "check_count"]

#: Seeds per configuration (``dno search --seeds``, a comparison file's ``seeds:``).
MAX_SEEDS = 1000
#: Trials of one study (``--n-trials``).
MAX_TRIALS = 100_000
#: Points of a grid search (the product of every parameter's values), and values of one range.
MAX_GRID_SIZE = 100_000


def check_count(value: int, limit: int, what: str) -> int:
    """Return ``value`` if it is at most ``limit``; else raise one clear error.

    Raises:
        UsageError: naming ``what``, the value and the limit.
    """
    if value > limit:
        raise UsageError(f"{what} {value:,} is beyond the limit of {limit:,}")
    return value
