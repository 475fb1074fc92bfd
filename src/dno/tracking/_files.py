"""The names of dno's files, the one JSON and one CSV reader/writer, and the run folder.

JSON is standard (no NaN or Infinity: a non-finite number is ``null``). CSV has the union of
its rows' keys as columns, ``\\n`` line ends, and an empty cell for a missing, None or
non-finite value. Both are written atomically.

The number rule of :func:`read_csv`: an empty cell is None; an integer literal (digits with an
optional sign) is an int; a decimal or scientific literal is a float; anything else (``nan``
too, which dno never writes) stays text.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import math
import os
import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from dno._io import atomic_path, make_folder
from dno.errors import DnoError

__all__ = [
    "AGGREGATE_JSON",
    "AGGREGATE_MD",
    "ARTIFACTS",
    "BENCHMARK_JSON",
    "BEST_CHECKPOINT",
    "BEST_CONFIG",
    "COHERENCE_FIGURE",
    "COMPARISON_CSV",
    "COMPARISON_JSON",
    "COMPARISON_MD",
    "COMPARISON_SCORE",
    "CONFIRMATION",
    "CORRELATION_FIGURE",
    "DATA_FOLDER",
    "DIAGNOSTICS_JSON",
    "EVALUATION_FIGURES",
    "EVALUATION_JSON",
    "FINAL_RESULTS",
    "LAST_CHECKPOINT",
    "LEADERBOARD_CSV",
    "LEADERBOARD_JSON",
    "LEADERBOARD_MD",
    "LEADERBOARD_RUNS",
    "LEDGER_JSON",
    "METRICS_CSV",
    "PREDICTION_FIGURE",
    "PROGRAM_ARGS",
    "PROGRAM_PARAMS",
    "REGIME_SCORES",
    "REPORT_FIGURES",
    "REPORT_FOLDER",
    "REPORT_INDEX",
    "REPORT_JSON",
    "REPORT_TABLES",
    "ROLLOUTS_NPZ",
    "ROLLOUT_ERROR_FIGURE",
    "ROLLOUT_FIGURE",
    "RUNS_FOLDER",
    "RUN_CONFIG",
    "SHOWN_TRIALS",
    "SPECTRUM_FIGURE",
    "STUDY_JOURNAL",
    "SUMMARY",
    "TEST_COST",
    "TRIAL_RECORD",
    "TUNING_FOLDER",
    "RunFolder",
    "comparison_run",
    "default_data_file",
    "default_run_folder",
    "json_safe",
    "parse_cell",
    "read_csv",
    "read_json",
    "write_csv",
    "write_json",
]  # fmt: skip

# a run folder (dno train)
RUN_CONFIG = "config.json"  # the configuration as it ran (after defaulting)
METRICS_CSV = "metrics.csv"  # one row per epoch
FINAL_RESULTS = "final_results.json"  # the final metrics (and dno evaluate's summary)
ARTIFACTS = "artifacts"  # checkpoints and figures
BEST_CHECKPOINT = "best.pt"  # in artifacts/, loads with dno.models.load alone
LAST_CHECKPOINT = "last.pt"  # in artifacts/, to resume
PREDICTION_FIGURE = "prediction_vs_truth.png"
#: a study's best trials whose runs (curves, figures, evaluations) its report shows: the search
#: draws ``PREDICTION_FIGURE`` for these only, not for every trial
SHOWN_TRIALS = 3
# dno evaluate, in a run folder (``.format(split=...)``)
EVALUATION_JSON = "evaluation_{split}.json"
ROLLOUTS_NPZ = "rollouts_{split}.npz"
EVALUATION_FIGURES = "evaluation_{split}"  # in artifacts/, holding the figures below
ROLLOUT_FIGURE = "rollout_vs_truth.png"
ROLLOUT_ERROR_FIGURE = "rollout_error.png"
SPECTRUM_FIGURE = "power_spectrum.png"  # also dno diagnose's, in its --out folder
COHERENCE_FIGURE = "cross_correlation.png"
CORRELATION_FIGURE = "correlation_function.png"
DIAGNOSTICS_JSON = "diagnostics.json"  # dno diagnose's
# a program trial's folder (dno search of a sweep with program:)
PROGRAM_ARGS = "args.json"  # the parameters, for ${args_json_file}
PROGRAM_PARAMS = "sweep-params.yaml"  # W&B's config file, named by WANDB_SWEEP_PARAM_PATH
# a report folder (dno report): index.html, visualization_report.json, figures/, tables/
REPORT_FOLDER = "report"  # the default, inside the study's or benchmark's folder
REPORT_INDEX = "index.html"
REPORT_JSON = "visualization_report.json"
REPORT_FIGURES = "figures"
REPORT_TABLES = "tables"
# a study folder (dno search)
STUDY_JOURNAL = "study.journal"
TRIAL_RECORD = "trial.json"
SUMMARY = "summary.csv"
CONFIRMATION = "confirmation.csv"
BEST_CONFIG = "best_config.yaml"
# a comparison folder (dno compare)
COMPARISON_CSV = "comparison.csv"
COMPARISON_JSON = "comparison.json"
COMPARISON_MD = "comparison.md"
COMPARISON_SCORE = "comparison_score.json"
# a benchmark (dno benchmark): its folder holds these and runs/MODEL/seed-S/ run folders
RUNS_FOLDER = "runs"
BENCHMARK_JSON = "benchmark.json"  # the resolved protocol, the machine, the wall time
LEADERBOARD_MD = "leaderboard.md"
LEADERBOARD_CSV = "leaderboard.csv"  # one row per regime and model
LEADERBOARD_JSON = "leaderboard.json"  # everything: protocol, per-seed values, statistics
LEADERBOARD_RUNS = "leaderboard_runs.csv"  # one row per model and seed
# an aggregate of finished benchmarks (dno benchmark --aggregate)
AGGREGATE_MD = "aggregate.md"
AGGREGATE_JSON = "aggregate.json"  # every task, normalised score, statistic and profile
LEDGER_JSON = "ledger.json"  # the budget per model and phase (tune, retrain, test), checked
TEST_COST = "test_cost.json"  # in a benchmark's run folder: the test evaluation's seconds
TUNING_FOLDER = "tuning"  # a tuned benchmark's studies, one per model (dno benchmark --tune)
REGIME_SCORES = "regime_scores.json"  # in a benchmark's run folder: the kept weights per regime


def json_safe(value: Any) -> Any:
    """``value`` as plain JSON values (dicts, lists, str, int, float, bool, None).

    Dataclasses become dicts, numpy arrays lists, numpy scalars Python numbers, paths strings,
    and non-finite floats None (standard JSON has no NaN or Infinity).

    Example:
        >>> json_safe({"x": np.array([1.0, np.nan]), "n": np.int64(3)})
        {'x': [1.0, None], 'n': 3}
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: json_safe(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray | np.generic):
        return json_safe(value.tolist())
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return str(value)
    return value


def write_json(path: str | os.PathLike[str], data: Any, *, sort_keys: bool = False) -> Path:
    """Write ``json_safe(data)`` to ``path`` as indented standard JSON, atomically."""
    target = Path(path)
    text = json.dumps(json_safe(data), indent=2, sort_keys=sort_keys, allow_nan=False) + "\n"
    with atomic_path(target) as tmp:
        tmp.write_text(text, encoding="utf-8")
    return target


def read_json(path: str | os.PathLike[str]) -> dict[str, Any]:
    """The JSON object in ``path``.

    Raises:
        DnoError: the file cannot be read, is not JSON, or holds no object (naming it).
    """
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise DnoError(f"cannot read {path}: {error}") from None
    if not isinstance(data, dict):
        raise DnoError(f"{path} does not hold a JSON object")
    return data


def write_csv(
    path: str | os.PathLike[str],
    rows: Iterable[Mapping[str, Any]],
    columns: list[str] | None = None,
) -> Path:
    """Write ``rows`` as CSV atomically; ``columns`` default to the union of the rows' keys."""
    cells = [json_safe(row) for row in rows]
    if columns is None:
        columns = list(dict.fromkeys(k for row in cells for k in row))
    buffer = io.StringIO()
    if columns:
        writer = csv.DictWriter(buffer, columns, extrasaction="ignore", lineterminator="\n")
        writer.writeheader()
        writer.writerows(cells)
    target = Path(path)
    with atomic_path(target) as tmp:
        tmp.write_text(buffer.getvalue(), encoding="utf-8")
    return target


def read_csv(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """The rows of a CSV file, cells parsed by :func:`parse_cell`; [] if there is no file."""
    target = Path(path)
    if not target.is_file():
        return []
    with target.open(encoding="utf-8", newline="") as handle:
        return [{k: parse_cell(v) for k, v in row.items()} for row in csv.DictReader(handle)]


_INT = re.compile(r"[+-]?\d+")
_FLOAT = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")


def parse_cell(text: str | None) -> Any:
    """A CSV cell as a value: None if empty, int, float, or the text itself (see the module).

    Example:
        >>> [parse_cell(t) for t in ("", "3", "-3.0", "1e-4", "nan", "1_000", "fno")]
        [None, 3, -3.0, 0.0001, 'nan', '1_000', 'fno']
    """
    if text is None or text == "":
        return None
    if _INT.fullmatch(text):
        return int(text)
    return float(text) if _FLOAT.fullmatch(text) else text


class RunFolder:
    """One run folder: ``config.json``, ``metrics.csv``, ``final_results.json``, ``artifacts/``."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)
        self.artifacts = self.path / ARTIFACTS
        self.config_path = self.path / RUN_CONFIG
        self.metrics_path = self.path / METRICS_CSV
        self.results_path = self.path / FINAL_RESULTS
        self.best_checkpoint = self.artifacts / BEST_CHECKPOINT
        self.last_checkpoint = self.artifacts / LAST_CHECKPOINT

    def create(self) -> RunFolder:
        """Make the folder and ``artifacts/`` (through no link out of a confined results folder,
        :func:`dno._io.make_folder`)."""
        make_folder(self.artifacts)
        return self

    def write_json(self, name: str, data: Mapping[str, Any]) -> Path:
        """Write ``data`` as standard JSON (keys sorted) to ``<run>/<name>`` atomically."""
        return write_json(self.path / name, data, sort_keys=True)

    def read_json(self, name: str) -> dict[str, Any]:
        return read_json(self.path / name)

    def results(self) -> dict[str, Any]:
        """What ``final_results.json`` holds ({} if there is no such file)."""
        return read_json(self.results_path) if self.results_path.is_file() else {}

    def status(self) -> str | None:
        """The ``status`` in ``final_results.json`` (None: no such file, or no status)."""
        status = self.results().get("status")
        return None if status is None else str(status)

    def write_metrics(self, rows: list[dict[str, Any]]) -> Path:
        """Rewrite ``metrics.csv`` with ``rows`` (one per epoch) atomically."""
        return write_csv(self.metrics_path, rows)

    def read_metrics(self) -> list[dict[str, Any]]:
        """The rows of ``metrics.csv`` with numbers parsed (empty cells become None)."""
        return read_csv(self.metrics_path)


#: Where commands read and write by default, relative to the working folder.
DATA_FOLDER = "data"


def default_data_file(family: str) -> Path:
    """``data/FAMILY.h5``: where ``dno generate`` writes and ``dno train``/``search`` read."""
    return Path(DATA_FOLDER) / f"{family}.h5"


def default_run_folder(model: str, family: str, seed: int) -> Path:
    """``runs/MODEL-FAMILY-sSEED``: ``dno train``'s run folder without ``--out``."""
    return Path(RUNS_FOLDER) / f"{model}-{family}-s{seed}"


def comparison_run(folder: Path, approach: str, seed: int) -> Path:
    """``FOLDER/APPROACH/seed-S``: one run of a comparison (and of a benchmark's ``runs/``)."""
    return folder / approach / f"seed-{seed}"
