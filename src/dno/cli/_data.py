"""``dno data info|import``: inspect a dataset file, import a legacy pickle."""

from __future__ import annotations

import argparse

from dno.cli._args import non_negative_int
from dno.cli._base import Command
from dno.data import describe_dataset, import_legacy, read_dataset
from dno.dde import FAMILIES
from dno.training import progress_bar


class DataCommand(Command):
    name = "data"
    help = "inspect dataset files and import legacy pickles"
    description = (
        "dno data info FILE.h5\n"
        "    counts per split, tau and parameter ranges, lengths, provenance\n"
        "dno data import FILE.pkl --family F --out FILE.h5\n"
        "    import a legacy DNO pickle (a list, or a dict with key 'samples', of tuples\n"
        "    (hist, tau, t, y)) safely: only builtin containers, numbers, strings and numpy\n"
        "    arrays are admitted; anything else is refused before it can run."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="data_command", metavar="ACTION", required=True)
        info = sub.add_parser("info", help="summarise a dataset file")
        info.add_argument("file", help="an HDF5 file written by dno generate or dno data import")
        imp = sub.add_parser("import", help="import a legacy pickle (safely)")
        imp.add_argument("file", help="the legacy .pkl file")
        imp.add_argument("--family", required=True, choices=sorted(FAMILIES))
        imp.add_argument("--out", required=True, help="the HDF5 file to write")
        imp.add_argument("--seed", type=non_negative_int, default=0, help="split seed (0)")
        imp.add_argument("--overwrite", action="store_true", help="replace an existing file")

    def run(self, args: argparse.Namespace) -> int:
        if args.data_command == "info":
            dataset = read_dataset(args.file, check_values=False, in_memory=False)
            print(describe_dataset(dataset, args.file))  # one pass over the file, a block at a time
            return 0
        bar = progress_bar(0, 0, True, "converting", "trajectory")
        try:

            def converted(done: int, total: int) -> None:
                bar.total = total
                bar.update(done - bar.n)

            imported = import_legacy(
                args.file, args.family, args.out, args.seed, args.overwrite, converted
            )
        finally:
            bar.close()
        print(f"imported {imported} trajectories from {args.file} into {args.out}")
        print(describe_dataset(read_dataset(args.out), args.out))
        return 0
