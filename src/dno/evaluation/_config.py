"""The evaluation config: what every model of a comparison is scored on, model-independent.

The horizon is in units of the delay tau (``horizon_delays``), never in model steps, so a model
with m = S and one with m = S/4 are scored on the same slices. A YAML file holds any subset of
the fields::

    horizon_delays: 3
    noise_levels: [0.01, 0.05, 0.1]
    valid_threshold: 0.5
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from typing import Any

from dno._io import read_yaml_mapping
from dno._limits import at_least, is_number
from dno.errors import UsageError

__all__ = ["EvaluationConfig", "load_evaluation_config"]


@dataclass(frozen=True)
class EvaluationConfig:
    """How a run is evaluated; the same for every model of a comparison.

    Attributes:
        horizon_delays: rollout horizon K in delays; ``K (S - 1)`` slices on the theta-grid.
        noise_levels: noise levels of the stability tests, relative to each history's own std.
        valid_threshold: normalized error ``RMS(p - t) / std(t)`` that ends the valid time.
        correlation_thresholds: Pearson correlations that end the correlation times.
        max_windows: at most this many windows per trajectory (evenly spaced; None: all).
        stability_windows: windows used by the (costly) noise tests, evenly spaced.
        figure_windows: windows drawn in the prediction-vs-truth figure.
        cost_batch: batch size of the throughput measurement.
        batch_size: windows per forward call.
        band_edges: ``(low, mid)`` shell edges of the spectral band errors.
        seed: seed of the noise.
    """

    horizon_delays: int = 3
    noise_levels: tuple[float, ...] = (0.01, 0.05, 0.1)
    valid_threshold: float = 0.5
    correlation_thresholds: tuple[float, ...] = (0.9, 0.8)
    max_windows: int | None = 8
    stability_windows: int = 64
    figure_windows: int = 3
    cost_batch: int = 64
    batch_size: int = 256
    band_edges: tuple[int, int] = (4, 12)
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("horizon_delays", "stability_windows", "figure_windows", "cost_batch"):
            _check_int(name, getattr(self, name), 1)
        _check_int("batch_size", self.batch_size, 1)
        _check_int("seed", self.seed, 0)
        if self.max_windows is not None:
            _check_int("max_windows", self.max_windows, 1)
        object.__setattr__(self, "noise_levels", _numbers("noise_levels", self.noise_levels))
        thresholds = _numbers("correlation_thresholds", self.correlation_thresholds)
        if any(value > 1 for value in thresholds):
            raise UsageError(f"correlation_thresholds={list(thresholds)}; expected values <= 1")
        object.__setattr__(self, "correlation_thresholds", thresholds)
        if not _positive(self.valid_threshold):
            raise UsageError(f"valid_threshold={self.valid_threshold!r}; expected a number > 0")
        edges = tuple(self.band_edges) if isinstance(self.band_edges, list | tuple) else ()
        if len(edges) != 2 or not all(map(at_least(0), edges)) or not 0 <= edges[0] < edges[1]:
            raise UsageError(f"band_edges={self.band_edges!r}; expected [low, mid], 0 <= low < mid")
        object.__setattr__(self, "band_edges", (int(edges[0]), int(edges[1])))

    def to_dict(self) -> dict[str, Any]:
        """Plain values (lists for tuples), as recorded in ``evaluation_<split>.json``."""
        return {
            key: list(value) if isinstance(value, tuple) else value
            for key, value in dataclasses.asdict(self).items()
        }


def _positive(value: object) -> bool:
    return is_number(value) and value > 0  # type: ignore[operator]


def _check_int(name: str, value: object, minimum: int) -> None:
    if not at_least(minimum)(value):
        raise UsageError(f"{name}={value!r}; expected an integer >= {minimum}")


def _numbers(name: str, values: object) -> tuple[float, ...]:
    """A non-empty tuple of positive finite numbers, else a UsageError naming ``name``."""
    items = tuple(values) if isinstance(values, list | tuple) else ()
    if not items or not all(_positive(value) for value in items):
        raise UsageError(f"{name}={values!r}; expected a non-empty list of positive numbers")
    return tuple(float(value) for value in items)


def load_evaluation_config(
    path: str | os.PathLike[str] | None = None, **overrides: Any
) -> EvaluationConfig:
    """The defaults, then the fields of a YAML file, then ``overrides`` (None values skipped).

    Args:
        path: YAML mapping of :class:`EvaluationConfig` fields (None: defaults only).
        overrides: field values that win over the file, e.g. ``horizon_delays=5``.

    Raises:
        UsageError: a missing or invalid file, an unknown key, or a bad value (one line).

    Example:
        >>> load_evaluation_config(horizon_delays=5).horizon_delays
        5
    """
    fields: dict[str, Any] = {}
    if path is not None:
        fields.update(read_yaml_mapping(path, "evaluation config file"))
    fields.update({key: value for key, value in overrides.items() if value is not None})
    known = [field.name for field in dataclasses.fields(EvaluationConfig)]
    unknown = sorted(set(fields) - set(known))
    if unknown:
        raise UsageError(
            f"unknown evaluation config key {unknown[0]!r}; expected some of: {', '.join(known)}"
        )
    return EvaluationConfig(**fields)
