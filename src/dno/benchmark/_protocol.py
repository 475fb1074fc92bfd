"""Benchmark protocols: the data, the models, the seeds, the budget and the horizon, in YAML.

dno ships one protocol per family and the HS-FNO delayed reaction-diffusion setting in
``dno/configs/benchmarks/`` (:func:`shipped_protocols`); a user's own file has the same form::

    name: mackey                      # optional; default: the file's stem
    description: Mackey-Glass, chaotic delays
    family: mackey
    data:                             # generated once, from its seed, for every model and seed
      n: 1024                         # trajectories (split 80/10/10 by trajectory)
      seed: 0
      priors: {tau: [17, 30]}         # optional: NAME: [lo, hi] or a fixed number
      # t_end, dt, dt_obs, grid_points: optional, as in dno generate
    seeds: 10                         # training seeds 0..9 (or a list); fewer than 5 warns
    horizon_delays: 3                 # the rollout horizon of every model, in delays
    evaluation: {}                    # optional: other EvaluationConfig fields
    baseline: fno                     # the model the others are compared with (paired)
    metric: rollout_rel_l2            # what ranks and what the paired tests compare (test split)
    select: val_rollout_rel_l2        # the validation metric each run keeps its epoch by
    alpha: 0.05
    config: {S: 32}                   # optional: training options shared by every model
    models:                           # name: {model, set, config, description}
      method_of_steps: {}             # model defaults to the entry's name
      tuned: {model: method_of_steps, config: best_config.yaml}   # a search's best config
                                      # (at the protocol's epochs, patience and windows)
      fno: {description: current-state FNO}
    budgets:                          # --budget NAME merges one of these over the above
      small: {data: {n: 256}, seeds: 5, config: {max_epochs: 8, patience: 4}}
      full: {config: {max_epochs: 100, patience: 20}}
    reference:                        # optional: published numbers shown beside the results
      source: HS-FNO (arXiv 2605.09523)
      metric: rollout_rel_l2
      values: {history_space: 0.094, fno: 0.241}
    data_seeds: false                 # true: training seed k also draws its own dataset
                                      # (data seed + k), so the intervals hold the data's variance
    tune:                             # how dno benchmark --tune searches every model
      trials: 12                      # per model (--tune N replaces it)
      max_epochs: 30                  # every trial's epoch cap (default: the runs')
      patience: 8                     # every trial's early stopping (default: the runs')
      search: random                  # or bayesian (TPE); one sampler for every model
      sampler_seed: 0
      seeds: 1                        # training seeds per trial ...
      seed_base: 1000                 # ... from here: never one of the protocol's seeds
    regimes:                          # what the kept weights are tested on (dno.benchmark
      - in_distribution               # ._regimes): the test split (the default, always first),
      - held_out_delay                # tau 10-30 % of its prior's width beyond it,
      - {held_out_params: {beyond: [0.1, 0.3]}}  # the other parameters beyond theirs,
      - resolution                    # spatial families: a 1.5x finer grid
    match: params                     # optional: every model's width scaled so that its
                                      # parameter count is within 10 % of the baseline's

Regimes are test data only: training, selection and tuning read the protocol's dataset alone
(:mod:`dno.benchmark._regimes` says how each regime's data are drawn). ``match: params`` (or
``dno benchmark --match params``) sets each model's ``width`` to the integer whose parameter
count is closest to the baseline's (:mod:`dno.benchmark._capacity`); one not within 10 % is an
error naming it, and so is ``match`` with ``--tune`` (the search would change the widths).

A budget may hold ``data`` (merged), ``seeds`` (replaced), ``config`` (merged), ``models`` (a
list: run only these and the baseline), ``horizon_delays`` and ``tune`` (merged).

Tuned (``--tune``), every model is searched in its shipped space (``configs/spaces/MODEL.yaml``;
a key the protocol sets for the model stays fixed at that value) with the same trials, epoch
cap, patience, sampler, sampler seed, seeds and data, on the validation split: the objective is
the protocol's ``metric`` on validation, at the epoch ``select`` keeps. The best configuration
is then trained on the protocol's seeds and tested once (:func:`dno.benchmark.tune_protocol`).

Everything is validated before any work, by building the comparison plan of the runs
(:func:`dno.compare.parse_plan`) and the :class:`~dno.evaluation.EvaluationConfig`; a bad key
or value is one line naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from dno._io import read_yaml_mapping
from dno._limits import MAX_SEEDS, MAX_TRIALS, Rule, at_least, check_fields, one_of
from dno.benchmark._capacity import MATCHES, match_capacity
from dno.benchmark._regimes import IN_DISTRIBUTION, Regime, parse_regimes
from dno.compare import ComparisonPlan, parse_plan
from dno.errors import DnoWarning, UsageError, unknown_name
from dno.evaluation import EvaluationConfig, get_metric, metric_names, parse_name, qualify
from dno.models import accepted_keys
from dno.search import shipped_space_file
from dno.training import DATA_KEYS, TRAINING_DEFAULTS, load_config_file, resolve_config

__all__ = [
    "BUDGETS",
    "LEADERBOARD_METRICS",
    "MIN_BENCHMARK_SEEDS",
    "PROTOCOL_KEYS",
    "TUNE_KEYS",
    "Protocol",
    "TuneSettings",
    "load_protocol",
    "parse_protocol",
    "protocol_folder",
    "shipped_protocols",
]

#: The budgets every shipped protocol defines.
BUDGETS = ("small", "full")
#: Fewest training seeds of a benchmark without a warning: intervals and tests need replicates.
MIN_BENCHMARK_SEEDS = 5
#: Top-level keys of a protocol file.
PROTOCOL_KEYS = (
    "name", "description", "family", "data", "seeds", "horizon_delays", "evaluation",
    "baseline", "metric", "select", "alpha", "config", "models", "budgets", "reference",
    "data_seeds", "tune", "regimes", "match",
)  # fmt: skip
_DATA_KEYS = ("n", "seed", "priors", "t_end", "dt", "dt_obs", "grid_points")
_MODEL_KEYS = ("model", "set", "config", "description")
_BUDGET_KEYS = ("data", "seeds", "config", "models", "horizon_delays", "tune")
#: Keys of a protocol's ``tune:`` (see :class:`TuneSettings`).
TUNE_KEYS = ("trials", "max_epochs", "patience", "search", "sampler_seed", "seeds", "seed_base")
#: The samplers a tuned benchmark may use (dno search's names).
_TUNE_SEARCHES = ("random", "bayesian")
#: The leaderboard's columns, names of the metric table (labels, units and directions from it).
LEADERBOARD_METRICS = (
    "rel_l2", "rollout_rel_l2", "valid_time", "amplitude_ratio", "parameters", "train_seconds",
)  # fmt: skip
#: Keys of a search's config.json (in best_config.yaml) that are not the model's configuration.
_RUN_ONLY = ("seed", "device", "amp", "data", "dno_version", "model", "compile")
#: Keys a config file never brings into one model: the protocol's budget and selection, the
#: same for every model (a search's trials ran at its own epoch cap and patience; its best
#: configuration is retrained at the protocol's). A model entry's ``set:`` may still change them.
_PROTOCOL_OWNED = (
    "max_epochs", "patience", "max_windows_per_trajectory", "select", "val_horizon_delays",
    "val_rollout_every",
)  # fmt: skip


@dataclass(frozen=True)
class TuneSettings:
    """The search every model of a tuned benchmark gets: the same for all (validated).

    Attributes:
        trials: trials per model.
        max_epochs, patience: every trial's epoch cap and early stopping.
        search: ``random`` (the default: the tuning curves' estimator assumes independent
            draws) or ``bayesian`` (TPE).
        sampler_seed: the sampler's seed (per trial, as in ``dno search``).
        seeds, seed_base: every trial trains with seeds ``seed_base .. seed_base + seeds - 1``.
        objective: the protocol's metric on validation (``val_rollout_rel_l2``).
    """

    trials: int
    max_epochs: int
    patience: int
    search: str = "random"
    sampler_seed: int = 0
    seeds: int = 1
    seed_base: int = 1000
    objective: str = "val_rollout_rel_l2"

    def __post_init__(self) -> None:
        check_fields(self, _TUNE_RULES)

    def seed_list(self) -> tuple[int, ...]:
        """The trials' training seeds."""
        return tuple(range(self.seed_base, self.seed_base + self.seeds))

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "seed_list": list(self.seed_list())}


_TUNE_RULES: tuple[Rule, ...] = (
    (("trials",), at_least(1, MAX_TRIALS), f"a number of trials from 1 to {MAX_TRIALS:,}"),
    (("max_epochs",), at_least(1), "an integer >= 1"),
    (("patience", "sampler_seed", "seed_base"), at_least(0), "an integer >= 0"),
    (("seeds",), at_least(1, MAX_SEEDS), f"1 to {MAX_SEEDS:,} seeds"),
    (("search",), one_of(*_TUNE_SEARCHES), " or ".join(_TUNE_SEARCHES)),
)


@dataclass(frozen=True)
class Protocol:
    """A validated protocol at one budget.

    Attributes:
        name, description, family: as in the file.
        budget: the budget applied (None: the file's own values).
        data: the generation request: ``n``, ``seed`` and the optional options of
            :func:`dno.data.generate_dataset` (``priors``, ``t_end``, ``dt``, ``dt_obs``,
            ``grid_points``).
        plan: the runs: every model (an approach) on every seed, paired, with its resolved
            training config; ranked on validation (the test split is scored once, at the end).
        evaluation: how the test split is scored (the same horizon in delays for every model).
        metric: the leaderboard's ranking metric on the test split (a score of the metric
            table; one of the paired comparisons).
        select: the validation metric every run keeps its best epoch by (``val_...``).
        reference: published numbers to show beside the results (``source``, ``metric``,
            ``values``), or empty.
        source: the file read.
        data_seeds: training seed k draws its own dataset (data seed + k) instead of one
            dataset for every seed.
        tune: the search of every model, when the benchmark is tuned (None: default
            configurations).
        tuning: after :func:`dno.benchmark.tune_protocol`, per model what its search found and
            spent (the plan then holds the chosen configurations); empty before.
        regimes: what the kept weights are tested on, ``in_distribution`` (the test split)
            first (:mod:`dno.benchmark._regimes`).
        match: ``params``: every model's width was scaled to the baseline's parameter count
            (:mod:`dno.benchmark._capacity`); None: the models' own widths.
        capacity: with ``match``, per model its width and parameter count (and the baseline's).
        config_files: per model whose entry names a ``config:`` file (a config YAML or a
            search's ``best_config.yaml``), that file as written in the protocol.
    """

    name: str
    description: str
    family: str
    budget: str | None
    data: dict[str, Any]
    plan: ComparisonPlan
    evaluation: EvaluationConfig
    metric: str
    select: str = "val_rel_l2"
    reference: dict[str, Any] = field(default_factory=dict)
    source: str = ""
    data_seeds: bool = False
    tune: TuneSettings | None = None
    tuning: dict[str, dict[str, Any]] = field(default_factory=dict)
    regimes: tuple[Regime, ...] = (Regime(IN_DISTRIBUTION),)
    match: str | None = None
    capacity: dict[str, dict[str, Any]] = field(default_factory=dict)
    config_files: dict[str, str] = field(default_factory=dict)

    @property
    def regime_names(self) -> tuple[str, ...]:
        """The regimes' names, ``in_distribution`` first."""
        return tuple(r.name for r in self.regimes)

    @property
    def regime_metrics(self) -> tuple[str, ...]:
        """The leaderboard's scores (the model's costs are the same in every regime): what each
        regime but ``in_distribution`` is scored with."""
        names = dict.fromkeys([*LEADERBOARD_METRICS, self.metric])
        return tuple(n for n in names if get_metric(n).kind == "score")

    @property
    def models(self) -> tuple[str, ...]:
        """The entries' names (the leaderboard's rows), in the file's order."""
        return tuple(a.name for a in self.plan.approaches)

    @property
    def seeds(self) -> tuple[int, ...]:
        return self.plan.seeds

    def data_request(self, seed: int | None = None) -> dict[str, Any]:
        """The generation request of training seed ``seed``'s dataset: the protocol's, or with
        ``data_seeds`` its own draw (data seed + ``seed``)."""
        if not self.data_seeds or seed is None:
            return self.data
        return {**self.data, "seed": self.data["seed"] + seed}

    def data_file(self, seed: int | None = None) -> str:
        """The dataset's file name: family, size, seed and a digest of the whole request, so a
        changed request never reuses another's data."""
        request = self.data_request(seed)
        digest = hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()[:10]
        return f"{self.family}-n{request['n']}-seed{request['seed']}-{digest}.h5"

    def data_seed(self, seed: int | None = None) -> int:
        """The data seed of training seed ``seed``'s dataset."""
        return int(self.data_request(seed)["seed"])

    @property
    def tune_data_seed(self) -> int | None:
        """The training seed whose dataset the tuning searches on (its first seed with
        ``data_seeds``; None: the protocol's one dataset)."""
        return self.tune.seed_base if self.tune is not None and self.data_seeds else None

    def with_configs(self, chosen: Mapping[str, Mapping[str, Any]]) -> Protocol:
        """The protocol with each model's ``chosen`` configuration over its own (a tuning's
        result), validated as a protocol's model entry is."""
        approaches = []
        for a in self.plan.approaches:
            sets = {**a.overrides, **chosen.get(a.name, {})}
            try:
                config = resolve_config(a.model, self.plan.shared, sets)
            except UsageError as error:
                raise UsageError(f"{self.source}: model {a.name!r}: {error}") from None
            approaches.append(replace(a, overrides=sets, config=config))
        return replace(self, plan=replace(self.plan, approaches=tuple(approaches)))

    def to_dict(self) -> dict[str, Any]:
        """The resolved protocol as plain values (``benchmark.json``, ``leaderboard.json``)."""
        return {
            "name": self.name,
            "description": self.description,
            "family": self.family,
            "budget": self.budget,
            "data": self.data,
            "seeds": list(self.seeds),
            "evaluation": self.evaluation.to_dict(),
            "baseline": self.plan.baseline,
            "metric": self.metric,
            "select": self.select,
            "alpha": self.plan.alpha,
            "shared_config": self.plan.shared,
            "models": {
                a.name: {
                    "model": a.model,
                    "set": a.overrides,
                    "description": a.description,
                    "config": a.config.to_dict(),
                }
                for a in self.plan.approaches
            },
            "reference": self.reference,
            "source": self.source,
            "data_seeds": self.data_seeds,
            "tune": self.tune.to_dict() if self.tune is not None else None,
            "regimes": [r.to_dict() for r in self.regimes],
            "match": self.match,
            "capacity": self.capacity,
        }


def protocol_folder() -> Path:
    """Where dno's own protocols live (``dno/configs/benchmarks``)."""
    # package data beside the code, not a results folder: the one place that spells it
    return Path(__file__).resolve().parent.parent / "configs" / "benchmarks"


def shipped_protocols() -> dict[str, Path]:
    """The protocols shipped with dno: name -> file."""
    return {path.stem: path for path in sorted(protocol_folder().glob("*.yaml"))}


def load_protocol(
    name_or_path: str | os.PathLike[str],
    budget: str | None = None,
    *,
    seeds: int | None = None,
    models: list[str] | None = None,
    select: str | None = None,
    tune: int | bool | None = None,
    match: str | None = None,
) -> Protocol:
    """Read and validate a protocol: a shipped one by name, or a YAML file.

    Args:
        name_or_path: ``mackey`` (see :func:`shipped_protocols`) or a file path.
        budget: the budget to apply (``small``, ``full`` or one the file names); None: ``small``
            if the file defines budgets, else the file's own values.
        seeds: run seeds ``0..seeds-1`` instead of the protocol's (at least 5).
        models: run only these of the protocol's models (the baseline is always kept).
        select: the validation metric of the runs' selection instead of the protocol's.
        tune: tune every model first: ``True`` with the protocol's ``tune: trials``, a number
            of trials per model; None or False: the models' own configurations.
        match: ``params``: match every model's parameter count to the baseline's, whatever
            the protocol says (None: the protocol's ``match``).

    Raises:
        UsageError: an unknown protocol or budget, or any bad key or value (one line); when
            tuned, also a trial count below 1, a model without a search space, or tuning
            seeds among the protocol's seeds.
    """
    shipped = shipped_protocols()
    text = str(name_or_path)
    if text in shipped:
        path = shipped[text]
    else:
        path = Path(text)
        if not path.is_file() and (path.suffix or len(path.parts) > 1):
            raise UsageError(f"protocol file {text!r} does not exist")
        if not path.is_file():
            hint = "Or give a protocol YAML file (see docs/benchmarks.md)"
            raise unknown_name("protocol", text, shipped, hint=hint)
    data = read_yaml_mapping(path, "protocol file")
    if select is not None:
        data = {**data, "select": select}
    if match is not None:
        data = {**data, "match": match}
    return parse_protocol(
        data, source=str(path), default_name=path.stem, budget=budget, seeds=seeds,
        models=models, base=path.parent, tune=tune,
    )  # fmt: skip


def parse_protocol(
    data: Mapping[str, Any],
    *,
    source: str = "protocol",
    default_name: str = "benchmark",
    budget: str | None = None,
    seeds: int | None = None,
    models: list[str] | None = None,
    base: Path | None = None,
    tune: int | bool | None = None,
) -> Protocol:
    """Validate the mapping of a protocol file (see the module doc and :func:`load_protocol`);
    ``base`` is the folder relative ``config:`` paths are read from."""
    unknown = [k for k in data if k not in PROTOCOL_KEYS]
    if unknown:
        raise UsageError(
            f"{source}: unknown key {unknown[0]!r}; expected: {', '.join(PROTOCOL_KEYS)}"
        )
    data, budget = _apply_budget(dict(data), budget, source)
    name = str(data.get("name") or default_name)  # checked by parse_plan
    family = data.get("family")
    request = _data_request(data.get("data"), source)
    entries = _mapping(data.get("models"), "models", source)
    if not entries:
        raise UsageError(f"{source}: models is empty; expected at least two models")
    if models:
        missing = [m for m in models if m not in entries]
        if missing:
            raise UsageError(
                f"--models: {missing[0]!r} is not a model of {source}; expected: "
                f"{', '.join(map(str, entries))}"
            )
        entries = {k: v for k, v in entries.items() if k in models or k == data.get("baseline")}
    shared = _mapping(data.get("config"), "config", source)
    metric = _ranking_metric(data.get("metric", "rollout_rel_l2"), source)
    select = _select(data.get("select", "val_rel_l2"), shared, source)
    evaluation = _evaluation(data, source)
    shared = {  # every run validates on the protocol's horizon and keeps its epoch by select
        "val_horizon_delays": evaluation.horizon_delays, **shared, "select": select,
    }  # fmt: skip
    count = seeds if seeds is not None else data.get("seeds")
    _check_seed_count(count, source)
    plan = parse_plan(
        {
            "name": name,
            "description": data.get("description", ""),
            "family": family,
            "seeds": count,
            "metric": select,  # runs are selected on validation
            "alpha": data.get("alpha", 0.05),
            "baseline": data.get("baseline"),
            "approaches": {
                key: _approach(str(key), value, base or Path.cwd(), source)
                for key, value in entries.items()
            },
            **shared,
        },
        source=source,
        default_name=name,
    )
    data_seeds = data.get("data_seeds", False)
    if not isinstance(data_seeds, bool):
        raise UsageError(f"{source}: data_seeds {data_seeds!r}; expected true or false")
    regimes = parse_regimes(data.get("regimes"), plan.family, request, source)
    protocol = Protocol(
        name=name,
        description=str(data.get("description", "")).strip(),
        family=plan.family,
        budget=budget,
        data=request,
        plan=plan,
        evaluation=evaluation,
        metric=metric,
        select=select,
        reference=_reference(data.get("reference"), source),
        source=source,
        data_seeds=data_seeds,
        regimes=regimes,
        config_files={
            str(key): str(value["config"])
            for key, value in entries.items()
            if isinstance(value, dict) and value.get("config") is not None
        },
    )
    protocol = _matched(protocol, data.get("match"), tune, source)
    if tune is None or tune is False:
        return protocol
    settings = _tune_settings(data.get("tune"), tune, protocol, source)
    _check_tunable(protocol, settings, source)
    return replace(protocol, tune=settings)


def _matched(protocol: Protocol, match: Any, tune: int | bool | None, source: str) -> Protocol:
    """The protocol with ``match: params`` applied (every width scaled to the baseline's
    parameter count), or as it is without ``match``."""
    if match is None:
        return protocol
    if match not in MATCHES:
        raise UsageError(f"{source}: match {match!r}; expected {' or '.join(MATCHES)}")
    if tune is not None and tune is not False:
        raise UsageError(
            f"{source}: match: {match} fixes every model's width and --tune would search it; "
            "run one or the other"
        )
    request = protocol.data
    plan, capacity = match_capacity(protocol.plan, request.get("grid_points"), source)
    return replace(protocol, plan=plan, match=str(match), capacity=capacity)


def _tune_settings(value: Any, trials: int | bool, protocol: Protocol, source: str) -> TuneSettings:
    """The protocol's ``tune:`` (after its budget), with ``trials`` if a number; the epoch cap
    and patience default to the runs'."""
    fields = _mapping(value, "tune", source)
    unknown = [k for k in fields if k not in TUNE_KEYS]
    if unknown:
        raise UsageError(
            f"{source}: tune: unknown key {unknown[0]!r}; expected: {', '.join(TUNE_KEYS)}"
        )
    if trials is not True:
        if isinstance(trials, bool) or not isinstance(trials, int) or trials < 1:
            raise UsageError(f"--tune {trials!r}; expected a number of trials per model >= 1")
        fields["trials"] = trials
    elif "trials" not in fields:
        raise UsageError(f"{source}: no tune: trials for --tune; give --tune N (trials per model)")
    runs = {**TRAINING_DEFAULTS, **protocol.plan.shared}
    fields.setdefault("max_epochs", runs["max_epochs"])
    fields.setdefault("patience", runs["patience"])
    try:
        return TuneSettings(**fields, objective=qualify(protocol.metric, "val"))
    except UsageError as error:
        raise UsageError(f"{source}: tune: {error}") from None


def _check_tunable(protocol: Protocol, tune: TuneSettings, source: str) -> None:
    """Every model has a shipped search space, and no tuning seed is one of the protocol's."""
    for a in protocol.plan.approaches:
        if not shipped_space_file(a.model).is_file():
            raise UsageError(
                f"{source}: model {a.name!r} ({a.model}) has no search space "
                f"(dno/configs/spaces/{a.model}.yaml); --tune searches every model in its "
                "shipped space: drop the model (--models) or add its space"
            )
    shared = sorted(set(tune.seed_list()) & set(protocol.seeds))
    if shared:
        raise UsageError(
            f"{source}: the tuning seeds ({_seed_range(tune.seed_list())}) include the "
            f"protocol's seed {shared[0]}; a tuned configuration is tested on seeds "
            "its search never used: set tune: seed_base above the protocol's seeds"
        )


def _seed_range(seeds: tuple[int, ...]) -> str:
    return str(seeds[0]) if len(seeds) == 1 else f"{seeds[0]}..{seeds[-1]}"


def _ranking_metric(value: Any, source: str) -> str:
    """The leaderboard's metric: a score of the metric table with a direction (test split)."""
    try:
        metric = get_metric(str(value))
    except UsageError as error:
        raise UsageError(f"{source}: metric: {error}") from None
    if metric.kind != "score" or not metric.direction.searchable:
        ranking = [n for n in metric_names(kind="score", searchable=True)]
        raise UsageError(
            f"{source}: metric {value!r} cannot rank a leaderboard; expected a score with a "
            f"direction: {', '.join(ranking)}"
        )
    return metric.name


def _select(value: Any, shared: Mapping[str, Any], source: str) -> str:
    """The validation metric of the runs' selection (checked as the training config checks it)."""
    if "select" in shared and shared["select"] != value:
        raise UsageError(f"{source}: give select once, at the top level (not under config:)")
    metric, split = parse_name(str(value), what="select metric", splits=("val",))
    if split is None or not metric.direction.searchable:
        raise UsageError(f"{source}: select {value!r}; expected a validation score, e.g. "
                         "val_rollout_rel_l2")  # fmt: skip
    return qualify(metric.name, "val")


def _mapping(value: Any, what: str, source: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise UsageError(f"{source}: {what} must be a mapping, got {value!r}")
    return dict(value)


def _apply_budget(
    data: dict[str, Any], budget: str | None, source: str
) -> tuple[dict[str, Any], str | None]:
    """Merge the budget called ``budget`` (None: ``small`` if defined) over the protocol's own
    values; return them and the budget applied."""
    budgets = _mapping(data.get("budgets"), "budgets", source)
    if budget is None:
        if "small" not in budgets:
            return data, None
        budget = "small"
    if budget not in budgets:
        known = ", ".join(budgets) or "none"
        raise UsageError(f"{source}: budget {budget!r}; the protocol defines: {known}")
    chosen = _mapping(budgets[budget], f"budget {budget!r}", source)
    unknown = [k for k in chosen if k not in _BUDGET_KEYS]
    if unknown:
        raise UsageError(
            f"{source}: budget {budget!r}: unknown key {unknown[0]!r}; expected: "
            f"{', '.join(_BUDGET_KEYS)}"
        )
    for key in ("data", "config", "tune"):
        if key in chosen:
            data[key] = {
                **_mapping(data.get(key), key, source),
                **_mapping(chosen[key], f"budget {budget!r} {key}", source),
            }
    for key in ("seeds", "horizon_delays"):
        if key in chosen:
            data[key] = chosen[key]
    if "models" in chosen:
        keep = chosen["models"]
        entries = _mapping(data.get("models"), "models", source)
        if not isinstance(keep, list) or any(k not in entries for k in keep):
            raise UsageError(
                f"{source}: budget {budget!r}: models {keep!r}; expected a list of the "
                f"protocol's models: {', '.join(entries)}"
            )
        data["models"] = {
            k: v for k, v in entries.items() if k in keep or k == data.get("baseline")
        }
    return data, budget


def _data_request(value: Any, source: str) -> dict[str, Any]:
    request = _mapping(value, "data", source)
    unknown = [k for k in request if k not in _DATA_KEYS]
    if unknown:
        raise UsageError(
            f"{source}: data: unknown key {unknown[0]!r}; expected: {', '.join(_DATA_KEYS)}"
        )
    for key in ("n", "seed"):
        number = request.get(key)
        if isinstance(number, bool) or not isinstance(number, int) or number < (key == "n"):
            low = 1 if key == "n" else 0
            raise UsageError(f"{source}: data: {key} {number!r}; expected an integer >= {low}")
    priors = _mapping(request.get("priors"), "data: priors", source)
    request["priors"] = {str(k): list(v) if isinstance(v, list | tuple) else v
                         for k, v in priors.items()}  # fmt: skip
    return request


def _check_seed_count(count: Any, source: str) -> None:
    n = count if isinstance(count, int) and not isinstance(count, bool) else None
    if isinstance(count, list):
        n = len(count)
    if n is not None and n < MIN_BENCHMARK_SEEDS:
        warnings.warn(
            f"{source}: {n} seeds; a benchmark wants at least {MIN_BENCHMARK_SEEDS} (intervals "
            "and paired tests come only from replicates): treat this one as a trial run",
            DnoWarning,
            stacklevel=2,
        )


def _approach(name: str, value: Any, base: Path, source: str) -> dict[str, Any]:
    """A model entry as a comparison approach: ``config:`` file keys under ``set:``."""
    value = {} if value is None else value
    if not isinstance(value, dict):
        raise UsageError(f"{source}: model {name!r}: expected a mapping {{model, set, config}}")
    unknown = [k for k in value if k not in _MODEL_KEYS]
    if unknown:
        raise UsageError(
            f"{source}: model {name!r}: unknown key {unknown[0]!r}; expected: "
            f"{', '.join(_MODEL_KEYS)}"
        )
    model = value.get("model", name)
    sets = _mapping(value.get("set"), f"model {name!r} set", source)
    if value.get("config") is not None:
        sets = {**_config_file(base / str(value["config"]), model, name, source), **sets}
    entry = {"model": model, "set": sets}
    if "description" in value:
        entry["description"] = value["description"]
    return entry


def _config_file(path: Path, model: Any, name: str, source: str) -> dict[str, Any]:
    """The model's configuration in a config YAML or a search's ``best_config.yaml``: its
    architecture and optimiser, without the run's own keys (seed, device, data) and the budget
    (:data:`_PROTOCOL_OWNED`: the protocol's, the same for every model)."""
    try:
        data = load_config_file(path)
    except UsageError as error:
        raise UsageError(f"{source}: model {name!r}: {error}") from None
    if isinstance(data.get("config"), dict):  # best_config.yaml: {study, trial, ..., config}
        data = dict(data["config"])
        data.update(data.pop("model_config", None) or {})
    found = data.get("model")
    if found is not None and found != model:
        raise UsageError(f"{source}: model {name!r}: {path} configures {found!r}, not {model!r}")
    known = (*TRAINING_DEFAULTS, *accepted_keys(str(model))) if isinstance(model, str) else ()
    return {
        k: v
        for k, v in data.items()
        if k not in (*_RUN_ONLY, *_PROTOCOL_OWNED, *DATA_KEYS) and k in known
    }


def _evaluation(data: Mapping[str, Any], source: str) -> EvaluationConfig:
    fields = _mapping(data.get("evaluation"), "evaluation", source)
    if "horizon_delays" in data:
        fields["horizon_delays"] = data["horizon_delays"]
    known = set(EvaluationConfig.__dataclass_fields__)
    unknown = [k for k in fields if k not in known]
    if unknown:
        raise UsageError(
            f"{source}: evaluation: unknown key {unknown[0]!r}; expected: {', '.join(known)}"
        )
    try:
        return EvaluationConfig(**fields)
    except (UsageError, TypeError) as error:
        raise UsageError(f"{source}: evaluation: {error}") from None


def _reference(value: Any, source: str) -> dict[str, Any]:
    reference = _mapping(value, "reference", source)
    if not reference:
        return {}
    values = _mapping(reference.get("values"), "reference: values", source)
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in values.values()):
        raise UsageError(f"{source}: reference: values must map models to numbers")
    return {
        "source": str(reference.get("source", "")),
        "metric": _ranking_metric(reference.get("metric", "rollout_rel_l2"), source),
        "values": {str(k): float(v) for k, v in values.items()},
        "note": str(reference.get("note", "")),
    }
