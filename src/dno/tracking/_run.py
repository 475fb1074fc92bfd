"""The run folder: every file written atomically, JSON always standard."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dno.tracking._files import (
    ARTIFACTS,
    BEST_CHECKPOINT,
    FINAL_RESULTS,
    LAST_CHECKPOINT,
    METRICS,
    RUN_CONFIG,
    read_csv,
    read_json,
    write_csv,
    write_json,
)

__all__ = ["RunFolder"]


class RunFolder:
    """One run folder: ``config.json``, ``metrics.csv``, ``final_results.json``, ``artifacts/``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.artifacts = self.path / ARTIFACTS
        self.config_path = self.path / RUN_CONFIG
        self.metrics_path = self.path / METRICS
        self.results_path = self.path / FINAL_RESULTS
        self.best_checkpoint = self.artifacts / BEST_CHECKPOINT
        self.last_checkpoint = self.artifacts / LAST_CHECKPOINT

    def create(self) -> RunFolder:
        """Make the folder and ``artifacts/``."""
        self.artifacts.mkdir(parents=True, exist_ok=True)
        return self

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        """Write ``data`` as standard JSON (keys sorted) to ``<run>/<name>`` atomically."""
        return write_json(self.path / name, data, sort_keys=True)

    def read_json(self, name: str) -> dict[str, Any]:
        return read_json(self.path / name)

    def status(self) -> str | None:
        """The ``status`` in ``final_results.json`` (None: no such file, or no status)."""
        if not self.results_path.is_file():
            return None
        status = read_json(self.results_path).get("status")
        return None if status is None else str(status)

    def write_metrics(self, rows: list[dict[str, Any]]) -> Path:
        """Rewrite ``metrics.csv`` with ``rows`` (one per epoch) atomically."""
        return write_csv(self.metrics_path, rows)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.csv`` with numbers parsed (empty cells become None)."""
        return read_csv(self.metrics_path)
