"""Data beyond memory: a split read from its file a block at a time gives what the split in
memory gives (windows, checks, summary, the epoch's order and the trained model), and a chunk
that cannot be read mid-epoch is one line naming the trajectory, the last checkpoint kept."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pytest
import torch

import dno.data as data
import dno.data._epochs as epochs
from dno.errors import DnoError
from dno.training import resolve_config, train

FAST = {"S": 16, "width": 8, "layers": 1, "modes_theta": 4, "batch_size": 16, "device": "cpu",
        "patience": 0, "max_epochs": 2, "val_horizon_delays": 1}  # fmt: skip


@pytest.fixture(scope="module")
def mackey(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Mackey-Glass trajectories over three train blocks of BLOCK_TRAJECTORIES (made small)."""
    path = tmp_path_factory.mktemp("stream") / "mackey.h5"
    data.generate_dataset("mackey", 40, 3, path, t_end=120.0)
    return path


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Blocks of 12 trajectories, so the 32 train trajectories make three."""
    for module in (data._schema, epochs):
        monkeypatch.setattr(module, "BLOCK_TRAJECTORIES", 12)
    monkeypatch.setattr(data._schema.blocks, "__defaults__", (12,))


def both(path: Path) -> tuple[data.Dataset, data.Dataset]:
    return data.read_dataset(path, in_memory=True), data.read_dataset(path, in_memory=False)


def test_a_stored_split_reads_as_the_split_in_memory(mackey: Path) -> None:
    memory, stored = both(mackey)
    assert isinstance(memory.splits["train"], data.Split)
    assert isinstance(stored.splits["train"], data.StoredSplit)
    rows = stored.splits["train"].rows(5, 17)
    for name in ("t", "y", "history_t", "history_y", "lengths", "trajectory_id"):
        expected = getattr(memory.splits["train"], name)[5:17]
        np.testing.assert_array_equal(getattr(rows, name), expected)
    a = data.make_windows(memory.splits["train"], 16, 2, max_per_trajectory=5)
    b = data.make_windows(stored.splits["train"], 16, 2, max_per_trajectory=5)
    np.testing.assert_array_equal(a.history, b.history)
    np.testing.assert_array_equal(a.trajectory, b.trajectory)
    assert data.describe_dataset(memory, "m") == data.describe_dataset(stored, "m")


def test_a_large_file_is_read_a_block_at_a_time(
    mackey: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert isinstance(data.read_dataset(mackey).splits["val"], data.Split)  # small: in memory
    monkeypatch.setattr(data._schema, "MEMORY_READ_BYTES", 1000)
    assert isinstance(data.read_dataset(mackey).splits["val"], data.StoredSplit)


def test_evaluation_scores_at_most_its_cap_of_trajectories_evenly_spread(mackey: Path) -> None:
    split = data.read_dataset(mackey, in_memory=False).splits["train"]
    windows = data.make_windows(split, 16, 15, max_per_trajectory=1, max_trajectories=4)
    ids = split.trajectory_id[[0, 10, 21, 31]]  # linspace(0, 31, 4) rounded
    np.testing.assert_array_equal(windows.trajectory, ids)


def test_train_windows_kept_or_made_again_are_the_same(
    mackey: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    memory, stored = both(mackey)
    kept = data.train_windows(memory.splits["train"], 16, 1, 1, 20)
    monkeypatch.setattr(epochs, "WINDOW_MEMORY_BYTES", 0)
    remade = data.train_windows(stored.splits["train"], 16, 1, 1, 20)
    assert kept.windows is not None and remade.windows is None
    np.testing.assert_array_equal(kept.counts, remade.counts)
    assert len(kept) == len(remade) == 20 * 32
    for block in range(3):
        np.testing.assert_array_equal(kept.block(block).history, remade.block(block).history)
    a, b = data.fit_normalizer(kept, ("tau",)), data.fit_normalizer(remade, ("tau",))
    assert a.to_dict() == b.to_dict()  # the same bits: moments merged in the same order
    plain = data.Normalizer.fit(data.make_windows(memory.splits["train"], 16, 1, 1, 20))
    np.testing.assert_allclose(a.mean, plain.mean, rtol=1e-12)
    np.testing.assert_allclose(a.std, plain.std, rtol=1e-10)


def test_an_epoch_that_fits_one_buffer_is_one_permutation_of_every_window() -> None:
    counts = np.array([3, 0, 5, 2] * 10)
    repeats = np.array([1, 1, 2, 1] * 10)
    (order,) = data.epoch_order(counts, repeats, seed=4, epoch=2, buffer=10**6)
    every = np.repeat(np.arange(counts.sum()), np.repeat(repeats, counts))
    np.testing.assert_array_equal(order, np.random.default_rng([4, 2]).permutation(every))


def test_an_epoch_of_many_buffers_shuffles_blocks_and_windows_reproducibly() -> None:
    counts = np.arange(40) % 4 + 1
    repeats = np.ones(40, dtype=np.int64)
    parts = list(data.epoch_order(counts, repeats, seed=1, epoch=3, buffer=16))
    assert [len(p) for p in parts] == [16] * (counts.sum() // 16) + [counts.sum() % 16]
    np.testing.assert_array_equal(np.sort(np.concatenate(parts)), np.arange(counts.sum()))
    again = np.concatenate(list(data.epoch_order(counts, repeats, seed=1, epoch=3, buffer=16)))
    np.testing.assert_array_equal(np.concatenate(parts), again)
    other = np.concatenate(list(data.epoch_order(counts, repeats, seed=1, epoch=4, buffer=16)))
    assert not np.array_equal(other, again)
    assert data.steps_per_epoch(int(counts.sum()), 5, 16) == sum(-(-len(p) // 5) for p in parts)


def test_weighted_quantile_is_the_quantile_of_the_repeated_values() -> None:
    rng = np.random.default_rng(0)
    values, counts = rng.normal(size=30), rng.integers(1, 9, size=30)
    expected = np.quantile(np.repeat(values, counts), [0.1, 0.5, 0.9])
    np.testing.assert_allclose(data.weighted_quantile(values, counts, [0.1, 0.5, 0.9]), expected)


def test_the_same_seed_trains_the_same_model_from_memory_or_from_the_file(
    mackey: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(epochs, "BUFFER_BYTES", 4 * 31 * 50)  # S + m = 31: 50 windows
    config = resolve_config("method_of_steps", FAST, {"max_windows_per_trajectory": 12})
    memory, stored = both(mackey)
    first = train(config, memory, tmp_path / "memory", progress=False)
    monkeypatch.setattr(epochs, "WINDOW_MEMORY_BYTES", 0)  # made again from the file
    second = train(config, stored, tmp_path / "file", progress=False)
    assert first["n_train_windows"] == second["n_train_windows"] > 2 * 50  # three buffers
    a = torch.load(tmp_path / "memory" / "artifacts" / "last.pt", weights_only=True)
    b = torch.load(tmp_path / "file" / "artifacts" / "last.pt", weights_only=True)
    for name, tensor in a["state_dict"].items():
        assert torch.equal(tensor, b["state_dict"][name]), name
    assert first["val_rel_l2"] == second["val_rel_l2"]


def _corrupt_chunk(path: Path, split: str, field: str, index: int) -> None:
    """Overwrite the compressed bytes of one chunk of ``split/field``."""
    with h5py.File(path, "r") as f:
        info = f[split][field].id.get_chunk_info(index)
    with open(path, "r+b") as handle:
        handle.seek(info.byte_offset + 8)
        handle.write(b"\xff" * max(1, info.size - 16))


def test_a_corrupt_chunk_met_mid_epoch_names_the_trajectory_and_keeps_the_checkpoint(
    mackey: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "copy.h5"
    path.write_bytes(mackey.read_bytes())
    monkeypatch.setattr(epochs, "WINDOW_MEMORY_BYTES", 0)
    dataset = data.read_dataset(path, in_memory=False)
    with h5py.File(path, "r") as f:
        rows_per_chunk = f["train"]["y"].chunks[0]
    config = resolve_config("method_of_steps", FAST, {"max_windows_per_trajectory": 4})

    def corrupt(epoch: int, row: dict[str, object]) -> None:
        if epoch == 1:  # after the first epoch's checkpoints: met by the second epoch
            _corrupt_chunk(path, "train", "y", 0)

    with pytest.raises(DnoError) as error:
        train(config, dataset, tmp_path / "run", progress=False, on_epoch=corrupt)
    message = str(error.value)
    assert str(path) in message and "split 'train' trajectory 0 (id" in message
    assert "corrupt" in message and "\n" not in message
    assert rows_per_chunk >= 1
    last = torch.load(tmp_path / "run" / "artifacts" / "last.pt", weights_only=True)
    assert last["extra"]["epoch"] == 1
