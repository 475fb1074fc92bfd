"""dno: learn solution operators of delay differential equations with neural operators.

The package is organised as in ``ARCHITECTURE.md``: :mod:`dno.dde` (equations, priors and the
batched solver) at the bottom, then :mod:`dno.data`, :mod:`dno.models`, :mod:`dno.tracking`,
:mod:`dno.evaluation`, :mod:`dno.training`, :mod:`dno.search`, :mod:`dno.compare`,
:mod:`dno.report` and the command line. Importing :mod:`dno` has no side
effects and imports no heavy optional dependency.
"""

from __future__ import annotations

import json as _json
import os as _os
import sys as _sys
from importlib import metadata as _metadata
from typing import Any as _Any

try:
    __version__ = _metadata.version("dno")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__", "log"]


def log(step: int | None = None, **metrics: _Any) -> None:
    """Report metrics from your own training program to ``dno search`` (one JSON line).

    Under ``dno search`` (which sets ``DNO_TRIAL_DIR``) this prints
    ``{"step": step, "val_loss": ...}`` on standard output, where dno reads it; run outside dno
    it does nothing.

    Example:
        >>> import dno
        >>> dno.log(step=3, val_loss=0.12)  # a no-op outside dno search
    """
    if not _os.environ.get("DNO_TRIAL_DIR"):
        return
    record = {"step": step, **metrics} if step is not None else dict(metrics)
    _sys.stdout.write(_json.dumps(record, default=float) + "\n")
    _sys.stdout.flush()
