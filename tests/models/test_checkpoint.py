"""A checkpoint loads back from the file alone; bad files give one line and overwrite nothing."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

import dno
from dno.errors import DnoError, UsageError
from dno.models import DelayOperator, available, build, load, load_checkpoint, save


def _model(name: str = "lag_stack", **options: Any) -> DelayOperator:
    torch.manual_seed(0)
    small: dict[str, Any] = {"width": 6, "layers": 1, **options}
    return build(name, S=8, X=3, channels=1, cond_dim=2, **small)


def _inputs() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(3)
    return torch.randn(4, 8, 3, 1, generator=generator), torch.randn(4, 2, generator=generator)


@pytest.mark.parametrize("name", available())
def test_round_trip_gives_identical_outputs(name: str, tmp_path: Path) -> None:
    model = _model(name, spectral_norm=2.0, output_scale=True).eval()
    path = tmp_path / "model.pt"
    save(model, path)
    loaded = load(path)
    assert type(loaded) is type(model) and loaded.config == model.config
    assert not loaded.training
    history, cond = _inputs()
    with torch.no_grad():
        assert torch.equal(loaded(history, cond), model(history, cond))


def test_extra_comes_back(tmp_path: Path) -> None:
    extra = {"normalization": {"mean": torch.tensor([0.5]), "std": [2.0]}, "epoch": 7, "x": None}
    save(_model(), tmp_path / "m.pt", extra=extra)
    model, back = load_checkpoint(tmp_path / "m.pt")
    assert isinstance(model, DelayOperator) and back is not None
    assert back["epoch"] == 7 and back["x"] is None and back["normalization"]["std"] == [2.0]
    assert torch.equal(back["normalization"]["mean"], torch.tensor([0.5]))


def test_another_models_checkpoint(tmp_path: Path) -> None:
    save(_model("fno"), tmp_path / "fno.pt")
    with pytest.raises(DnoError) as error:
        load(tmp_path / "fno.pt", name="deeponet")
    assert str(error.value) == f"{tmp_path / 'fno.pt'} holds a 'fno' model, expected 'deeponet'"


def _rewrite(path: Path, **changes: Any) -> None:
    payload = torch.load(path, weights_only=True)
    payload.update(changes)
    torch.save(payload, path)


def test_another_version(tmp_path: Path) -> None:
    path = tmp_path / "old.pt"
    save(_model(), path)
    _rewrite(path, dno_version="9.7.1")
    with pytest.raises(DnoError) as error:
        load(path)
    assert str(error.value) == (
        f"{path} was written by dno 9.7.1, this is dno {dno.__version__}; "
        "a checkpoint loads only into the same major.minor version"
    )


def test_weights_that_do_not_fit(tmp_path: Path) -> None:
    path = tmp_path / "w.pt"
    save(_model(), path)
    _rewrite(path, config={**_model().config, "width": 7})
    with pytest.raises(DnoError, match=r"the weights do not fit the 'lag_stack' model") as error:
        load(path)
    assert "\n" not in str(error.value)


def test_config_the_model_rejects(tmp_path: Path) -> None:
    path = tmp_path / "c.pt"
    save(_model(), path)
    _rewrite(path, config={**_model().config, "modes_theta": 3})
    with pytest.raises(DnoError, match="has a config the 'lag_stack' model rejects: model"):
        load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"not a checkpoint at all", "is not a readable dno checkpoint (UnpicklingError"),
        (None, "is not a dno model checkpoint (no 'dno-model' format marker)"),
    ],
)
def test_foreign_or_corrupt_files(tmp_path: Path, content: bytes | None, message: str) -> None:
    path = tmp_path / "bad.pt"
    if content is None:
        torch.save({"state_dict": {}}, path)
    else:
        path.write_bytes(content)
    with pytest.raises(DnoError) as error:
        load(path)
    assert message in str(error.value) and "\n" not in str(error.value)


def test_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "cut.pt"
    save(_model(), path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(DnoError, match="is not a readable dno checkpoint"):
        load(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(DnoError) as error:
        load(tmp_path / "nope.pt")
    assert str(error.value) == f"checkpoint {tmp_path / 'nope.pt'} not found"


def test_failed_save_overwrites_nothing(tmp_path: Path) -> None:
    path = tmp_path / "keep.pt"
    save(_model(), path)
    before = path.read_bytes()
    with pytest.raises(UsageError, match=r"extra\['mean'\] is a ndarray"):
        save(_model("fno"), path, extra={"mean": np.zeros(3)})
    assert path.read_bytes() == before
    assert sorted(os.listdir(tmp_path)) == ["keep.pt"]  # no temporary left behind


def test_save_into_a_missing_folder(tmp_path: Path) -> None:
    with pytest.raises(DnoError, match=r"folder .* does not exist"):
        save(_model(), tmp_path / "absent" / "m.pt")
