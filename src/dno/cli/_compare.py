"""``dno compare FILE.yaml``: approaches x seeds against a baseline, with real statistics."""

from __future__ import annotations

import argparse
import warnings
from pathlib import Path

from dno._cores import use_budget
from dno.cli._args import positive_int, seed_count
from dno.cli._base import Command
from dno.cli._train import ensure_dataset
from dno.compare import (
    compare_study,
    format_table,
    load_plan,
    notes,
    run_comparison,
    seeds_warning,
    write_comparison,
)
from dno.data import read_dataset
from dno.errors import DnoWarning, UsageError
from dno.evaluation import METRICS

_EXAMPLE = """\
example file (spectral-norm-ab.yaml):
  name: spectral-norm-ab            # optional; default: the file's stem
  family: mackey
  data: data/mackey.h5              # optional; default: data/FAMILY.h5, generated if absent
  seeds: 8                          # seeds 0..7 for every approach (or a list: [0, 4, 9])
  metric: {name: rel_l2, split: test}
  alpha: 0.05                       # optional
  max_epochs: 20                    # other keys: config keys shared by every approach
  baseline: plain
  approaches:
    plain: {model: method_of_steps}
    snorm: {model: method_of_steps, set: {spectral_norm: 1.0}}
    edges: {model: method_of_steps, set: {edge_params: [tau], edge_factor: 3}}
"""


class CompareCommand(Command, shared="-q --results --threads"):
    name = "compare"
    help = "compare approaches against a baseline on paired seeds, with real statistics"
    description = (
        "Train every approach of a comparison file on the same seeds (paired), score each run\n"
        "with the chosen metric and rank the approaches: mean, sd, 95% bootstrap interval,\n"
        "change against the baseline, a paired Wilcoxon signed-rank test (Welch's t-test\n"
        "alongside), Holm's correction across approaches, Hedges' g and a verdict: better,\n"
        "worse or not distinguishable at alpha. With too few seeds for a test the table says\n"
        "so instead of printing a p-value (Wilcoxon needs >= 6 non-zero pairs at 0.05, more\n"
        "with several approaches after Holm's correction: dno compare warns before training\n"
        "when the seeds can never give a verdict).\n\n"
        "Results: OUT/NAME/{comparison.md, comparison.csv, comparison.json} and a run folder\n"
        "per approach and seed, OUT/NAME/APPROACH/seed-S/. Rerunning resumes: finished runs\n"
        "are read back, interrupted ones continue from their last checkpoint.\n\n"
        "metric: {name: NAME, split: val|test (default test)}, or a qualified name such as\n"
        "val_rollout_rel_l2, of a metric of the table (with their meanings: dno metrics):\n"
        + "\n".join(
            f"  {name:<26} {metric.direction.words(metric.target)}"
            for name, metric in METRICS.items()
            if metric.direction.searchable
        )
        + "\n\n"
        + _EXAMPLE
        + "\nexamples:\n"
        "  dno compare --study hyperparameter_results/train-grid   # a study run with --seeds K\n"
        "  dno compare spectral-norm-ab.yaml\n"
        "  dno compare spectral-norm-ab.yaml --seeds 10 --max-epochs 30 --out results/cmp"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("file", metavar="FILE.yaml", nargs="?", help="the comparison file")
        parser.add_argument(
            "--study", metavar="STUDY",
            help="instead of a file: compare the configurations of a study run with --seeds K "
            "(a dno or a program sweep), paired by seed",
        )  # fmt: skip
        parser.add_argument("--baseline", type=int, metavar="TRIAL", help="with --study")
        parser.add_argument(
            "--out", default="comparisons", metavar="DIR", help="results folder (comparisons)"
        )
        parser.add_argument(
            "--seeds",
            type=seed_count,
            metavar="K",
            help="run seeds 0..K-1 instead of the file's",
        )
        parser.add_argument(
            "--max-epochs",
            type=positive_int,
            metavar="N",
            help="override max_epochs of every approach",
        )

    def run(self, args: argparse.Namespace) -> int:
        if (args.file is None) == (args.study is None):
            raise UsageError("give a comparison FILE.yaml or --study STUDY (one of them)")
        if args.study is not None:
            rows, folder = compare_study(args.study, Path(args.results), baseline=args.baseline)
            print(format_table(rows))
            print("", *(f"- {r.approach}: {r.verdict} ({r.verdict_reason})" for r in rows
                        if not r.is_baseline), sep="\n")  # fmt: skip
            print(f"\nwritten: {folder / 'comparison.md'}, {folder / 'comparison.csv'}")
            return 0
        plan = load_plan(args.file, seeds=args.seeds, max_epochs=args.max_epochs)
        if warning := seeds_warning(plan):
            warnings.warn(warning, DnoWarning, stacklevel=1)
        dataset = read_dataset(ensure_dataset(plan.family, plan.data, args.quiet))
        self.folder = Path(args.out) / plan.name
        use_budget(args.threads)
        result = run_comparison(
            plan, dataset, args.out, progress=not args.quiet, log=None if args.quiet else print
        )
        direction = "lower" if plan.metric.lower_is_better else "higher"
        print(
            f"\n{plan.name}: {plan.metric.label}, {direction} is better, "
            f"{len(plan.seeds)} paired seeds, alpha = {plan.alpha:g}\n"
        )
        print(format_table(result.rows))
        print("", *(f"- {line}" for line in notes(result)), sep="\n")
        files = write_comparison(result)
        print(f"\nwritten: {', '.join(str(p) for p in files.values())}")
        return 0

    folder: Path | None = None

    def interrupted(self, args: argparse.Namespace) -> str:
        if self.folder is None:
            return "no run had started"
        return (
            f"finished runs are kept in {self.folder}; rerun the same command to resume (an "
            "interrupted run continues from its last finished epoch)"
        )
