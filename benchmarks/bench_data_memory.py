"""Datasets larger than memory: peak memory flat in the file's size, and the speed of training
from the file against training from memory.

Run from the repository root::

    .venv/bin/python benchmarks/bench_data_memory.py --sizes 50000 200000   # ~15 min, 2 cores
    .venv/bin/python benchmarks/bench_data_memory.py --quick                # a smoke run

Part 1, memory. For each size, a Mackey-Glass file of that many trajectories (``dno generate
--family mackey --n N --seed 0``: 500 observations each, 7.7 kB a trajectory; made once in
``--folder``, reused after) and the peak resident memory (the kernel's ``ru_maxrss`` of the
process, from ``wait4``) and wall time of

- ``dno data info FILE`` (one streaming pass: sampling, bad values, ranges), and
- ``dno train --model method_of_steps --data FILE --set max_windows_per_trajectory=1
  --max-epochs 1 --device cpu`` (the checks' pass, the train windows' pass, one epoch, the
  validation windows: at most 4096 trajectories).

Targets at 200,000 trajectories: data info <= 0.8 GiB, one epoch <= 1.2 GiB, and both flat in
the file's size. Reference: ``python -c "import dno.cli"`` (the interpreter, torch and dno).

Part 2, throughput. On a file that fits memory (``--fits`` trajectories, default 512), the
train windows of ``method_of_steps`` (S 32, batch 64, all windows: about 270,000) kept in
memory against made again from the file every epoch (``dno.data.WINDOW_MEMORY_BYTES = 0``),
the same seed (so the same batches), A B A B over ``--repeats`` pairs, 2 epochs each; windows
per second of the second epoch's training (its seconds less its validation's), and the ratio
file / memory per pair. Target: >= 0.9.
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

GIB = 2**30
THROUGHPUT = """import sys
import dno.data as data
import dno.data._epochs as epochs
from dno.training import resolve_config, train
path, out, mode = sys.argv[1:4]
if mode == "file":
    epochs.WINDOW_MEMORY_BYTES = 0
dataset = data.read_dataset(path, in_memory=mode == "memory")
config = resolve_config("method_of_steps", {"device": "cpu", "max_epochs": 2, "patience": 0,
                                            "val_rollout_every": 0}, {})
train(config, dataset, out, progress=False)
"""


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[50_000, 200_000])
    parser.add_argument("--folder", type=Path, default=Path("bench_data"), help="dataset files")
    parser.add_argument("--fits", type=int, default=512, help="part 2's trajectories (512)")
    parser.add_argument("--repeats", type=int, default=3, help="part 2's pairs (3)")
    parser.add_argument("--quick", action="store_true", help="a smoke run (no verdict)")
    args = parser.parse_args(argv)
    sizes = [2000] if args.quick else args.sizes
    args.folder.mkdir(parents=True, exist_ok=True)
    print(f"load average before: {_load()}", flush=True)
    reference = _run([sys.executable, "-c", "import dno.cli"])
    print(f"reference (python -c 'import dno.cli'): {reference[1] / GIB:.2f} GiB\n", flush=True)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench_data_") as scratch:
        for n in sizes:
            path = _dataset(args.folder, n)
            info = _run([sys.executable, "-m", "dno", "data", "info", str(path)])
            out = Path(scratch) / f"run{n}"
            epoch = _run([sys.executable, "-m", "dno", "train", "--model", "method_of_steps",
                          "--data", str(path), "--set", "max_windows_per_trajectory=1",
                          "--max-epochs", "1", "--device", "cpu", "--out", str(out), "-q",
                          "--overwrite"])  # fmt: skip
            rows.append((n, path.stat().st_size, info, epoch))
            print(f"  {n:,} trajectories: info {info[1] / GIB:.2f} GiB in {info[0]:.0f} s, one "
                  f"epoch {epoch[1] / GIB:.2f} GiB in {epoch[0]:.0f} s", flush=True)  # fmt: skip
        print(f"\n{'trajectories':>12} {'file GB':>8} {'info GiB':>9} {'info s':>7} "
              f"{'epoch GiB':>10} {'epoch s':>8}")  # fmt: skip
        for n, size, info, epoch in rows:
            print(f"{n:>12,} {size / 1e9:>8.2f} {info[1] / GIB:>9.2f} {info[0]:>7.0f} "
                  f"{epoch[1] / GIB:>10.2f} {epoch[0]:>8.0f}")  # fmt: skip
        ratios = _throughput(args, Path(scratch))
    print(f"\nload average after: {_load()}")
    if not args.quick:
        big = [r for r in rows if r[0] >= 200_000]
        if big:
            info_ok = all(r[2][1] <= 0.8 * GIB for r in big)
            epoch_ok = all(r[3][1] <= 1.2 * GIB for r in big)
            print(f"data info <= 0.8 GiB: {'PASS' if info_ok else 'FAIL'}; one epoch <= 1.2 GiB: "
                  f"{'PASS' if epoch_ok else 'FAIL'}")  # fmt: skip
        ratio = statistics.median(ratios)
        print(f"throughput file / memory: median {ratio:.3f} (target >= 0.9) "
              f"{'PASS' if ratio >= 0.9 else 'FAIL'}")  # fmt: skip
    return 0


def _dataset(folder: Path, n: int) -> Path:
    path = folder / f"mackey_{n}.h5"
    if not path.is_file():
        print(f"generating {n:,} trajectories into {path} ...", flush=True)
        subprocess.run([sys.executable, "-m", "dno", "generate", "--family", "mackey", "--n",
                        str(n), "--seed", "0", "--out", str(path), "-q"], check=True)  # fmt: skip
    return path


def _run(command: list[str]) -> tuple[float, int]:
    """Wall seconds and peak resident bytes of ``command`` (its own ``ru_maxrss``)."""
    start = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise SystemExit(f"{' '.join(command)} failed (exit {process.returncode})")
    return time.perf_counter() - start, usage.ru_maxrss * 1024


def _throughput(args: argparse.Namespace, scratch: Path) -> list[float]:
    n = 64 if args.quick else args.fits
    path = scratch / f"fits{n}.h5"
    subprocess.run([sys.executable, "-m", "dno", "generate", "--family", "mackey", "--n", str(n),
                    "--seed", "0", "--out", str(path), "-q"], check=True)  # fmt: skip
    speeds: dict[str, list[float]] = {"memory": [], "file": []}
    for r in range(1 if args.quick else args.repeats):
        for mode in ("memory", "file"):
            out = scratch / f"{mode}{r}"
            subprocess.run([sys.executable, "-c", THROUGHPUT, str(path), str(out), mode],
                           check=True)  # fmt: skip
            with open(out / "metrics.csv") as handle:
                last = list(csv.DictReader(handle))[-1]
            windows = json.loads((out / "final_results.json").read_text())["n_train_windows"]
            speeds[mode].append(windows / (float(last["seconds"]) - float(last["val_seconds"])))
            print(f"  {mode}: {speeds[mode][-1]:,.0f} windows/s", file=sys.stderr, flush=True)
    ratios = [f / m for f, m in zip(speeds["file"], speeds["memory"], strict=True)]
    print(f"\ntraining throughput on {n} trajectories (windows/s, epoch 2), "
          f"{len(ratios)} pairs: min / median / max")  # fmt: skip
    for label, values in (("memory", speeds["memory"]), ("file", speeds["file"]),
                          ("file / memory", ratios)):  # fmt: skip
        print(f"  {label:<14} {min(values):>10,.3f} {statistics.median(values):>10,.3f} "
              f"{max(values):>10,.3f}")  # fmt: skip
    return ratios


def _load() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


if __name__ == "__main__":
    sys.exit(main())
