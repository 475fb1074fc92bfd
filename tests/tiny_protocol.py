"""The tiny benchmark protocol of the benchmark tests: two models, two seeds, one epoch, a dozen
neutral trajectories (seconds on one thread), and a writer of protocol files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

TINY: dict[str, Any] = {
    "name": "tiny",
    "description": "two models, two seeds, one epoch",
    "family": "neutral",
    "data": {"n": 12, "seed": 0, "t_end": 12.0},
    "seeds": 2,
    "horizon_delays": 2,
    "evaluation": {"stability_windows": 4},
    "baseline": "fno",
    "config": {"max_epochs": 1, "S": 16, "device": "cpu"},
    "models": {"method_of_steps": {"set": {"width": 8}}, "fno": {"set": {"width": 8}}},
}


def write_protocol(folder: Path, protocol: dict[str, Any], name: str = "tiny.yaml") -> Path:
    """``protocol`` as a YAML file ``folder/name``."""
    path = folder / name
    path.write_text(yaml.safe_dump(protocol, sort_keys=False), encoding="utf-8")
    return path
