"""``dno benchmark PROTOCOL``: every model x seed of a protocol; a leaderboard with intervals."""

from __future__ import annotations

import argparse
import textwrap
import time
import warnings
from pathlib import Path

from dno.benchmark import (
    BUDGETS,
    Workers,
    aggregate_benchmarks,
    build_leaderboard,
    format_aggregate,
    format_results,
    load_protocol,
    run_benchmark,
    shipped_protocols,
    tune_protocol,
    write_aggregate,
    write_leaderboard,
)
from dno.cli._args import positive_int, seed_count
from dno.cli._base import Command
from dno.compare import seeds_warning
from dno.errors import DnoWarning, UsageError

__all__ = ["BenchmarkCommand"]


class BenchmarkCommand(Command, shared="-q --device --devices --threads"):
    name = "benchmark"
    help = "a protocol's models x seeds on its data: a leaderboard with intervals and tests"
    description = (
        "Run a benchmark protocol: generate its dataset from its seed, train every model on\n"
        "every seed (selection on the validation split), score the test split once on one\n"
        "horizon in delays for every model, and write OUT/leaderboard.{md,csv,json} with, per\n"
        "model, the mean and 95% bootstrap interval of the one-step and rollout relative L2,\n"
        "the valid time and the amplitude ratio, parameters and training time, and paired\n"
        "comparisons against the protocol's baseline (dno compare's statistics: Wilcoxon,\n"
        "Welch, Holm, Hedges' g); then OUT/report/index.html (box plots across models, rollout\n"
        "error curves), also made by dno report OUT.\n\n"
        "Rerunning resumes: finished runs and their test scores are read back, interrupted\n"
        "runs continue from their last checkpoint. Runs go to --workers processes that share\n"
        "the cores (--threads each); with --devices, one device per worker.\n\n"
        "PROTOCOL is a shipped protocol or a YAML file of the same form (see\n"
        "docs/benchmarks.md). Shipped: " + ", ".join(shipped_protocols()) + ".\n"
        "--budget small runs a family on 2 CPU cores in at most 30 minutes; full is for GPUs.\n\n"
        "--aggregate DIR [DIR ...] reads finished benchmark folders instead (other families or\n"
        "protocols) and writes OUT/aggregate.{md,json} and OUT/report/index.html: per regime and\n"
        "model, the interquartile mean of the scores divided by the baseline's median on each\n"
        "task, with stratified-bootstrap 95% intervals, the probability of improvement of each\n"
        "model over each other, and performance profiles (rliable's statistics; see\n"
        "docs/benchmarks.md).\n\n"
        "--tune N first searches every model (the baseline too) with the same budget: N trials\n"
        "in its shipped space, the same epoch cap, patience, sampler, seeds and data, on the\n"
        "validation split, the objective the protocol's metric on validation (OUT/tuning/);\n"
        "the best configuration of each then trains on the protocol's seeds (never used by\n"
        "the search) and is tested once. The leaderboard says which configurations ran, the\n"
        "trials, seconds and chosen values of each search and its tuning curve; ledger.json\n"
        "holds what every model spent per phase. The protocol's tune: key sets the rest.\n\n"
        "examples:\n"
        "  dno benchmark --list\n"
        "  dno benchmark mackey --budget small --workers 2 --out benchmark_results/mackey\n"
        "  dno benchmark hsfno_reaction_diffusion --budget full --devices auto\n"
        "  dno benchmark hsfno_reaction_diffusion --tune 8 --workers 2\n"
        "  dno benchmark my_protocol.yaml --models method_of_steps,fno --seeds 8\n"
        "  dno benchmark --aggregate benchmark_results/mackey benchmark_results/neutral"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "protocol", metavar="PROTOCOL", nargs="?",
            help="a shipped protocol's name or a protocol YAML file",
        )  # fmt: skip
        parser.add_argument("--list", action="store_true", help="list the shipped protocols")
        parser.add_argument(
            "--budget", metavar="NAME",
            help=f"the protocol's budget: {' or '.join(BUDGETS)} (default: small if the protocol "
            "defines budgets), or another one the file names",
        )  # fmt: skip
        parser.add_argument(
            "--tune", type=positive_int, nargs="?", const=True, metavar="N",
            help="search every model first, N trials each (alone: the protocol's tune: trials), "
            "and train the best configurations",
        )  # fmt: skip
        parser.add_argument(
            "--out", metavar="DIR",
            help="folder (default: benchmark_results/PROTOCOL, or PROTOCOL-tuned with --tune)",
        )  # fmt: skip
        parser.add_argument(
            "--workers", type=positive_int, metavar="N",
            help="local processes training at once (1, or one per --devices)",
        )  # fmt: skip
        parser.add_argument(
            "--seeds", type=seed_count, metavar="K", help="seeds 0..K-1 instead of the budget's"
        )
        parser.add_argument(
            "--models", metavar="A,B", help="only these of the protocol's models (and its baseline)"
        )
        parser.add_argument(
            "--select", metavar="METRIC",
            help="the validation metric every run keeps its epoch by, instead of the protocol's "
            "select (e.g. val_rel_l2 or val_rollout_rel_l2: check a result off the protocol)",
        )  # fmt: skip
        parser.add_argument(
            "--match", metavar="params",
            help="params: scale every model's width so that its parameter count is within 10%% "
            "of the baseline's (instead of the protocol's match:)",
        )  # fmt: skip
        parser.add_argument(
            "--no-report", action="store_true", help="no HTML page (the leaderboard files only)"
        )
        parser.add_argument(
            "--aggregate", nargs="+", metavar="DIR",
            help="aggregate these finished benchmark folders instead of running a protocol "
            "(OUT default: benchmark_results/aggregate)",
        )  # fmt: skip
        parser.add_argument(
            "--metric", metavar="NAME",
            help="with --aggregate: the test score to aggregate (default: the folders' ranking "
            "metric, which must then agree)",
        )  # fmt: skip
        parser.add_argument(
            "--baseline", metavar="NAME",
            help="with --aggregate: the model each task's scores are divided by (default: the "
            "protocols' baseline, which must then agree)",
        )  # fmt: skip

    def run(self, args: argparse.Namespace) -> int:
        if args.aggregate is not None:
            return self._aggregate(args)
        for flag, value in (("--metric", args.metric), ("--baseline", args.baseline)):
            if value is not None:
                raise UsageError(f"{flag} goes with --aggregate DIR [DIR ...]")
        if args.list:
            for name, path in shipped_protocols().items():
                protocol = load_protocol(path, budget=None)
                about = textwrap.shorten(protocol.description, 60, placeholder=" ...")
                size = f"{len(protocol.models)} models x {len(protocol.seeds)} seeds"
                print(f"{name:<25} {size:<20} {about}")
            return 0
        if args.protocol is None:
            raise UsageError("give a PROTOCOL (a shipped name or a YAML file), or --list")
        models = [m.strip() for m in args.models.split(",")] if args.models else None
        protocol = load_protocol(
            args.protocol, args.budget, seeds=args.seeds, models=models, select=args.select,
            tune=args.tune, match=args.match,
        )  # fmt: skip
        if warning := seeds_warning(protocol.plan):
            warnings.warn(warning, DnoWarning, stacklevel=1)
        name = f"{protocol.name}-tuned" if protocol.tune is not None else protocol.name
        out = Path(args.out or Path("benchmark_results") / name)
        self.out = out
        log = None if args.quiet else print
        started = time.perf_counter()
        workers = Workers(args.workers, args.devices, args.threads, args.device or "auto")
        if protocol.tune is not None:
            protocol = tune_protocol(protocol, out, workers, log=log)
        runs = run_benchmark(protocol, out, workers, log=log)
        board = build_leaderboard(protocol, runs, time.perf_counter() - started)
        files = write_leaderboard(board, out)
        if not args.quiet:
            print("\n" + format_results(board))
        if not args.no_report:
            from dno.report import write_benchmark_report

            files["html"] = write_benchmark_report(out).index
        print(f"written: {', '.join(str(p) for p in files.values())}")
        return 0

    def _aggregate(self, args: argparse.Namespace) -> int:
        """``--aggregate DIR [DIR ...]``: the aggregate's files and page."""
        running = {f"PROTOCOL {args.protocol!r}": args.protocol, "--list": args.list or None,
                   "--budget": args.budget, "--workers": args.workers, "--seeds": args.seeds,
                   "--models": args.models, "--select": args.select}  # fmt: skip
        given = [flag for flag, value in running.items() if value is not None]
        if given:
            raise UsageError(
                f"{given[0]} is for running a protocol; --aggregate reads finished benchmarks "
                "and takes --out, --metric, --baseline, --no-report"
            )
        aggregate = aggregate_benchmarks(args.aggregate, metric=args.metric, baseline=args.baseline)
        files = write_aggregate(
            aggregate, Path(args.out or Path("benchmark_results") / "aggregate")
        )
        if not args.quiet:
            print(format_aggregate(aggregate))
        if not args.no_report:
            from dno.report import write_benchmark_report

            files["html"] = write_benchmark_report(files["json"].parent).index
        print(f"written: {', '.join(str(p) for p in files.values())}")
        return 0

    out: Path | None = None

    def interrupted(self, args: argparse.Namespace) -> str:
        if args.aggregate is not None:
            return "nothing partial was written (the aggregate's files are written whole)"
        if self.out is None:
            return "no run had started"
        return (
            f"finished trials, runs and test scores are kept in {self.out}; rerun the same "
            "command to resume (an interrupted run continues from its last finished epoch, an "
            "interrupted trial runs again)"
        )
