"""Evaluation: pure metrics, defined once and the same for every model, and the protocol that
scores a model with them.

Metrics (plain numpy arrays; ``_accuracy``, ``_stability``, ``_spectral``, ``_diagnosis``,
``_cost``, inputs checked by ``_checks``):

- Accuracy: :func:`relative_l2` (one global norm ratio, or per step: PDEBench's nRMSE),
  :func:`one_step_error`, :func:`rollout_error` (a curve over K steps, K from the evaluation
  config), :func:`valid_prediction_time` and :func:`correlation_time` (in units of tau).
  ``mask`` / ``lengths`` keep padding out.
- Stability: :func:`noise_sensitivity` and :func:`rollout_noise_sensitivity`, with noise
  relative to each history's own standard deviation (scale-free), seeded.
- Spectral diagnostics of 1-D, 2-D and 3-D fields: :func:`power_spectrum`,
  :func:`cross_spectrum`, :func:`correlation_function`, :func:`band_errors` (PDEBench's fRMSE),
  :func:`spectral_zigzag`, :func:`amplitude_ratio`; all at once with
  :func:`spectral_diagnostics`, or with findings and figures via :func:`diagnose`,
  :func:`plot_diagnostics` and :func:`format_diagnosis` (what ``dno diagnose`` runs).
- Cost: :func:`parameter_count`, :func:`measure_cost` (throughput, peak memory).

The metric table (``_metrics``): :data:`METRICS` declares every number dno reports (name,
label, :class:`Direction`, unit, description, computation); :class:`SplitScores` computes any of
them for a model on a split's :func:`evaluation_windows`, each part once and only when read.

Protocol (``_config``, ``_scoring``, ``_run_folder``, ``_summary``):

- :func:`score_checkpoint`: a model (in memory or a checkpoint) on the windows of a split, one
  step or a rollout of K delays; the one scoring path of training's validation, the search's
  confirmation, ``dno compare`` and ``dno evaluate``.
- :func:`evaluate_run`: all of the above for a run folder on one split (what ``dno evaluate``
  runs), with an :class:`EvaluationConfig` (the horizon in delays, the same for every model;
  :func:`load_evaluation_config` reads one from YAML); :func:`format_evaluation` is its table.

Metric functions import no torch (only :func:`measure_cost` and the scoring do, when called);
:func:`dno.tracking.json_safe` turns any result into standard JSON (no NaN or Infinity).
"""

from __future__ import annotations

from dno.evaluation import (
    _accuracy,
    _config,
    _cost,
    _diagnosis,
    _metrics,
    _run_folder,
    _scoring,
    _spectral,
    _stability,
    _summary,
)
from dno.evaluation._accuracy import *  # noqa: F403
from dno.evaluation._config import *  # noqa: F403
from dno.evaluation._cost import *  # noqa: F403
from dno.evaluation._diagnosis import *  # noqa: F403
from dno.evaluation._figures import plot_diagnostics
from dno.evaluation._metrics import *  # noqa: F403
from dno.evaluation._run_folder import *  # noqa: F403
from dno.evaluation._scoring import *  # noqa: F403
from dno.evaluation._spectral import *  # noqa: F403
from dno.evaluation._stability import *  # noqa: F403
from dno.evaluation._summary import *  # noqa: F403

__all__ = [
    *_accuracy.__all__,
    *_config.__all__,
    *_cost.__all__,
    *_diagnosis.__all__,
    *_metrics.__all__,
    *_run_folder.__all__,
    *_scoring.__all__,
    *_spectral.__all__,
    *_stability.__all__,
    *_summary.__all__,
    "plot_diagnostics",
]
