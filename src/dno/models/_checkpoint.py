"""Model checkpoints that load back from the file alone.

A checkpoint is a ``torch.save`` file holding only plain types and tensors (so it loads with
``weights_only=True``)::

    {"format": "dno-model", "format_version": 1, "model": name, "config": {...},
     "dno_version": "0.1.0", "extra": {...} or None, "state_dict": {...}}

It is written atomically (a temporary file in the same folder, then ``os.replace``), so a failed
save never leaves a half-written file in place of a good one. A checkpoint loads only into the
same dno major.minor version.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import torch

import dno
from dno._io import atomic_path
from dno.errors import DnoError, UsageError
from dno.models._base import DelayOperator
from dno.models._registry import available, build

__all__ = ["load", "load_checkpoint", "save"]

FORMAT = "dno-model"
FORMAT_VERSION = 1


def save(
    model: DelayOperator, path: str | os.PathLike[str], extra: dict[str, Any] | None = None
) -> None:
    """Write ``model`` (name, config, weights, dno version) and ``extra`` to ``path`` atomically.

    Args:
        model: the model to save.
        path: the checkpoint file; its folder must exist.
        extra: anything the caller wants back (the trainer stores the normalization here):
            nested dicts/lists of str, int, float, bool, None and torch tensors.

    Raises:
        UsageError: ``model`` is not a DelayOperator, or ``extra`` holds another type.
        DnoError: the file cannot be written.
    """
    if not isinstance(model, DelayOperator):
        raise UsageError(f"save needs a dno model, got {type(model).__name__}")
    if extra is not None:
        if not isinstance(extra, dict):
            raise UsageError(f"extra must be a dict, got {type(extra).__name__}")
        _check_plain(extra, "extra")
    target = Path(path)
    if not target.parent.is_dir():
        raise DnoError(f"cannot write checkpoint {target}: folder {target.parent} does not exist")
    payload = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "model": model.name,
        "config": model.config,
        "dno_version": dno.__version__,
        "extra": extra,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
    }
    try:
        with atomic_path(target) as temporary:
            torch.save(payload, temporary)
    except OSError as error:
        raise DnoError(f"cannot write checkpoint {target}: {error.strerror or error}") from None


def load(path: str | os.PathLike[str], name: str | None = None) -> DelayOperator:
    """Rebuild the model saved at ``path`` (in eval mode, on the CPU).

    Args:
        path: a file written by :func:`save`.
        name: if given, the model the caller expects; another model's checkpoint is an error.

    Raises:
        DnoError: a missing or unreadable file, not a dno checkpoint, another model than
            ``name``, another dno major.minor version, or weights that do not fit; one line.
    """
    return load_checkpoint(path, name)[0]


def load_checkpoint(
    path: str | os.PathLike[str], name: str | None = None
) -> tuple[DelayOperator, dict[str, Any] | None]:
    """Like :func:`load`, and also return the ``extra`` dict stored with the model."""
    source = Path(path)
    payload = _read(source)
    model_name = payload["model"]
    if model_name not in available():
        raise DnoError(f"{source} holds an unknown model {model_name!r}")
    if name is not None and model_name != name:
        raise DnoError(f"{source} holds a {model_name!r} model, expected {name!r}")
    if not isinstance(payload["config"], dict):
        raise DnoError(f"{source} is not a valid dno checkpoint (config is not a dict)")
    try:
        model = build(model_name, **payload["config"])
    except UsageError as error:
        raise DnoError(f"{source} has a config the {model_name!r} model rejects: {error}") from None
    try:
        model.load_state_dict(payload["state_dict"])
    except (RuntimeError, TypeError, AttributeError) as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        raise DnoError(
            f"{source}: the weights do not fit the {model_name!r} model ({first})"
        ) from None
    model.eval()
    return model, payload["extra"]


def _read(source: Path) -> dict[str, Any]:
    """The checked payload of a checkpoint file."""
    if not source.is_file():
        what = "is a folder, not a file" if source.is_dir() else "not found"
        raise DnoError(f"checkpoint {source} {what}")
    try:
        payload = torch.load(source, map_location="cpu", weights_only=True)
    except Exception as error:  # torch raises many kinds for a corrupt or foreign file
        raise DnoError(
            f"{source} is not a readable dno checkpoint ({type(error).__name__}: corrupt, "
            "truncated or not written by dno.models.save)"
        ) from None
    keys = ("format", "model", "config", "dno_version", "extra", "state_dict")
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise DnoError(f"{source} is not a dno model checkpoint (no {FORMAT!r} format marker)")
    if any(key not in payload for key in keys):
        raise DnoError(f"{source} is an incomplete dno checkpoint (missing entries)")
    if payload.get("format_version") != FORMAT_VERSION:
        raise DnoError(
            f"{source} has checkpoint format version {payload.get('format_version')!r}; "
            f"this dno reads version {FORMAT_VERSION}"
        )
    written, current = str(payload["dno_version"]), dno.__version__
    if _major_minor(written) != _major_minor(current):
        raise DnoError(
            f"{source} was written by dno {written}, this is dno {current}; "
            "a checkpoint loads only into the same major.minor version"
        )
    return payload


def _major_minor(version: str) -> tuple[int, int] | str:
    match = re.match(r"(\d+)\.(\d+)", version)
    return (int(match.group(1)), int(match.group(2))) if match else version


def _check_plain(value: object, where: str) -> None:
    """Refuse anything ``torch.load(weights_only=True)`` could not read back."""
    if value is None or isinstance(value, (str, int, float, bool, torch.Tensor)):
        return
    if isinstance(value, dict):
        for key, item in value.items():
            if not isinstance(key, str):
                raise UsageError(f"{where} has a non-string key {key!r}")
            _check_plain(item, f"{where}[{key!r}]")
        return
    if isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            _check_plain(item, f"{where}[{index}]")
        return
    raise UsageError(
        f"{where} is a {type(value).__name__}; store str, int, float, bool, None, lists, "
        "dicts or torch tensors (e.g. torch.as_tensor(array))"
    )
