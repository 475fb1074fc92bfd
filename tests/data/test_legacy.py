"""Legacy pickle import: the restricted unpickler and per-sample validation."""

from __future__ import annotations

import os
import pickle
from pathlib import Path

import numpy as np
import pytest

import dno.data as data
from dno.errors import DnoError


def _sample(rng: np.random.Generator, channels: int = 1, as_dict: bool = True) -> tuple:
    tau = float(rng.uniform(0.5, 2.0))
    t = np.sort(rng.uniform(0, 10, size=int(rng.integers(20, 40))))
    y = rng.normal(size=(t.size, channels)) if channels > 1 else rng.normal(size=t.size)
    h_y = rng.normal(size=(11, channels)) if channels > 1 else rng.normal(size=11)
    hist = {"t": np.linspace(-tau, 0, 11), "y": h_y} if as_dict else h_y
    return hist, tau, t, y


def _write(path: Path, obj: object) -> Path:
    path.write_bytes(pickle.dumps(obj))
    return path


def test_imports_list_of_samples(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    samples = [_sample(rng, as_dict=i % 2 == 0) for i in range(12)]
    src = _write(tmp_path / "old.pkl", samples)
    data.import_legacy(src, "mackey", tmp_path / "new.h5")
    ds = data.read_dataset(tmp_path / "new.h5")
    assert sum(len(s) for s in ds.splits.values()) == 12
    for split in ds.splits.values():
        for b, i in enumerate(split.trajectory_id):
            hist, tau, t, y = samples[i]
            n = split.lengths[b]
            np.testing.assert_array_equal(split.t[b, :n], t)
            np.testing.assert_array_equal(split.y[b, :n, 0], y)
            assert split.params["tau"][b] == tau and np.isnan(split.params["beta"][b])
            h_y = hist["y"] if isinstance(hist, dict) else hist
            np.testing.assert_array_equal(split.history_y[b, : split.history_lengths[b], 0], h_y)
            assert np.all(np.isnan(split.t[b, n:]))
    assert ds.provenance["parameters_known"] == ["tau"]


def test_imports_dict_with_samples_and_twenty_channels(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    src = _write(tmp_path / "rd.pkl", {"samples": [_sample(rng, channels=20) for _ in range(5)]})
    data.import_legacy(src, "reaction_diffusion", tmp_path / "rd.h5")
    assert data.read_dataset(tmp_path / "rd.h5").x.shape == (20,)


class Exploit:
    def __reduce__(self) -> tuple:
        return (os.system, ("touch /tmp/dno-pwned",))


class UserClass:
    pass


@pytest.mark.parametrize(
    ("payload", "refused"), [(Exploit(), r"(posix|os)\.system"), (UserClass(), r"\S*UserClass")]
)
def test_refuses_foreign_classes_before_running_them(
    tmp_path: Path, payload: object, refused: str
) -> None:
    marker = Path("/tmp/dno-pwned")
    marker.unlink(missing_ok=True)
    src = _write(tmp_path / "evil.pkl", [payload])
    with pytest.raises(DnoError, match=f"refused to load class {refused}"):
        data.import_legacy(src, "mackey", tmp_path / "out.h5")
    assert not marker.exists()
    assert not (tmp_path / "out.h5").exists()


@pytest.mark.parametrize(
    ("mutate", "match"),
    [
        (lambda s: (s[0], s[1], s[2], np.where(np.arange(s[3].size) == 3, np.nan, s[3])),
         "sample 2: y has non-finite values"),
        (lambda s: (s[0], -1.0, s[2], s[3]), r"sample 2: tau=-1.0; expected a finite tau > 0"),
        (lambda s: (s[0], s[1], s[2][::-1], s[3]), "sample 2: times t are not strictly increasing"),
        (lambda s: (np.ones((11, 3)), s[1], s[2], s[3]), "sample 2: history has 3 channels"),
        (lambda s: (s[0], s[1], s[2][:-1], s[3]), r"sample 2: times t has shape"),
        (lambda s: s[:3], r"sample 2: expected a tuple \(hist, tau, t, y\)"),
    ],
)  # fmt: skip
def test_names_the_first_bad_sample(tmp_path: Path, mutate: object, match: str) -> None:
    rng = np.random.default_rng(2)
    samples = [_sample(rng) for _ in range(5)]
    samples[2] = mutate(samples[2])  # type: ignore[operator]
    src = _write(tmp_path / "bad.pkl", samples)
    with pytest.raises(DnoError, match=match):
        data.import_legacy(src, "mackey", tmp_path / "out.h5")
    assert not (tmp_path / "out.h5").exists()


def test_unreadable_and_wrong_family(tmp_path: Path) -> None:
    src = tmp_path / "junk.pkl"
    src.write_bytes(b"\x80\x04not a pickle")
    with pytest.raises(DnoError, match="not a readable pickle"):
        data.import_legacy(src, "mackey", tmp_path / "out.h5")
    good = _write(tmp_path / "ok.pkl", [_sample(np.random.default_rng(3))])
    with pytest.raises(DnoError, match="expects X >= 2 spatial points"):
        data.import_legacy(good, "reaction_diffusion", tmp_path / "out.h5")
    with pytest.raises(DnoError, match="expected a non-empty list"):
        data.import_legacy(_write(tmp_path / "n.pkl", 42), "mackey", tmp_path / "out.h5")


def test_a_conversion_reports_its_progress(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    src = _write(tmp_path / "old.pkl", [_sample(rng) for _ in range(9)])
    seen: list[tuple[int, int]] = []
    data.import_legacy(src, "mackey", tmp_path / "new.h5", progress=lambda *a: seen.append(a))
    assert seen and seen[-1] == (9, 9)


def test_a_conversion_that_cannot_fit_the_disk_is_refused_before_it_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import shutil

    from dno.errors import UsageError

    rng = np.random.default_rng(3)
    src = _write(tmp_path / "old.pkl", [_sample(rng) for _ in range(9)])
    usage = shutil.disk_usage(tmp_path)
    monkeypatch.setattr(shutil, "disk_usage", lambda _: usage._replace(free=1000))
    with pytest.raises(UsageError, match=r"needs about .* GiB .*; .* GiB are free there"):
        data.import_legacy(src, "mackey", tmp_path / "new.h5")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.pkl"]  # nothing was written
