"""``dno train``: train one model on one family's dataset and write a run folder."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from dno._cores import use_budget
from dno.cli._args import add_choice, non_negative_int, positive_int
from dno.cli._base import Command
from dno.data import generate_dataset, read_dataset
from dno.dde import FAMILIES
from dno.errors import UsageError, unknown_name
from dno.evaluation import metric_names, qualify, run_metric
from dno.models import available
from dno.tracking import (
    FINAL_RESULTS,
    METRICS_CSV,
    RUN_CONFIG,
    RunFolder,
    default_data_file,
    default_run_folder,
)
from dno.training import (
    TRAINING_DEFAULTS,
    check_keys,
    load_config_file,
    parse_set,
    resolve_config,
    train,
)

#: The metrics a run can be selected on: the validation scores with a direction.
SELECTABLE = [qualify(name, "val") for name in metric_names(kind="score", searchable=True)]
#: Trajectories generated when --data is not given and the default file does not exist.
DEFAULT_TRAJECTORIES = 128


def ensure_dataset(family: str, data: str | None, quiet: bool) -> Path:
    """``data`` if given (it must exist); else the family's default file, generated if absent."""
    if data is not None:
        path = Path(data)
        if not path.is_file():
            raise UsageError(f"dataset {data!r} does not exist (make one with dno generate)")
        return path
    if family not in FAMILIES:
        raise unknown_name("family", family, FAMILIES)
    path = default_data_file(family)
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        if not quiet:
            print(f"generating {DEFAULT_TRAJECTORIES} {family} trajectories into {path} (seed 0)")
        generate_dataset(family, DEFAULT_TRAJECTORIES, 0, path)
    return path


class TrainCommand(Command, shared="-q --device --threads"):
    name = "train"
    help = "train one model on one DDE family (selection on the validation split)"
    description = (
        "Train a model on a dataset's train split, select and stop early on its validation\n"
        "split (the test split is never read), and write a run folder:\n"
        "  config.json  metrics.csv  final_results.json  artifacts/{best,last}.pt\n"
        "  artifacts/prediction_vs_truth.png\n\n"
        "Config keys (YAML file with --config, or --set key=value) are training options or the\n"
        "model's own arguments; a key the model does not use is an error.\n\n"
        "training options and defaults:\n"
        + "\n".join(f"  {k} = {json.dumps(v)}" for k, v in TRAINING_DEFAULTS.items())
        + "\n\nexamples:\n"
        "  dno train --model method_of_steps --family mackey --max-epochs 20\n"
        "  dno train --model fno --family neutral --set width=64 --set lr=3e-4 --seed 1\n"
        "  dno train --model stacked_history --family reaction_diffusion --data rd64.h5 \\\n"
        "      --config my.yaml --out runs/rd64"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        add_choice(parser, "--model", available(), required=True)
        add_choice(
            parser,
            "--family",
            sorted(FAMILIES),
            " (default: the dataset's, or mackey without --data)",
        )
        parser.add_argument(
            "--data", help="dataset file (default: data/FAMILY.h5, generated if absent)"
        )
        parser.add_argument("--max-epochs", type=positive_int, help="epochs at most")
        parser.add_argument("--seed", type=non_negative_int, help="seed of everything (0)")
        parser.add_argument("--out", help="run folder (default: runs/MODEL-FAMILY-sSEED)")
        parser.add_argument("--config", help="YAML file of config keys")
        parser.add_argument(
            "--set", action="append", default=[], metavar="KEY=VALUE",
            help="override one config key (repeatable); the value is read as YAML",
        )  # fmt: skip
        parser.add_argument(
            "--select", metavar="METRIC",
            help="the validation metric that picks the kept epoch and stops early (the config "
            "key select; default val_rel_l2): " + ", ".join(SELECTABLE),
        )  # fmt: skip
        parser.add_argument("--resume", action="store_true", help="continue from last.pt")
        parser.add_argument("--overwrite", action="store_true", help="replace the run folder")

    def run(self, args: argparse.Namespace) -> int:
        file_layer = load_config_file(args.config) if args.config else {}
        given = ("max_epochs", "seed", "device", "select")  # flags that win over the config
        flags = {key: getattr(args, key) for key in given if getattr(args, key) is not None}
        overrides = parse_set(args.set)
        check_keys(args.model, overrides, kind="--set key")
        config = resolve_config(args.model, file_layer, flags, overrides)
        family = args.family or "mackey"
        dataset = read_dataset(ensure_dataset(family, args.data, args.quiet))
        if args.family is not None and dataset.family != args.family:
            raise UsageError(f"{args.data} holds {dataset.family!r} data, not {args.family!r}")
        out = Path(args.out or default_run_folder(args.model, dataset.family, config.seed))
        if (out / FINAL_RESULTS).exists() and not (args.resume or args.overwrite):
            raise UsageError(
                f"run folder {str(out)!r} already holds a run; use --resume to continue it, "
                "--overwrite to replace it, or another --out"
            )
        if args.overwrite and not args.resume:
            for name in (RUN_CONFIG, METRICS_CSV, FINAL_RESULTS):
                (out / name).unlink(missing_ok=True)
        self.out = out
        use_budget(args.threads)
        before = RunFolder(out).results() if args.resume else {}
        results = train(config, dataset, out, resume=args.resume, progress=not args.quiet)
        if before and results == before:
            print(f"{out}: the run had already ended ({results['status']}); nothing to resume")
        print(describe_results(results, out))
        return 0

    out: Path | None = None

    def interrupted(self, args: argparse.Namespace) -> str:
        if self.out is None or not RunFolder(self.out).last_checkpoint.is_file():
            return "no epoch had finished, so nothing was kept; rerun the same command"
        again = "rerun the same command" if args.resume else "rerun the same command with --resume"
        return (
            f"the run folder {self.out} keeps its last finished epoch (artifacts/last.pt); "
            f"{again} to resume from it"
        )


def describe_results(results: dict[str, Any], out: Path) -> str:
    """One line: how the run ended, the selected metric at the kept epoch, the rollout error."""
    select = str(results.get("select", "val_rel_l2"))
    value = run_metric(results, select)
    shown = "n/a" if value is None else f"{value:.4g}"
    line = (
        f"{results['status']}: {results['model']} on {results['family']}, {select} {shown} at "
        f"epoch {results['best_epoch']} of {results['epochs_run']}"
    )
    rollout = run_metric(results, "val_rollout_rel_l2")
    if select != "val_rollout_rel_l2" and rollout is not None:
        line += f" (val_rollout_rel_l2 {rollout:.4g} over {results['val_horizon_delays']} delays)"
    return f"{line}; run folder {out}"
