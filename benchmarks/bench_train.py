"""Training speed and peak memory of every model; our spectral convolution vs neuraloperator.

Run from the repository root::

    .venv/bin/python benchmarks/bench_train.py            # the reference size below
    .venv/bin/python benchmarks/bench_train.py --quick    # a smaller, faster run
    .venv/bin/python benchmarks/bench_train.py --seed-sizes [--seed-src DIR]   # vs the seed
    .venv/bin/python benchmarks/bench_train.py --seed-sizes --floor [--seed-src DIR]
    .venv/bin/python benchmarks/bench_train.py --epoch     # one epoch end to end, real data
    .venv/bin/python benchmarks/bench_train.py --transforms [--threads N]   # DFT products vs FFT

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
The ratio is ours / theirs in samples per second (target: at least 2). If neuraloperator is missing,
the anchor rows say so and why.

Seed sizes (``--seed-sizes``): dno's models against the seed pipeline's own models
(github.com/ansschh/dno, MIT) at the seed's default sizes, B=32, one training step = forward,
mean-squared loss, backward and an AdamW step, on ``--threads`` threads (default 2). With
``--seed-src DIR`` (a checkout of the seed repository, or any folder whose ``stacked_history.py``,
``method_of_steps.py`` and ``memory_kernel.py`` define its model classes; never part of dno) both
models are built in this process and timed in turn, block by block, and the ratio is the median of
the rounds' ratios. Without it, the seed's samples per second recorded here (``SEED_RECORDED``,
with the date and machine) stand in, which is only fair on a machine like that one.

Where a step's time goes (``--seed-sizes --profile [--seed-src DIR]``: torch.profiler over 10
steps, self time and calls per operation; wall clock per operation, so read shares, not absolute
times, on a shared machine). Seen on 2026-12-01, 1 thread, with CPU-time checks:

- stacked_history X=1 (width 64, 4 layers, 4 θ-modes): about 500 operations per step for some
  60 M multiply-adds (well under 1 ms of arithmetic on this core), so each operation's fixed cost
  (dispatch, autograd, allocation: ~10 µs) dominates. Matrix products 26%, GELU forward and
  backward 19%, building the complex block weights (concatenations) 13%, copies (permuting the
  spectrum; baddbmm copying its addend) 8%, element-wise 10%, AdamW 5%; the four spectral
  convolutions are a third of the step (~0.55 ms each, forward and backward).
- stacked_history X=20 (modes 6 x 8): arithmetic and memory traffic, ~2.5 G multiply-adds per
  step. Matrix products 44%, copies 19%, GELU 11%, element-wise 8%, block weights 6%, AdamW 2%;
  the spectral convolutions are two thirds of the step.
- method_of_steps (width 32, 3 layers, 16 of 17 θ-modes): as X=1, bound by the number of
  operations (about 1000 with views): matrix products 30%, copies 14%, FiLM 8%, views 7%.
- memory_kernel: the 64 Euler steps' small operations (130 GELUs per step); the seed's 400 steps
  cost 7 times more.
- The seed's models: FFTs (17-27%) and copies (20-25%: slicing complex spectra, zero-filled
  full spectra).

The floor (``--seed-sizes --floor [--seed-src DIR]``): the matrix products of one dno step,
read off the profiler with their shapes and each timed alone (the faster of 1 and 2 threads),
summed; against dno's step and a third of the seed's, both on 2 threads. Seen on 2026-12-01
(ms per step; MMAC = millions of multiply-adds in the products):

    row                        MMAC  floor    dno  seed/3
    stacked_history X=1         105   2.54  10.92    6.47
    stacked_history X=20       2332  41.06 110.37   78.75
    method_of_steps              51   1.36   4.77    1.88
    memory_kernel                75   3.12  39.63   81.44

On X=20 the products run at 115 GFLOP/s and are 40% of the step; GELU (exact, forward and
backward) is 8%, the rest copies and element-wise passes over a 5 MB field. On X=1 and
method_of_steps the products are a quarter of the step: the other ~300 operations of forward and
backward (activations, FiLM, reshapes, the optimizer) cost 2-100 µs each. For method_of_steps,
three times the seed leaves 0.5 ms per step beside its products for all of them; compiled
(``--compile``) the step still takes about 5 ms. The seed's method_of_steps is a different, much
smaller network (three 3-point convolutions and an MLP, 25 M multiply-adds forward); dno's at its
defaults (3 Fourier layers of width 32 over 16 θ-modes, FiLM) does as much arithmetic.

Kept because measured faster (CPU time per step, 1 thread, the seed timed in between): on line
grids (X=1, and 1-D models) the Fourier stack works points first, ``(S, batch, width)``, where a
spectral convolution is five matrix products with no permutation and no block weights and a skip
map is one (X=1: 6.6 -> 5.1 ms per step; method_of_steps: 3.9 -> 3.2 ms; forward operations
149 -> 105 for method_of_steps); FiLM folded into the Fourier layers' maps on large grids
(X=20: 140 -> 123 ms per step); the 2-D inverse transform without a permuting copy (a spectral
convolution at X=20: 16.0 -> 13.1 ms forward and backward); a channels-first convolution on a
line also goes points first (11-20% faster at the neuraloperator anchor's 1-D size and at X=1,
2 threads); the window's θ and x channels made once per grid; with at most 8 last-axis modes, a
2-D convolution's first-axis transform as one matrix product after a permuting copy instead of
thousands of tiny batched products from the left (2 threads: one convolution at X=20 1.2-1.4x
faster forward+backward; the X=20 row 1.78-2.03x -> 2.22-2.53x of the seed in runs alternated
with the previous commit; with 12 or more modes the batched products stay, the copy costing
more). Tried and dropped (2026-12-01, no gain beyond the noise of +-15% between rounds): the
FiLM shift added to the zero frequency of the spectrum instead of a pass over the field;
accumulating the skip map into the spectral output in place (no copy of the addend); the inverse
θ transform as one plain product after a permuting copy. Earlier: folding FiLM
on short grids (X=1: 10-15% slower; the per-sample weight is larger than the grid); a
hand-written backward for the 1-D path (at most 7%: the operations cost, not autograd's record
of them); ``torch.fft.rfft2`` instead of the truncated DFT products (1.7 ms against 1.2 ms with
the permutations at X=20; at the short θ grids of the other rows the products win by more).

One epoch end to end (``--epoch``): ``stacked_history`` at its defaults with the default training
options (S=32, batch 64, AdamW), one epoch through :func:`dno.training.train` (windows, loader,
steps, validation, checkpoints) on two generated datasets, Mackey-Glass (1024 trajectories) and
reaction-diffusion on 64 points (256 trajectories, 204 for training), on ``--threads`` threads.
Printed: the seconds to make the windows the first time and again (kept per dataset); the
seconds of the whole one-epoch run, first in the process ("run s": it includes one-off imports,
torch._dynamo pulled in by the optimizer's constructor and matplotlib for the final figure,
about 3.5 s here) and again; and the cost of one more epoch (a two-epoch run minus a one-epoch
run: windows from the cache, steps, validation). The datasets are generated into ``--data-dir``
once.

Transforms (``--transforms``): one :class:`~dno.models.SpectralConv`'s forward + backward at the
sizes dno's models use, its truncated-DFT matrix products against the same function through
``torch.fft`` (``rfft``/``rfft2``, keep the retained modes, the same channel mixing, zero-filled
``irfft``/``irfft2``), timed in turn, the median of the rounds' ratios; the largest relative
difference of the two outputs is printed too (lines take the points-first path and 2-D grids
fold a FiLM scale and shift in, as in the models). Seen on 2026-12-01 (2 cores, torch 2.13 CPU),
FFT time / DFT time on 1 and 2 threads: X=1 lines (S=32 or 64, 4 or 16 θ-modes) 1.7-2.1 and
2.0-2.4; (X, S) = (20, 32), modes 8 x 6: 2.0 and 2.5; (64, 32), modes 8 x 16 (stacked_history's
default on reaction-diffusion): 1.6 and 2.4; (64, 32), modes 16 x 17: 1.4 and 1.8. The FFT's
transforms alone cost about as much as the whole DFT convolution. A one-off trial taking only
the two-sided axis by FFT (the other by DFT product) was 0.99-1.36 at ten 2-D sizes from (8, 32)
to (64, 32), with 7 to all modes kept. So the spectral convolution keeps its DFT products at
every size dno uses.
"""

from __future__ import annotations

import argparse
import collections
import functools
import json
import math
import os
import platform
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

import torch

from dno.models import CompiledModel, SpectralConv, available, build

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
    if args.epoch:
        return _epoch(args.threads, args.data_dir)
    if args.transforms:
        return _transforms(args.threads, args.seconds, args.repeats)
    if args.seed_sizes and args.profile:
        return _profile_seed_sizes(args.seed_src, args.threads)
    if args.seed_sizes and args.floor:
        return _floor_seed_sizes(args.seed_src, args.seconds, args.repeats)
    if args.seed_sizes:
        return _seed_sizes(args.seed_src, args.threads, args.seconds, args.repeats, args.compile)
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
    parser.add_argument(
        "--seed-sizes", action="store_true", help="dno vs the seed's models at the seed's sizes"
    )
    parser.add_argument(
        "--seed-src", metavar="DIR", help="folder with the seed's model files (ansschh/dno)"
    )
    parser.add_argument(
        "--compile", action="store_true", help="--seed-sizes: dno's step through torch.compile"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help="--seed-sizes: where a training step's time goes (torch.profiler, per operation)",
    )
    parser.add_argument(
        "--floor",
        action="store_true",
        help="--seed-sizes: the time of a step's matrix products alone, against the 3x target",
    )
    parser.add_argument("--epoch", action="store_true", help="one epoch end to end, real data")
    parser.add_argument(
        "--transforms",
        action="store_true",
        help="one spectral convolution: truncated-DFT products vs torch.fft, per size",
    )
    parser.add_argument(
        "--data-dir", default="bench_data", help="where --epoch keeps its generated datasets"
    )
    parser.add_argument(
        "--threads", type=int, default=2, help="torch threads (--seed-sizes, --epoch, --transforms)"
    )
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


# --- seed sizes: dno's models against the seed pipeline's own models (ansschh/dno) ------------

SEED_BATCH = 32

#: The table's rows: dno's model and config, the seed's module, class and constructor arguments
#: (its command-line defaults; ``X = 20`` is its reaction-diffusion case, where the 20 spatial
#: points are also its input channels; with X = 1 its x-modes must be 1, its default 16 fails on
#: a one-point axis), and how the seed's model is called.
SEED_SIZES: list[dict[str, Any]] = [
    {
        "row": "stacked_history, S=32, X=1, width 64, 4 layers, θ-modes 4",
        "model": "stacked_history",
        "config": {"S": 32, "X": 1, "width": 64, "layers": 4, "modes_theta": 4},
        "seed": ("stacked_history", "StackedHistoryFNO"),
        "seed_args": {
            "in_channels": 1, "out_channels": 1, "S": 32, "X": 1, "fourier_modes_s": 4,
            "fourier_modes_x": 1, "hidden_channels": 64, "n_layers": 4,
        },
        "seed_call": "window",
    },
    {
        "row": "stacked_history, S=32, X=20, width 64, 4 layers, modes 6 x 8",
        "model": "stacked_history",
        "config": {"S": 32, "X": 20, "width": 64, "layers": 4, "modes_theta": 6, "modes_x": 8},
        "seed": ("stacked_history", "StackedHistoryFNO"),
        "seed_args": {
            "in_channels": 20, "out_channels": 20, "S": 32, "X": 20, "fourier_modes_s": 6,
            "fourier_modes_x": 8, "hidden_channels": 64, "n_layers": 4,
        },
        "seed_call": "window",
    },
    {
        "row": "method_of_steps, S=32, defaults",
        "model": "method_of_steps",
        "config": {"S": 32, "X": 1},
        "seed": ("method_of_steps", "MethodOfStepsModel"),
        "seed_args": {"S": 32},
        "seed_call": "window_tau",
    },
    {
        "row": "memory_kernel, S=64 (seed: 400 Euler steps)",
        "model": "memory_kernel",
        "config": {"S": 64, "X": 1},
        "seed": ("memory_kernel", "MemoryKernelModel"),
        "seed_args": {"S": 64, "channels": 1, "hidden": 64},
        "seed_call": "euler_400",
    },
]  # fmt: skip

#: The seed's samples per second at those sizes, B=32, forward+backward+AdamW, 2 threads,
#: measured with ``--seed-src`` on the project's 2-core machine (see SEED_RECORDED_WHEN); used
#: only when the seed's files are not given.
SEED_RECORDED: dict[str, float] = {
    SEED_SIZES[0]["row"]: 1792.0,
    SEED_SIZES[1]["row"]: 151.0,
    SEED_SIZES[2]["row"]: 4047.0,
    SEED_SIZES[3]["row"]: 90.0,
}
SEED_RECORDED_WHEN = (
    "2026-12-01 on the project's 2-core x86_64 machine (AMD EPYC), torch 2.13.0, quiet; rounds "
    "vary by up to 30% there: time the seed side by side with --seed-src where you can"
)


def _seed_sizes(
    seed_src: str | None, threads: int, seconds: float, repeats: int, compile: bool = False
) -> int:
    torch.set_num_threads(threads)
    source = "timed side by side" if seed_src else f"recorded {SEED_RECORDED_WHEN}"
    print(
        f"dno bench_train --seed-sizes: B={SEED_BATCH}, forward+backward+AdamW, {threads} threads,"
        f" {repeats} rounds of {seconds} s blocks; seed {source}\ntorch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    lines = [f"{'model, size':<62} {'dno/s':>8} {'seed/s':>8} {'dno/seed':>9}"]
    for spec in SEED_SIZES:
        ours = _dno_seed_size_step(spec, compile)
        if compile:  # the first compiled step compiles: its time is the price of compiling
            start = time.perf_counter()
            ours()
            lines.append(f"  (compiled; first step {time.perf_counter() - start:.1f} s)")
        if seed_src:
            theirs = _seed_step(spec, seed_src)
            rates = _interleaved({"dno": ours, "seed": theirs}, SEED_BATCH, seconds, repeats)
            ratios = sorted(a / b for a, b in zip(rates["dno"], rates["seed"], strict=True))
            ratio, seed_rate = ratios[len(ratios) // 2], _median(rates["seed"])
        else:
            rates = _interleaved({"dno": ours}, SEED_BATCH, seconds, repeats)
            seed_rate = SEED_RECORDED.get(spec["row"], math.nan)
            ratio = _median(rates["dno"]) / seed_rate
        lines.append(
            f"{spec['row']:<62} {_median(rates['dno']):>8.0f} {seed_rate:>8.0f} {ratio:>8.2f}x"
        )
    print("\n".join(lines))
    return 0


def _profile_seed_sizes(seed_src: str | None, threads: int, steps: int = 10, top: int = 12) -> int:
    """Per operation: self CPU time per step, its share, calls per step (dno's, the seed's)."""
    from torch.profiler import ProfilerActivity, profile

    torch.set_num_threads(threads)
    print(
        f"dno bench_train --seed-sizes --profile: B={SEED_BATCH}, one training step "
        f"(forward+backward+AdamW), {threads} threads, {steps} steps profiled; self CPU time "
        "(wall clock per operation, so other load on the machine inflates it)"
    )
    for spec in SEED_SIZES:
        pairs = [("dno", _dno_seed_size_step(spec))]
        pairs += [("seed", _seed_step(spec, seed_src))] if seed_src else []
        for who, step in pairs:
            for _ in range(3):
                step()
            with profile(activities=[ProfilerActivity.CPU]) as prof:
                for _ in range(steps):
                    step()
            rows = [e for e in prof.key_averages() if e.key.startswith("aten::")]
            total = sum(e.self_cpu_time_total for e in prof.key_averages()) / steps / 1e3
            calls = sum(e.count for e in rows) / steps
            print(f"\n{who}: {spec['row']}: {total:.2f} ms per step, {calls:.0f} aten operations")
            rows.sort(key=lambda e: e.self_cpu_time_total, reverse=True)
            for e in rows[:top]:
                ms = e.self_cpu_time_total / steps / 1e3
                print(
                    f"  {e.key:<28} {ms:>7.3f} ms {100 * ms / total:>5.1f}% "
                    f"{e.count / steps:>5.0f} calls"
                )
    return 0


#: The operations a floor counts: dno's steps spend their arithmetic in these matrix products.
_PRODUCTS = {
    "aten::mm": lambda a, b: torch.mm(a, b),
    "aten::bmm": lambda a, b: torch.bmm(a, b),
    "aten::addmm": lambda c, a, b: torch.addmm(c, a, b),
    "aten::baddbmm": lambda c, a, b: torch.baddbmm(c, a, b),
}


def _floor_seed_sizes(seed_src: str | None, seconds: float, repeats: int) -> int:
    """dno's step against the time its matrix products take alone, and the seed's step / 3.

    The products of one training step (forward, backward, AdamW) are read off torch.profiler
    with their shapes; each is timed alone on fresh contiguous operands on 1 and on 2 threads and
    the faster counts. Their sum is a floor for a step that computes the same function through
    the same products: every other operation (activations, FiLM, copies, the optimizer) and the
    cost of running each operation comes on top.
    """
    from torch.profiler import ProfilerActivity, profile

    print(
        f"dno bench_train --seed-sizes --floor: B={SEED_BATCH}, one training step; products timed "
        f"alone, the faster of 1 and 2 threads; steps on 2 threads, median of {repeats} rounds; "
        f"seed {'timed side by side' if seed_src else 'recorded ' + SEED_RECORDED_WHEN}"
    )
    print(f"{'model, size':<62} {'MMAC':>6} {'floor':>7} {'dno':>7} {'seed/3':>7}  (ms per step)")
    for spec in SEED_SIZES:
        torch.set_num_threads(2)
        ours = _dno_seed_size_step(spec)
        steps = {"dno": ours, **({"seed": _seed_step(spec, seed_src)} if seed_src else {})}
        rates = _interleaved(steps, SEED_BATCH, seconds, repeats)
        with profile(activities=[ProfilerActivity.CPU], record_shapes=True) as prof:
            ours()
        counts = collections.Counter(
            (event.name, json.dumps(event.input_shapes))
            for event in prof.events()
            if event.name in _PRODUCTS
        )
        floor, macs = 0.0, 0
        for (name, shapes), count in counts.items():
            operands = [torch.randn(*shape) for shape in json.loads(shapes) if shape]
            a, b = operands[-2:]
            macs += count * math.prod(a.shape) * b.shape[-1]
            product = functools.partial(_PRODUCTS[name], *operands)
            fastest = 0.0  # calls per second, the best block on 1 or on 2 threads
            for threads in (1, 2):
                torch.set_num_threads(threads)
                fastest = max(fastest, *_interleaved({"call": product}, 1, 0.05, 5)["call"])
            floor += count / fastest
        step_ms = 1e3 * SEED_BATCH / _median(rates["dno"])
        seed_rate = _median(rates["seed"]) if seed_src else SEED_RECORDED[spec["row"]]
        seed = f"{1e3 * SEED_BATCH / seed_rate / 3:>7.2f}"
        print(f"{spec['row']:<62} {macs / 1e6:>6.0f} {1e3 * floor:>7.2f} {step_ms:>7.2f} {seed}")
    return 0


def _median(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[len(ordered) // 2]


def _interleaved(
    steps: dict[str, Callable[[], None]], batch: int, seconds: float, rounds: int
) -> dict[str, list[float]]:
    """Samples per second of each step per round; the steps take turns, block by block."""
    for step in steps.values():  # warm-up: first-call set-up, allocator, caches
        for _ in range(3):
            step()
    rates: dict[str, list[float]] = {name: [] for name in steps}
    for _ in range(rounds):
        for name, step in steps.items():
            count, start = 0, time.perf_counter()
            while count < 2 or time.perf_counter() - start < seconds:
                step()
                count += 1
            rates[name].append(batch * count / (time.perf_counter() - start))
    return rates


def _training_step(
    model: torch.nn.Module,
    forward: Callable[[], torch.Tensor],
    target: torch.Tensor,
    fused: bool | None = None,
) -> Callable[[], None]:
    """One training step: forward, mean-squared loss, backward, AdamW (as each trainer makes it:
    dno's fused, the seed's plain ``AdamW(model.parameters(), lr)``)."""
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4, fused=fused)

    def step() -> None:
        optimizer.zero_grad(set_to_none=True)
        (forward() - target).square().mean().backward()
        optimizer.step()

    return step


def _dno_seed_size_step(spec: dict[str, Any], compile: bool = False) -> Callable[[], None]:
    """dno's training step at the row's size, as the trainer runs it (fused AdamW)."""
    torch.manual_seed(0)
    model = build(spec["model"], channels=1, cond_dim=1, **spec["config"])
    forward = CompiledModel(model, compile)
    n_s, n_x = spec["config"]["S"], spec["config"]["X"]
    history = torch.randn(SEED_BATCH, n_s, n_x, 1)
    cond = torch.randn(SEED_BATCH, 1)
    target = torch.randn(SEED_BATCH, model.m, n_x, 1)
    return _training_step(model, lambda: forward(history, cond), target, fused=True)


def _seed_step(spec: dict[str, Any], seed_src: str) -> Callable[[], None]:
    """The seed's model at the row's size, built from its own file in ``seed_src``."""
    import importlib

    if seed_src not in sys.path:
        sys.path.insert(0, seed_src)
    module, name = spec["seed"]
    torch.manual_seed(0)
    model = getattr(importlib.import_module(module), name)(**spec["seed_args"])
    n_s = spec["seed_args"]["S"]
    if spec["seed_call"] == "euler_400":  # its training call: 400 Euler steps of dt 0.05
        window = torch.randn(SEED_BATCH, n_s, 1)
        target = torch.randn(SEED_BATCH, 400, 1)
        return _training_step(model, lambda: model.euler_roll(window, 400, 0.05), target)
    channels = spec["seed_args"].get("in_channels", 1)
    window = torch.randn(SEED_BATCH, n_s, channels)
    target = torch.randn(SEED_BATCH, n_s, channels)
    if spec["seed_call"] == "window_tau":
        tau = torch.rand(SEED_BATCH, 1)
        return _training_step(model, lambda: model(window, tau), target)
    return _training_step(model, lambda: model(window), target)


# --- one epoch end to end ---------------------------------------------------------------------

EPOCH_DATA: dict[str, dict[str, Any]] = {
    "Mackey-Glass, 1024 trajectories": {"family": "mackey", "n": 1024},
    "reaction-diffusion, 64 points": {"family": "reaction_diffusion", "n": 256, "grid_points": 64},
}


def _epoch(threads: int, data_dir: str) -> int:
    import tempfile
    from pathlib import Path

    from dno.data import generate_dataset, read_dataset
    from dno.training import prepare_data, resolve_config, train

    torch.set_num_threads(threads)
    print(
        f"dno bench_train --epoch: stacked_history (defaults), one epoch end to end, "
        f"{threads} threads\ntorch {torch.__version__}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs"
    )
    lines = [
        f"{'dataset':<34} {'train win':>9} {'windows s':>9} {'again s':>8} {'run s':>7} "
        f"{'again s':>8} {'per epoch s':>11}"
    ]

    def run(config: dict[str, Any], path: Path) -> float:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            train(config, read_dataset(path), Path(out) / "run", progress=False)
            return time.perf_counter() - start

    for label, spec in EPOCH_DATA.items():
        path = Path(data_dir) / f"{spec['family']}-{spec['n']}.h5"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            options = {k: v for k, v in spec.items() if k not in ("family", "n")}
            generate_dataset(spec["family"], spec["n"], 0, path, **options)
        config = resolve_config("stacked_history", {"max_epochs": 1, "device": "cpu"})
        dataset = read_dataset(path)
        start = time.perf_counter()
        data = prepare_data(dataset, config, config["S"])
        first = time.perf_counter() - start
        start = time.perf_counter()
        prepare_data(dataset, config, config["S"])
        again = time.perf_counter() - start
        cold, warm = run(config, path), run(config, path)
        two = run(resolve_config("stacked_history", {"max_epochs": 2, "device": "cpu"}), path)
        lines.append(
            f"{label:<34} {len(data.train):>9} {first:>9.2f} {again:>8.2f} {cold:>7.2f} "
            f"{warm:>8.2f} {two - warm:>11.2f}"
        )
    print("\n".join(lines))
    return 0


#: (batch, width, grid, modes) of one spectral convolution in dno's models: stacked_history at
#: the seed's sizes (X=1, θ-modes 4; X=20, modes 6 x 8), method_of_steps (S=32, 16 of 17
#: θ-modes), memory_kernel (S=64) and stacked_history's defaults on reaction-diffusion (X=64).
TRANSFORM_SIZES: list[tuple[int, int, tuple[int, ...], tuple[int, ...]]] = [
    (32, 64, (32,), (4,)),
    (32, 32, (32,), (16,)),
    (32, 32, (64,), (16,)),
    (32, 64, (20, 32), (8, 6)),
    (64, 32, (64, 32), (8, 16)),
    (64, 32, (64, 32), (16, 17)),
]


def _fft_spectral(
    conv: SpectralConv,
    x: torch.Tensor,
    scale: torch.Tensor | None = None,
    shift: torch.Tensor | None = None,
) -> torch.Tensor:
    """``conv(x, scale, shift)`` through torch.fft: full transforms, then truncation."""
    batch, o, grid = x.shape[0], conv.out_channels, x.shape[2:]
    last = range(min(conv.modes[-1], grid[-1] // 2 + 1))
    full = conv._full_freqs(grid[0]) if len(grid) == 2 else range(1)
    weight = conv._kept_weight(last, full)  # (m_last, n_full, I, 2*O)
    weight = torch.complex(weight[..., :o], weight[..., o:])
    rows = torch.arange(full.start, full.stop) % grid[0]
    z = torch.fft.rfftn(x, dim=tuple(range(2, x.ndim)))
    z = z[..., rows, : len(last)] if len(grid) == 2 else z[..., None, : len(last)]
    y = torch.einsum("bifl,lfio->bofl", z, weight)
    y = y if scale is None else y * scale[:, :, None, None]
    spectrum = y.new_zeros(batch, o, grid[0] if len(grid) == 2 else 1, grid[-1] // 2 + 1)
    spectrum[..., rows, : len(last)] = y
    spectrum = spectrum if len(grid) == 2 else spectrum[:, :, 0]
    out = torch.fft.irfftn(spectrum, s=grid, dim=tuple(range(2, x.ndim)))
    return out if shift is None else out + shift.reshape(batch, o, *(1,) * len(grid))


def _transforms(threads: int, seconds: float, repeats: int) -> int:
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    print(
        f"dno bench_train --transforms: one SpectralConv forward+backward, DFT products vs "
        f"torch.fft, {threads} threads, median of {repeats} rounds of {seconds} s\n"
        f"torch {torch.__version__}, {platform.processor() or platform.machine()}"
    )
    header = f"{'B, width, grid, modes':<36} {'DFT ms':>8} {'FFT ms':>8} {'FFT/DFT':>8} {'diff':>8}"
    rows = [_transform_row(*size, seconds, repeats) for size in TRANSFORM_SIZES]
    print("\n".join([header, *rows]))
    return 0


def _transform_row(
    batch: int,
    width: int,
    grid: tuple[int, ...],
    modes: tuple[int, ...],
    seconds: float,
    repeats: int,
) -> str:
    """One size of ``--transforms``: times, their median ratio and the outputs' difference."""
    conv = SpectralConv(width, width, modes)
    x = torch.randn(batch, width, *grid, requires_grad=True)
    # FiLM folded in on 2-D grids; lines take the points-first path, as in the models.
    film = len(grid) == 2
    scale = 1.0 + 0.1 * torch.randn(batch, width) if film else None
    shift = torch.randn(batch, width) if film else None
    with torch.no_grad():
        ours = conv(x, scale, shift)
        diff = (ours - _fft_spectral(conv, x, scale, shift)).abs().max() / ours.abs().max()
    grad = torch.randn_like(ours)
    steps = {
        "dft": lambda: conv(x, scale, shift).backward(grad),
        "fft": lambda: _fft_spectral(conv, x, scale, shift).backward(grad),
    }
    rates = _interleaved(steps, 1, seconds, repeats)
    ratio = _median([d / f for d, f in zip(rates["dft"], rates["fft"], strict=True)])
    dft_ms, fft_ms = 1e3 / _median(rates["dft"]), 1e3 / _median(rates["fft"])
    label = f"{batch}, {width}, {grid}, {modes}"
    return f"{label:<36} {dft_ms:>8.2f} {fft_ms:>8.2f} {ratio:>8.2f} {diff:>8.1e}"


if __name__ == "__main__":
    sys.exit(main())
