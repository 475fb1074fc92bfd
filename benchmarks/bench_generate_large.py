"""Memory by plan: `dno generate --family mackey --n 1000000` in bounded memory, timed.

Run:  python benchmarks/bench_generate_large.py [--n 1000000] [--reference-n 20000]
      (or `make bench`; `--n 50000` checks it works in a few minutes)

Runs the real command line (`dno generate`, progress bar on stderr) as a child process, once at
``--reference-n`` and once at ``--n`` trajectories, and reports for each the wall time, the peak
resident memory of the child (``ru_maxrss`` from ``os.wait4``) and the file's size. The ratios
printed are against the reference run in the same session: with batched solving and writing,
peak memory stays flat (ratio near 1) while time and file size grow with n (ratio near
n / reference-n). The output files go to a temporary folder (``--keep DIR`` to keep them).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_generate(n: int, out: Path, family: str, quiet: bool) -> dict[str, float]:
    """Run `dno generate` in a child process; its wall time, peak RSS and file size."""
    command = [sys.executable, "-m", "dno", "generate", "--family", family, "--n", str(n),
               "--seed", "0", "--out", str(out), "--overwrite"]  # fmt: skip
    if quiet:
        command.append("-q")
    started = time.perf_counter()
    child = subprocess.Popen(command)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"dno generate --n {n} failed with status {status}")
    return {
        "n": n,
        "seconds": seconds,
        "peak_rss_gib": usage.ru_maxrss * 1024 / 2**30,  # ru_maxrss is in KiB on Linux
        "file_gib": out.stat().st_size / 2**30,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="trajectories (1000000)")
    parser.add_argument("--reference-n", type=int, default=20_000, help="reference run (20000)")
    parser.add_argument("--family", default="mackey")
    parser.add_argument("--keep", metavar="DIR", help="write the files here and keep them")
    parser.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    args = parser.parse_args()
    folder = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="dno-bench-"))
    folder.mkdir(parents=True, exist_ok=True)
    try:
        rows = [
            run_generate(n, folder / f"{args.family}-{n}.h5", args.family, args.quiet)
            for n in (args.reference_n, args.n)
        ]
    finally:
        if not args.keep:
            shutil.rmtree(folder, ignore_errors=True)
    ref = rows[0]
    print(f"\ndno generate --family {args.family}: peak memory against n (cores: {os.cpu_count()})")
    print(f"{'n':>10} {'wall s':>9} {'traj/s':>9} {'peak RSS GiB':>13} {'file GiB':>9} "
          f"{'RSS ratio':>10} {'time ratio':>11}")  # fmt: skip
    for row in rows:
        print(
            f"{row['n']:>10,} {row['seconds']:>9.1f} {row['n'] / row['seconds']:>9.0f} "
            f"{row['peak_rss_gib']:>13.2f} {row['file_gib']:>9.2f} "
            f"{row['peak_rss_gib'] / ref['peak_rss_gib']:>10.2f} "
            f"{row['seconds'] / ref['seconds']:>11.1f}"
        )
    print(
        f"(ratios against n = {ref['n']:,} in the same run; n ratio {rows[-1]['n'] / ref['n']:g})"
    )


if __name__ == "__main__":
    main()
