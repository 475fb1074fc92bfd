"""Training configuration: defaults, a YAML file, ``--set key=value``, and strict validation.

One flat namespace: a key is either a training option (:data:`TRAINING_DEFAULTS`) or a
constructor argument of the chosen model (see ``dno.models.accepted_keys``). Anything else is an
error naming the key, never silently ignored. The dimensions ``X``, ``channels`` and
``cond_dim`` come from the data, not from the config.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterable, Mapping
from typing import Any

import yaml

from dno._io import read_yaml_mapping
from dno.errors import UsageError
from dno.models import accepted_keys, model_class

__all__ = [
    "DATA_KEYS",
    "TRAINING_DEFAULTS",
    "TrainConfig",
    "check_keys",
    "parse_set",
    "resolve_config",
]

#: Training options and their defaults.
TRAINING_DEFAULTS: dict[str, Any] = {
    "S": 32,  # points on a window's theta-grid (also the model's S)
    "stride": None,  # grid steps between window ends (default: the model's m)
    "max_windows_per_trajectory": None,
    "cond_params": [],  # family parameters to condition on besides tau
    "lr": 1e-3,
    "weight_decay": 1e-4,
    "batch_size": 64,
    "max_epochs": 30,
    "schedule": "plateau",  # plateau | cosine | onecycle | none
    "grad_clip": 1.0,  # max gradient norm; 0 = off
    "patience": 8,  # epochs without validation improvement before stopping; 0 = off
    "loss": "mse",  # mse | rel_l2
    "band_weights": None,  # [low, mid, high] weights of the frequency-band loss, or None
    "band_edges": [0.2, 0.5],  # band edges as fractions of the highest frequency
    "dc_weight": 0.0,  # weight of the mean (DC) penalty
    "edge_params": [],  # oversample trajectories in the outer quantiles of these parameters
    "edge_quantile": 0.1,  # top and bottom q
    "edge_factor": 1,  # how many times an edge trajectory's windows are seen per epoch
    "channel_weights": None,  # per-channel loss weights, length C
    "seed": 0,
    "device": "auto",  # auto | cpu | cuda | cuda:N | mps
    "amp": True,  # mixed precision where it helps (CUDA only)
    "compile": False,  # torch.compile the training steps: ~30 s at the start, faster steps after
}
#: Model arguments that come from the data.
DATA_KEYS = ("X", "channels", "cond_dim")

_CHOICES = {
    "schedule": ("plateau", "cosine", "onecycle", "none"),
    "loss": ("mse", "rel_l2"),
    "device": ("auto", "cpu", "cuda", "mps"),
}

TrainConfig = dict[str, Any]


def parse_set(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` overrides; values are read as YAML (``1e-3``, ``true``, ``[1, 2]``)."""
    parsed = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r} is malformed; expected key=value")
        try:
            parsed[key.strip()] = yaml.safe_load(text) if text.strip() else None
        except yaml.YAMLError:
            raise UsageError(f"--set {item!r}: the value is not valid YAML") from None
    return parsed


def load_config_file(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Read a YAML config: a mapping of keys (a nested ``model:`` mapping is flattened)."""
    data = read_yaml_mapping(path, "config file")
    nested = data.pop("model", None)
    if isinstance(nested, dict):
        data.update(nested)
    elif nested is not None:
        data["model"] = nested
    return data


def check_keys(model: str, names: Iterable[str]) -> None:
    """Raise :class:`UsageError` for a name that is neither a training option nor a model key."""
    model_class(model)
    model_keys = [k for k in accepted_keys(model) if k not in DATA_KEYS]
    for key in names:
        if key in DATA_KEYS:
            raise UsageError(f"config key {key!r} is set by the data, not by the config")
        if key not in TRAINING_DEFAULTS and key not in model_keys:
            raise UsageError(
                f"config key {key!r} is neither a training option nor used by model "
                f"{model!r}; training options: {', '.join(TRAINING_DEFAULTS)}; "
                f"model keys: {', '.join(k for k in model_keys if k != 'S')}"
            )


def resolve_config(model: str, *layers: Mapping[str, Any] | None) -> TrainConfig:
    """The complete config: defaults, then each mapping in ``layers`` (later wins), validated.

    Returns:
        ``{"model": model, "model_config": {...}, **training options}``.

    Raises:
        UsageError: an unknown model, a key neither a training option nor used by the model, or
            a value out of range (one line naming it).
    """
    config: dict[str, Any] = dict(TRAINING_DEFAULTS)
    model_config: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if key == "model":
                if value != model:
                    raise UsageError(f"the config names model {value!r}, the command {model!r}")
                continue
            check_keys(model, [key])
            if key in TRAINING_DEFAULTS:
                config[key] = value
            else:
                model_config[key] = value
    model_class(model)  # an unknown model -> one clear error, even with no keys
    _validate(config)
    return {"model": model, "model_config": model_config, **config}


def _validate(config: dict[str, Any]) -> None:
    for key, choices in _CHOICES.items():
        value = config[key]
        if key == "device" and isinstance(value, str) and value.startswith("cuda:"):
            value = "cuda" if value[5:].isdigit() else value  # one GPU: cuda:0, cuda:1, ...
        if value not in choices:
            raise UsageError(f"{key}={config[key]!r}; expected one of: {', '.join(choices)}")
    for key in ("S", "batch_size", "max_epochs", "edge_factor"):
        value = config[key]
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise UsageError(f"{key}={value!r}; expected an integer >= 1")
    if config["S"] < 2:
        raise UsageError(f"S={config['S']}; expected an integer >= 2")
    for key in ("stride", "max_windows_per_trajectory"):
        value = config[key]
        if value is not None and (
            isinstance(value, bool) or not isinstance(value, int) or value < 1
        ):
            raise UsageError(f"{key}={value!r}; expected an integer >= 1 (or null: the default)")
    weights = config["channel_weights"]
    if weights is not None and not (
        isinstance(weights, list) and weights and all(_number(w) and w >= 0 for w in weights)
    ):
        raise UsageError(f"channel_weights={weights!r}; expected a list of weights >= 0, or null")
    for key in ("amp", "compile"):
        if not isinstance(config[key], bool):
            raise UsageError(f"{key}={config[key]!r}; expected true or false")
    for key in ("lr", "weight_decay", "grad_clip", "dc_weight", "edge_quantile"):
        value = config[key]
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
            or value < 0
        ):
            raise UsageError(f"{key}={value!r}; expected a finite number >= 0")
    if config["lr"] <= 0:
        raise UsageError(f"lr={config['lr']!r}; expected a number > 0")
    if not 0 <= config["edge_quantile"] < 0.5:
        raise UsageError(f"edge_quantile={config['edge_quantile']!r}; expected 0 <= q < 0.5")
    patience = config["patience"]
    if isinstance(patience, bool) or not isinstance(patience, int) or patience < 0:
        raise UsageError(f"patience={patience!r}; expected an integer >= 0")
    seed = config["seed"]
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise UsageError(f"seed={seed!r}; expected an integer >= 0")
    for key in ("cond_params", "edge_params"):
        if not isinstance(config[key], list) or not all(isinstance(v, str) for v in config[key]):
            raise UsageError(f"{key}={config[key]!r}; expected a list of parameter names")
    bands = config["band_weights"]
    if bands is not None and not (
        isinstance(bands, list) and len(bands) == 3 and all(_number(w) and w >= 0 for w in bands)
    ):
        raise UsageError(f"band_weights={bands!r}; expected [low, mid, high] weights >= 0")
    edges = config["band_edges"]
    if not (
        isinstance(edges, list)
        and len(edges) == 2
        and all(_number(e) for e in edges)
        and 0 < edges[0] < edges[1] < 1
    ):
        raise UsageError(f"band_edges={edges!r}; expected [a, b] with 0 < a < b < 1")


def _number(value: Any) -> bool:
    """A finite int or float (not a bool)."""
    return not isinstance(value, bool) and isinstance(value, int | float) and math.isfinite(value)
