"""Benchmark: diagnostics of a 128^3 field pair on CPU, against a bare FFT measured in the same run.

Run: ``.venv/bin/python benchmarks/bench_diagnostics.py [--n 128] [--repeats 3]``. Prints one
table: the best-of-``repeats`` time of ``dno.evaluation.diagnose`` (amplitude, P(k), r(k), band
errors, xi(r), zig-zag, findings), of writing its four figures, and of one ``np.fft.rfftn`` of a
single field, with each time's ratio to that FFT.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable

import numpy as np

from dno.evaluation import diagnose, plot_diagnostics


def best_time(action: Callable[[], object], repeats: int) -> float:
    """Best wall time of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        action()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=128, help="points per side (default 128)")
    parser.add_argument("--repeats", type=int, default=3, help="timed repeats (default 3)")
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((args.n,) * 3)
    prediction = 0.38 * truth + 0.1 * rng.standard_normal(truth.shape)
    fft = best_time(lambda: np.fft.rfftn(truth), args.repeats)
    full = best_time(lambda: diagnose(prediction, truth), args.repeats)
    diagnosis = diagnose(prediction, truth)
    with tempfile.TemporaryDirectory() as folder:
        figures = best_time(
            lambda: plot_diagnostics(diagnosis, prediction, truth, folder), args.repeats
        )
    shape = "x".join([str(args.n)] * 3)
    print(f"{'what (' + shape + ', float64, CPU)':<46}{'seconds':>10}{'x rfftn':>10}")
    for name, seconds in (
        ("np.fft.rfftn of one field (reference)", fft),
        ("diagnose(prediction, truth)", full),
        ("plot_diagnostics (4 PNG figures)", figures),
    ):
        print(f"{name:<46}{seconds:>10.3f}{seconds / fft:>10.1f}")


if __name__ == "__main__":
    main()
