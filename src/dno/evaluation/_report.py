"""Results as standard JSON (no NaN, no Infinity)."""

from __future__ import annotations

import dataclasses
import json
import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from dno._io import atomic_path

__all__ = ["to_jsonable", "write_json"]


def to_jsonable(obj: object) -> Any:
    """Turn a result (dataclasses, numpy arrays and scalars, nested containers) into plain
    JSON values: dicts, lists, str, int, float, bool and None.

    Non-finite floats become ``None`` (``null``): standard JSON has no NaN or Infinity. (Valid
    and correlation times are never infinite: they report the horizon with a flag.)

    Example:
        >>> to_jsonable({"x": np.array([1.0, np.nan]), "n": np.int64(3)})
        {'x': [1.0, None], 'n': 3}
    """
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: to_jsonable(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return to_jsonable(obj.item())
    if isinstance(obj, float):
        return obj if math.isfinite(obj) else None
    if isinstance(obj, dict):
        return {str(key): to_jsonable(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(value) for value in obj]
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, (bool, int, str)):
        return obj
    raise TypeError(f"cannot turn {type(obj).__name__} into JSON")


def write_json(path: str | os.PathLike[str], obj: object) -> Path:
    """Write ``to_jsonable(obj)`` to ``path`` atomically (a temporary file, then a rename)."""
    target = Path(path)
    text = json.dumps(to_jsonable(obj), indent=2, allow_nan=False) + "\n"
    with atomic_path(target) as temporary:
        temporary.write_text(text, encoding="utf-8")
    return target
