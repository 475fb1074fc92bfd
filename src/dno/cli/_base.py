"""The base class of every ``dno`` command."""

from __future__ import annotations

import argparse


class Command:
    """One ``dno`` sub-command: it adds its own arguments and does one action.

    Subclasses set :attr:`name` and :attr:`help`, override :meth:`add_arguments` and :meth:`run`.
    :meth:`run` returns the exit status (0 on success) and raises :class:`dno.errors.DnoError`
    for anything the user can fix.
    """

    name: str = ""
    help: str = ""
    description: str = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        """Add this command's arguments to ``parser``."""

    def run(self, args: argparse.Namespace) -> int:
        """Do the command's action and return its exit status."""
        raise NotImplementedError
