"""The ``dno`` command line: a small registry of commands, each in its own module.

Every command is a :class:`~dno.cli._base.Command` subclass that adds its own arguments and does
one action. Errors raised as :class:`dno.errors.DnoError` are printed as one line
(``dno: error: ...``) with exit status 1 (2 for usage errors); argparse usage errors exit 2.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from dno import __version__
from dno.cli._base import Command
from dno.cli._compare import CompareCommand
from dno.cli._data import DataCommand
from dno.cli._diagnose import DiagnoseCommand
from dno.cli._evaluate import EvaluateCommand
from dno.cli._generate import GenerateCommand
from dno.cli._report import ReportCommand
from dno.cli._search import SearchCommand
from dno.cli._train import TrainCommand
from dno.cli._trials import ReplayCommand, TrialsCommand
from dno.cli._worker import WorkerCommand
from dno.errors import DnoError

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
    CompareCommand,
    ReportCommand,
    DiagnoseCommand,
)


def build_parser() -> argparse.ArgumentParser:
    """Return the top-level parser with one sub-parser per registered command."""
    parser = argparse.ArgumentParser(
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
        )
        command.add_arguments(sub)
        sub.set_defaults(handler=command)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``dno`` command line and return its exit status."""
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is None:
        parser.print_help(sys.stderr)
        return 2
    try:
        return int(handler.run(args) or 0)
    except DnoError as error:
        print(f"dno: error: {error}", file=sys.stderr)
        return error.exit_status
    except KeyboardInterrupt:
        print("dno: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
