"""Pruning's saving: Bayesian search with pruning vs random search without, at an equal budget.

Run from the repository root::

    .venv/bin/python benchmarks/bench_search.py           # the reference setup (~10 min on 2 cores)
    .venv/bin/python benchmarks/bench_search.py --quick   # a fast smoke run

The task: ``method_of_steps`` on one Mackey-Glass dataset (``--trajectories`` trajectories,
horizon ``--t-end``, data seed 0), generated once in a temporary folder and shared by every
study. The search space (written there in dno's YAML format, see :data:`SPACE`) has a wide
log-uniform ``lr`` (1e-5 .. 1e-2) and a few categorical width / layers / batch_size values, with
``S`` fixed at 16 and ``patience: 0`` (no early stopping, so a trial that is not pruned runs all
``--epochs`` epochs and only the pruner saves epochs).

Two arms, the same budget of ``--trials`` trials each and the same space, for every search seed
in ``--seeds`` (the sampler's seed; the training seed is 0 in every trial of both arms):

- ``bayes+prune``: ``run_search(search="bayesian", pruner=<--pruner>)``, TPE with dno's
  defaults and the median pruner (or hyperband) on the per-epoch validation relative L2;
- ``random``: ``run_search(search="random", pruner="none")``.

Measured per study, from its Optuna storage after the search: epochs spent, the sum of the
``epochs_run`` user attribute over every trial (a pruned trial counts the epochs it ran); best
validation error, the lowest ``val_rel_l2`` (validation split) among complete trials; the number
of pruned trials; the wall-clock seconds of ``run_search`` (an untimed one-trial study runs
first, so import and first-call costs fall on neither arm). The test split is never read
(``confirm_top=0``). Over the seeds: the median epochs and median best error of each arm, then
epochs saved = 1 - median epochs(bayes+prune) / median epochs(random) and the best-error ratio
median best(bayes+prune) / median best(random).

Target: epochs saved >= 40 % with a best error no worse (ratio <= 1); the last line says PASS or
FAIL.

Reference setup: 16 trials x 30 epochs (the trainer's default ``max_epochs``), 96 trajectories,
t_end 200, seeds 0 1 2. The first 5 TPE trials are random draws from the same stream as the
random arm's, so the two arms share their first 5 trials for a given seed (a paired start).
The median pruner's warmup is dno's default, ``max(2, epochs // 10)`` (3 at 30 epochs).
Measured on 2 cores (2026-11-30): reference setup, epochs saved 47.9 %, best-error ratio 0.959:
PASS. The trade-off shows with short training (``--epochs 12 --trajectories 48``, warmup 2):
epochs saved 36.5 %, best-error ratio 0.905 (FAIL on the saving); with warmup 1 (pruning after
the first epoch, where a large, good learning rate often still looks bad) the same setup saved
~45 % of the epochs but its best error came out ~2 % worse. The best-error comparison is close
to seed noise in every setup.
"""

from __future__ import annotations

import argparse
import math
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import optuna
import yaml
from optuna.trial import TrialState

from dno.data import generate_dataset
from dno.search import SearchOptions, open_storage, run_search

MODEL = "method_of_steps"
FAMILY = "mackey"
#: The searched space (dno's format): wide lr, small categorical choices, no early stopping.
SPACE: dict[str, Any] = {
    "parameters": {
        "lr": {"type": "float", "low": 1.0e-5, "high": 1.0e-2, "log": True},
        "width": {"type": "categorical", "choices": [16, 32]},
        "layers": {"type": "categorical", "choices": [2, 3]},
        "batch_size": {"type": "categorical", "choices": [16, 32, 64]},
        "S": {"value": 16},
        "patience": {"value": 0},
    }
}
#: (label, search, pruner); the pruner of the first arm is set by --pruner.
ARMS = (("bayes+prune", "bayesian", "median"), ("random", "random", "none"))
REFERENCE = {"trials": 16, "epochs": 30, "seeds": [0, 1, 2], "trajectories": 96, "t_end": 200.0}
QUICK = {"trials": 6, "epochs": 4, "seeds": [0], "trajectories": 24, "t_end": 100.0}
TARGET_SAVED = 0.40


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    setup = {**(QUICK if args.quick else REFERENCE)}
    setup.update({k: v for k, v in vars(args).items() if k in setup and v is not None})
    print(_header(setup, args.pruner), flush=True)
    rows: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="bench_search_") as folder:
        root = Path(folder)
        data = root / "mackey.h5"
        generate_dataset(FAMILY, setup["trajectories"], 0, data, t_end=setup["t_end"])
        space = root / "space.yaml"
        space.write_text(yaml.safe_dump(SPACE, sort_keys=False), encoding="utf-8")
        # One untimed 1-trial, 1-epoch study first: imports and first-call costs go there.
        _run_arm("warm-up", "random", "none", 0, {**setup, "trials": 1, "epochs": 1}, data,
                 space, root)  # fmt: skip
        for seed in setup["seeds"]:  # the arms alternate, so machine load falls on both alike
            for label, search, pruner in ARMS:
                pruner = args.pruner if pruner != "none" else pruner
                rows.append(_run_arm(label, search, pruner, seed, setup, data, space, root))
                _progress(rows[-1])
    print(_table(rows))
    print(_verdict(rows))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, help="trials per study (default 16; quick 6)")
    parser.add_argument("--epochs", type=int, help="max epochs per trial (default 30; quick 4)")
    parser.add_argument("--seeds", type=int, nargs="+", help="search seeds (default 0 1 2)")
    parser.add_argument("--trajectories", type=int, help="dataset size (default 96; quick 24)")
    parser.add_argument("--t-end", type=float, help="trajectory horizon (default 200; quick 100)")
    parser.add_argument("--pruner", choices=("median", "hyperband"), default="median",
                        help="the pruner of the Bayesian arm (default median)")  # fmt: skip
    parser.add_argument("--quick", action="store_true",
                        help="a tiny smoke setup (seconds); its verdict means nothing")  # fmt: skip
    return parser


def _header(setup: dict[str, Any], pruner: str) -> str:
    seeds = " ".join(str(s) for s in setup["seeds"])
    return (
        f"{MODEL} on {FAMILY}: {setup['trajectories']} trajectories, t_end {setup['t_end']:g}; "
        f"{setup['trials']} trials x {setup['epochs']} epochs per study, no early stopping; "
        f"search seeds {seeds}; bayes+prune = TPE + {pruner} pruner, random = no pruning"
    )


def _run_arm(
    label: str,
    search: str,
    pruner: str,
    seed: int,
    setup: dict[str, Any],
    data: Path,
    space: Path,
    root: Path,
) -> dict[str, Any]:
    """Run one study and read back what it spent and found."""
    name = f"{label.replace('+', '-')}-{search}-{pruner}-seed{seed}"
    results = root / "results"
    options = SearchOptions(
        model=MODEL, family=FAMILY, data=data, search=search, n_trials=setup["trials"],
        max_epochs=setup["epochs"], results=results, study=name, seed=seed, pruner=pruner,
        confirm_top=0, progress=False, space=space, base={"device": "cpu"},
    )  # fmt: skip
    start = time.perf_counter()
    run_search(options, log=lambda _: None)
    seconds = time.perf_counter() - start
    storage = open_storage(None, results, name)[0]
    trials = optuna.load_study(study_name=name, storage=storage).get_trials(deepcopy=False)
    complete = [t.value for t in trials if t.state == TrialState.COMPLETE and t.value is not None]
    return {
        "arm": label,
        "seed": seed,
        "trials": len(trials),
        "epochs": sum(float(t.user_attrs.get("epochs_run", 0.0)) for t in trials),
        "best": min(complete, default=math.nan),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL for t in trials),
        "seconds": seconds,
    }


def _progress(row: dict[str, Any]) -> None:
    print(f"  done: {row['arm']} seed {row['seed']} in {row['seconds']:.1f} s",
          file=sys.stderr, flush=True)  # fmt: skip


def _medians(rows: list[dict[str, Any]], arm: str) -> dict[str, float]:
    mine = [r for r in rows if r["arm"] == arm]
    return {k: statistics.median(r[k] for r in mine) for k in ("epochs", "best", "seconds")}


def _table(rows: list[dict[str, Any]]) -> str:
    head = (f"{'arm':<12} {'seed':>6} {'trials':>6} {'epochs':>7} {'best val rel L2':>16} "
            f"{'pruned':>6} {'failed':>6} {'wall s':>7}")  # fmt: skip
    lines = ["", head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['arm']:<12} {r['seed']:>6} {r['trials']:>6} {r['epochs']:>7.0f} "
            f"{r['best']:>16.4f} {r['pruned']:>6} {r['failed']:>6} {r['seconds']:>7.1f}"
        )
    lines.append("-" * len(head))
    for label, _, _ in ARMS:
        m = _medians(rows, label)
        lines.append(
            f"{label:<12} {'median':>6} {'':>6} {m['epochs']:>7.0f} {m['best']:>16.4f} "
            f"{'':>6} {'':>6} {m['seconds']:>7.1f}"
        )
    return "\n".join(lines)


def _verdict(rows: list[dict[str, Any]]) -> str:
    pruned, plain = _medians(rows, ARMS[0][0]), _medians(rows, ARMS[1][0])
    saved = 1.0 - pruned["epochs"] / plain["epochs"]
    ratio = pruned["best"] / plain["best"]
    time_saved = 1.0 - pruned["seconds"] / plain["seconds"]
    ok = saved >= TARGET_SAVED and pruned["best"] <= plain["best"]
    return (
        f"\nepochs saved by pruning: {saved:.1%} (target >= {TARGET_SAVED:.0%}); "
        f"wall time saved: {time_saved:.1%}\n"
        f"best error ratio bayes+prune / random: {ratio:.3f} (target <= 1)\n"
        f"{'PASS' if ok else 'FAIL'}: epochs saved {saved:.1%}, best error ratio {ratio:.3f}"
    )


if __name__ == "__main__":
    sys.exit(main())
