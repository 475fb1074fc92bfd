"""Each model learns a simple linear delay operator: x' = -a x(t - τ), τ varying.

Windows come from an exact recurrence on the θ-grid (trapezoidal rule for the delayed term, whose
points lie on the grid since τ = (S - 1) h), so the target is a τ-dependent linear map of the
history. A few hundred Adam steps on CPU must clearly lower the validation error. The ``fno``
baseline sees only u(t), so it gets the same test without the delay, x' = -a x(t).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from dno.models import accepted_keys, available, build

S = 16
A = 1.0
TAU = (0.5, 2.0)


def _windows(
    n: int, m: int, seed: int, delayed: bool = True
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Histories (n, S, 1, 1), conditioning (n, 1) and the next m slices (n, m, 1, 1)."""
    rng = np.random.default_rng(seed)
    tau = rng.uniform(*TAU, size=n)
    s = np.linspace(-1.0, 0.0, S)
    k = np.arange(1, 4)
    cos_c, sin_c = rng.normal(0, 0.5 / k, (n, 3)), rng.normal(0, 0.5 / k, (n, 3))
    series = np.zeros((n, 2 * S))
    series[:, :S] = rng.normal(0, 0.5, (n, 1)) + (
        cos_c @ np.cos(np.pi * np.outer(k, s)) + sin_c @ np.sin(np.pi * np.outer(k, s))
    )
    h = tau / (S - 1)
    for i in range(S - 1, 2 * S - 1):
        if delayed:
            lagged = series[:, i - (S - 1)] + series[:, i + 1 - (S - 1)]
            series[:, i + 1] = series[:, i] - A * h / 2 * lagged
        else:
            series[:, i + 1] = series[:, i] * (1 - A * h / 2) / (1 + A * h / 2)
    cond = (tau - 1.25) / 0.45
    as_tensor = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return (
        as_tensor(series[:, :S, None, None]),
        as_tensor(cond[:, None]),
        as_tensor(series[:, S : S + m, None, None]),
    )


def _config(name: str) -> dict[str, Any]:
    config: dict[str, Any] = {"width": 16, "layers": 2}
    if "modes_theta" in accepted_keys(name):
        config["modes_theta"] = 6
    if "basis" in accepted_keys(name):
        config.update(width=32, basis=16)
    return config


@pytest.mark.parametrize("name", available())
def test_model_learns_the_linear_delay_operator(name: str) -> None:
    torch.manual_seed(0)
    model = build(name, S=S, X=1, channels=1, cond_dim=1, **_config(name))
    delayed = name != "fno"
    history, cond, target = _windows(256, model.m, seed=1, delayed=delayed)
    val_history, val_cond, val_target = _windows(128, model.m, seed=2, delayed=delayed)

    def val_error() -> float:
        with torch.no_grad():
            return float((model(val_history, val_cond) - val_target).square().mean())

    before = val_error()
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(200):
        optimizer.zero_grad()
        (model(history, cond) - target).square().mean().backward()
        optimizer.step()
    after = val_error()
    # Speed is measured in benchmarks/bench_train.py, never asserted here (a loaded machine).
    assert after < 0.2 * before, f"{name}: validation MSE {before:.4f} -> {after:.4f}"
