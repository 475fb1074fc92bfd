"""dno's own cost per trial when it drives a user's program.

Run:  python benchmarks/bench_program.py [--trials 30]

A program that prints one JSON metric line and exits at once is swept (grid over --trials
values) with the journal storage, as a user would. The reference, measured in the same run, is
the same program started the same number of times with plain ``subprocess.run``. dno's overhead
per trial (start, parse, record in the study, write the trial folder, the watchdog) is
(search time - reference time) / trials. Target: under 0.5 s.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from dno.search import SearchOptions, run_search

PROGRAM = 'import json, sys\nprint(json.dumps({"epoch": 1, "val_loss": 0.5}))\n'


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "quick.py").write_text(PROGRAM)
        sweep = {"program": "quick.py", "method": "grid",
                 "metric": {"name": "val_loss", "goal": "minimize"},
                 "parameters": {"x": {"values": list(range(args.trials))}}}  # fmt: skip
        (root / "sweep.yaml").write_text(yaml.safe_dump(sweep))
        start = time.perf_counter()
        for x in range(args.trials):
            subprocess.run([sys.executable, str(root / "quick.py"), f"--x={x}"],
                           check=True, capture_output=True)  # fmt: skip
        reference = time.perf_counter() - start
        options = SearchOptions(space=root / "sweep.yaml", results=root / "results",
                                progress=False, workdir=root)  # fmt: skip
        start = time.perf_counter()
        run_search(options, log=lambda _: None)
        total = time.perf_counter() - start
    overhead = (total - reference) / args.trials
    print(f"{'trials':>6}  {'program alone s':>15}  {'dno search s':>12}  {'overhead s/trial':>16}")
    print(f"{args.trials:>6}  {reference:>15.2f}  {total:>12.2f}  {overhead:>16.3f}")
    print(f"ratio search/program {total / reference:.2f}; overhead target < 0.5 s per trial: "
          f"{'met' if overhead < 0.5 else 'NOT met'}")  # fmt: skip


if __name__ == "__main__":
    main()
