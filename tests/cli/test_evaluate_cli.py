"""``dno evaluate RUN_DIR``: the table, --json, and one clear line with the right exit status."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import dno.data as data
from dno.cli import main
from dno.cli._evaluate import EvaluateCommand
from dno.training import resolve_config, train

FAST = ["--horizon-delays", "1", "--device", "cpu", "--no-figures"]


def _run(argv: list[str]) -> int:
    """``dno evaluate ARGV``, as the console script runs it: its exit status."""
    return main(["evaluate", *argv])


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("evaluate_cli")
    path = root / "neutral.h5"
    data.generate_dataset("neutral", 12, 1, path, ["tau=1:1.5"], t_end=10.0)
    config = resolve_config(
        "history_space", {"S": 12, "m": 3, "width": 8, "max_epochs": 1, "device": "cpu"}
    )
    train(config, data.read_dataset(path), root / "run", progress=False)
    return root / "run"


def test_table_and_where_files_went(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(run_dir), *FAST]) == 0
    out = capsys.readouterr().out
    assert "history_space on neutral, split val:" in out
    assert "1 delays = 11 slices (model m = 3: 4 steps)" in out
    for row in ("one-step rel. L2", "valid time", "stability gain", "P(k) ratio", "throughput"):
        assert row in out, row
    assert f"wrote {run_dir / 'evaluation_val.json'}" in out
    assert (run_dir / "evaluation_val.json").is_file()


def test_json_output_and_test_split(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run([str(run_dir), "--split", "test", "--json", *FAST]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["split"] == "test" and printed["horizon"]["slices"] == 11
    assert printed == json.loads((run_dir / "evaluation_test.json").read_text())


def test_config_file_sets_the_horizon_and_the_flag_wins(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("horizon_delays: 2\nmax_windows: 2\n")
    argv = [str(run_dir), "--config", str(config), "--device", "cpu", "--no-figures", "--json"]
    assert _run(argv) == 0
    assert json.loads(capsys.readouterr().out)["horizon"]["delays"] == 2
    assert _run([*argv, "--horizon-delays", "1"]) == 0
    assert json.loads(capsys.readouterr().out)["horizon"]["delays"] == 1


def _one_error_line(capsys: pytest.CaptureFixture[str]) -> str:
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1, err
    assert err.startswith("dno: error: ")
    return err


def test_run_without_checkpoint(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "broken"
    shutil.copytree(run_dir, broken)
    (broken / "artifacts" / "best.pt").unlink()
    assert _run([str(broken), *FAST]) == 1
    assert "has no checkpoint artifacts/best.pt" in _one_error_line(capsys)


@pytest.mark.parametrize(
    ("name", "expected"),
    [("missing", "does not exist"), ("empty", "not a run folder")],
)
def test_not_a_run_folder_is_a_usage_error(
    name: str, expected: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "empty").mkdir()
    assert _run([str(tmp_path / name), *FAST]) == 2
    assert expected in _one_error_line(capsys)


def test_bad_config_file_is_a_usage_error(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "eval.yaml"
    config.write_text("horizon: 3\n")
    assert _run([str(run_dir), "--config", str(config), *FAST]) == 2
    assert "unknown evaluation config key 'horizon'" in _one_error_line(capsys)
    assert _run([str(run_dir), "--config", str(tmp_path / "nope.yaml"), *FAST]) == 2
    assert "does not exist" in _one_error_line(capsys)


@pytest.mark.parametrize("argv", [["--split", "train"], ["--horizon-delays", "0"]])
def test_bad_flags_exit_2(argv: list[str], run_dir: Path) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run([str(run_dir), *argv])
    assert exit_info.value.code == 2


def test_registered_command_if_present(run_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    from dno.cli import COMMANDS, main

    if EvaluateCommand not in COMMANDS:
        pytest.skip("dno evaluate is not registered in dno.cli yet")
    assert main(["evaluate", str(run_dir / "missing"), *FAST]) == 2
    assert "does not exist" in _one_error_line(capsys)


def test_a_study_folder_stands_for_its_best_trial(
    run_dir: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import yaml

    study = tmp_path / "study"
    for seed in ("1", "0"):  # a --seeds study: the first seed's run is scored
        target = study / "trials" / "3" / "seeds" / seed
        shutil.copytree(run_dir, target, ignore=shutil.ignore_patterns("evaluation_*"))
    best = {"study": "s", "trial": 3, "model": "history_space", "family": "neutral"}
    (study / "best_config.yaml").write_text(yaml.safe_dump(best))
    assert _run([str(study), *FAST]) == 0
    assert "its best trial 3" in capsys.readouterr().out
    assert (study / "trials" / "3" / "seeds" / "0" / "evaluation_val.json").is_file()
    assert not (study / "trials" / "3" / "seeds" / "1" / "evaluation_val.json").exists()
    (study / "best_config.yaml").write_text(yaml.safe_dump({**best, "model": "program:train.py"}))
    assert _run([str(study), *FAST]) == 2
    assert "ran a program, not a dno model" in capsys.readouterr().err
    (study / "best_config.yaml").unlink()  # no completed trial yet
    assert _run([str(study), *FAST]) == 2
    assert "the study has no completed trial yet" in capsys.readouterr().err
