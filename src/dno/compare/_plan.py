"""The comparison file: a baseline and approaches, each a training configuration, on shared seeds.

A comparison file (YAML)::

    name: spectral-norm-ab          # optional; default: the file's stem
    family: mackey
    data: data/mackey.h5            # optional, relative to the working folder
                                    # (default: data/FAMILY.h5, generated if absent)
    seeds: 5                        # seeds 0..4 (or a list: [0, 3, 7]); every approach, paired
    metric: {name: rel_l2, split: test}   # optional (this default): a metric of the table
                                          # (dno metrics) on val or test, or a cost
    alpha: 0.05                     # optional level of the verdicts
    model: method_of_steps          # optional default model of the approaches
    max_epochs: 20                  # any other key: a config key shared by every approach
    baseline: plain
    approaches:
      plain: {model: method_of_steps}
      snorm: {model: method_of_steps, set: {spectral_norm: 1.0}}
      edges: {set: {edge_params: [tau], edge_factor: 3}}

Everything is validated here, before any training, by resolving every approach's config with
:func:`dno.training.resolve_config`; a bad key or value is one line naming the approach and key.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dno._io import read_yaml_mapping
from dno._limits import MAX_SEEDS, check_count
from dno._names import check_name
from dno.compare._records import Approach, ComparisonPlan, RankedBy
from dno.compare._stats import min_verdict_seeds
from dno.dde import FAMILIES
from dno.errors import UsageError
from dno.evaluation import EVALUATION_SPLITS, get_metric, parse_name
from dno.models import accepted_keys, available
from dno.training import TRAINING_DEFAULTS, check_keys, resolve_config

__all__ = ["PLAN_KEYS", "load_plan", "parse_plan", "seeds_warning"]

#: Keys of the comparison itself; every other top-level key is a shared config key.
PLAN_KEYS = (
    "name", "description", "family", "data", "seeds", "metric", "alpha", "model", "baseline",
    "approaches",
)  # fmt: skip
_APPROACH_KEYS = ("model", "set", "description")


def load_plan(
    path: str | os.PathLike[str], *, seeds: int | None = None, max_epochs: int | None = None
) -> ComparisonPlan:
    """Read and validate a comparison file.

    Args:
        path: the YAML file.
        seeds: if given, run seeds ``0..seeds-1`` instead of the file's.
        max_epochs: if given, overrides ``max_epochs`` of every approach.

    Raises:
        UsageError: a missing or malformed file, or any bad key or value (one line).
    """
    target = Path(path)
    data = read_yaml_mapping(target, "comparison file")
    return parse_plan(
        data, source=str(target), default_name=target.stem, seeds=seeds, max_epochs=max_epochs
    )


def parse_plan(
    data: Mapping[str, Any],
    *,
    source: str = "comparison",
    default_name: str = "comparison",
    seeds: int | None = None,
    max_epochs: int | None = None,
) -> ComparisonPlan:
    """Validate the mapping of a comparison file (see the module doc); see :func:`load_plan`."""
    name = str(data.get("name") or default_name)
    _check_name(name, "name", source)
    family = data.get("family")
    if not isinstance(family, str) or family not in FAMILIES:
        raise UsageError(f"{source}: family {family!r}; expected one of: {', '.join(FAMILIES)}")
    approaches_data = data.get("approaches")
    if not isinstance(approaches_data, dict) or not approaches_data:
        raise UsageError(f"{source}: 'approaches' must map approach names to {{model, set}}")
    baseline = data.get("baseline")
    if not isinstance(baseline, str) or baseline not in approaches_data:
        raise UsageError(
            f"{source}: baseline {baseline!r} is not the name of one of the approaches: "
            f"{', '.join(map(str, approaches_data))}"
        )
    if len(approaches_data) < 2:
        raise UsageError(f"{source}: needs at least one approach besides the baseline")
    shared = {k: v for k, v in data.items() if k not in PLAN_KEYS}
    default_model = data.get("model")
    models = [
        (v if isinstance(v, dict) else {}).get("model", default_model)
        for v in approaches_data.values()
    ]
    _check_shared(shared, models, source)
    overrides = {"max_epochs": max_epochs} if max_epochs is not None else {}
    approaches = tuple(
        _approach(str(key), value, default_model, shared, overrides, source)
        for key, value in approaches_data.items()
    )
    data_path = data.get("data")
    if data_path is not None and not isinstance(data_path, str):
        raise UsageError(f"{source}: data {data_path!r}; expected a file path")
    return ComparisonPlan(
        name=name,
        family=family,
        data=data_path,
        seeds=_seeds(data.get("seeds"), seeds, source),
        metric=_metric(data.get("metric", {"name": "rel_l2", "split": "test"}), source),
        alpha=_alpha(data.get("alpha", 0.05), source),
        baseline=str(baseline),
        approaches=approaches,
        shared=shared,
        description=str(data.get("description", "")),
        source=source,
    )


def _check_name(name: str, what: str, source: str) -> None:
    try:
        check_name(name, what)
    except UsageError as error:
        raise UsageError(f"{source}: {error}") from None


def _check_shared(shared: Mapping[str, Any], models: list[Any], source: str) -> None:
    """A top-level key no approach's model accepts is an unknown key (one line)."""
    if "seed" in shared:
        raise UsageError(f"{source}: top-level key 'seed' is not allowed; use seeds:")
    known = [m for m in models if isinstance(m, str) and m in available()]
    for key in shared:
        if key in TRAINING_DEFAULTS or any(key in accepted_keys(m) for m in known):
            continue
        raise UsageError(
            f"{source}: unknown top-level key {key!r}; expected a comparison key "
            f"({', '.join(PLAN_KEYS)}), a training option or a key of the approaches' models"
        )


def _approach(
    name: str,
    value: Any,
    default_model: Any,
    shared: dict[str, Any],
    overrides: dict[str, Any],
    source: str,
) -> Approach:
    where = f"{source}: approach {name!r}"
    _check_name(name, "approach", source)
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise UsageError(f"{where}: expected a mapping {{model, set}}, got {value!r}")
    unknown = [k for k in value if k not in _APPROACH_KEYS]
    if unknown:
        raise UsageError(
            f"{where}: unknown key {unknown[0]!r}; expected: {', '.join(_APPROACH_KEYS)} "
            "(config keys go under set:)"
        )
    model = value.get("model", default_model)
    if not isinstance(model, str):
        raise UsageError(f"{where}: no model (give model: NAME here or at the top level)")
    sets = value.get("set") or {}
    if not isinstance(sets, dict):
        raise UsageError(f"{where}: set must be a mapping of config keys, got {sets!r}")
    if "seed" in sets:
        raise UsageError(f"{where}: key 'seed' is not allowed; the seeds come from seeds:")
    try:
        check_keys(model, [*shared, *sets])
        config = resolve_config(model, shared, sets, overrides)
    except UsageError as error:
        raise UsageError(f"{where}: {error}") from None
    return Approach(name, model, dict(sets), str(value.get("description", "")), config)


def _seeds(value: Any, override: int | None, source: str) -> tuple[int, ...]:
    if override is not None:
        value = override
    if value is None:
        raise UsageError(f"{source}: seeds is missing; expected a count >= 1 or a list of seeds")
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 1:
            raise UsageError(f"{source}: seeds {value}; expected an integer >= 1 or a list")
        return tuple(range(check_count(value, MAX_SEEDS, f"{source}: number of seeds")))
    if (
        isinstance(value, list)
        and value
        and all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in value)
        and len(set(value)) == len(value)
    ):
        return tuple(value[: check_count(len(value), MAX_SEEDS, f"{source}: number of seeds")])
    raise UsageError(
        f"{source}: seeds {value!r}; expected a count >= 1 or a list of distinct seeds >= 0"
    )


def _metric(value: Any, source: str) -> RankedBy:
    """``{name, split}`` (or a name): a score of the metric table on ``val`` or ``test`` (the
    default), a qualified name such as ``val_rollout_rel_l2``, or a cost (``train_seconds``)."""
    if isinstance(value, str):
        value = {"name": value}
    if not isinstance(value, dict) or set(value) - {"name", "split"}:
        raise UsageError(f"{source}: metric {value!r}; expected {{name: ..., split: ...}}")
    name, split = value.get("name"), value.get("split")
    if split is not None and split not in EVALUATION_SPLITS:
        splits = ", ".join(EVALUATION_SPLITS)
        raise UsageError(f"{source}: metric split {split!r}; expected one of: {splits}")
    if not isinstance(name, str):
        raise UsageError(f"{source}: metric name {name!r}; expected a metric (dno metrics)")
    try:
        metric, named_split = parse_name(name, what="metric")
    except UsageError:
        try:
            metric, named_split = get_metric(name), None
        except UsageError as error:
            raise UsageError(f"{source}: {error}") from None
        if metric.kind == "score":
            named_split = split or "test"
    if split is not None and named_split is not None and split != named_split:
        raise UsageError(f"{source}: metric {name!r} is on {named_split}, not split {split!r}")
    if metric.kind != "score" and split is not None:
        raise UsageError(f"{source}: metric {name!r} is a cost of the run, not of a split")
    if not metric.direction.searchable:
        raise UsageError(
            f"{source}: metric {name!r} has no direction to rank by "
            f"({metric.direction.words(metric.target)}); rank by its distance, e.g. "
            "amplitude_error"
        )
    return RankedBy(metric, named_split)


def _alpha(value: Any, source: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value < 1:
        raise UsageError(f"{source}: alpha {value!r}; expected a number with 0 < alpha < 1")
    if not math.isfinite(value):
        raise UsageError(f"{source}: alpha {value!r}; expected a finite number")
    return float(value)


def seeds_warning(plan: ComparisonPlan) -> str | None:
    """One line if the plan's seeds can never give a verdict at its alpha (else None).

    The verdict is the Holm-adjusted paired Wilcoxon test of each approach against the baseline
    (see :func:`dno.compare.min_verdict_seeds`).
    """
    comparisons = len(plan.approaches) - 1
    need = min_verdict_seeds(plan.alpha, comparisons)
    if len(plan.seeds) >= need or comparisons < 1:
        return None
    against = "1 comparison" if comparisons == 1 else f"{comparisons} comparisons"
    return (
        f"{len(plan.seeds)} paired seeds can never give a verdict: {against} against the "
        f"baseline at alpha = {plan.alpha:g} after Holm's correction need at least {need} seeds "
        f"(a paired Wilcoxon test of n seeds gives p >= 2/2^n), so every approach will be 'not "
        f"distinguishable'; use --seeds {need} or more"
    )
