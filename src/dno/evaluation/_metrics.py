"""The metric table: every number dno reports about a model, declared once.

A metric has one name, a direction, a unit, a one-line description and the way it is computed.
Training's validation, ``dno evaluate``, the search's objectives, ``dno compare``, the
leaderboard, the report and W&B logging all take names, labels and directions from
:data:`METRICS`; nothing else spells them. Adding a metric is one entry here plus its
computation (a function of :class:`SplitScores`, usually one line over a score that exists).

Names:

- A *score* is measured on a split: ``rollout_rel_l2`` is the rollout relative L2; on the
  validation split it is ``val_rollout_rel_l2``, on the test split ``test_rollout_rel_l2``
  (:func:`qualify`, :func:`parse_name`). Every score of a split is computed on the same windows,
  those of ``dno evaluate`` (:func:`evaluation_windows`), so ``val_rollout_rel_l2`` of a training
  epoch is the number ``dno evaluate --split val`` gives for that epoch's weights.
- A *cost* belongs to the model or the run, not to a split: ``parameters``, ``latency_ms``,
  ``train_seconds``.

Old names (``one_step_relative_l2``, ``one_step_rel_l2``, ``n_parameters``, ...) are accepted
where a name is read (:func:`get_metric`) and in result files (:func:`canonical_names`); files
are written with the names of the table.
"""

from __future__ import annotations

import enum
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np

from dno.errors import DnoError, unknown_name
from dno.evaluation._config import EvaluationConfig
from dno.evaluation._cost import Cost, measure_cost, parameter_count
from dno.evaluation._scoring import RolloutScores, Scores, score_checkpoint
from dno.evaluation._stability import NoiseSensitivity, rollout_noise_sensitivity

if TYPE_CHECKING:
    from dno.data import AnySplit, Normalizer, WindowSet
    from dno.models import DelayOperator

__all__ = [
    "EVALUATION_SPLITS",
    "METRICS",
    "Direction",
    "Metric",
    "SplitScores",
    "canonical_name",
    "canonical_names",
    "evaluation_windows",
    "evenly_spread",
    "get_metric",
    "metric_names",
    "parse_name",
    "qualify",
    "run_metric",
]

#: The splits a model is scored on, and a score's name is qualified with (``val_...``,
#: ``test_...``): validation by default, test only when asked for (``dno evaluate --split``).
EVALUATION_SPLITS = ("val", "test")


class Direction(str, enum.Enum):
    """Which way a metric is better; the values are Optuna's direction names where Optuna has
    one (``minimize``, ``maximize``); ``target`` means closer to :attr:`Metric.target`."""

    MINIMIZE = "minimize"
    MAXIMIZE = "maximize"
    TARGET = "target"

    @property
    def searchable(self) -> bool:
        """Whether Optuna can optimise it as it stands."""
        return self is not Direction.TARGET

    def words(self, target: float | None = None) -> str:
        """``lower is better``, ``higher is better`` or ``closer to 1 is better``."""
        if self is Direction.TARGET:
            return f"closer to {target:g} is better"
        return "lower is better" if self is Direction.MINIMIZE else "higher is better"


@dataclass(frozen=True)
class Metric:
    """One entry of the metric table.

    Attributes:
        name: the metric's one name (a score's name without its split).
        label: a short label for tables and figures.
        direction: which way is better.
        unit: the unit of its values (``""`` for a ratio).
        description: one line: what it measures.
        compute: how it is computed: from a :class:`SplitScores` for a score (``kind ==
            "score"``), from the model for a model cost (``"model"``), from the run's
            ``final_results.json`` for a run cost (``"run"``).
        kind: ``score``, ``model`` or ``run``.
        target: the ideal value of a ``target`` metric.
        rollout: a score that needs the rollout (not only one model step); ``noise``: one that
            also needs the rollout of noisy histories (one more rollout of a few windows).
        aliases: older names, still read.
    """

    name: str
    label: str
    direction: Direction
    unit: str
    description: str
    compute: Callable[[Any], float | None]
    kind: str = "score"
    target: float | None = None
    rollout: bool = False
    noise: bool = False
    aliases: tuple[str, ...] = ()

    def __reduce__(self) -> tuple[Callable[[str], Metric], tuple[str]]:
        """Pickled as its name (its computation may be a lambda): the table's entry in the
        process that loads it (worker processes of a benchmark)."""
        return get_metric, (self.name,)

    @property
    def lower_is_better(self) -> bool:
        """For the paired statistics: errors and costs (a target metric compares its distance)."""
        return self.direction is not Direction.MAXIMIZE

    def better(self, value: float, than: float) -> bool:
        """Whether ``value`` is strictly better than ``than`` (a NaN is never better)."""
        if not math.isfinite(value):
            return False
        if not math.isfinite(than):
            return True
        if self.direction is Direction.MAXIMIZE:
            return value > than
        if self.direction is Direction.TARGET:
            assert self.target is not None
            return abs(value - self.target) < abs(than - self.target)
        return value < than

    def describe(self) -> str:
        """One line for ``--help`` and tables: name, unit, direction and description."""
        unit = f" [{self.unit}]" if self.unit else ""
        return f"{self.name}{unit}: {self.description} ({self.direction.words(self.target)})"


class SplitScores:
    """A model on the windows of one split, scored lazily: each part is computed once, the
    first time a metric reads it (the spectra only if a spectral metric is asked for, the noisy
    rollouts only for ``noise_gain``).

    Args:
        model: the model, on any device.
        windows: windows with futures of at least ``max(K (S - 1), S)`` slices (see
            :func:`evaluation_windows`).
        normalizer: the run's normalization.
        config: the horizon ``K = config.horizon_delays``, thresholds, stability windows.
        batch_size: windows per forward call (default ``config.batch_size``).
    """

    def __init__(
        self,
        model: DelayOperator,
        windows: WindowSet,
        normalizer: Normalizer,
        config: EvaluationConfig,
        batch_size: int | None = None,
    ) -> None:
        self.model, self.windows, self.normalizer, self.config = model, windows, normalizer, config
        self.batch_size = batch_size or config.batch_size

    @cached_property
    def one_step(self) -> Scores:
        """The model's own m slices after each window."""
        return score_checkpoint(
            self.model, self.windows, self.normalizer, batch_size=self.batch_size
        )

    @cached_property
    def rollout_scores(self) -> Scores:
        """The rollout of ``K`` delays (``K (S - 1)`` slices) after each window."""
        return score_checkpoint(
            self.model,
            self.windows,
            self.normalizer,
            horizon_delays=self.config.horizon_delays,
            config=self.config,
            batch_size=self.batch_size,
        )

    @property
    def rollout(self) -> RolloutScores:
        scores = self.rollout_scores.rollout
        assert scores is not None
        return scores

    @cached_property
    def cost(self) -> Cost:
        """Parameters, throughput of one model step and peak memory, on ``config.cost_batch``
        windows of the split."""
        import torch

        device = next(self.model.parameters()).device
        batch = self.windows.select(np.arange(min(len(self.windows), self.config.cost_batch)))
        inputs = [
            torch.from_numpy(self.normalizer.state(batch.history)).to(device),
            torch.from_numpy(self.normalizer.cond(batch.params)).to(device),
        ]
        return measure_cost(self.model, inputs, repeats=5, warmup=1)

    def predictor(
        self, windows: WindowSet, horizon: int | None = None
    ) -> Callable[[np.ndarray], np.ndarray]:
        """Physical history (B, S, X, C) of ``windows`` -> the physical prediction: one model
        step (B, m, X, C), or ``horizon`` slices of the rollout (B, horizon, X, C)."""
        import torch

        from dno.evaluation._scoring import predict

        model, normalizer = self.model, self.normalizer
        device = next(model.parameters()).device
        cond = torch.from_numpy(normalizer.cond(windows.params)).to(device)

        def predict_physical(history: np.ndarray) -> np.ndarray:
            state = torch.from_numpy(normalizer.state(history)).to(device)
            out = predict(model, state, cond, horizon, self.batch_size)
            return np.asarray(normalizer.unstate(out.cpu().numpy().astype(np.float64)))

        return predict_physical

    @cached_property
    def stability_pick(self) -> np.ndarray:
        """The windows of the noise tests: ``config.stability_windows`` of them, evenly spread."""
        return evenly_spread(len(self.windows), self.config.stability_windows)

    @cached_property
    def rollout_noise(self) -> NoiseSensitivity:
        """The rollout's sensitivity to noise on the initial history, one delay at a time
        (:func:`rollout_noise_sensitivity`; gain of shape (levels, K))."""
        windows = self.windows.select(self.stability_pick)
        return rollout_noise_sensitivity(
            self.predictor(windows, self.model.S - 1),
            windows.history.astype(np.float64),
            steps=self.config.horizon_delays,
            levels=self.config.noise_levels,
            seed=self.config.seed,
        )


def evenly_spread(n: int, k: int) -> np.ndarray:
    """``min(n, k)`` evenly spaced indices into ``range(n)``."""
    return np.unique(np.linspace(0, n - 1, min(n, k)).round().astype(int))


def evaluation_windows(
    split: AnySplit, S: int, config: EvaluationConfig, *, what: str = "the split"
) -> WindowSet:
    """The windows every score of a split is computed on, the same for every model with this S:
    futures of ``max(K (S - 1), S)`` slices for the horizon of ``K`` delays, disjoint within a
    trajectory, at most ``config.max_windows`` per trajectory, evenly spread, of at most
    :data:`dno.data.MAX_EVALUATION_TRAJECTORIES` trajectories (evenly spread over the split).

    Raises:
        DnoError: no trajectory of the split is long enough (each needs ``1 + K`` delays).
    """
    from dno.data import MAX_EVALUATION_TRAJECTORIES, make_windows

    length = max(config.horizon_delays * (S - 1), S)
    try:
        return make_windows(split, S, length, None, config.max_windows, MAX_EVALUATION_TRAJECTORIES)
    except DnoError:
        raise DnoError(
            f"no trajectory of {what} is long enough for a {config.horizon_delays}-delay "
            f"horizon (each needs {1 + config.horizon_delays} delays of data, tau included); "
            "lower horizon_delays (dno evaluate --horizon-delays; in training val_horizon_delays) "
            "or generate longer trajectories (t_end)"
        ) from None


def _amplitude(scores: SplitScores) -> float | None:
    amplitude = scores.rollout.amplitude
    return None if amplitude is None else amplitude.std_ratio


def _amplitude_error(scores: SplitScores) -> float | None:
    ratio = _amplitude(scores)
    return None if ratio is None or not ratio > 0 else abs(math.log(ratio))


def _power(scores: SplitScores, part: int) -> float | None:
    from dno.evaluation._diagnosis import power_ratios

    spectral = scores.rollout.diagnosis.spectral
    return None if spectral is None else power_ratios(spectral)[part]


def _latency_ms(scores: SplitScores) -> float:
    """Milliseconds per sample of a forward pass (a batch of 32, on the model's device)."""
    import torch

    model = scores.model
    device = next(model.parameters()).device
    inputs = [
        torch.zeros(32, model.S, model.X, model.channels, device=device),
        torch.zeros(32, model.cond_dim, device=device),
    ]
    return 1e3 / measure_cost(model, inputs, repeats=3, warmup=1).samples_per_second


def _results(key: str) -> Callable[[Mapping[str, Any]], float | None]:
    return lambda results: results.get(key)


_MIN, _MAX, _TARGET = Direction.MINIMIZE, Direction.MAXIMIZE, Direction.TARGET

#: Every metric, by name. The order is the order of tables and files.
METRICS: dict[str, Metric] = {
    m.name: m
    for m in (
        Metric(
            "rel_l2", "one-step rel. L2", _MIN, "",
            "relative L2 of one model step (its own m slices): ||p - t|| / ||t|| over all "
            "windows and slices, physical units",
            lambda s: s.one_step.relative_l2,
            aliases=("one_step_relative_l2", "one_step_rel_l2"),
        ),
        Metric(
            "rel_l2_per_step", "one-step rel. L2 per slice", _MIN, "",
            "mean over windows and slices of each slice's relative L2 (PDEBench's nRMSE), one "
            "model step",
            lambda s: s.one_step.relative_l2_per_step,
            aliases=("one_step_relative_l2_per_step",),
        ),
        Metric(
            "rollout_rel_l2", "rollout rel. L2", _MIN, "",
            "relative L2 of the rollout over the horizon (K delays, the model's own predictions "
            "fed back by shift-append), over all windows and slices",
            lambda s: s.rollout.relative_l2, rollout=True,
            aliases=("rollout_relative_l2",),
        ),
        Metric(
            "rollout_rel_l2_per_step", "rollout rel. L2 per slice", _MIN, "",
            "mean over windows and slices of each slice's relative L2 along the rollout",
            lambda s: s.rollout.relative_l2_per_step, rollout=True,
            aliases=("rollout_relative_l2_per_step",),
        ),
        Metric(
            "rollout_final_rel_l2", "rollout rel. L2 at the horizon", _MIN, "",
            "relative L2 of the rollout's last slice, pooled over windows",
            lambda s: s.rollout.curve.final, rollout=True,
            aliases=("rollout_final_relative_l2",),
        ),
        Metric(
            "valid_time", "valid time", _MAX, "tau",
            "mean time until the rollout's normalized error RMS(p - t) / std(t) first exceeds "
            "valid_threshold (0.5), in delays, at most the horizon",
            lambda s: s.rollout.valid.mean, rollout=True,
        ),
        Metric(
            "amplitude_ratio", "amplitude ratio", _TARGET, "",
            "median over windows of the rollout's std over the truth's (1 is right; below 1 "
            "the rollout is damped, above it grows)",
            _amplitude, target=1.0, rollout=True,
        ),
        Metric(
            "amplitude_error", "amplitude error", _MIN, "",
            "|ln(amplitude_ratio)|: how far the rollout's amplitude is from the truth's, "
            "collapse and blow-up alike (0 is right; 0.69 is a factor 2)",
            _amplitude_error, rollout=True,
        ),
        Metric(
            "noise_gain", "noise gain", _MIN, "",
            "stability under noise: RMS change of the rollout's last delay per RMS of a noise "
            "of noise_levels[0] (1%) of each history's std added to the initial history",
            lambda s: float(s.rollout_noise.gain[0, -1]), rollout=True, noise=True,
        ),
        Metric(
            "power_ratio", "P(k) ratio", _TARGET, "",
            "geometric mean over k of the rollout's power spectrum over the truth's",
            lambda s: _power(s, 0), target=1.0, rollout=True,
        ),
        Metric(
            "power_ratio_high_k", "P(k) ratio, high k", _TARGET, "",
            "the same over the top third of wavenumbers (small scales)",
            lambda s: _power(s, 1), target=1.0, rollout=True,
        ),
        Metric(
            "parameters", "parameters", _MIN, "parameters",
            "number of parameters of the model",
            lambda s: parameter_count(s.model), kind="model", aliases=("n_parameters",),
        ),
        Metric(
            "latency_ms", "latency", _MIN, "ms",
            "milliseconds per sample of one forward pass, batch of 32, on the model's device",
            _latency_ms, kind="model",
        ),
        Metric(
            "samples_per_second", "throughput", _MAX, "samples/s",
            "samples per second of one model step on a batch of cost_batch (64) windows",
            lambda s: s.cost.samples_per_second, kind="model",
        ),
        Metric(
            "peak_memory_bytes", "peak memory", _MIN, "bytes",
            "peak memory of those forward passes (CUDA: allocated; CPU: the process's peak "
            "resident set, an upper bound; -1: unknown)",
            lambda s: float(s.cost.peak_memory_bytes), kind="model",
        ),
        Metric(
            "train_seconds", "training time", _MIN, "s",
            "wall time of the training run",
            _results("seconds"), kind="run",
        ),
    )
}  # fmt: skip

_ALIASES = {alias: m.name for m in METRICS.values() for alias in m.aliases}


def metric_names(*, kind: str | None = None, searchable: bool = False) -> list[str]:
    """The metric names of the table, optionally of one kind or only those Optuna can optimise."""
    return [
        name
        for name, m in METRICS.items()
        if (kind is None or m.kind == kind) and (m.direction.searchable or not searchable)
    ]


def qualify(name: str, split: str) -> str:
    """``val_rollout_rel_l2`` for a score; a cost's name is its own (it has no split)."""
    metric = get_metric(name)
    return f"{split}_{metric.name}" if metric.kind == "score" else metric.name


def parse_name(
    name: str, *, what: str = "metric", splits: Iterable[str] = EVALUATION_SPLITS
) -> tuple[Metric, str | None]:
    """The metric and split of a qualified name: ``val_rollout_rel_l2`` -> (rollout_rel_l2,
    ``val``); a cost -> (its metric, None). Old names are read (``val_rel_l2`` has always been
    the one-step validation error; ``n_parameters`` is ``parameters``).

    Raises:
        UsageError: an unknown name or a score without its split (one line with the valid
            names and the closest match).
    """
    splits = tuple(splits)
    text = str(name)
    for split in splits:
        prefix = f"{split}_"
        if text.startswith(prefix):
            base = _ALIASES.get(text[len(prefix) :], text[len(prefix) :])
            if base in METRICS and METRICS[base].kind == "score":
                return METRICS[base], split
    base = _ALIASES.get(text, text)
    if base in METRICS and METRICS[base].kind != "score":
        return METRICS[base], None
    valid = [qualify(n, s) for n in metric_names(kind="score") for s in splits]
    valid += [n for n in METRICS if METRICS[n].kind != "score"]
    raise unknown_name(what, name, valid, hint="The metrics are listed by dno metrics")


def get_metric(name: str) -> Metric:
    """The table's entry for ``name`` (an unqualified name or an old alias).

    Raises:
        UsageError: an unknown name (with the valid names and the closest match).
    """
    text = str(name)
    found = METRICS.get(_ALIASES.get(text, text))
    if found is None:
        raise unknown_name("metric", name, METRICS, hint="The metrics are listed by dno metrics")
    return found


def canonical_names(record: Mapping[str, Any]) -> dict[str, Any]:
    """``record`` with old metric names replaced by the table's (qualified ones too), so a result
    file written before a name changed reads the same: ``one_step_relative_l2`` ->
    ``rel_l2``, ``best_val_rel_l2`` -> ``val_rel_l2``, ``n_parameters`` -> ``parameters``.
    A key already in its new form wins over an old form of it."""
    renamed = {key: value for key, value in record.items() if canonical_name(key) == key}
    for key, value in record.items():
        renamed.setdefault(canonical_name(key), value)
    return renamed


def canonical_name(key: str) -> str:
    """A metric's name in the table, for one of its old names (others are returned as they are):
    ``one_step_relative_l2`` -> ``rel_l2``, ``best_val_rel_l2`` -> ``val_rel_l2``."""
    if not isinstance(key, str):
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    if key.startswith("best_val_"):  # final_results.json before the metric table
        key = key[len("best_") :]
    for split in EVALUATION_SPLITS:
        prefix = f"{split}_"
        if key.startswith(prefix) and key[len(prefix) :] in _ALIASES:
            return prefix + _ALIASES[key[len(prefix) :]]
    return key


def run_metric(results: Mapping[str, Any], name: str) -> float | None:
    """A qualified metric of a run's ``final_results.json`` (None if absent or not finite),
    reading the names of older files too."""
    metric, split = parse_name(name)
    key = metric.name if split is None else qualify(metric.name, split)
    value = canonical_names(results).get(key)
    if metric.kind == "run" and value is None:
        value = metric.compute(results)
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value) if math.isfinite(value) else None
