"""``score_checkpoint``: one scoring path for a model in memory and for its checkpoint file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from dno.data import Normalizer, WindowSet
from dno.errors import UsageError
from dno.evaluation import (
    EvaluationConfig,
    relative_l2,
    relative_l2_per_step,
    score_checkpoint,
    score_rollout,
)
from dno.models import build, save

S, N, HORIZON = 8, 5, 10


def _windows() -> WindowSet:
    rng = np.random.default_rng(0)
    series = np.cumsum(rng.standard_normal((N, S + HORIZON, 1, 1)), axis=1).astype(np.float32)
    return WindowSet(
        history=series[:, :S], target=series[:, S:], params={"tau": rng.uniform(1, 2, N)},
        trajectory=np.arange(N), time=np.ones(N), step=np.full(N, 1 / (S - 1)),
    )  # fmt: skip


def test_in_memory_and_checkpoint_give_the_same_scores(tmp_path: Path) -> None:
    torch.manual_seed(0)
    model = build("lag_stack", S=S, X=1, channels=1, cond_dim=1, m=2)
    windows = _windows()
    normalizer = Normalizer.fit(windows)
    save(model, tmp_path / "best.pt", {"normalizer": normalizer.to_dict()})
    model.train()
    for delays in (None, 1):
        memory = score_checkpoint(model, windows, normalizer, horizon_delays=delays, batch_size=2)
        disk = score_checkpoint(tmp_path / "best.pt", windows, horizon_delays=delays, batch_size=2)
        assert memory.relative_l2 == disk.relative_l2
        assert memory.relative_l2_per_step == disk.relative_l2_per_step
        n = model.m if delays is None else S - 1
        assert memory.prediction.shape == memory.truth.shape == (N, n, 1, 1)
        np.testing.assert_array_equal(memory.truth, windows.target[:, :n])
        assert memory.relative_l2 == relative_l2(memory.prediction, memory.truth)
        assert memory.relative_l2_per_step == relative_l2_per_step(memory.prediction, memory.truth)
    assert model.training  # the model's mode is left as it was
    state = torch.from_numpy(normalizer.state(windows.history))
    cond = torch.from_numpy(normalizer.cond(windows.params))
    with torch.no_grad():
        rollout = model.eval().rollout(state, cond, horizon=S - 1).numpy()
    # float32 products over batches of 2 and of all windows may round differently (seen: 1.2e-7
    # relative on one CPU): equal to float32 precision, not bit for bit
    np.testing.assert_allclose(
        memory.prediction, normalizer.unstate(rollout.astype(np.float64)), rtol=1e-6
    )
    assert memory.rollout is not None and memory.rollout.relative_l2 == memory.relative_l2
    with pytest.raises(UsageError, match="needs the normalization"):
        score_checkpoint(model, windows)


def test_a_perfect_rollout_scores_perfectly() -> None:
    rng = np.random.default_rng(0)
    time = np.linspace(0, 6 * np.pi, 2 * (S - 1))
    truth = (np.sin(time[None, :] + rng.uniform(0, 6, (5, 1))) + 2.0)[..., None, None]
    scores = score_rollout(
        truth.copy(), truth, slices_per_delay=S - 1, config=EvaluationConfig(horizon_delays=2)
    )
    assert scores.relative_l2 == 0 and scores.relative_l2_per_step == 0
    assert scores.valid.reached_horizon.all() and scores.valid.mean == pytest.approx(2.0)
    assert all(scores.correlation.reached_horizon)
    assert scores.diagnosis.amplitude is not None and scores.diagnosis.spectral is not None
    assert scores.diagnosis.amplitude.std_ratio == pytest.approx(1.0)
    assert np.nanmax(np.abs(scores.diagnosis.spectral.power_ratio - 1.0)) < 1e-12
    assert scores.diagnosis.findings == ()
