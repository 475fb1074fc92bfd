"""CompiledModel: the compiled step computes the model's function; failures fall back to eager."""

from __future__ import annotations

from typing import Any

import pytest
import torch

from dno.errors import UsageError
from dno.models import CompiledModel, build


def _model_and_inputs() -> tuple[Any, torch.Tensor, torch.Tensor]:
    torch.manual_seed(0)
    model = build("method_of_steps", S=8, X=3, channels=1, cond_dim=1, width=4, layers=1)
    return model, torch.randn(2, 8, 3, 1), torch.randn(2, 1)


def test_compiled_step_computes_the_same_function(monkeypatch: pytest.MonkeyPatch) -> None:
    real = torch.compile
    # Dynamo's tracing without code generation: the same graph capture, seconds instead of a
    # C++ build (the inductor backend is what the trainer uses; benchmarks time it).
    monkeypatch.setattr(torch, "compile", lambda model: real(model, backend="eager"))
    model, history, cond = _model_and_inputs()
    step = CompiledModel(model, enabled=True)
    out = step(history, cond)
    assert step.compiled and step.failure is None
    torch.testing.assert_close(out, model(history, cond))
    out.square().mean().backward()
    assert all(p.grad is not None for p in model.parameters())
    with pytest.raises(UsageError, match="history has shape"):
        step(history[:, :4], cond)
    assert step.compiled  # a bad input is the caller's error, not the compiler's


def test_a_failing_compiler_falls_back_to_eager(monkeypatch: pytest.MonkeyPatch) -> None:
    def broken(model: torch.nn.Module) -> Any:
        def call(*args: Any) -> torch.Tensor:
            raise RuntimeError("InductorError: no working C++ compiler")

        return call

    monkeypatch.setattr(torch, "compile", broken)
    model, history, cond = _model_and_inputs()
    step = CompiledModel(model, enabled=True)
    with pytest.warns(RuntimeWarning, match="continues with the eager model"):
        out = step(history, cond)
    assert not step.compiled and "no working C++ compiler" in str(step.failure)
    torch.testing.assert_close(out, model(history, cond))
    assert not CompiledModel(model, enabled=False).compiled
