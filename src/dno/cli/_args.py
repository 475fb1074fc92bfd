"""Argument types shared by commands: they turn bad values into argparse usage errors (exit 2)."""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable

from dno._limits import MAX_SEEDS, MAX_TRIALS


def positive_int(text: str) -> int:
    """An integer > 0."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def non_negative_int(text: str) -> int:
    """An integer >= 0 (seeds)."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def count_at_most(limit: int, what: str) -> Callable[[str], int]:
    """An argument type: an integer in ``1..limit`` (seeds, trials)."""

    def parse(text: str) -> int:
        value = positive_int(text)
        if value > limit:
            raise argparse.ArgumentTypeError(f"{what} {value:,} is beyond the limit of {limit:,}")
        return value

    parse.__name__ = what  # argparse names the type in its messages
    return parse


#: ``--seeds`` and ``--confirm-seeds``: seeds per configuration, at most :data:`MAX_SEEDS`.
seed_count = count_at_most(MAX_SEEDS, "seeds")
#: ``--n-trials``: at most :data:`MAX_TRIALS`.
trial_count = count_at_most(MAX_TRIALS, "trials")
