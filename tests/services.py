"""What a test does when a server or browser it needs cannot be had: skip, or fail under CI.

A developer's machine without root may lack PostgreSQL or Chromium: those tests are skipped
with the reason. Under CI (``CI`` set to ``true`` or ``1``, as CI services set it) the test set-up
must have installed them, so a missing one fails the run instead of passing it silently.
"""

from __future__ import annotations

import os
from typing import NoReturn

import pytest

__all__ = ["unavailable"]


def unavailable(reason: str) -> NoReturn:
    """Skip the test with ``reason``, or fail it when running under CI."""
    if os.environ.get("CI", "").lower() in ("true", "1"):
        pytest.fail(f"{reason} (required under CI)", pytrace=False)
    pytest.skip(reason)
