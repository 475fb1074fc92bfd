"""dno: learn solution operators of delay differential equations with neural operators.

The package is organised as in ``DESIGN.md``: :mod:`dno.dde` (equations, priors and the batched
solver), :mod:`dno.data` (datasets on disk and safe import). Importing :mod:`dno` has no side
effects and imports no heavy optional dependency.
"""

from __future__ import annotations

from importlib import metadata as _metadata

try:
    __version__ = _metadata.version("dno")
except _metadata.PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
