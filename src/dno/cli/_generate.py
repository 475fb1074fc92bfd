"""``dno generate``: draw and solve random trajectories of a DDE family into an HDF5 file."""

from __future__ import annotations

import argparse
import contextlib
import sys
import warnings
from pathlib import Path
from typing import Any

from dno.cli._args import add_choice, non_negative_int, positive_float, positive_int
from dno.cli._base import Command
from dno.data import describe_dataset, generate_dataset, read_dataset
from dno.dde import FAMILIES
from dno.errors import DnoWarning
from dno.tracking import default_data_file

#: Above this many trajectories, dno generate prints a one-line summary instead of reading the
#: whole file back.
SUMMARY_TRAJECTORIES = 20_000


class GenerateCommand(Command, shared="-q"):
    name = "generate"
    help = "generate a dataset of one DDE family (HDF5, split by trajectory)"
    description = (
        "Draw N trajectories (parameters from the priors, random smooth histories on [-tau, 0]),\n"
        "solve them with dno's batched RK4 method-of-steps solver, split them by trajectory\n"
        "into train/val/test (80/10/10) and write one HDF5 file (see the README for its layout).\n"
        "The same seed and options give a byte-identical file.\n\n"
        "example:\n"
        "  dno generate --family mackey --n 512 --seed 0      # -> data/mackey.h5\n"
        "  dno generate --family reaction_diffusion --prior D=0.004:0.02 --prior r=1:2 \\\n"
        "      --prior tau=0.1:0.2 --grid-points 64 --out rd64.h5\n\n"
        "families and default priors (uniform; one number = fixed):\n"
        + "\n".join(f.describe() for f in FAMILIES.values())
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_choice(parser, "--family", sorted(FAMILIES), " (mackey)", default="mackey")
        parser.add_argument("--n", type=positive_int, default=256, help="trajectories (256)")
        parser.add_argument("--seed", type=non_negative_int, default=0, help="random seed (0)")
        parser.add_argument(
            "--out", help="output file (default: data/FAMILY.h5, where dno train, search and "
            "compare look for a family's data)",
        )  # fmt: skip
        parser.add_argument(
            "--prior", action="append", default=[], metavar="NAME=LO:HI",
            help="override a prior: a range NAME=LO:HI or a fixed value NAME=VALUE (repeatable)",
        )  # fmt: skip
        parser.add_argument(
            "--grid-points", type=positive_int, help="spatial points (reaction_diffusion; 20)"
        )
        parser.add_argument("--t-end", type=positive_float, help="horizon (family default)")
        parser.add_argument("--dt", type=positive_float, help="largest solver step")
        parser.add_argument(
            "--dt-obs", type=positive_float, help="mean (irregular) or fixed observation spacing"
        )
        parser.add_argument("--overwrite", action="store_true", help="replace an existing file")

    def run(self, args: argparse.Namespace) -> int:
        from tqdm import tqdm

        out = args.out or str(default_data_file(args.family))
        folder = Path(out).parent
        made = not folder.exists() and args.out is None  # data/, removed again on a refusal
        if made:
            folder.mkdir(parents=True)
        bars: list[tqdm[Any]] = []  # opened at the first solved chunk, after the checks

        def advance(solved: int) -> None:
            if not bars:
                bars.append(tqdm(
                    total=args.n, desc=f"solving {args.family}", unit="traj", file=sys.stderr,
                    disable=args.quiet, leave=False,
                ))  # fmt: skip
            bars[0].update(solved)

        try:
            provenance = generate_dataset(
                args.family, args.n, args.seed, out, args.prior,
                t_end=args.t_end, dt=args.dt, dt_obs=args.dt_obs, grid_points=args.grid_points,
                overwrite=args.overwrite, progress=advance,
            )  # fmt: skip
        except BaseException:
            if made:
                with contextlib.suppress(OSError):
                    folder.rmdir()
            raise
        finally:
            for bar in bars:
                bar.close()
        if args.quiet:
            return 0
        if provenance["n_written"] <= SUMMARY_TRAJECTORIES:
            with warnings.catch_warnings():  # warned once already, before solving
                warnings.simplefilter("ignore", DnoWarning)
                dataset = read_dataset(out)
            print(describe_dataset(dataset, out))
        else:  # the full summary reads every value: keep memory bounded here
            rejected = sum(provenance["trajectories_rejected"].values())
            print(
                f"wrote {provenance['n_written']:,} {args.family} trajectories into {out} "
                f"(redrawn {rejected:,}, dropped {provenance['trajectories_dropped']:,}, "
                f"estimated solver error {provenance['solver']['estimated_max_error']:.3g}); "
                f"dno data info {out} checks and summarises every value"
            )
        return 0
