"""One data location for every command: dno generate writes data/FAMILY.h5 by default, where
dno train, dno search and dno compare look for a family's data."""

from __future__ import annotations

from pathlib import Path

import pytest

from dno.cli import main


def test_generate_writes_where_train_reads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--family", "neutral", "--n", "12", "--t-end", "12", "-q"]) == 0
    assert (tmp_path / "data" / "neutral.h5").is_file()
    code = main(["train", "--model", "fno", "--family", "neutral", "--max-epochs", "1",
                 "--set", "width=4", "--set", "layers=1", "--device", "cpu", "-q"])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "generating" not in out and "run folder runs/fno-neutral-s0" in out


def test_a_refused_generate_leaves_no_data_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert main(["generate", "--prior", "tau=30:17", "-q"]) == 2
    assert list(tmp_path.iterdir()) == []
