"""``dno generate`` and ``dno data``: exit codes, one-line errors, output."""

from __future__ import annotations

import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dno import __version__
from dno.cli import main


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    try:
        code = main(args)
    except SystemExit as exit_:  # argparse usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


def test_generate_then_info(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "m.h5"
    code, stdout, _ = run(
        ["generate", "--family", "mackey", "--n", "8", "--seed", "1", "--out", str(out),
         "--t-end", "60", "--prior", "tau=17:20"], capsys,
    )  # fmt: skip
    assert code == 0 and out.exists()
    assert "splits     train 6, val 1, test 1 (total 8)" in stdout
    code, stdout, _ = run(["data", "info", str(out)], capsys)
    assert code == 0 and "tau      [17" in stdout and "estimated_max_error" in stdout


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        (["generate", "--family", "lorenz"], 2, "unknown family 'lorenz'"),
        (["generate", "--n", "0"], 2, "expected a positive integer, got '0'"),
        (["generate", "--prior", "tau=30:17"], 2, "inverted"),
        (["generate", "--prior", "tau=17:17"], 2, "empty range"),
        (["generate", "--out", "/no/such/folder/x.h5"], 2, "does not exist"),
        (["data", "info", "/no/such/file.h5"], 1, "does not exist"),
    ],
)
def test_errors_are_one_line(
    args: list[str], code: int, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    got, _, err = run(args, capsys)
    assert got == code
    assert message in err
    assert "Traceback" not in err


def test_corrupt_file_and_forbidden_pickle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.h5"
    bad.write_bytes(b"\x89HDF\r\n\x1a\n" + b"\0" * 100)
    code, _, err = run(["data", "info", str(bad)], capsys)
    assert code == 1 and err.count("\n") == 1 and "truncated or corrupt" in err
    evil = tmp_path / "evil.pkl"
    evil.write_bytes(pickle.dumps([(np.zeros(3), 1.0, np.arange(3.0), Path("x"))]))
    code, _, err = run(["data", "import", str(evil), "--family", "mackey", "--out",
                        str(tmp_path / "o.h5")], capsys)  # fmt: skip
    assert code == 1 and "refused to load class pathlib" in err
    assert not (tmp_path / "o.h5").exists()


def test_console_script_version() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "dno", "--version"], capture_output=True, text=True, check=True
    )
    assert done.stdout.strip() == f"dno {__version__}"
