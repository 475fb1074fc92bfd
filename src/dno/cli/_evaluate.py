"""``dno evaluate RUN_DIR``: score a trained run on one split, write JSON, summary and figures."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from dno.cli._args import positive_int
from dno.cli._base import Command
from dno.evaluation import (
    EVALUATION_SPLITS,
    EvaluationConfig,
    evaluate_run,
    format_evaluation,
    load_evaluation_config,
)
from dno.tracking import BEST_CONFIG, RUN_CONFIG, STUDY_JOURNAL

__all__ = ["EvaluateCommand"]

_DEFAULTS = EvaluationConfig().to_dict()


class EvaluateCommand(Command):
    """``dno evaluate RUN_DIR [--split val|test]``: table, ``evaluation_<split>.json``, figures."""

    name = "evaluate"
    help = "score a trained run on its validation (or test) split: metrics, JSON and figures"
    description = (
        "Score the best checkpoint of a run folder (written by dno train; a study folder of\n"
        "dno search stands for its best trial's run) on one split of its dataset: one-step\n"
        "and rollout relative L2 (global and per slice), the rollout error curve, valid\n"
        "prediction time and correlation time (in delays tau), stability under input noise,\n"
        "spectral diagnostics (amplitude, P(k) ratio, r(k), xi(r), band errors, zig-zag) and\n"
        "cost (parameters, throughput, peak memory). All in physical units.\n\n"
        "The rollout horizon is K delays (K (S-1) slices on the theta-grid), set by the\n"
        "evaluation config and never by the model, so models with any m are scored on the same\n"
        "slices. The validation split is the default; the test split is read only with\n"
        "--split test.\n\n"
        'Writes RUN_DIR/evaluation_SPLIT.json, a summary under "evaluation" in\n'
        "RUN_DIR/final_results.json, a few rollouts as arrays in RUN_DIR/rollouts_SPLIT.npz\n"
        "(dno report redraws them), and PNG figures into RUN_DIR/artifacts/evaluation_SPLIT/.\n\n"
        "evaluation config keys (YAML file with --config) and defaults:\n"
        + "\n".join(f"  {key} = {json.dumps(value)}" for key, value in _DEFAULTS.items())
        + "\n\nexamples:\n"
        "  dno evaluate runs/method_of_steps-mackey-s0\n"
        "  dno evaluate hyperparameter_results/method_of_steps-mackey-bayesian   # best trial\n"
        "  dno evaluate runs/fno-neutral-s0 --horizon-delays 5 --device cpu\n"
        "  dno evaluate runs/fno-neutral-s0 --split test --config eval.yaml --json"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "run_dir", metavar="RUN_DIR",
            help="run folder written by dno train, or a study folder (its best trial)",
        )  # fmt: skip
        parser.add_argument(
            "--split",
            choices=EVALUATION_SPLITS,
            default="val",
            help="split to score (default: val; test only when asked for)",
        )
        parser.add_argument(
            "--horizon-delays",
            type=positive_int,
            metavar="K",
            help=f"rollout horizon in delays tau (default {_DEFAULTS['horizon_delays']}, "
            "or the config file's)",
        )
        parser.add_argument("--config", metavar="FILE", help="YAML file of evaluation config keys")
        parser.add_argument(
            "--device", choices=("auto", "cpu", "cuda", "mps"), default="auto",
            help="device (default: auto)",
        )  # fmt: skip
        parser.add_argument(
            "--data", metavar="PATH", help="dataset file, if it moved since training"
        )
        parser.add_argument("--no-figures", action="store_true", help="skip the PNG figures")
        parser.add_argument(
            "--json", action="store_true", help="print the JSON result instead of the table"
        )

    def run(self, args: argparse.Namespace) -> int:
        config = load_evaluation_config(args.config, horizon_delays=args.horizon_delays)
        run = Path(args.run_dir)
        study_marks = (BEST_CONFIG, STUDY_JOURNAL, "trials")
        if not (run / RUN_CONFIG).is_file() and any((run / m).exists() for m in study_marks):
            from dno.search import best_run

            number, run = best_run(run)
            if not args.json:
                print(f"study {args.run_dir}: its best trial {number} ({run})")
        result = evaluate_run(
            run,
            args.split,
            config,
            args.device,
            data=args.data,
            figures=not args.no_figures,
        )
        if args.json:
            print(json.dumps(result, indent=2, allow_nan=False))
            return 0
        print(format_evaluation(result))
        print(f"wrote {run / result['summary']['file']} and the summary in final_results.json")
        if result["figures"]:
            folder = run / Path(result["figures"][0]).parent
            print(f"wrote {len(result['figures'])} figures into {folder}")
        if result["run_status"] == "running":
            print(
                "note: the run is still training; its last write replaces final_results.json "
                "(evaluate again when it has finished)"
            )
        return 0
