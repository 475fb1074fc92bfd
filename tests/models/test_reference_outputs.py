"""Every model computes what it computed when ``reference_outputs.npz`` was made, same weights.

Guards speed work on the models: a faster layer must give the same function to float tolerance,
and old checkpoints (the stored state_dicts) must still load into today's models.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
import torch

from dno.models import build
from models.reference_cases import PATH, cases


@pytest.fixture(scope="module")
def stored() -> dict[str, np.ndarray]:
    with np.load(PATH) as data:
        return dict(data)


@pytest.mark.parametrize(("key", "name", "config"), cases(), ids=[c[0] for c in cases()])
def test_same_function_with_the_same_weights(
    key: str, name: str, config: dict[str, Any], stored: dict[str, np.ndarray]
) -> None:
    model = build(name, **config)
    prefix = f"{key}/state/"
    state = {
        k[len(prefix) :]: torch.from_numpy(v) for k, v in stored.items() if k.startswith(prefix)
    }
    model.load_state_dict(state)  # strict: old parameter names and shapes still load
    history = torch.from_numpy(stored[f"{key}/history"])
    cond = torch.from_numpy(stored[f"{key}/cond"])
    expected = torch.from_numpy(stored[f"{key}/output"])
    for training in (False, True):  # dropout is 0: both modes compute the same function
        model.train(training)
        with torch.no_grad():
            torch.testing.assert_close(model(history, cond), expected, rtol=1e-5, atol=1e-5)
