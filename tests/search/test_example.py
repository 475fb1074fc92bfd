"""The example in examples/autoencoder runs as the README says: a sweep of a real program."""

from __future__ import annotations

import shutil
from pathlib import Path

import optuna
import pytest

from dno.search import SearchOptions, open_storage, run_search

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "autoencoder"


@pytest.mark.usefixtures("python_on_path")
def test_ab_sweep_of_the_autoencoder_example(tmp_path: Path) -> None:
    for name in ("train.py", "sweep_ab.yaml"):
        shutil.copy(EXAMPLE / name, tmp_path / name)
    options = SearchOptions(space=tmp_path / "sweep_ab.yaml", results=tmp_path / "r", seeds=2,
                            seed_param="seed", progress=False, workdir=tmp_path)  # fmt: skip
    result = run_search(options, log=lambda _: None)
    storage, _ = open_storage(None, tmp_path / "r", result["spec"].name)
    trials = optuna.load_study(study_name=result["spec"].name, storage=storage).get_trials()
    assert sorted(t.params["spectral_norm"] for t in trials) == [False, True]
    for t in trials:
        assert t.state.name == "COMPLETE" and len(t.user_attrs["seed_values"]) == 2
        assert 0 < t.value < 2
