"""Real (tiny) studies for the report tests, made once per session.

- ``single_study``: a random search of ``method_of_steps`` (12 trials of 2 epochs, no pruning,
  so PED-ANOVA has enough completed trials), with its best trial evaluated (``dno evaluate``);
- ``multi_study``: a multi-objective search of ``fno`` (val_rel_l2, parameters);
- ``failed_study``: every trial fails (spectral modes beyond the grid): zero completed trials.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
import yaml

import dno.data as data
from dno.errors import DnoError
from dno.evaluation import EvaluationConfig, evaluate_run
from dno.search import SearchOptions, run_search

FIXED = {"S": {"value": 16}, "layers": {"value": 1}, "batch_size": {"value": 64}}
SEARCHED = {
    "width": {"type": "categorical", "choices": [4, 8]},
    "modes_theta": {"type": "int", "low": 2, "high": 6},
    "lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
}


def _search(root: Path, dataset: Path, name: str, space: dict[str, Any], **kw: Any) -> Path:
    path = root / f"{name}.yaml"
    path.write_text(yaml.safe_dump({"parameters": {**FIXED, **space}}))
    options = {
        "model": "method_of_steps",
        "family": "mackey",
        "data": dataset,
        "results": root,
        "study": name,
        "search": "random",
        "max_epochs": 2,
        "confirm_top": 0,
        "progress": False,
        "base": {"device": "cpu"},
        "space": path,
        "pruner": "none",
        **kw,
    }
    result = run_search(SearchOptions(**options), log=lambda _: None)
    return Path(result["folder"])


@pytest.fixture(scope="session")
def report_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("report_studies")


@pytest.fixture(scope="session")
def report_dataset(report_root: Path) -> Path:
    path = report_root / "mackey.h5"
    data.generate_dataset("mackey", 16, 0, path, t_end=120.0)
    return path


@pytest.fixture(scope="session")
def single_study(report_root: Path, report_dataset: Path) -> Path:
    folder = _search(report_root, report_dataset, "single", SEARCHED, n_trials=12)
    rows = [r for r in csv.DictReader((folder / "summary.csv").open()) if r["state"] == "complete"]
    best = min(rows, key=lambda r: float(r["val_rel_l2"]))["trial"]
    config = EvaluationConfig(horizon_delays=2, stability_windows=4)
    evaluate_run(folder / "trials" / best, config=config)
    return folder


@pytest.fixture(scope="session")
def multi_study(report_root: Path, report_dataset: Path) -> Path:
    space = {k: SEARCHED[k] for k in ("width", "lr")}
    return _search(
        report_root,
        report_dataset,
        "multi",
        space,
        model="fno",
        n_trials=6,
        search="multi",
        objectives=["val_rel_l2", "parameters"],
    )


@pytest.fixture(scope="session")
def failed_study(report_root: Path, report_dataset: Path) -> Path:
    space = {"modes_theta": {"type": "categorical", "choices": [12, 14]}}
    with pytest.raises(DnoError, match="all 2 trials failed"):  # the study is kept, summarised
        _search(report_root, report_dataset, "failed", space, search="grid")
    return report_root / "failed"
