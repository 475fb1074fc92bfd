"""``dno report`` on a study of 100 trials: under 30 s on CPU.

Run:  python benchmarks/bench_report.py [--trials 100] [--keep DIR]

The study is real, not faked: a random search of ``method_of_steps`` on a small Mackey-Glass
dataset (16 trajectories), ``--trials`` trials of 2 epochs, without pruning so that every trial
completes (the heaviest case for a report: every trial is in every figure), each with its run
folder (config, metrics.csv, final_results.json, checkpoints, prediction-vs-truth figure)
exactly as ``dno search`` writes it; the 3 best trials are evaluated (``dno evaluate``) so the
report also draws rollout errors and spectra. Building it takes a minute or two and is not timed.

Timed, each in a fresh Python process (imports included, as a user would run it):

- reference: open the study's storage and read its trials (``locate_study`` + ``get_trials``),
  the least any report must do;
- ``dno report STUDY`` (PNG and interactive figures, index.html, JSON);
- ``dno report STUDY --no-interactive`` (PNG figures only).

Target: the full report under 30 s.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

TARGET_SECONDS = 30.0
SPACE = {
    "S": {"value": 16},
    "layers": {"value": 1},
    "batch_size": {"value": 64},
    "width": {"type": "categorical", "choices": [4, 8, 12]},
    "modes_theta": {"type": "int", "low": 2, "high": 6},
    "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "weight_decay": {"type": "float", "low": 1e-6, "high": 1e-3, "log": True},
}
REFERENCE = (
    "import sys; from pathlib import Path; from dno.search import locate_study; "
    "study, _, _ = locate_study(sys.argv[1], Path('.')); print(len(study.get_trials()))"
)
REPORT = (
    "import sys; from dno.report import write_report; "
    "r = write_report([sys.argv[1]], out=sys.argv[2], interactive=sys.argv[3] == '1'); "
    "print(len(r.figures))"
)


def build_study(root: Path, trials: int) -> Path:
    """A real study of ``trials`` trials with its 3 best trials evaluated."""
    import dno.data
    from dno.evaluation import EvaluationConfig, evaluate_run
    from dno.search import SearchOptions, run_search

    dataset = root / "mackey.h5"
    dno.data.generate_dataset("mackey", 16, 0, dataset, t_end=120.0)
    (root / "space.yaml").write_text(yaml.safe_dump({"parameters": SPACE}))
    options = SearchOptions(
        model="method_of_steps",
        family="mackey",
        data=dataset,
        search="random",
        n_trials=trials,
        max_epochs=2,
        pruner="none",
        results=root / "results",
        study="bench",
        confirm_top=0,
        progress=False,
        base={"device": "cpu"},
        space=root / "space.yaml",
    )
    folder = Path(run_search(options, log=lambda _: None)["folder"])
    rows = [r for r in csv.DictReader((folder / "summary.csv").open()) if r["state"] == "complete"]
    for row in sorted(rows, key=lambda r: float(r["val_rel_l2"]))[:3]:
        evaluate_run(folder / "trials" / row["trial"], config=EvaluationConfig(horizon_delays=2))
    return folder


def timed(code: str, *args: str) -> tuple[float, str]:
    """Seconds to run ``code`` in a fresh interpreter, and what it printed."""
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    return time.perf_counter() - start, done.stdout.strip()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--keep", help="build the study here and keep it (default: a temp dir)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(args.keep or scratch)
        root.mkdir(parents=True, exist_ok=True)
        start = time.perf_counter()
        folder = build_study(root, args.trials)
        print(f"built a study of {args.trials} trials in {time.perf_counter() - start:.0f} s")
        reference, n = timed(REFERENCE, str(folder))
        full, figures = timed(REPORT, str(folder), str(root / "report"), "1")
        static, _ = timed(REPORT, str(folder), str(root / "report-static"), "0")
    print(f"{'what':<36} {'seconds':>8} {'/ reference':>12}")
    print(f"{'reference: load ' + n + ' trials':<36} {reference:>8.2f} {1.0:>12.1f}")
    print(f"{'dno report (' + figures + ' figures)':<36} {full:>8.2f} {full / reference:>12.1f}")
    print(f"{'dno report --no-interactive':<36} {static:>8.2f} {static / reference:>12.1f}")
    verdict = "met" if full < TARGET_SECONDS else "NOT met"
    print(f"target: dno report on {args.trials} trials under {TARGET_SECONDS:.0f} s: {verdict}")


if __name__ == "__main__":
    main()
