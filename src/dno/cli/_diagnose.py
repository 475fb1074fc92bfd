"""``dno diagnose PRED TRUE``: placeholder, being written (owned by the evaluation work)."""

from __future__ import annotations

import argparse

from dno.cli._base import Command


class DiagnoseCommand(Command):
    name = "diagnose"
    help = "spectral and amplitude diagnostics of a prediction against the truth (.npy/.npz)"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pred")
        parser.add_argument("true")

    def run(self, args: argparse.Namespace) -> int:
        raise NotImplementedError
