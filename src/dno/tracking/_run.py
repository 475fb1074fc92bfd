"""The run folder: every file written atomically, JSON always standard."""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dno._io import atomic_path

__all__ = ["RunFolder", "json_safe"]


def json_safe(value: Any) -> Any:
    """``value`` with numpy types made plain and non-finite floats replaced by None."""
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        return json_safe(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


class RunFolder:
    """One run folder: ``config.json``, ``metrics.csv``, ``final_results.json``, ``artifacts/``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.artifacts = self.path / "artifacts"

    def create(self) -> RunFolder:
        """Make the folder and ``artifacts/``."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        return self

    @property
    def config_path(self) -> Path:
        return self.path / "config.json"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.csv"

    @property
    def results_path(self) -> Path:
        return self.path / "final_results.json"

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        """Write ``data`` as standard JSON to ``<run>/<name>`` atomically."""
        target = self.path / name
        text = json.dumps(json_safe(data), indent=2, sort_keys=True, allow_nan=False) + "\n"
        with atomic_path(target) as tmp:
            tmp.write_text(text, encoding="utf-8")
        return target

    def read_json(self, name: str) -> dict[str, Any]:
        data: dict[str, Any] = json.loads((self.path / name).read_text(encoding="utf-8"))
        return data

    def write_metrics(self, rows: list[dict[str, Any]]) -> Path:
        """Rewrite ``metrics.csv`` with ``rows`` (one per epoch) atomically."""
        buffer = io.StringIO()
        if rows:
            fields = list(rows[0])
            for row in rows[1:]:
                fields += [k for k in row if k not in fields]
            writer = csv.DictWriter(buffer, fieldnames=fields, lineterminator="\n")
            writer.writeheader()
            writer.writerows({k: json_safe(v) for k, v in row.items()} for row in rows)
        with atomic_path(self.metrics_path) as tmp:
            tmp.write_text(buffer.getvalue(), encoding="utf-8")
        return self.metrics_path

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.csv`` with numbers parsed (empty cells become None)."""
        if not self.metrics_path.exists():
            return []
        with self.metrics_path.open(encoding="utf-8") as handle:
            return [{k: _number(v) for k, v in row.items()} for row in csv.DictReader(handle)]


def _number(text: str) -> Any:
    if text == "":
        return None
    try:
        value = float(text)
    except ValueError:
        return text
    return int(value) if value.is_integer() and "." not in text and "e" not in text else value
