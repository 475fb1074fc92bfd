"""Training speed and peak memory of every model; our spectral convolution vs neuraloperator.

Run from the repository root::

    .venv/bin/python benchmarks/bench_train.py            # the reference size below
    .venv/bin/python benchmarks/bench_train.py --quick    # a smaller, faster run

Reference size: batch B=32, history S=64, spatial X=20, channels C=1, conditioning P=1,
width 32, every other option at the model's default (modes_theta=16, modes_x=8, layers=3 for the
Fourier models). What is measured, per model:

- samples/s: forward + backward (mean-squared loss against a random target) on one batch,
  ``batch * steps / seconds``, the best of ``--repeats`` timed blocks of ``--seconds`` each after
  a warm-up (the best block is the least disturbed by other processes on a shared machine). No
  optimizer step.
- peak memory: the peak resident set size of a fresh process during the timed forward+backward
  steps, above its resident size just before them (Linux: the high-water mark is reset through
  ``/proc/self/clear_refs`` and read from ``VmHWM``; elsewhere ``ru_maxrss``, which can include
  the import). This is the memory for activations, gradients and temporaries; the model's
  weights and the batch are in the baseline. Each model runs in its own process so the numbers
  do not mix.

The anchor: our :class:`~dno.models.SpectralConv` against neuraloperator's ``SpectralConv``
(a benchmark-only dependency, ``pip install neuraloperator``) at matched size: the same batch,
in/out channels (the width), grid (X, S) and the same retained modes (ours ``(modes_x,
modes_theta) = (8, 16)``, theirs ``n_modes = (2*8-1, 2*16-1)``, both keeping |k_x| <= 7 and
0 <= k_theta <= 15); with the same weights both compute the same function (checked, printed).
The ratio is ours / theirs in samples per second (target >= 1.0). If neuraloperator is missing,
the anchor rows say so and why.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from dno.models import SpectralConv, available, build

REFERENCE = {"batch": 32, "S": 64, "X": 20, "channels": 1, "cond_dim": 1, "width": 32}
QUICK = {"batch": 8, "S": 32, "X": 8, "channels": 1, "cond_dim": 1, "width": 16}
MODES = (8, 16)  # (modes_x, modes_theta) of the spectral-convolution comparison


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    size = dict(QUICK if args.quick else REFERENCE)
    if args.worker:
        result = _worker(args.worker, size, args.seconds, args.repeats)
        print(json.dumps(result))
        return 0
    print(_header(size, args))
    rows = [_in_subprocess(name, args) for name in args.models or available()]
    rows += [_in_subprocess(f"anchor:{d}", args) for d in ("2d", "1d")]
    print(_table(rows))
    return 0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a small size for a fast check")
    parser.add_argument("--seconds", type=float, default=0.5, help="length of a timed block")
    parser.add_argument("--repeats", type=int, default=5, help="timed blocks; the best counts")
    parser.add_argument("--models", nargs="*", help="models to run (default: all)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    return parser


def _header(size: dict[str, int], args: argparse.Namespace) -> str:
    dims = ", ".join(f"{k}={v}" for k, v in size.items())
    return (
        f"dno bench_train: {dims}; forward+backward, best of {args.repeats} blocks of "
        f"{args.seconds} s\ntorch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )


def _in_subprocess(what: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, __file__, "--worker", what]
    command += ["--seconds", str(args.seconds), "--repeats", str(args.repeats)]
    command += ["--quick"] if args.quick else []
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        return {"name": what, "error": reason}
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def _worker(what: str, size: dict[str, int], seconds: float, repeats: int) -> dict[str, Any]:
    torch.manual_seed(0)
    if what.startswith("anchor:"):
        return _anchor(what.split(":")[1], size, seconds, repeats)
    dims = {k: size[k] for k in ("S", "X", "channels", "cond_dim", "width")}
    model = build(what, **dims)
    shape = (size["batch"], size["S"], size["X"], size["channels"])
    history, cond = torch.randn(shape), torch.randn(size["batch"], size["cond_dim"])
    target = torch.randn(size["batch"], model.m, size["X"], size["channels"])

    def step() -> None:
        model.zero_grad(set_to_none=True)
        (model(history, cond) - target).square().mean().backward()

    per_second, peak = _measure(step, size["batch"], seconds, repeats)
    parameters = sum(p.numel() for p in model.parameters())
    return {"name": what, "samples_per_s": per_second, "peak_mib": peak, "parameters": parameters}


def _anchor(dims: str, size: dict[str, int], seconds: float, repeats: int) -> dict[str, Any]:
    """Ours vs neuraloperator's SpectralConv at matched size, ``dims`` '2d' (X, S) or '1d' (S)."""
    width, batch = size["width"], size["batch"]
    grid = (size["X"], size["S"]) if dims == "2d" else (size["S"],)
    # Below the Nyquist frequency, where both libraries keep exactly |k| < modes.
    modes = (min(MODES[0], size["X"] // 2), MODES[1]) if dims == "2d" else MODES[1:]
    ours = SpectralConv(width, width, modes)
    x = torch.randn(batch, width, *grid, requires_grad=True)
    row: dict[str, Any] = {"name": f"SpectralConv {dims}"}
    row["shape"] = f"B={batch}, {width}->{width} ch, grid {grid}, modes {modes}"
    try:
        from neuralop.layers.spectral_convolution import SpectralConv as TheirConv
    except ImportError as error:
        row["samples_per_s"] = _measure(_layer_step(ours, x), batch, seconds, repeats)[0]
        row["anchor"] = f"neuraloperator unavailable ({error}); pip install neuraloperator"
        return row
    theirs = TheirConv(width, width, n_modes=tuple(2 * m - 1 for m in modes), bias=False)
    row["same_function"] = _same_function(ours, theirs, x)
    # Alternate single blocks, so both layers see the same load from other processes.
    ours_rate = their_rate = 0.0
    for _ in range(repeats):
        ours_rate = max(ours_rate, _measure(_layer_step(ours, x), batch, seconds, 1)[0])
        their_rate = max(their_rate, _measure(_layer_step(theirs, x), batch, seconds, 1)[0])
    row.update(samples_per_s=ours_rate, anchor_samples_per_s=their_rate)
    row["ratio"] = ours_rate / their_rate
    return row


def _layer_step(layer: torch.nn.Module, x: torch.Tensor) -> Callable[[], None]:
    def step() -> None:
        layer.zero_grad(set_to_none=True)
        x.grad = None
        layer(x).square().mean().backward()

    return step


def _same_function(ours: SpectralConv, theirs: torch.nn.Module, x: torch.Tensor) -> float:
    """Copy our weights into theirs and return the largest output difference (should be ~1e-6)."""
    o = ours.out_channels
    weight = torch.complex(ours.weight[..., :o], ours.weight[..., o:]).detach()
    # ours (k_theta, k_x, I, O) -> theirs (I, O, [k_x], k_theta), k_x in the same centred order
    weight = weight.permute(2, 3, 1, 0) if len(ours.modes) == 2 else weight[:, 0].permute(1, 2, 0)
    with torch.no_grad():
        theirs.weight.tensor.copy_(weight)  # type: ignore[union-attr, operator]
        return float((ours(x) - theirs(x)).abs().max())


def _measure(
    step: Callable[[], None], batch: int, seconds: float, repeats: int
) -> tuple[float, float]:
    """Best samples per second over ``repeats`` blocks, and the peak memory above baseline, MiB.

    A block repeats ``step`` until ``seconds`` have passed (at least twice). The memory baseline
    is taken before the first step: the allocator keeps freed memory, so a baseline after a
    warm-up would already contain the peak.
    """
    _prime()
    baseline = _reset_peak()
    for _ in range(2):
        step()
    best = 0.0
    for _ in range(repeats):
        count, start = 0, time.perf_counter()
        while count < 2 or time.perf_counter() - start < seconds:
            step()
            count += 1
        best = max(best, batch * count / (time.perf_counter() - start))
    return best, max(0.0, _peak() - baseline) / 2**20


def _prime() -> None:
    """Run a tiny forward+backward first, so one-off runtime set-up is not counted as peak."""
    layer = torch.nn.Linear(8, 8)
    layer(torch.randn(4, 8)).sum().backward()
    torch.bmm(torch.randn(2, 4, 4), torch.randn(2, 4, 4))


def _reset_peak() -> float:
    """Reset the resident-memory high-water mark if the OS allows; return the current RSS."""
    try:
        with open("/proc/self/clear_refs", "w") as handle:
            handle.write("5")
    except OSError:
        pass
    return _status("VmRSS") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _peak() -> float:
    return _status("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


def _status(field: str) -> float:
    """A memory field of /proc/self/status in bytes, or 0 where there is none."""
    try:
        with open("/proc/self/status") as handle:
            for line in handle:
                if line.startswith(field + ":"):
                    return float(line.split()[1]) * 1024.0
    except OSError:
        pass
    return 0.0


def _table(rows: list[dict[str, Any]]) -> str:
    lines = [f"{'model':<20} {'samples/s':>10} {'peak MiB':>9} {'parameters':>11}"]
    for row in rows:
        if "error" in row:
            lines.append(f"{row['name']:<20} failed: {row['error']}")
        elif row["name"].startswith("SpectralConv"):
            continue
        else:
            lines.append(
                f"{row['name']:<20} {row['samples_per_s']:>10.0f} {row['peak_mib']:>9.1f} "
                f"{row['parameters']:>11,d}"
            )
    lines += ["", f"{'layer (fwd+bwd)':<20} {'ours/s':>10} {'theirs/s':>10} {'ratio':>7}  matched"]
    for row in rows:
        if not row["name"].startswith("SpectralConv") or "error" in row:
            continue
        if "anchor" in row:
            lines.append(f"{row['name']:<20} {row['samples_per_s']:>10.0f}  {row['anchor']}")
            continue
        lines.append(
            f"{row['name']:<20} {row['samples_per_s']:>10.0f} {row['anchor_samples_per_s']:>10.0f}"
            f" {row['ratio']:>7.2f}  {row['shape']}; max |ours - theirs| with the same weights "
            f"{row['same_function']:.1e}"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())
