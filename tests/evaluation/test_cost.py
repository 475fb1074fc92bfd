"""Cost: parameter count, throughput and peak memory of a small torch model."""

from __future__ import annotations

import numpy as np
import pytest

from dno.errors import UsageError
from dno.evaluation import measure_cost, parameter_count

torch = pytest.importorskip("torch")


class _TwoInputs(torch.nn.Module):
    """history (B, S, X, C) and conditioning (B, P) -> next slices (B, 1, X, C)."""

    def __init__(self) -> None:
        super().__init__()
        self.mix = torch.nn.Linear(8 + 3, 8)
        self.frozen = torch.nn.Parameter(torch.zeros(5), requires_grad=False)

    def forward(self, history: torch.Tensor, conditioning: torch.Tensor) -> torch.Tensor:
        flat = torch.cat([history.flatten(1), conditioning], dim=1)
        return self.mix(flat).reshape(history.shape[0], 1, 8, 1)


def test_parameter_count_and_cost() -> None:
    model = _TwoInputs()
    assert parameter_count(model) == 11 * 8 + 8 + 5
    assert parameter_count(model, trainable_only=True) == 11 * 8 + 8
    assert parameter_count(lambda x: x) == 0
    history = np.zeros((16, 1, 8, 1), dtype=np.float32)
    cost = measure_cost(model, (history, torch.zeros(16, 3)), repeats=3, warmup=1)
    assert cost.parameters == 101 and cost.trainable_parameters == 96
    assert cost.batch_size == 16 and cost.device == "cpu"
    assert cost.samples_per_second == pytest.approx(16 / cost.seconds_per_batch)
    assert cost.memory_kind == "process_peak_rss" and cost.peak_memory_bytes > 10 * 2**20


def test_cost_rejects_bad_arguments() -> None:
    with pytest.raises(UsageError, match="repeats=0"):
        measure_cost(_TwoInputs(), (torch.zeros(1, 1, 8, 1), torch.zeros(1, 3)), repeats=0)
    with pytest.raises(UsageError, match="inputs is empty"):
        measure_cost(_TwoInputs(), ())
