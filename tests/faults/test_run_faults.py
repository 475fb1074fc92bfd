"""A training run killed after it ended (issue 28.2), and a benchmark whose score is NaN
(issue 28.8): nothing bent, one line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dno.cli import main
from faults.faultkit import dno


def _train(data: Path, out: Path, *extra: str) -> list[str]:
    return ["train", "--model", "fno", "--data", str(data), "--out", str(out), "--max-epochs",
            "30", "--set", "patience=1", "--set", "lr=0.03", "--set", "S=16", "--set", "width=8",
            "--threads", "1", "--device", "cpu", "-q", *extra]  # fmt: skip


def test_resuming_a_run_that_ended_trains_nothing_and_says_so(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "run"
    assert dno(_train(tiny_data, out), capsys)[0] == 0
    first = json.loads((out / "final_results.json").read_text())
    written = (out / "final_results.json").read_bytes()
    assert first["status"] == "stopped_early" and first["epochs_run"] < 30
    capsys.readouterr()
    assert main(_train(tiny_data, out, "--resume")) == 0
    said = capsys.readouterr()
    assert "the run had already ended (stopped_early); nothing to resume" in said.out
    assert "Traceback" not in said.err
    assert (out / "final_results.json").read_bytes() == written  # nothing trained again


def test_a_run_killed_between_its_last_epoch_and_its_results_finishes_the_same(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The last epoch's checkpoints are on disk, final_results.json still says running (a kill
    in between): the rerun with --resume writes the same final_results.json, bit for bit."""
    out = tmp_path / "run"
    assert dno(_train(tiny_data, out), capsys)[0] == 0
    written = (out / "final_results.json").read_bytes()
    (out / "final_results.json").write_text(json.dumps({"status": "running"}))
    assert dno(_train(tiny_data, out, "--resume"), capsys)[0] == 0
    assert (out / "final_results.json").read_bytes() == written
