"""Limits and checks of the values a user sets, made where the value is read, before any work.

A count far beyond any real experiment (``seeds: 1000000000``) would otherwise allocate until
the kernel stops the process; each limit fails with one line naming the value and the limit.
:func:`check_fields` checks a configuration dataclass against its rules the same way.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

from dno.errors import UsageError

__all__ = ["MAX_GRID_SIZE", "MAX_SEEDS", "MAX_TRIALS", "Rule", "at_least", "check_count",
           "check_fields", "is_device", "is_number", "one_of"]  # fmt: skip

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


#: A rule of :func:`check_fields`: the fields it checks, a test of one value, what is expected.
Rule = tuple[tuple[str, ...], Callable[[Any], bool], str]


def check_fields(instance: object, rules: Iterable[Rule]) -> None:
    """Check the fields of ``instance`` rule by rule, in order.

    Raises:
        UsageError: ``name=value; expected ...`` for the first field that fails its rule.
    """
    for names, ok, expected in rules:
        for name in names:
            value = getattr(instance, name)
            if not ok(value):
                raise UsageError(f"{name}={value!r}; expected {expected}")


def is_number(value: Any) -> bool:
    """A finite int or float, not a bool."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)


def at_least(low: int, high: float = math.inf, optional: bool = False) -> Callable[[Any], bool]:
    """A test: an integer in ``low..high`` (or None if ``optional``)."""
    return lambda value: (
        (optional and value is None)
        or (isinstance(value, int) and not isinstance(value, bool) and low <= value <= high)
    )


def one_of(*choices: object) -> Callable[[Any], bool]:
    """A test: one of ``choices``."""
    return lambda value: value in choices


def is_device(name: Any) -> bool:
    """A device name: auto, cpu, cuda, cuda:N or mps."""
    if isinstance(name, str) and name.startswith("cuda:"):
        return name[5:].isdigit()  # one GPU: cuda:0, cuda:1, ...
    return name in ("auto", "cpu", "cuda", "mps")
