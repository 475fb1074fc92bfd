"""``dno diagnose PRED TRUE``: table, JSON, figures, and one clear line for bad input."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from dno.cli import main
from dno.cli._diagnose import DiagnoseCommand
from dno.errors import UsageError


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    truth = rng.standard_normal((4, 32, 32))
    paths = {
        name: tmp_path / f"{name}.npy" for name in ("truth", "scaled", "nan", "short", "rank5")
    }
    np.save(paths["truth"], truth)
    np.save(paths["scaled"], 0.38 * truth)
    with_nan = truth.copy()
    with_nan[0, 0, :8] = np.nan
    np.save(paths["nan"], with_nan)
    np.save(paths["short"], truth[:, :, :31])
    np.save(paths["rank5"], np.zeros((2, 2, 2, 2, 2)))
    paths["npz"] = tmp_path / "both.npz"
    np.savez(paths["npz"], pred=0.38 * truth, true=truth)
    return paths


def _run_own_parser(argv: list[str]) -> int:
    command = DiagnoseCommand()
    parser = argparse.ArgumentParser()
    command.add_arguments(parser)
    return command.run(parser.parse_args(argv))


def test_scaled_prediction_table_json_and_figures(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out"
    argv = [str(files["scaled"]), str(files["truth"]), "--batch-axis", "--out", str(out)]
    assert _run_own_parser(argv) == 0
    printed = capsys.readouterr().out
    assert "amplitude ratio (pred/true): std 0.38, range 0.38" in printed
    assert "amplitude: prediction std is 0.38 x the truth's" in printed
    result = json.loads((out / "diagnostics.json").read_text())
    assert result["diagnosis"]["batch_size"] == 4
    assert result["diagnosis"]["spectral"]["power_ratio"] == pytest.approx(
        [0.1444] * len(result["diagnosis"]["spectral"]["k"])
    )
    assert sorted(result["figures"]) == sorted(p.name for p in out.glob("*.png"))
    assert len(result["figures"]) == 4


def test_main_with_npz_keys_and_json_output(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    npz = str(files["npz"])
    argv = ["diagnose", npz, npz, "--pred-key", "pred", "--true-key", "true", "--json"]
    status = main([*argv, "--no-figures", "--box-size", "6.28", "--out", str(tmp_path / "o")])
    assert status == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["diagnosis"]["spectral"]["box_size"] == [6.28, 6.28, 6.28]
    assert printed["figures"] == []


def test_nan_prediction_is_reported(
    files: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["diagnose", str(files["nan"]), str(files["truth"]), "--batch-axis", "--no-figures"]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    assert "prediction has 8 non-finite values (NaN or inf) of 4096" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("pred", "true", "extra", "message"),
    [
        ("short", "truth", [], "prediction has shape (4, 32, 31), truth has shape (4, 32, 32)"),
        ("rank5", "rank5", [], "prediction has shape (2, 2, 2, 2, 2) (rank 5); expected rank 1-3"),
        ("npz", "truth", [], "holds arrays ['pred', 'true']; pass --key NAME"),
        ("npz", "truth", ["--key", "nope"], "has no array 'nope'"),
        ("missing", "truth", [], "does not exist"),
        ("truth", "truth", ["--box-size", "-1"], "--box-size is '-1'"),
        ("truth", "truth", ["--bands", "12,4"], "--bands is '12,4'"),
    ],
)
def test_bad_input_is_one_line_with_exit_status_2(
    files: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    pred: str,
    true: str,
    extra: list[str],
    message: str,
) -> None:
    paths = {**{k: str(v) for k, v in files.items()}, "missing": str(tmp_path / "missing.npy")}
    argv = ["diagnose", paths[pred], paths[true], *extra, "--out", str(tmp_path / "o")]
    assert main(argv) == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and error.startswith("dno: error: ")
    assert message in error


def test_unreadable_file_exits_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    garbage = tmp_path / "garbage.npy"
    garbage.write_text("not an array")
    assert main(["diagnose", str(garbage), str(garbage), "--out", str(tmp_path / "o")]) == 1
    assert "cannot read prediction file" in capsys.readouterr().err
    with pytest.raises(UsageError, match=r"suffix '\.txt'"):
        _run_own_parser([str(tmp_path / "a.txt"), str(garbage)])
