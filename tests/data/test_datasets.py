"""Dataset files: generation, layout, splits, reproducibility, atomic writes, corrupt files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import h5py
import numpy as np
import pytest

import dno.data as data
from dno.errors import DnoError, UsageError


@pytest.fixture(scope="module")
def neutral_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "neutral.h5"
    data.generate_dataset("neutral", 40, 7, path)
    return path


def test_layout_readable_with_h5py_alone(neutral_file: Path) -> None:
    with h5py.File(neutral_file, "r") as f:
        assert f.attrs["format"] == "dno-dataset" and f.attrs["family"] == "neutral"
        assert list(f.attrs["parameters"]) == ["a", "b", "c", "tau"]
        n = sum(f[s]["lengths"].shape[0] for s in ("train", "val", "test"))
        assert n == 40
        train = f["train"]
        assert train["y"].shape[1:] == (500, 1) and train["t"].shape[1] == 500
        assert np.all(train["lengths"][()] == 500)
        np.testing.assert_allclose(train["t"][0, :3], [0.05, 0.1, 0.15])
        tau = train["params"]["tau"][()]
        np.testing.assert_allclose(train["history_t"][:, 0], -tau)
        assert np.all(train["history_t"][:, -1] == 0.0)


def test_splits_are_by_trajectory_and_cover_all(neutral_file: Path) -> None:
    ds = data.read_dataset(neutral_file)
    ids = [set(ds.splits[s].trajectory_id.tolist()) for s in data.SPLITS]
    assert not (ids[0] & ids[1] or ids[0] & ids[2] or ids[1] & ids[2])
    assert set.union(*ids) == set(range(40))
    assert [len(ds.splits[s]) for s in data.SPLITS] == [32, 4, 4]
    prov = ds.provenance
    assert prov["seed"] == 7 and prov["family"] == "neutral"
    assert prov["solver"]["estimated_max_error"] < 1e-6
    assert set(prov["priors"]) == {"a", "b", "c", "tau"}


def test_same_seed_same_bytes(tmp_path: Path) -> None:
    digests = []
    for name in ("a.h5", "b.h5"):
        data.generate_dataset("mackey", 6, 3, tmp_path / name, t_end=50.0)
        digests.append(hashlib.sha256((tmp_path / name).read_bytes()).hexdigest())
    assert digests[0] == digests[1]


def test_irregular_padding_is_nan_and_counted(tmp_path: Path) -> None:
    path = tmp_path / "logistic.h5"
    data.generate_dataset("delayed_logistic", 10, 0, path, t_end=20.0)
    split = data.read_dataset(path).splits["train"]
    for b in range(len(split)):
        n = split.lengths[b]
        assert np.all(np.isfinite(split.y[b, :n])) and np.all(np.isnan(split.y[b, n:]))


def test_refuses_overwrite_and_leaves_file(neutral_file: Path) -> None:
    before = neutral_file.read_bytes()
    with pytest.raises(UsageError, match="exists; pass --overwrite"):
        data.generate_dataset("neutral", 4, 0, neutral_file)
    assert neutral_file.read_bytes() == before


def test_interrupted_write_leaves_no_partial_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dno.data._schema as schema

    def boom(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(schema.json, "dumps", boom)
    with pytest.raises(KeyboardInterrupt):
        data.generate_dataset("neutral", 4, 0, tmp_path / "x.h5")
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"family": "lorenz"}, UsageError, "unknown family"),
        ({"n": 0}, UsageError, "must be positive"),
        ({"priors": ["tau=3:2"]}, UsageError, "inverted"),
        ({"grid_points": 5}, UsageError, "scalar"),
        ({"out": "/nonexistent-folder/x.h5"}, UsageError, "does not exist"),
    ],
)
def test_bad_arguments(tmp_path: Path, kwargs: dict, error: type, match: str) -> None:
    args = {"family": "mackey", "n": 4, "seed": 0, "out": tmp_path / "x.h5", **kwargs}
    with pytest.raises(error, match=match):
        data.generate_dataset(**args)
    assert not (tmp_path / "x.h5").exists()


def test_truncated_and_foreign_files(neutral_file: Path, tmp_path: Path) -> None:
    truncated = tmp_path / "truncated.h5"
    truncated.write_bytes(neutral_file.read_bytes()[:5000])
    with pytest.raises(DnoError, match="truncated or corrupt"):
        data.read_dataset(truncated)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(DnoError, match="truncated or corrupt"):
        data.read_dataset(text)
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f.create_dataset("x", data=[1.0])
    with pytest.raises(DnoError, match="not a dno dataset"):
        data.read_dataset(tmp_path / "other.h5")
    with pytest.raises(DnoError, match="does not exist"):
        data.read_dataset(tmp_path / "missing.h5")


def test_reaction_diffusion_grid_override(tmp_path: Path) -> None:
    path = tmp_path / "rd.h5"
    data.generate_dataset(
        "reaction_diffusion", 4, 0, path, ["D=0.004:0.02", "r=1:2", "tau=0.1:0.2"], grid_points=64
    )
    ds = data.read_dataset(path)
    assert ds.x.shape == (64,) and ds.splits["train"].y.shape[2] == 64
    assert ds.provenance["priors"]["D"] == [0.004, 0.02]
    info = data.describe_dataset(ds, str(path))
    assert "X = 64 spatial points" in info and "tau      [0.1" in info
