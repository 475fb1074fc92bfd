"""What every model computes, pinned: fixed weights and inputs, and the outputs they gave.

``reference_outputs.npz`` (next to this file) holds, per case, the model's state_dict, a batch of
inputs and the model's outputs on them, as computed by the code at the time the file was made.
``test_reference_outputs.py`` rebuilds each model from its config, loads the stored weights and
compares. A new model's cases are added (the others kept as stored, those of a removed model
dropped) with::

    .venv/bin/python tests/models/reference_cases.py

and every case is made again (only when a model is meant to compute something else) with
``--all``. A case's seed is its place in :func:`cases`, so ``--all`` on unchanged models gives
the same weights and inputs.
"""

from __future__ import annotations

import sys
from collections.abc import Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch

from dno.models import available, build

PATH = Path(__file__).with_name("reference_outputs.npz")

# Two shapes per model: a field (X > 1, several channels and conditioning entries) and a scalar
# state with an odd S, a spectral-norm bound and a learned output scale.
SHAPES: dict[str, dict[str, Any]] = {
    "field": {"S": 8, "X": 6, "channels": 2, "cond_dim": 2, "width": 6, "layers": 2},
    "scalar": {
        "S": 9, "X": 1, "channels": 1, "cond_dim": 1, "width": 5, "layers": 2,
        "spectral_norm": 1.5, "output_scale": True,
    },
}  # fmt: skip
BATCH = 3


def cases() -> list[tuple[str, str, dict[str, Any]]]:
    """``(key, model name, config)`` for every model and shape."""
    return [
        (f"{name}.{shape}", name, config)
        for name in available()
        for shape, config in SHAPES.items()
    ]


def inputs(config: dict[str, Any], seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """A batch of histories (B, S, X, C) and conditioning vectors (B, P)."""
    generator = torch.Generator().manual_seed(seed)
    shape = (BATCH, config["S"], config["X"], config["channels"])
    return torch.randn(shape, generator=generator), torch.randn(
        BATCH, config["cond_dim"], generator=generator
    )


def generate(keys: Collection[str] | None = None) -> dict[str, np.ndarray]:
    """Build every case (or those of ``keys``) with fixed seeds, perturb the weights off their
    init, record outputs."""
    arrays: dict[str, np.ndarray] = {}
    for seed, (key, name, config) in enumerate(cases()):
        if keys is not None and key not in keys:
            continue
        torch.manual_seed(seed)
        model = build(name, **config)
        with torch.no_grad():  # every parameter matters, not only those the init left non-zero
            for parameter in model.parameters():
                parameter.add_(0.1 * torch.randn_like(parameter))
        history, cond = inputs(config, 1000 + seed)
        with torch.no_grad():
            output = model(history, cond)
        arrays[f"{key}/history"] = history.numpy()
        arrays[f"{key}/cond"] = cond.numpy()
        arrays[f"{key}/output"] = output.numpy()
        for pname, value in model.state_dict().items():
            arrays[f"{key}/state/{pname}"] = value.numpy()
    return arrays


def update(everything: bool) -> list[str]:
    """Write the file with the missing cases added (every case with ``everything``)."""
    wanted = [key for key, _, _ in cases()]
    arrays: dict[str, np.ndarray] = {}
    if PATH.exists() and not everything:
        with np.load(PATH) as stored:
            arrays = {k: stored[k] for k in stored.files if k.split("/")[0] in wanted}
    made = [key for key in wanted if f"{key}/output" not in arrays]
    arrays.update(generate(made))
    np.savez_compressed(PATH, **arrays)  # type: ignore[arg-type]
    return made


if __name__ == "__main__":
    made = update(everything="--all" in sys.argv[1:])
    print(f"wrote {PATH}: made {', '.join(made) or 'no case'}, the others kept")
