"""A test that needs a missing server is skipped on a laptop but fails under CI."""

from __future__ import annotations

import pytest

from services import unavailable


def test_missing_service_skips_outside_ci(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CI", raising=False)
    with pytest.raises(pytest.skip.Exception, match="no server"):
        unavailable("no server")


@pytest.mark.parametrize("value", ["true", "1"])
def test_missing_service_fails_under_ci(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    monkeypatch.setenv("CI", value)
    with pytest.raises(pytest.fail.Exception, match=r"no server \(required under CI\)"):
        unavailable("no server")
