"""Training configuration: defaults, a YAML file, ``--set key=value``, and strict validation.

One flat namespace: a key is either a training option (a field of :class:`TrainConfig`, listed
with its default in :data:`TRAINING_DEFAULTS`) or a constructor argument of the chosen model
(see ``dno.models.accepted_keys``). Anything else is an error naming the key, never silently
ignored. The dimensions ``X``, ``channels`` and ``cond_dim`` come from the data, not from the
config.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from dno._io import load_yaml, read_yaml_mapping
from dno._limits import Rule, at_least, check_fields, is_device, is_number, one_of
from dno.errors import UsageError, unknown_name
from dno.evaluation import parse_name
from dno.models import accepted_keys, model_class

__all__ = [
    "DATA_KEYS",
    "TRAINING_DEFAULTS",
    "TrainConfig",
    "check_keys",
    "load_config_file",
    "parse_set",
    "resolve_config",
]

#: Model arguments that come from the data.
DATA_KEYS = ("X", "channels", "cond_dim")


@dataclass(frozen=True)
class TrainConfig:
    """A validated training config: the model, its own arguments and the training options.

    Built by :func:`resolve_config` from mappings (a YAML file, ``--set``, a trial's
    parameters); a bad value raises one :class:`UsageError` naming the key, the value and what
    was expected. Lists are held as tuples; :meth:`to_dict` gives the plain record of
    ``config.json``.
    """

    model: str
    model_config: Mapping[str, Any] = field(default_factory=dict)  # the model's own arguments
    S: int = 32  # points on a window's theta-grid (also the model's S)
    stride: int | None = None  # grid steps between window ends (default: the model's m)
    max_windows_per_trajectory: int | None = None
    cond_params: tuple[str, ...] = ()  # family parameters to condition on besides tau
    lr: float = 1e-3
    weight_decay: float = 1e-4
    batch_size: int = 64
    max_epochs: int = 30
    schedule: str = "plateau"  # plateau | cosine | onecycle | none
    grad_clip: float = 1.0  # max gradient norm; 0 = off
    patience: int = 8  # epochs without validation improvement before stopping; 0 = off
    loss: str = "mse"  # mse | rel_l2
    band_weights: tuple[float, ...] | None = None  # [low, mid, high] frequency-band loss weights
    band_edges: tuple[float, ...] = (0.2, 0.5)  # band edges as fractions of the top frequency
    dc_weight: float = 0.0  # weight of the mean (DC) penalty
    edge_params: tuple[str, ...] = ()  # oversample trajectories in these parameters' outer q
    edge_quantile: float = 0.1  # top and bottom q
    edge_factor: int = 1  # how many times an edge trajectory's windows are seen per epoch
    channel_weights: tuple[float, ...] | None = None  # per-channel loss weights, length C
    seed: int = 0
    device: str = "auto"  # auto | cpu | cuda | cuda:N | mps
    amp: bool = True  # mixed precision where it helps (CUDA only)
    compile: bool = False  # torch.compile the training steps: ~30 s at the start, faster after
    rollout_steps: int = 1  # model steps unrolled in the loss, own predictions fed back (1: one)
    select: str = "val_rel_l2"  # the validation metric that picks the kept epoch, stops early
    val_horizon_delays: int | None = None  # horizon of the validation rollout (None: 3 delays)
    #: rollout metrics every k epochs (0: only for the kept weights; None: every epoch when the
    #: selection reads the rollout, else as often as keeps it near a tenth of an epoch)
    val_rollout_every: int | None = None

    def __post_init__(self) -> None:
        check_keys(self.model, self.model_config)
        check_fields(self, _RULES)
        _check_select(self.select, self.val_rollout_every)
        object.__setattr__(self, "model_config", dict(self.model_config))
        for name in ("cond_params", "band_weights", "band_edges", "edge_params", "channel_weights"):
            if isinstance(getattr(self, name), list):
                object.__setattr__(self, name, tuple(getattr(self, name)))

    def __getitem__(self, key: str) -> Any:
        """A training option or a model argument by its key: one flat namespace, as in files."""
        return self.model_config[key] if key in self.model_config else getattr(self, key)

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists for tuples), as written to ``config.json``."""
        return {f.name: _plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


#: Training options and their defaults (the fields after ``model`` and ``model_config``).
TRAINING_DEFAULTS: dict[str, Any] = {f.name: f.default for f in dataclasses.fields(TrainConfig)[2:]}


def _weights(length: int | None) -> Callable[[Any], bool]:
    """None, or a non-empty list of numbers >= 0 (of ``length`` entries if given)."""
    return lambda value: value is None or (
        isinstance(value, list | tuple) and len(value) > 0 and length in (None, len(value))
        and all(is_number(w) and w >= 0 for w in value)
    )  # fmt: skip


#: The checks of ``TrainConfig``, in order: (fields, test, what is expected).
_RULES: tuple[Rule, ...] = (
    (("schedule",), one_of("plateau", "cosine", "onecycle", "none"),
     "one of: plateau, cosine, onecycle, none"),
    (("loss",), one_of("mse", "rel_l2"), "one of: mse, rel_l2"),
    (("device",), is_device, "one of: auto, cpu, cuda, cuda:N, mps"),
    (("S", "batch_size", "max_epochs", "edge_factor"), at_least(1), "an integer >= 1"),
    (("rollout_steps",), at_least(1, 64), "an integer from 1 to 64"),
    (("S",), at_least(2), "an integer >= 2"),
    (("stride", "max_windows_per_trajectory"), at_least(1, optional=True),
     "an integer >= 1 (or null: the default)"),
    (("channel_weights",), _weights(None), "a list of weights >= 0, or null"),
    (("amp", "compile"), lambda v: isinstance(v, bool), "true or false"),
    (("lr", "weight_decay", "grad_clip", "dc_weight", "edge_quantile"),
     lambda v: is_number(v) and v >= 0, "a finite number >= 0"),
    (("lr",), lambda v: v > 0, "a number > 0"),
    (("edge_quantile",), lambda v: v < 0.5, "0 <= q < 0.5"),
    (("patience", "seed"), at_least(0), "an integer >= 0"),
    (("val_rollout_every",), at_least(0, optional=True),
     "an integer >= 0 (or null: chosen per run, see docs/metrics.md)"),
    (("val_horizon_delays",), at_least(1, optional=True), "an integer >= 1 (or null: 3)"),
    (("select",), lambda v: isinstance(v, str), "a validation metric name, e.g. val_rel_l2"),
    (("cond_params", "edge_params"),
     lambda v: isinstance(v, list | tuple) and all(isinstance(n, str) for n in v),
     "a list of parameter names"),
    (("band_weights",), _weights(3), "[low, mid, high] weights >= 0"),
    (("band_edges",), lambda v: isinstance(v, list | tuple) and len(v) == 2
     and all(is_number(e) for e in v) and 0 < v[0] < v[1] < 1, "[a, b] with 0 < a < b < 1"),
)  # fmt: skip


def _check_select(select: object, rollout_every: int | None) -> None:
    """``select`` must be a validation score Optuna-style directed (the test split never picks)."""
    if isinstance(select, str) and select.startswith("test_"):
        raise UsageError(
            f"select={select!r}: selection reads the validation split only (the test split is "
            f"scored once, at the end); use {'val_' + select[len('test_') :]!r}"
        )
    try:
        metric, split = parse_name(str(select), what="select metric", splits=("val",))
    except UsageError as error:  # the key first, as every other option's error
        raise UsageError(f"select={select!r}: {error}") from None
    if split is None:
        raise UsageError(
            f"select={select!r} is a cost, not a validation score; expected a val_ metric"
        )
    if not metric.direction.searchable:
        words = metric.direction.words(metric.target)
        raise UsageError(
            f"select={select!r} has no direction to optimise ({words}); select a metric that "
            "is lower or higher is better, e.g. val_amplitude_error"
        )
    if metric.rollout and rollout_every == 0:
        raise UsageError(
            f"select={select!r} needs the validation rollout every few epochs; "
            "val_rollout_every=0 computes it only at the end"
        )


def _plain(value: Any) -> Any:
    """JSON-like plain values (tuples become lists) so configs compare and save cleanly."""
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def parse_set(items: Iterable[str]) -> dict[str, Any]:
    """Parse ``key=value`` overrides; values are read as YAML (``1e-3``, ``true``, ``[1, 2]``)."""
    parsed = {}
    for item in items:
        key, sep, text = item.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--set {item!r} is malformed; expected key=value")
        parsed[key.strip()] = load_yaml(text, f"--set {item!r}") if text.strip() else None
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


def check_keys(model: str, names: Iterable[str], kind: str = "config key") -> None:
    """Raise :class:`UsageError` for a name that is neither a training option nor a model key.

    The error names the closest valid key (``did you mean ...?``); ``kind`` is what the name is
    to the user (``"--set key"``, ``"config key"``).
    """
    model_class(model)
    model_keys = [k for k in accepted_keys(model) if k not in DATA_KEYS]
    for key in names:
        if key in DATA_KEYS:
            raise UsageError(f"{kind} {key!r} is set by the data, not by the config")
        if key not in TRAINING_DEFAULTS and key not in model_keys:
            raise unknown_name(
                kind, key, [*TRAINING_DEFAULTS, *model_keys],
                hint=f"those are the training options and the keys of model {model!r} "
                "(dno train --help lists the options and their defaults)",
            )  # fmt: skip


def resolve_config(model: str, *layers: Mapping[str, Any] | None) -> TrainConfig:
    """The complete config: defaults, then each mapping in ``layers`` (later wins), validated.

    Raises:
        UsageError: an unknown model, a key neither a training option nor used by the model, or
            a value out of range (one line naming it).
    """
    options: dict[str, Any] = {}
    model_config: dict[str, Any] = {}
    for layer in layers:
        for key, value in (layer or {}).items():
            if key == "model":
                if value != model:
                    raise UsageError(f"the config names model {value!r}, the command {model!r}")
                continue
            check_keys(model, [key])
            (options if key in TRAINING_DEFAULTS else model_config)[key] = value
    return TrainConfig(model, model_config, **options)
