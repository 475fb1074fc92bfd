"""Argument types shared by commands: they turn bad values into argparse usage errors (exit 2)."""

from __future__ import annotations

import argparse
import math


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


def add_threads_argument(parser: argparse.ArgumentParser, whose: str = "", share: str = "") -> None:
    """``--threads N``: the core budget of the command's training (see :mod:`dno._cores`)."""
    parser.add_argument(
        "--threads", type=positive_int, metavar="N",
        help=f"threads{whose} (default: the usable cores{share}, fewer if other processes keep "
        "cores busy)",
    )  # fmt: skip
