"""What commands share: argument types that turn bad values into argparse usage errors (exit 2),
and the flags several commands take, each declared once on a parent parser."""

from __future__ import annotations

import argparse
import difflib
import math
from collections.abc import Callable, Iterable
from typing import Any, NoReturn

from dno._limits import MAX_SEEDS, MAX_TRIALS, is_device
from dno.errors import unknown_name


class Parser(argparse.ArgumentParser):
    """argparse with its usage errors as one ``dno: error:`` line (exit status 2).

    A long flag is never abbreviated (``--n-trial`` is an error, not ``--n-trials``), so a flag
    added later cannot change what a script means; a value outside an argument's choices gets
    the closest valid one (``did you mean ...?``).
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        super().__init__(*args, **kwargs)

    def _check_value(self, action: argparse.Action, value: Any) -> None:
        if action.choices is not None and value not in action.choices:
            kind = "command" if action.dest == "command" else action.dest.replace("_", " ")
            error = unknown_name(kind, value, [str(c) for c in action.choices])
            raise argparse.ArgumentError(action, str(error))

    def refuse_unrecognized(self, extra: list[str]) -> NoReturn:
        """The usage error for arguments this parser does not take, with the closest flag."""
        flags = [flag for flag in self._option_string_actions if flag.startswith("--")]
        guesses = [
            close[0]
            for word in extra
            if word.startswith("--")
            and (close := difflib.get_close_matches(word.split("=")[0], flags, n=1, cutoff=0.6))
        ]
        hint = f" (did you mean {', '.join(guesses)}?)" if guesses else ""
        self.error(f"unrecognized arguments: {' '.join(extra)}{hint}")

    def error(self, message: str) -> NoReturn:
        command = self.prog.removeprefix("dno").strip()
        where = f"dno {command}: " if command else ""
        text = " ".join(message.splitlines())
        self.exit(2, f"dno: error: {where}{text} (see {self.prog} --help)\n")


def add_choice(
    parser: argparse.ArgumentParser,
    flag: str,
    names: Iterable[str],
    note: str = "",
    **settings: Any,
) -> None:
    """A flag that takes one of ``names`` (a registry's keys): its help lists them, and an
    unknown one is refused with the closest (:class:`Parser`). ``note`` follows the list."""
    names = list(names)
    parser.add_argument(
        flag, choices=names, metavar=flag.lstrip("-").upper(),
        help=f"one of: {', '.join(names)}{note}", **settings,
    )  # fmt: skip


def _checked(convert: Callable[[str], Any], ok: Callable[[Any], bool], expected: str) -> Any:
    """An argument type: ``convert(text)`` if it passes ``ok``, else a usage error."""

    def parse(text: str) -> Any:
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not ok(value):
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value

    return parse


#: An integer > 0.
positive_int: Callable[[str], int] = _checked(int, lambda v: v > 0, "a positive integer")
#: An integer >= 0 (seeds).
non_negative_int: Callable[[str], int] = _checked(int, lambda v: v >= 0, "an integer >= 0")
#: A finite number > 0.
positive_float: Callable[[str], float] = _checked(
    float, lambda v: math.isfinite(v) and v > 0, "a positive number"
)


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


def _shared(*names: str, **settings: Any) -> Parser:
    """A parent parser (``parents=[...]``) of one flag that several commands share."""
    parser = Parser(add_help=False)
    parser.add_argument_group("options shared by dno commands").add_argument(*names, **settings)
    return parser


#: The flags several commands share, each a parent parser; a command names those it takes:
#: ``class TrainCommand(Command, shared="-q --device --threads")``.
SHARED_FLAGS: dict[str, Parser] = {
    "-q": _shared("-q", "--quiet", action="store_true",
                  help="quiet: no progress bars, log lines or warnings; only the result"),
    "--results": _shared("--results", default="hyperparameter_results", metavar="DIR",
                         help="the studies' folder, where study names are looked up (%(default)s)"),
    "--storage": _shared("--storage", metavar="URL",
                         help="the studies' storage: postgresql://... or a .journal file "
                         "(default: RESULTS/STUDY/study.journal)"),
    "--device": _shared("--device", type=_checked(str, is_device, "auto, cpu, cuda, cuda:N or mps"),
                        metavar="NAME", help="auto (CUDA, else MPS, else CPU), cpu, cuda, cuda:N "
                        "or mps (default: the config's, else auto; dno worker: the study's)"),
    "--devices": _shared("--devices", metavar="LIST",
                         help="one device per local worker: cuda:0,cuda:1 (round robin), or auto "
                         "for one worker per visible GPU"),
    "--threads": _shared("--threads", type=positive_int, metavar="N",
                         help="threads of each training process (default: the usable cores, "
                         "divided among local workers, fewer if other processes keep them busy)"),
}  # fmt: skip
