"""``dno search``: hyperparameter search on Optuna (grid, random, Bayesian, multi-objective)."""

from __future__ import annotations

import argparse
from dataclasses import fields
from pathlib import Path

from dno.cli._args import (
    add_choice,
    non_negative_int,
    positive_float,
    positive_int,
    seed_count,
    trial_count,
)
from dno.cli._base import Command
from dno.cli._train import ensure_dataset
from dno.dde import FAMILIES
from dno.errors import UsageError
from dno.models import available
from dno.search import SEARCHES, SearchOptions, load_space, objective_names, run_search
from dno.training import progress_bar


class SearchCommand(Command, shared="-q --results --storage --device --devices --threads"):
    name = "search"
    help = "hyperparameter search on the validation split (Optuna), resumable and parallel"
    description = (
        "Search a model's hyperparameters on a family's dataset. Trials are scored on the\n"
        "validation split; per-epoch scores feed a pruner; failed trials are recorded with their\n"
        "reason and the study goes on. Rerunning the same command resumes the study (trials of a\n"
        "killed process are re-run with their parameters). After the search, the best\n"
        "configuration is trained again on 3 fresh seeds (3 more runs, each as long as an\n"
        "unpruned trial; --confirm-top K --confirm-seeds N: K x N runs, 0 for none), the K\n"
        "compared on the validation split, and the one chosen scored once on the test split;\n"
        "the search says what this costs before it starts. The objectives are metrics of the\n"
        "metric table (dno metrics), e.g. --objective val_rollout_rel_l2.\n\n"
        "Results: RESULTS/STUDY/{study.journal, trials/N/, summary.csv, best_config.yaml,\n"
        "confirmation.csv}. Watch a study live: optuna-dashboard RESULTS/STUDY/study.journal\n\n"
        "Search spaces: a default per model ships with dno (dno/configs/spaces/MODEL.yaml);\n"
        "--space takes dno's format or a W&B sweep file (method, metric, parameters,\n"
        "early_terminate, run_cap), read with W&B's semantics. A sweep file with program: runs\n"
        "your own training program per trial, offline, as W&B's agent would: from the folder\n"
        "dno search was started in, with W&B's command: macros, and the parameters also in the\n"
        "file WANDB_SWEEP_PARAM_PATH names (so wandb.init() fills wandb.config); the trial's\n"
        "folder is in DNO_TRIAL_DIR. It reports by printing JSON lines such as\n"
        '{"epoch": 3, "val_loss": 0.12} (or calling dno.log); the sweep\'s metric is the\n'
        "objective. A sweep file is pruned only if it has early_terminate (W&B's hyperband)\n"
        "or you give --pruner. If every trial fails, dno search exits with status 1.\n\n"
        "examples:\n"
        "  dno search                                    # Bayesian, method_of_steps, mackey\n"
        "  dno search --model fno --data data/neutral.h5 --n-trials 6   # the family: the data's\n"
        "  dno search --model fno --family neutral --search random --n-trials 30 --seeds 3\n"
        "  dno search --space sweep.yaml --workers 2\n"
        "  dno search --devices auto --n-trials 40             # one worker per GPU\n"
        "  dno search --storage postgresql://user:pw@db/dno --study shared   # then, elsewhere:\n"
        "  dno worker --storage postgresql://user:pw@db/dno --study shared\n"
        "  dno search --all --n-trials 10                # every model x family"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_choice(parser, "--model", available(), " (method_of_steps)", default="method_of_steps")
        add_choice(
            parser, "--family", sorted(FAMILIES),
            " (default: the --data file's, else mackey; given with --data, it must be the file's)",
        )  # fmt: skip
        parser.add_argument("--search", choices=SEARCHES, help="default: bayesian (or the sweep's)")
        parser.add_argument(
            "--n-trials", type=trial_count,
            help="trials (12; a grid: its size; a sweep's run_cap caps it)",
        )  # fmt: skip
        parser.add_argument("--max-epochs", type=positive_int, default=10, help="per trial (10)")
        parser.add_argument(
            "--data",
            help="dataset file; the study's family is its family (default: "
            "data/FAMILY.h5, generated if absent)",
        )
        parser.add_argument("--space", help="search space YAML (dno format or W&B sweep)")
        parser.add_argument(
            "--seeds",
            type=seed_count,
            default=1,
            help="seeds per config (1)",
        )
        parser.add_argument(
            "--workers",
            type=non_negative_int,
            help="local processes (1, or one per --devices; 0: only create the study and queue "
            "its trials, for dno worker elsewhere)",
        )
        parser.add_argument("--study", help="study name (default: MODEL-FAMILY-SEARCH)")
        parser.add_argument("--seed", type=non_negative_int, default=0, help="sampler seed (0)")
        parser.add_argument(
            "--pruner", choices=("median", "hyperband", "none"),
            help="per-epoch pruning (median; none for a W&B sweep file, which is pruned only by "
            "its own early_terminate)",
        )  # fmt: skip
        parser.add_argument(
            "--pruner-warmup-steps", type=non_negative_int, metavar="N",
            help="median pruner: never stop a trial before epoch N (Optuna's n_warmup_steps; "
            "default max(2, max_epochs // 10))",
        )  # fmt: skip
        parser.add_argument(
            "--pruner-startup-trials", type=non_negative_int, default=3, metavar="N",
            help="median pruner: prune only once N trials have finished (Optuna's "
            "n_startup_trials; 3)",
        )  # fmt: skip
        parser.add_argument(
            "--objective", metavar="METRIC",
            help="what one search optimises (default val_rel_l2; each trial also keeps its best "
            "epoch on it): " + ", ".join(objective_names()),
        )  # fmt: skip
        parser.add_argument(
            "--objectives", metavar="A,B,...",
            help="comma-separated, for --search multi (default val_rel_l2,parameters); the same "
            "names as --objective",
        )  # fmt: skip
        parser.add_argument(
            "--confirm-top", type=non_negative_int, default=1, metavar="K",
            help="after the search, train the K best configurations again on --confirm-seeds "
            "fresh seeds each (K x seeds more runs, each as long as an unpruned trial), compare "
            "them on validation and score the chosen one once on the test split; 0: no "
            "confirmation (1)",
        )  # fmt: skip
        parser.add_argument(
            "--confirm-seeds", type=seed_count, default=3, metavar="N",
            help="fresh seeds per confirmed configuration (3)",
        )  # fmt: skip
        parser.add_argument("--all", action="store_true", help="every model x family")
        parser.add_argument(
            "--wandb", action="store_true",
            help="log every trial as a W&B run (offline unless WANDB_API_KEY is set; no prompt)",
        )  # fmt: skip
        program = parser.add_argument_group(
            "sweeps of your own program (program: in the sweep file)"
        )
        program.add_argument("--trial-timeout", type=positive_float, help="seconds per trial run")
        program.add_argument(
            "--metric-value", choices=("last", "best"), default="last",
            help="which reported value of the metric counts (last)",
        )  # fmt: skip
        program.add_argument(
            "--seed-param", metavar="NAME",
            help="pass each replicate's seed (--seeds) to the program as parameter NAME; without "
            "it the seed is only in the environment variable DNO_SEED",
        )  # fmt: skip

    def run(self, args: argparse.Namespace) -> int:
        pairs = [(m, f) for m in available() for f in FAMILIES] if args.all else [
            (args.model, args.family)
        ]  # fmt: skip
        outer = progress_bar(len(pairs), 0, len(pairs) > 1 and not args.quiet, "studies", "study")
        program = bool(args.space) and bool(load_space(args.space).program)
        for model, family in pairs:
            # one study: the family is the --data file's (checked against --family if given)
            data = (
                Path() if program
                else ensure_dataset(family or "mackey", None if args.all else args.data, args.quiet)
            )  # fmt: skip
            options = SearchOptions(**{
                **{f.name: getattr(args, f.name) for f in fields(SearchOptions) if f.name in args},
                "model": model, "family": family, "data": data,
                "study": args.study if not args.all else None,
                "objectives": _objectives(args),
                "base": {"device": args.device or "auto"},
                "progress": not args.quiet and outer is None,
            })  # fmt: skip
            run_search(options, log=print if outer is None else lambda _: None)
            if outer is not None:
                outer.update(1)
        if outer is not None:
            outer.close()
        return 0

    def interrupted(self, args: argparse.Namespace) -> str:
        where = args.storage or f"{args.results}/{args.study or 'STUDY'}/"
        return (
            f"finished trials are kept in {where}; rerun the same command to resume (an "
            "interrupted trial runs again with its parameters; dno trials lists them)"
        )


def _objectives(args: argparse.Namespace) -> list[str]:
    """``--objective`` (one) or ``--objectives`` (several), not both."""
    if args.objective and args.objectives:
        raise UsageError("give --objective (one search) or --objectives (--search multi), not both")
    if args.objective:
        return [args.objective]
    return [name.strip() for name in args.objectives.split(",")] if args.objectives else []
