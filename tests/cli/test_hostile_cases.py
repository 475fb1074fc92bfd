"""Every input of issue 12, one by one: one ``dno: error:`` line (or a bounded plan) each."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pickle
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import h5py
import numpy as np
import pytest

import dno.data as data
import dno.dde._sampling as sampling
from dno._io import remove_stale_temporaries
from dno.cli import main
from dno.errors import DnoError
from dno.training import resolve_config, train


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """``dno ARGS`` in-process: exit status and stderr (argparse errors included)."""
    try:
        code = main(args)
    except SystemExit as exit_:
        code = int(exit_.code or 0)
    return code, capsys.readouterr().err


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.startswith("dno: error:")]
    assert len(lines) == 1 and "Traceback" not in err, err
    return lines[0]


@pytest.fixture(scope="module")
def good(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("hostile") / "good.h5"
    data.generate_dataset("mackey", 12, 0, path, ["tau=17:20"], t_end=60.0)
    return path


def _spoiled(good: Path, folder: Path, field: str, where: tuple[int, ...], value: float) -> Path:
    path = folder / f"{field}-{value}.h5"
    shutil.copy(good, path)
    with h5py.File(path, "r+") as f:
        f["train"][field][where] = value
    return path


@pytest.mark.parametrize(
    ("field", "where", "value", "expected"),
    [
        ("y", (1, 3, 0), np.nan, "trajectory 1 (id {id}): y is not finite (nan) at observation 3"),
        ("y", (0, 2, 0), np.inf, "trajectory 0 (id {id}): y is not finite (inf) at observation 2"),
        ("t", (2, 5), 0.0, "trajectory 2 (id {id}): t does not increase (0.0) at observation 5"),
    ],
)
def test_bad_values_are_named_listed_and_refused_by_train(
    good: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    field: str, where: tuple[int, ...], value: float, expected: str,
) -> None:  # fmt: skip
    path = _spoiled(good, tmp_path, field, where, value)
    ids = data.read_dataset(good).splits["train"].trajectory_id
    message = "split 'train' " + expected.format(id=ids[where[0]])
    with pytest.raises(DnoError, match=message.replace("(", r"\(").replace(")", r"\)")):
        data.read_dataset(path)
    assert main(["data", "info", str(path)]) == 0
    out = capsys.readouterr().out
    assert "values     1 problem (training refuses this file)" in out and message in out
    code, err = run(["train", "--model", "method_of_steps", "--data", str(path), "--max-epochs",
                     "1", "--out", str(tmp_path / "run"), "-q"], capsys)  # fmt: skip
    assert code == 1 and message in one_line(err)
    assert not (tmp_path / "run").exists()


def test_clean_file_reports_no_problem(good: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["data", "info", str(good)]) == 0
    assert "values     0 problems: finite, times increasing" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "code", "expected"),
    [
        (["generate", "--prior", "tau=1e-9"], 2, "prior tau=1e-09 needs about 5e+11 solver steps"),
        (["generate", "--dt", "1e-9"], 2, "dt=1e-09 needs about"),
        (["generate", "--n", "10" * 10], 2, "trajectories need about"),
        (["generate", "--dt-obs", "1e-9"], 2, "observations per trajectory; the limit"),
        (["generate", "--family", "reaction_diffusion", "--grid-points", "5000"], 2,
         "5000 grid points exceed the limit of 1024"),
        (["generate", "--n", "4", "--prior", "gamma=-5"], 2,
         "every one of 4 trajectories of 'mackey' was rejected"),
        (["search", "--seeds", "1000000000"], 2, "seeds 1,000,000,000 is beyond the limit"),
        (["search", "--n-trials", "1000000000"], 2, "trials 1,000,000,000 is beyond the limit"),
        (["compare", "x.yaml", "--seeds", "5000"], 2, "seeds 5,000 is beyond the limit"),
    ],
)  # fmt: skip
def test_plans_refused_before_work(
    args: list[str], code: int, expected: str, tmp_path: Path,
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    monkeypatch.chdir(tmp_path)
    got, err = run(args, capsys)
    assert got == code and expected in one_line(err)
    assert list(tmp_path.iterdir()) == []


def test_comparison_file_with_a_billion_seeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = tmp_path / "cmp.yaml"
    plan.write_text(
        "family: mackey\nseeds: 1000000000\nbaseline: a\n"
        "approaches:\n  a: {model: method_of_steps}\n  b: {model: method_of_steps}\n"
    )
    code, err = run(["compare", str(plan), "--out", str(tmp_path / "out")], capsys)
    assert code == 2 and "number of seeds 1,000,000,000 is beyond the limit of 1,000" in one_line(
        err
    )


def test_grid_of_too_many_points(
    tmp_path: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = tmp_path / "space.yaml"
    search = ["search", "--model", "method_of_steps", "--data", str(good), "--space", str(space),
              "--search", "grid", "--results", str(tmp_path / "r")]  # fmt: skip
    space.write_text(
        "parameters:\n  width: {type: int, low: 1, high: 1000}\n"
        "  layers: {type: int, low: 1, high: 1000}\n"
    )
    code, err = run(search, capsys)
    assert code == 2 and "number of points 1,000,000 is beyond the limit" in one_line(err)
    space.write_text("parameters:\n  width: {type: int, low: 1, high: 1000000000000}\n")
    code, err = run(search, capsys)
    assert code == 2 and "explicit values for the range (over 100,000 steps)" in one_line(err)


def test_legacy_pickle_of_a_million_references(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    row = [0.1] * 1000
    source = tmp_path / "big.pkl"
    source.write_bytes(pickle.dumps([(np.zeros(10), 1.0, list(range(1000)), [row] * 10**6)]))
    assert source.stat().st_size < 3 * 2**20
    code, err = run(["data", "import", str(source), "--family", "mackey", "--out",
                     str(tmp_path / "out.h5")], capsys)  # fmt: skip
    assert code == 1 and "sample 0 would hold y of shape (1000000, 1000)" in one_line(err)
    assert not (tmp_path / "out.h5").exists()
    bomb = tmp_path / "bomb.pkl"
    bomb.write_bytes(b"\x80\x04cbuiltins\nbytearray\n\x8a\x06\x00\x00\x00\x00\x00\x01\x85R.")
    code, err = run(["data", "import", str(bomb), "--family", "mackey", "--out",
                     str(tmp_path / "out.h5")], capsys)  # fmt: skip
    assert code == 1 and "refused bytearray" in one_line(err)


@pytest.mark.parametrize("flag", ["--config", "--space"])
def test_files_that_are_not_utf8(
    flag: str, tmp_path: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("lr: 0.001  # r\xe9glage\n".encode("latin-1"))
    command = "train" if flag == "--config" else "search"
    code, err = run([command, "--model", "method_of_steps", "--data", str(good), flag, str(bad),
                     "--max-epochs", "1", "-q"], capsys)  # fmt: skip
    assert code == 2 and "is not UTF-8 text (byte b'\\xe9' at position 14)" in one_line(err)


def test_nan_option_value_leaves_no_run_folder(
    tmp_path: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, err = run(["train", "--model", "method_of_steps", "--data", str(good), "--set",
                     "lr=.nan", "--out", str(tmp_path / "run")], capsys)  # fmt: skip
    assert code == 2 and "lr=nan; expected a finite number >= 0" in one_line(err)
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("study", ["../escaped", "/tmp/escaped-absolute", "a/b", ".."])
def test_study_names_cannot_leave_the_results_folder(
    study: str, tmp_path: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    code, err = run(["search", "--model", "method_of_steps", "--data", str(good), "--study",
                     study, "--results", str(results), "--n-trials", "1"], capsys)  # fmt: skip
    assert code == 2 and f"study name {study!r} is not a folder name" in one_line(err)
    assert list(tmp_path.iterdir()) == [] and not Path("/tmp/escaped-absolute").exists()


def test_report_figure_names_from_parameter_names_stay_inside(tmp_path: Path) -> None:
    from dno.report._plotting import Plot, render

    out = tmp_path / "study" / "report"
    out.mkdir(parents=True)
    plot = Plot("heatmap_a/../../../../x", "t", "c", lambda fig: fig.add_subplot(), lambda: None)
    done = render(plot, "st/../..", out, interactive=False)
    written = [p for p in tmp_path.rglob("*") if p.is_file()]
    assert written == [out / done.png] and (out / done.png).resolve().is_relative_to(out)


def test_broken_pipe_is_one_line(good: Path) -> None:
    child = subprocess.Popen(
        [sys.executable, "-m", "dno", "data", "info", str(good)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    assert child.stdout is not None
    child.stdout.close()  # the reader is gone before dno writes (``| head`` that exited)
    _, err = child.communicate(timeout=120)
    assert child.returncode == 1
    assert one_line(err.decode()) == (
        "dno: error: the output pipe was closed before everything was written"
    )


@contextlib.contextmanager
def _immutable(folder: Path) -> Iterator[None]:
    """Make ``folder`` unwritable, even for root (chattr +i); skip where that is impossible."""
    if os.geteuid() != 0:
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)
        return
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("cannot make a folder unwritable here (root without chattr)")
    try:
        yield
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)


def test_evaluate_into_an_unwritable_folder_fails_first(
    tmp_path: Path, good: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = resolve_config("method_of_steps", {"S": 12, "width": 8, "max_epochs": 1})
    train(config, data.read_dataset(good), tmp_path / "run", progress=False)
    before = sorted(p.name for p in (tmp_path / "run").iterdir())
    with _immutable(tmp_path / "run"):
        code, err = run(["evaluate", str(tmp_path / "run"), "--device", "cpu"], capsys)
    assert code == 1 and "is not writable" in one_line(err)
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == before


def test_sigkilled_generate_leaves_a_temporary_the_next_run_removes(tmp_path: Path) -> None:
    out = tmp_path / "m.h5"
    command = [sys.executable, "-m", "dno", "generate", "--n", "200000", "--out", str(out), "-q"]
    child = subprocess.Popen(command, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(tmp_path.glob(".m.h5.dno-*.tmp")) and time.monotonic() < deadline:
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)
    child.wait()
    left = list(tmp_path.glob(".m.h5.dno-*.tmp"))
    assert left, "the child was killed before it made its scratch file"
    data.generate_dataset("mackey", 4, 0, out, t_end=20.0)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.h5"]


def test_stale_temporaries_of_live_processes_are_kept(tmp_path: Path) -> None:
    import socket

    host = socket.gethostname().replace("-", "_")
    alive = tmp_path / f".x.h5.dno-{host}-{os.getpid()}-abc.tmp"
    dead = tmp_path / f".x.h5.dno-{host}-999999999-abc.tmp"
    other = tmp_path / ".x.h5.dno-otherhost-1-abc.tmp"
    for path in (alive, dead, other):
        path.write_bytes(b"")
    assert remove_stale_temporaries(tmp_path / "x.h5") == [dead]
    assert alive.exists() and other.exists()


def test_many_batches_same_bytes_and_same_as_one_batch_for_small_n(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def digest(name: str, n: int) -> str:
        data.generate_dataset("delayed_logistic", n, 5, tmp_path / name, t_end=20.0)
        return hashlib.sha256((tmp_path / name).read_bytes()).hexdigest()

    one_batch = data.read_dataset(tmp_path / "a.h5") if digest("a.h5", 20) else None
    monkeypatch.setattr(sampling, "BATCH_TRAJECTORIES", 6)
    assert digest("b.h5", 20) == digest("c.h5", 20)  # 4 batches, twice: the same bytes
    batched = data.read_dataset(tmp_path / "b.h5")
    assert one_batch is not None
    first = np.sort(one_batch.splits["train"].trajectory_id)
    assert [len(batched.splits[s]) for s in data.SPLITS] == [16, 2, 2]
    assert np.array_equal(np.sort(batched.splits["train"].trajectory_id), first)
    tau_one = np.concatenate([one_batch.splits[s].params["tau"] for s in data.SPLITS])
    tau_batched = np.concatenate([batched.splits[s].params["tau"] for s in data.SPLITS])
    assert not np.array_equal(np.sort(tau_one), np.sort(tau_batched))  # batch k has its stream
