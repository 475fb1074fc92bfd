"""The ``dno`` command line: a small registry of commands, each in its own module.

Every command is a :class:`~dno.cli._base.Command` subclass that adds its own arguments and does
one action. :func:`main` is the one place where failures become a single line on stderr
(``dno: error: ...``, never a traceback): :class:`dno.errors.DnoError` with its own status
(1, or 2 for usage errors), argparse usage errors with 2, and the failures of the machine or of a
file (OSError: permission, no space, a closed pipe; UnicodeDecodeError; MemoryError) with 1.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import warnings
from collections.abc import Sequence
from typing import Any

from dno import __version__
from dno.cli._args import Parser
from dno.cli._base import Command
from dno.cli._benchmark import BenchmarkCommand
from dno.cli._compare import CompareCommand
from dno.cli._data import DataCommand
from dno.cli._diagnose import DiagnoseCommand
from dno.cli._evaluate import EvaluateCommand
from dno.cli._generate import GenerateCommand
from dno.cli._metrics import MetricsCommand
from dno.cli._report import ReportCommand
from dno.cli._search import SearchCommand
from dno.cli._train import TrainCommand
from dno.cli._trials import ReplayCommand, TrialsCommand
from dno.cli._worker import WorkerCommand
from dno.errors import DnoError, DnoWarning

__all__ = ["COMMANDS", "build_parser", "main"]

COMMANDS: tuple[type[Command], ...] = (
    GenerateCommand,
    DataCommand,
    TrainCommand,
    SearchCommand,
    WorkerCommand,
    TrialsCommand,
    ReplayCommand,
    EvaluateCommand,
    MetricsCommand,
    CompareCommand,
    BenchmarkCommand,
    ReportCommand,
    DiagnoseCommand,
)


def build_parser() -> Parser:
    """Return the top-level parser with one sub-parser per registered command."""
    parser = Parser(
        prog="dno",
        description=(
            "dno: learn solution operators of delay differential equations with neural "
            "operators, and run the experiments around them."
        ),
    )
    parser.add_argument("--version", action="version", version=f"dno {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for command_class in COMMANDS:
        command = command_class()
        sub = subparsers.add_parser(
            command.name,
            help=command.help,
            description=command.description or command.help,
            formatter_class=argparse.RawDescriptionHelpFormatter,
            parents=command.parents,
        )
        command.add_arguments(sub)
        command.parser = sub
        sub.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dno`` command line and return its exit status."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    handler = getattr(args, "handler", None)
    if extra:
        (parser if handler is None else handler.parser).refuse_unrecognized(extra)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    shown = warnings.showwarning

    def show(message: Warning | str, category: type[Warning], *rest: Any, **kw: Any) -> None:
        """A :class:`~dno.errors.DnoWarning` as one ``dno: warning:`` line, on stderr."""
        if not issubclass(category, DnoWarning):
            return shown(message, category, *rest, **kw)
        if getattr(args, "quiet", False):  # -q: only the result
            return None
        with contextlib.suppress(OSError):
            print(f"dno: warning: {message}", file=sys.stderr)

    warnings.showwarning = show
    try:
        return int(handler.run(args) or 0)
    except DnoError as error:
        return _fail(str(error), error.exit_status)
    except KeyboardInterrupt:
        # one line: what was kept and how to go on; 130 is a shell's status for SIGINT
        with contextlib.suppress(Exception):
            if (line := handler.interrupted(args)) is not None:
                print(f"dno: interrupted: {line}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader of our output went away (``dno data info FILE | head``): stop quietly
        # and keep Python from complaining again when it flushes stdout at exit.
        with contextlib.suppress(OSError):
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return _fail("the output pipe was closed before everything was written", 1)
    except OSError as error:
        return _fail(describe_os_error(error), 1)
    except UnicodeDecodeError as error:
        return _fail(
            f"a file is not UTF-8 text (byte {error.object[error.start : error.start + 1]!r} "
            f"at position {error.start}); save it as UTF-8",
            2,
        )
    except MemoryError:
        return _fail(
            "out of memory; ask for less at once (fewer trajectories, seeds, trials or a "
            "smaller batch) or free memory",
            1,
        )
    finally:
        warnings.showwarning = shown


def describe_os_error(error: OSError) -> str:
    """One line for an operating-system failure, naming the file where it is known."""
    reason = {
        errno.ENOSPC: "no space left on the device",
        errno.EDQUOT: "disk quota exceeded",
        errno.EACCES: "permission denied",
        errno.EPERM: "operation not permitted",
        errno.EROFS: "the file system is read-only",
    }.get(error.errno or -1, error.strerror or str(error) or type(error).__name__)
    names = [n for n in (error.filename, getattr(error, "filename2", None)) if n is not None]
    where = " -> ".join(repr(os.fsdecode(n)) for n in names)
    return f"{reason}: {where}" if where else reason


#: Every character that ends a line for ``str.splitlines`` (a terminal, a log reader), escaped.
_LINE_BREAKS = str.maketrans(
    {c: c.encode("unicode_escape").decode() for c in "\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029"}
)


def _fail(message: str, status: int) -> int:
    """Print ``message`` as one line (a line break inside a user's value is escaped)."""
    one_line = message.translate(_LINE_BREAKS)
    with contextlib.suppress(OSError):
        print(f"dno: error: {one_line}", file=sys.stderr)
    return status


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
