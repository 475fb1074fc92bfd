"""Cost of a model: parameter count, inference throughput and peak memory (torch, lazily)."""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from dno.errors import UsageError

__all__ = ["Cost", "measure_cost", "parameter_count"]


@dataclass(frozen=True)
class Cost:
    """What a model costs at inference.

    Attributes:
        parameters: number of parameters (all, trainable or not).
        trainable_parameters: those with ``requires_grad``.
        batch_size: samples per forward call (first axis of the first input).
        seconds_per_batch: median wall time of one forward call over the repeats.
        samples_per_second: ``batch_size / seconds_per_batch``.
        peak_memory_bytes: on CUDA, ``torch.cuda.max_memory_allocated`` during the calls
            (above what was allocated before); on CPU, the process's peak resident set size
            after the calls (an upper bound: it includes everything the process holds); -1 if
            the platform cannot tell.
        memory_kind: ``"cuda_max_allocated"``, ``"process_peak_rss"`` or ``"unavailable"``.
        device: the device the calls ran on.
    """

    parameters: int
    trainable_parameters: int
    batch_size: int
    seconds_per_batch: float
    samples_per_second: float
    peak_memory_bytes: int
    memory_kind: str
    device: str


def parameter_count(model: Any, *, trainable_only: bool = False) -> int:
    """Number of parameters of a ``torch.nn.Module`` (0 for an object without parameters).

    Args:
        model: the model.
        trainable_only: count only parameters with ``requires_grad``.
    """
    parameters = getattr(model, "parameters", None)
    if parameters is None:
        return 0
    return int(sum(p.numel() for p in parameters() if p.requires_grad or not trainable_only))


def _process_peak_rss() -> tuple[int, str]:
    try:
        import resource
    except ImportError:  # pragma: no cover - Windows
        return -1, "unavailable"
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    # Linux reports kibibytes, macOS bytes.
    return (int(peak) if sys.platform == "darwin" else int(peak) * 1024), "process_peak_rss"


def measure_cost(
    model: Callable[..., Any],
    inputs: Sequence[Any],
    *,
    repeats: int = 10,
    warmup: int = 2,
) -> Cost:
    """Parameter count, throughput and peak memory of ``model(*inputs)`` under inference mode.

    Args:
        model: a ``torch.nn.Module`` (or any callable of tensors), e.g. ``model(history, params)``
            with history (B, S, X, C) and conditioning (B, P).
        inputs: positional inputs: tensors, or numpy arrays (converted to float32 tensors);
            moved to the model's device.
        repeats: timed calls (the median is reported). warmup: untimed calls before them.

    Returns:
        A :class:`Cost`.
    """
    import torch

    if repeats < 1 or warmup < 0:
        raise UsageError(f"repeats={repeats}, warmup={warmup}; expected repeats >= 1, warmup >= 0")
    if not inputs:
        raise UsageError("inputs is empty; expected at least one input (the history)")
    params = list(getattr(model, "parameters", list)())
    device = params[0].device if params else torch.device("cpu")
    tensors = [
        (x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float32)).to(device)
        for x in inputs
    ]
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize(device)
        torch.cuda.reset_peak_memory_stats(device)
        baseline = torch.cuda.memory_allocated(device)
    times = []
    with torch.inference_mode():
        for i in range(warmup + repeats):
            start = time.perf_counter()
            model(*tensors)
            if cuda:
                torch.cuda.synchronize(device)
            if i >= warmup:
                times.append(time.perf_counter() - start)
    if cuda:
        peak, kind = int(torch.cuda.max_memory_allocated(device) - baseline), "cuda_max_allocated"
    else:
        peak, kind = _process_peak_rss()
    seconds = statistics.median(times)
    batch = int(tensors[0].shape[0]) if tensors[0].ndim else 1
    return Cost(
        parameters=parameter_count(model),
        trainable_parameters=parameter_count(model, trainable_only=True),
        batch_size=batch,
        seconds_per_batch=seconds,
        samples_per_second=batch / seconds if seconds > 0 else float("inf"),
        peak_memory_bytes=peak,
        memory_kind=kind,
        device=str(device),
    )
