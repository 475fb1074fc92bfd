"""``dno search`` as a newcomer meets it: the family from the data, the confirmation's cost said
before the search, and a last line that counts the trials that finished."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import dno.data as data
from dno.cli import main

#: a space small enough for trials of a second
TINY = {"S": {"value": 16}, "layers": {"value": 1}, "width": {"value": 4}}


@pytest.fixture(scope="module")
def neutral(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("newcomer")
    path = folder / "neutral.h5"
    data.generate_dataset("neutral", 12, 0, path, t_end=12.0)
    (folder / "space.yaml").write_text(yaml.safe_dump({"parameters": TINY}))
    return path


def test_the_family_comes_from_the_data_file(
    neutral: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = neutral.parent / "space.yaml"
    code = main(["search", "--data", str(neutral), "--space", str(space), "--n-trials", "1",
                 "--max-epochs", "1", "--confirm-top", "0", "--results", str(tmp_path), "-q",
                 "--device", "cpu"])  # fmt: skip
    assert code == 0
    assert [p.name for p in tmp_path.iterdir()] == ["method_of_steps-neutral-bayesian"]
    out = capsys.readouterr().out
    assert "bayesian search of method_of_steps on neutral, 1 of 1 trials to run;" in out
    assert "study method_of_steps-neutral-bayesian: 1/1 trials finished (1 complete);" in out


def test_a_family_that_contradicts_the_data_is_refused_and_creates_nothing(
    neutral: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    results = tmp_path / "results"
    code = main(["search", "--data", str(neutral), "--family", "mackey", "--n-trials", "1",
                 "--results", str(results)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert err == (
        f"dno: error: {str(neutral)!r} holds 'neutral' data, not 'mackey'; drop --family (the "
        "data's family is used) or give a mackey dataset\n"
    )
    assert not results.exists()


def test_the_confirmation_and_its_cost_are_said_before_the_search_and_again_before_it_runs(
    neutral: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    space = neutral.parent / "space.yaml"
    argv = ["search", "--data", str(neutral), "--space", str(space), "--n-trials", "2",
            "--max-epochs", "1", "--results", str(tmp_path), "--device", "cpu",
            "--confirm-seeds", "2"]  # fmt: skip
    assert main(argv) == 0
    lines = capsys.readouterr().out.splitlines()
    plan = [i for i, line in enumerate(lines) if line.startswith("then 2 confirmation runs")]
    finished = [i for i, line in enumerate(lines) if "2/2 trials finished" in line]
    assert plan and finished and plan[0] < finished[0], lines
    assert lines[plan[0]] == (
        "then 2 confirmation runs (the best configuration on 2 fresh seeds, compared on "
        "validation; the chosen one scored once on the test split), each as long as an unpruned "
        "trial of 1 epochs; --confirm-top 0 skips them"
    )
    confirming = next(line for line in lines if line.startswith("confirming"))
    assert re.fullmatch(
        r"confirming the best configuration on 2 fresh seeds \(2 runs, about \d+ s at most\), "
        r"compared on validation; the chosen one is scored once on the test split",
        confirming,
    )
    rows = (tmp_path / "method_of_steps-neutral-bayesian" / "confirmation.csv").read_text()
    assert len(rows.splitlines()) == 2  # the default confirms the best configuration only
    # a rerun knows the trials' speed, so the plan gives seconds
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert "0 of 2 trials to run, 2 finished before;" in out
    assert re.search(r"^then 2 confirmation runs .*, about \d+ s at most \(at the trials' ", out,
                     re.M)  # fmt: skip


def test_the_confirmation_cost_is_in_the_help(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["search", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "K x seeds more runs, each as long as an unpruned trial" in text
    assert "fresh seeds per confirmed configuration (3)" in text
