"""A readable summary of a dataset file (what ``dno data info`` prints)."""

from __future__ import annotations

import json
import math

import numpy as np

from dno.data._schema import MIN_OBSERVATIONS_PER_DELAY, SPLITS, Dataset, survey

__all__ = ["describe_dataset"]


def _range(values: np.ndarray) -> str:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return "unknown"
    lo, hi = float(finite.min()), float(finite.max())
    return f"{lo:.6g}" if lo == hi else f"[{lo:.6g}, {hi:.6g}]"


def describe_dataset(dataset: Dataset, name: str = "") -> str:
    """Counts per split, parameter and length ranges, sampling, bad values and provenance, as
    plain text. The trajectories are read in one pass, a block at a time (:func:`survey`)."""
    splits = dataset.splits
    total = sum(len(s) for s in splits.values())
    n_x = dataset.x.shape[0]
    lines = [
        f"dataset    {name}",
        f"family     {dataset.family}",
        f"format     dno-dataset v{dataset.format_version}, written by dno {dataset.dno_version}",
        f"state      X = {n_x} spatial point{'s' if n_x > 1 else ''}",
        "splits     " + ", ".join(f"{s} {len(splits[s])}" for s in SPLITS) + f" (total {total})",
    ]
    every = {p: np.concatenate([splits[s].params[p] for s in SPLITS]) for p in dataset.parameters}
    for p in dataset.parameters:
        lines.append(f"  {p:<8} {_range(every[p])}")
    lengths = np.concatenate([splits[s].lengths for s in SPLITS])
    found = survey(dataset)
    if lengths.size:
        lines.append(
            f"lengths    min {lengths.min()}, median {int(np.median(lengths))}, "
            f"max {lengths.max()} observations; last time {_range(np.array(found.last_time))}"
        )
    fewest, where = found.fewest, found.where
    if math.isfinite(fewest):
        lines.append(
            f"sampling   fewest observations per delay window {fewest:.3g} ({where})"
            + (
                f": undersampled, below {MIN_OBSERVATIONS_PER_DELAY}"
                if fewest < MIN_OBSERVATIONS_PER_DELAY
                else ""
            )
        )
    problems = found.problems
    lines.append(f"values     {len(problems)} problem{'s' * (len(problems) != 1)}" + (
        " (training refuses this file)" if problems else ": finite, times increasing"
    ))  # fmt: skip
    lines.extend(f"  {problem}" for problem in problems)
    lines.append("provenance")
    for key, value in dataset.provenance.items():
        if isinstance(value, dict) and value and key != "priors":
            lines.append(f"  {key}")
            lines.extend(f"    {k:<20} {_text(v)}" for k, v in value.items())
        else:
            lines.append(f"  {key:<22} {_text(value)}")
    return "\n".join(lines)


def _text(value: object) -> str:
    return json.dumps(value, sort_keys=True) if isinstance(value, dict | list) else str(value)
