"""``dno train`` from the command line: its core budget and device, as recorded in the run."""

from __future__ import annotations

import json
from pathlib import Path

import torch

import dno.data as data
from dno.cli import main


def test_train_records_its_thread_budget_and_runs_auto_device_on_cpu(tmp_path: Path) -> None:
    path = tmp_path / "mackey.h5"
    data.generate_dataset("mackey", 8, 0, path, t_end=120.0)
    before = torch.get_num_threads()
    try:
        code = main(["train", "--model", "method_of_steps", "--data", str(path), "--max-epochs",
                     "1", "--threads", "1", "--device", "auto", "--set", "S=16", "--set",
                     "layers=1", "--out", str(tmp_path / "run"), "-q"])  # fmt: skip
        assert code == 0 and torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    results = json.loads((tmp_path / "run" / "final_results.json").read_text())
    assert (results["threads"], results["device"]) == (1, "cpu")
