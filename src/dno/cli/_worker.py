"""``dno worker``: join a study (on this or another machine) and run its trials."""

from __future__ import annotations

import argparse
import signal
from pathlib import Path

from dno._cores import exit_with_parent
from dno.cli._base import Command
from dno.errors import UsageError
from dno.search import run_worker


class WorkerCommand(Command, shared="-q --results --storage --device --threads"):
    name = "worker"
    help = "join an existing study and run trials until it has enough"
    description = (
        "Run trials of a study created by dno search, sharing its storage (a PostgreSQL URL for\n"
        "many machines, or the study's .journal file on one). The dataset path recorded in the\n"
        "study must exist on this machine.\n\n"
        "example:\n"
        "  dno worker --storage postgresql://user:pw@db/dno --study shared"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--study", required=True, help="the study name")
        parser.add_argument("--parent", type=int, help=argparse.SUPPRESS)
        parser.add_argument("--adapt-threads", action="store_true", help=argparse.SUPPRESS)
        parser.add_argument("--wandb", action="store_true", help="log trials as W&B runs")

    def run(self, args: argparse.Namespace) -> int:
        if args.storage is None:
            raise UsageError("dno worker needs --storage: the study's postgresql://... or .journal")
        if args.parent:
            exit_with_parent(args.parent, 3)  # its trial is run again
        # SIGTERM (from the dno search that started this worker, on Ctrl-C) ends the running
        # trial as Ctrl-C does: recorded as interrupted and queued again, never left running
        signal.signal(signal.SIGTERM, _interrupt)
        finished = run_worker(
            args.storage, args.study, Path(args.results),
            log=(lambda _: None) if args.quiet else print, wandb=args.wandb,
            threads=args.threads, device=args.device,
            quiet=args.quiet, adapt_threads=args.adapt_threads,
        )  # fmt: skip
        if not args.quiet:
            print(f"study {args.study}: {finished} trials finished")
        return 0

    def interrupted(self, args: argparse.Namespace) -> str | None:
        if args.parent:  # a local worker of dno search, which says what was kept
            return None
        return (
            "the running trial is recorded as interrupted and queued again with its parameters; "
            "run the same command (or dno search) to go on"
        )


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt
