"""Hostile and damaged files: YAML alias bombs in every YAML dno reads, a YAML error's place,
numbers YAML 1.1 reads as text, a corrupt checkpoint, a corrupt HDF5 file. Each is one line
(``dno: error:``, status 2 for the user's input), and a refusal creates nothing."""

from __future__ import annotations

from pathlib import Path

import pytest

from dno.tracking import read_json
from faults.faultkit import dno, one_line

#: A 396-byte YAML mapping whose anchors stand for 9**9 values.
BOMB = 'a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]\n' + "".join(
    f"{new}: &{new} [{', '.join([f'*{old}'] * 9)}]\n"
    for old, new in zip("abcdefgh", "bcdefghi", strict=True)
)
#: The same as one value (``--set key=VALUE``).
BOMB_VALUE = "[" + ", ".join(line.split(": ", 1)[1] for line in BOMB.splitlines()) + "]"


def _commands(data: Path, bomb: Path, out: Path) -> dict[str, list[str]]:
    train = ["train", "--model", "method_of_steps", "--data", str(data), "--out", str(out)]
    search = ["search", "--data", str(data)]
    return {
        "config file": [*train, "--config", str(bomb)],
        "--set": [*train, "--set", f"width={BOMB_VALUE}"],
        "search space file": [*search, "--space", str(bomb), "--results", str(out)],
        "protocol file": ["benchmark", str(bomb), "--out", str(out)],
        "comparison file": ["compare", str(bomb), "--out", str(out)],
        "evaluation config file": ["evaluate", str(out), "--config", str(bomb)],
    }


@pytest.mark.parametrize(
    "reader",
    ["config file", "--set", "search space file", "protocol file", "comparison file",
     "evaluation config file"],
)  # fmt: skip
def test_an_alias_bomb_is_refused_by_every_reader_in_one_line(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str], reader: str
) -> None:
    assert len(BOMB) < 400
    bomb, out = tmp_path / "bomb.yaml", tmp_path / "out"
    bomb.write_text(BOMB)
    code, err = dno(_commands(tiny_data, bomb, out)[reader], capsys)
    named = "--set 'width=[" if reader == "--set" else f"{reader} {str(bomb)!r}"
    assert code == 2
    assert one_line(err).startswith(f"dno: error: {named}")
    assert "holds more than 50,000 values (counting what each alias *name repeats" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bomb.yaml"]  # nothing made


#: Runs dno command lines (JSON on stdin) in one process whose address space may grow by 1 GiB
#: at most after its imports; answers their exit status and stderr.
CAPPED = """
import contextlib, io, json, resource, sys
import dno.cli, dno.training
from pathlib import Path
size = next(int(l.split()[1]) * 1024 for l in Path("/proc/self/status").read_text().splitlines()
            if l.startswith("VmSize:"))
resource.setrlimit(resource.RLIMIT_AS, (size + 2**30, resource.RLIM_INFINITY))
answers = []
for argv in json.load(sys.stdin):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = dno.cli.main(argv)
        except SystemExit as exit_:
            code = exit_.code
    answers.append([code, err.getvalue()])
print(json.dumps(answers))
"""


@pytest.mark.slow
def test_alias_bombs_are_refused_under_a_memory_cap_of_1_gib(
    tiny_data: Path, tmp_path: Path
) -> None:
    import json
    import subprocess
    import sys

    bomb = tmp_path / "bomb.yaml"
    bomb.write_text(BOMB)
    cases = list(_commands(tiny_data, bomb, tmp_path / "out").values())
    done = subprocess.run(
        [sys.executable, "-c", CAPPED], input=json.dumps(cases), capture_output=True, text=True,
        timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    for (code, err), argv in zip(json.loads(done.stdout), cases, strict=True):
        assert code == 2, (argv, err)
        assert "holds more than 50,000 values" in one_line(err)


def test_a_sweep_file_bomb_is_refused(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sweep = tmp_path / "sweep.yaml"
    sweep.write_text("method: random\nmetric: {name: val_rel_l2, goal: minimize}\n" + BOMB)
    code, err = dno(["search", "--data", str(tiny_data), "--space", str(sweep), "--results",
                     str(tmp_path / "r")], capsys)  # fmt: skip
    assert code == 2 and "holds more than 50,000 values" in one_line(err)
    assert not (tmp_path / "r").exists()


def test_a_yaml_error_names_the_file_line_and_column(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("lr: 0.001\nwidth: 8: 9\n")
    code, err = dno(["train", "--model", "method_of_steps", "--data", str(tiny_data),
                     "--config", str(config), "--out", str(tmp_path / "run")], capsys)  # fmt: skip
    assert code == 2
    assert one_line(err) == (
        f"dno: error: config file {str(config)!r} is not valid YAML at line 2, column 9: "
        "mapping values are not allowed in this context"
    )


@pytest.mark.slow
def test_scientific_numbers_without_a_point_are_numbers(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = tmp_path / "c.yaml"
    config.write_text("lr: 1e-3\nweight_decay: 1E-5\nwidth: 4\nS: 16\nlayers: 1\n")
    run = tmp_path / "run"
    code, err = dno(["train", "--model", "method_of_steps", "--data", str(tiny_data), "--config",
                     str(config), "--set", "dropout=1e-1", "--max-epochs", "1", "--out", str(run),
                     "--threads", "1", "--device", "cpu", "-q"], capsys)  # fmt: skip
    assert code == 0, err
    saved = read_json(run / "config.json")
    dropout = saved["model_config"]["dropout"]
    assert (saved["lr"], saved["weight_decay"], dropout) == (1e-3, 1e-5, 0.1)


@pytest.fixture(scope="module")
def tiny_run(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-epoch run folder (its files are copied, then damaged)."""
    from dno.data import read_dataset
    from dno.training import resolve_config, train

    run = tmp_path_factory.mktemp("run") / "run"
    config = resolve_config("method_of_steps", {"S": 16, "width": 4, "layers": 1, "max_epochs": 1})
    train(config, read_dataset(tiny_data), run, progress=False)
    return run


def _damaged_copy(run: Path, to: Path, name: str, keep: float) -> Path:
    import shutil

    shutil.copytree(run, to)
    target = next(to.rglob(name))
    content = target.read_bytes()
    target.write_bytes(content[: int(len(content) * keep)])
    return target


def test_a_corrupt_checkpoint_is_one_line_naming_it(
    tiny_run: Path, tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    run = tmp_path / "run"
    best = _damaged_copy(tiny_run, run, "best.pt", keep=0.5)
    code, err = dno(["evaluate", str(run), "--data", str(tiny_data), "--device", "cpu",
                     "--no-figures"], capsys)  # fmt: skip
    assert code == 1 and str(best) in one_line(err)
    assert not (run / "evaluation_val.json").exists()


def test_a_corrupt_hdf5_file_is_one_line_naming_it(
    tiny_data: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    damaged = tmp_path / "m.h5"
    damaged.write_bytes(tiny_data.read_bytes()[: tiny_data.stat().st_size // 2])
    code, err = dno(["train", "--model", "method_of_steps", "--data", str(damaged), "--out",
                     str(tmp_path / "run")], capsys)  # fmt: skip
    assert code == 1 and str(damaged) in one_line(err)
    assert not (tmp_path / "run").exists()
