"""The base class of every ``dno`` command."""

from __future__ import annotations

import argparse
from typing import Any

from dno.cli._args import SHARED_FLAGS, Parser


class Command:
    """One ``dno`` sub-command: it adds its own arguments and does one action.

    Subclasses set :attr:`name` and :attr:`help`, override :meth:`add_arguments` and :meth:`run`.
    :meth:`run` returns the exit status (0 on success) and raises :class:`dno.errors.DnoError`
    for anything the user can fix.
    """

    name: str = ""
    help: str = ""
    description: str = ""
    #: the parent parsers of the shared flags it takes, named on the class line:
    #: ``class TrainCommand(Command, shared="-q --device --threads")`` (see SHARED_FLAGS)
    parents: tuple[Parser, ...] = ()
    #: its own sub-parser, once :func:`dno.cli.build_parser` made it
    parser: Parser

    def __init_subclass__(cls, shared: str | None = None, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        if shared is not None:  # else those of the class it derives from
            cls.parents = tuple(SHARED_FLAGS[flag] for flag in shared.split())

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments to ``parser``."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the command's action and return its exit status."""
        raise NotImplementedError

    def interrupted(self, args: argparse.Namespace) -> str | None:
        """After Ctrl-C: what was kept, and how to go on (one line, after ``dno: interrupted``;
        None: no line).

        Every file dno writes is written whole or not at all, so by default nothing partial was
        left behind; a command that keeps finished work says where and how to resume it.
        """
        return "nothing partial was written"
