"""W&B's sweep format, read with W&B's own semantics (wandb/sweeps).

``method``, ``metric``, ``parameters`` (``value`` / ``values`` / ``distribution`` and its
settings, nested ``parameters``), ``early_terminate`` (W&B's hyperband brackets), ``run_cap``,
``program`` and ``command``. Every key is honoured or refused with an error naming it; nothing
is ignored. Each parameter's distribution is an entry of :data:`DISTRIBUTIONS`. The README has
the full translation table.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from typing import Any

from dno._limits import at_least, is_number
from dno.errors import UsageError, unknown_name
from dno.search._distributions import DISTRIBUTIONS, Distribution, Parameter
from dno.search._ranges import check_numbers
from dno.search._search_space import SearchSpace

__all__ = ["METHODS", "is_sweep", "read_sweep", "wandb_hyperband"]

#: W&B's method names -> dno's search names.
METHODS = {"grid": "grid", "random": "random", "bayes": "bayesian"}
#: a parameter's keys: its distribution's name and settings
_PARAMETER_KEYS = {"distribution"} | {k for d in DISTRIBUTIONS.values() for k in d.settings}
#: W&B's top-level keys; name, description, project, entity, controller, apiVersion and kind
#: describe the sweep on W&B's servers and change nothing offline
_TOP_KEYS = {"method", "metric", "parameters", "early_terminate", "name", "description",
             "program", "command", "project", "entity", "run_cap", "controller", "apiVersion",
             "kind"}  # fmt: skip
#: W&B keys dno refuses, and why.
_REFUSED = {
    "metrics": "several metrics need W&B's method custom; use dno search --search multi with "
    "--objectives for dno's own models",
    "scheduler": "W&B's custom schedulers (Optuna/Ax engines) run on W&B's servers",
    "job": "W&B Launch jobs run on W&B's servers; give program: instead",
    "image_uri": "W&B Launch images run on W&B's servers; give program: instead",
}


def is_sweep(data: dict[str, Any]) -> bool:
    """A mapping with a key only W&B's format has (``value`` alone is in both formats)."""
    return any(k in data for k in _TOP_KEYS - {"parameters"}) or any(
        isinstance(spec, dict) and set(spec) & (_PARAMETER_KEYS - {"value"} | {"parameters"})
        for spec in data["parameters"].values()
    )


def read_sweep(data: dict[str, Any], where: str) -> SearchSpace:
    """W&B's sweep configuration, with W&B's own semantics (see the README's translation table)."""
    for key in data:
        if key in _REFUSED:
            raise UsageError(f"{where}: sweep key {key!r} cannot be honoured: {_REFUSED[key]}")
    unknown = sorted(set(data) - _TOP_KEYS)
    if unknown:
        raise UsageError(f"{where}: unknown sweep key {unknown[0]!r}")
    method = data.get("method")
    if method == "custom":
        raise UsageError(f"{where}: method custom (W&B's Optuna/Ax schedulers) cannot be honoured; "
                         "use grid, random or bayes")  # fmt: skip
    if method is not None and (not isinstance(method, str) or method not in METHODS):
        raise UsageError(f"{where}: method {method!r}; expected one of: {', '.join(METHODS)}")
    metric, goal = _parse_metric(data.get("metric"), where)
    if "program" in data and not isinstance(data["program"], str):
        raise UsageError(
            f"{where}: program {data['program']!r} must be the path of the script to run (text)"
        )
    if "command" in data and not isinstance(data["command"], list):
        raise UsageError(
            f'{where}: command must be a list of items, e.g. ["${{env}}", "${{interpreter}}", '
            f'"${{program}}", "${{args}}"]; it is {type(data["command"]).__name__} '
            f"{data['command']!r} (W&B refuses a string too)"
        )
    run_cap = data.get("run_cap")
    if not at_least(1, optional=True)(run_cap):
        raise UsageError(f"{where}: run_cap {run_cap!r}; expected a positive integer")
    early = data.get("early_terminate")
    if early is not None:
        if metric is None:
            raise UsageError(f"{where}: early_terminate needs a metric to compare runs by")
        early = wandb_hyperband(early, where)
    grid = method == "grid"
    if not isinstance(data["parameters"], dict) or not data["parameters"]:
        raise UsageError(f"{where}: parameters must be a non-empty mapping")
    flat = sorted(_flatten(data["parameters"], where, (), grid), key=lambda p: p.path or ())
    parameters = {p.name: p for p in flat}
    if len(parameters) < len(flat):
        twice = next(n for n in parameters if sum(p.name == n for p in flat) > 1)
        raise UsageError(f"{where}: a nested parameter and a dotted name are both {twice!r}")
    if method == "bayes" and metric is None:
        raise UsageError(f"{where}: method bayes needs a metric (W&B's too)")
    program: dict[str, Any] = {k: data[k] for k in ("program", "command") if k in data}
    space = SearchSpace(
        parameters, METHODS[method] if method else None, metric, goal, early, program=program
    )
    space.run_cap = run_cap
    space.wandb = True
    if "name" in data:
        if not isinstance(data["name"], str) or not data["name"].strip():
            raise UsageError(f"{where}: name {data['name']!r}; expected the sweep's name (text)")
        space.name = data["name"]
    return space


def _parse_metric(spec: Any, where: str) -> tuple[str | None, str]:
    if spec is None:
        return None, "minimize"
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise UsageError(f"{where}: metric must be a mapping with a 'name'")
    for key in ("target", "impute", "impute_while_running"):
        if key in spec:
            raise UsageError(
                f"{where}: metric {key} cannot be honoured: dno runs exactly n_trials (or "
                "run_cap) trials and records a failed trial as failed; remove it"
            )
    bad = sorted(set(spec) - {"name", "goal"})
    if bad:
        raise UsageError(f"{where}: metric has unknown key {bad[0]!r}")
    goal = spec.get("goal", "minimize")
    if goal not in ("minimize", "maximize"):
        raise UsageError(f"{where}: metric goal {goal!r}; expected minimize or maximize")
    return spec["name"], str(goal)


def _flatten(
    params: dict[str, Any], where: str, prefix: tuple[str, ...], grid: bool
) -> Iterator[Parameter]:
    """W&B's parameters: nested ``parameters`` blocks keep their path (passed nested, as W&B
    does); a dotted name is one name (``model.n_layers=7``)."""
    for name, spec in params.items():
        path = (*prefix, str(name))
        if isinstance(spec, dict) and "parameters" in spec:
            if len(spec) > 1 or not isinstance(spec["parameters"], dict) or not spec["parameters"]:
                raise UsageError(
                    f"{where}: nested parameter {'.'.join(path)!r} must hold only a non-empty "
                    "parameters mapping"
                )
            yield from _flatten(spec["parameters"], where, path, grid)
        else:
            name = ".".join(path)
            if not isinstance(spec, dict):
                raise UsageError(
                    f"{where}: parameter {name!r} must be a mapping (values/value/min/max)"
                )
            unknown = sorted(set(spec) - _PARAMETER_KEYS)
            if unknown:
                raise UsageError(f"{where}: parameter {name!r} has unknown key {unknown[0]!r}")
            parameter = _distribution(name, spec, where).parse(name, spec, where, grid)
            yield replace(parameter, path=path)


def _distribution(name: str, spec: dict[str, Any], where: str) -> Distribution:
    """The parameter's distribution: named, or implied by its keys as W&B implies it (``value``:
    constant, ``values``: categorical, ``min``/``max``: int_uniform for integers, else uniform)."""
    named = spec.get("distribution")
    if "value" in spec:
        return DISTRIBUTIONS["constant"]
    if "values" in spec:
        weighted = "probabilities" in spec or named == "categorical_w_probabilities"
        return DISTRIBUTIONS["categorical_w_probabilities" if weighted else "categorical"]
    if named is None:
        low, high = spec.get("min"), spec.get("max")
        check_numbers(name, {"min": low, "max": high}, where)
        named = "int_uniform" if isinstance(low, int) and isinstance(high, int) else "uniform"
    if not isinstance(named, str) or named not in DISTRIBUTIONS:
        raise UsageError(f"{where}: parameter {name!r}: "
                         f"{unknown_name('W&B distribution', named, DISTRIBUTIONS)}")  # fmt: skip
    return DISTRIBUTIONS[named]


def wandb_hyperband(spec: Any, where: str) -> dict[str, Any]:
    """W&B's hyperband: the iterations (``bands``) at which runs are compared, and ``eta``.

    ``max_iter`` with ``s``: ``max_iter / eta**i`` for i = 1..s (those >= 1), ascending.
    ``min_iter``: ``min_iter * eta**i`` for i = 0, 1, ...  ``eta`` defaults to 3.
    """
    if not isinstance(spec, dict) or spec.get("type") != "hyperband":
        raise UsageError(f"{where}: early_terminate must be {{type: hyperband, ...}} "
                         "(W&B's only kind)")  # fmt: skip
    unknown = sorted(set(spec) - {"type", "min_iter", "max_iter", "eta", "s", "strict"})
    if unknown:
        raise UsageError(f"{where}: early_terminate has unknown key {unknown[0]!r}")
    eta = spec.get("eta", 3)
    if not is_number(eta) or eta <= 1:
        raise UsageError(f"{where}: early_terminate eta {eta!r}; expected a number > 1")
    for key in ("min_iter", "max_iter", "s"):
        value = spec.get(key)
        if not at_least(1, optional=True)(value):
            raise UsageError(f"{where}: early_terminate {key} {value!r}; expected an integer >= 1")
    if "strict" in spec and not isinstance(spec["strict"], bool):
        raise UsageError(f"{where}: early_terminate strict must be true or false")
    if "max_iter" in spec:
        if "s" not in spec:
            raise UsageError(
                f"{where}: early_terminate max_iter needs s (the number of brackets counted back "
                "from max_iter), as in W&B, whose engine fails without it; or drop max_iter to "
                "use min_iter's brackets (min_iter, min_iter*eta, ...)"
            )
        bands, band = [], float(spec["max_iter"])
        for _ in range(spec["s"]):
            band /= eta
            if band < 1:
                break
            bands.append(int(band))
        bands.sort()
    elif "min_iter" in spec:
        bands, band = [], float(spec["min_iter"])
        while band <= 1e9 and len(bands) < 100:
            bands.append(int(band))
            band *= eta
    else:
        raise UsageError(f"{where}: early_terminate needs min_iter, or max_iter with s")
    if not bands:
        raise UsageError(f"{where}: early_terminate gives no bracket (max_iter / eta < 1); "
                         "increase max_iter or decrease eta")  # fmt: skip
    return {"type": "hyperband", "bands": bands, "eta": eta}
