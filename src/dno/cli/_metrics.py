"""``dno metrics``: the metric table, every number dno reports, with its unit and direction."""

from __future__ import annotations

import argparse
import textwrap

from dno.cli._base import Command
from dno.evaluation import METRICS


class MetricsCommand(Command, shared="-q"):
    name = "metrics"
    help = "list every metric dno reports: its name, unit, direction and meaning"
    description = (
        "The metric table: one name per number, the same in dno train --select, dno search\n"
        "--objective/--objectives, summary.csv, final_results.json, dno compare, the benchmark\n"
        "leaderboards, the report and W&B. A score is measured on a split and named with it\n"
        "(val_rollout_rel_l2, test_rollout_rel_l2); a cost belongs to the model or\n"
        "the run (parameters, latency_ms, train_seconds). Every score of a split is computed on\n"
        "dno evaluate's windows of that split (at most 8 per trajectory, disjoint futures of\n"
        "the horizon), so a training epoch's val_rollout_rel_l2 is what dno evaluate --split\n"
        "val gives for those weights. docs/metrics.md says more about each.\n\n"
        "examples:\n"
        "  dno metrics\n"
        "  dno metrics --markdown"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("--markdown", action="store_true", help="a Markdown table")

    def run(self, args: argparse.Namespace) -> int:
        if args.markdown:
            print("| name | kind | unit | direction | what it measures |")
            print("| --- | --- | --- | --- | --- |")
            for metric in METRICS.values():
                direction = metric.direction.words(metric.target)
                print(
                    f"| `{metric.name}` | {metric.kind} | {metric.unit or '-'} | {direction} "
                    f"| {metric.description} |"
                )
            return 0
        for metric in METRICS.values():
            kind = "score: val_/test_" if metric.kind == "score" else f"cost ({metric.kind})"
            unit = f", {metric.unit}" if metric.unit else ""
            print(f"{metric.name}  [{kind}{unit}; {metric.direction.words(metric.target)}]")
            if not args.quiet:
                print(textwrap.fill(metric.description, 96, initial_indent="    ",
                                    subsequent_indent="    "))  # fmt: skip
        return 0
