"""``dno trials STUDY`` and ``dno replay STUDY TRIAL``: read a study back, re-run one trial."""

from __future__ import annotations

import argparse
from pathlib import Path

from dno.cli._args import non_negative_int
from dno.cli._base import Command
from dno.search import locate_study, replay_trial, trial_table


class TrialsCommand(Command):
    name = "trials"
    help = "list the trials of a study"
    description = "example:\n  dno trials hyperparameter_results/method_of_steps-mackey-bayesian"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("study", help="a study folder (RESULTS/NAME) or a study name")
        parser.add_argument("--results", default="hyperparameter_results", help="results folder")
        parser.add_argument("--storage", help="postgresql://... for a shared study")

    def run(self, args: argparse.Namespace) -> int:
        study, spec, _ = locate_study(args.study, Path(args.results), args.storage)
        what = spec.model if spec.runner == "program" else f"{spec.model} on {spec.family}"
        print(f"study {spec.name}: {spec.search} search of {what}")
        print(trial_table(study, spec))
        return 0


class ReplayCommand(TrialsCommand):
    name = "replay"
    help = "re-run one trial from its recorded config and seed, and compare"
    description = "example:\n  dno replay hyperparameter_results/method_of_steps-mackey-bayesian 3"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        super().add_arguments(parser)
        parser.add_argument("trial", type=non_negative_int, help="the trial number")
        parser.add_argument("--seed", type=non_negative_int, help="default: its first seed")

    def run(self, args: argparse.Namespace) -> int:
        study, spec, folder = locate_study(args.study, Path(args.results), args.storage)
        result = replay_trial(study, spec, folder, args.trial, args.seed)
        recorded, replayed = result["recorded"], result["replayed"]
        if recorded is None:
            verdict = f"no recorded value to compare (trial was {result['state']})"
        elif recorded == replayed:
            verdict = "reproduced exactly"
        else:
            verdict = f"differs by {abs(replayed - recorded):.3g}"
        print(
            f"trial {args.trial}, seed {result['seed']}: {result['objective']} recorded "
            f"{recorded}, replayed {replayed}: {verdict}; run folder {result['folder']}"
        )
        return 0
