"""``dno compare --study``: the configurations of a study run on paired seeds (a program sweep)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from dno.cli import main
from dno.search import SearchOptions, run_search

PROGRAM = """
import argparse, json
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--seed", type=int)
args, _ = parser.parse_known_args()
print(json.dumps({"epoch": 1, "val_loss": args.lr + 0.01 * args.seed}))
"""


@pytest.mark.usefixtures("python_on_path")
def test_study_of_an_ab_program_sweep(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "train.py").write_text(PROGRAM)
    sweep = {"program": "train.py", "method": "grid",
             "metric": {"name": "val_loss", "goal": "minimize"},
             "parameters": {"lr": {"values": [0.5, 0.2]}}}  # fmt: skip
    (tmp_path / "ab.yaml").write_text(yaml.safe_dump(sweep))
    options = SearchOptions(space=tmp_path / "ab.yaml", results=tmp_path / "r", seeds=6,
                            seed_param="seed", workdir=tmp_path, progress=False)  # fmt: skip
    result = run_search(options, log=lambda _: None)
    assert main(["compare", "--study", str(result["folder"]), "--baseline", "0"]) == 0
    out = capsys.readouterr().out
    assert "trial 1: lr=0.2" in out and "better" in out  # 6 of 6 paired seeds: p = 2/2^6
    assert (result["folder"] / "comparison.md").exists()
    one_seed = SearchOptions(space=tmp_path / "ab.yaml", results=tmp_path / "r1", seed_param="seed",
                             workdir=tmp_path, progress=False)  # fmt: skip
    single = run_search(one_seed, log=lambda _: None)
    assert main(["compare", "--study", str(single["folder"])]) == 2
    assert "ran one seed per configuration" in capsys.readouterr().err
