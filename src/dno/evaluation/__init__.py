"""Evaluation metrics, defined once and the same for every model.

- Accuracy: :func:`relative_l2` (one global norm ratio), :func:`relative_l2_per_step` (mean of
  per-step ratios, PDEBench's nRMSE), :func:`one_step_error`, :func:`rollout_error` (a curve over
  K steps, K from the evaluation config), :func:`valid_prediction_time` and
  :func:`correlation_time` (in units of tau). ``mask`` / ``lengths`` keep padding out.
- Stability: :func:`noise_sensitivity` and :func:`rollout_noise_sensitivity`, with noise
  relative to each history's own standard deviation (scale-free), seeded.
- Spectral diagnostics of 1-D, 2-D and 3-D fields: :func:`power_spectrum`,
  :func:`cross_spectrum`, :func:`correlation_function`, :func:`band_errors` (PDEBench's fRMSE),
  :func:`spectral_zigzag`, :func:`amplitude_ratio`; all at once with
  :func:`spectral_diagnostics`, or with findings and figures via :func:`diagnose`,
  :func:`plot_diagnostics` and :func:`format_table` (what ``dno diagnose`` runs).
- Cost: :func:`parameter_count`, :func:`measure_cost` (throughput, peak memory).
- A trained run, all of the above on one split: :func:`evaluate_run` (what ``dno evaluate``
  runs) with an :class:`EvaluationConfig` (the horizon in delays, the same for every model;
  :func:`load_evaluation_config` reads one from YAML) and :func:`format_evaluation` (the table).

Metric functions take plain numpy arrays (torch is imported only inside :func:`measure_cost`);
:func:`dno.tracking.json_safe` turns any result into standard JSON (no NaN or Infinity).
"""

from __future__ import annotations

from dno.evaluation._accuracy import (
    CorrelationTime,
    RolloutError,
    ValidTime,
    correlation_time,
    one_step_error,
    relative_l2,
    relative_l2_per_step,
    rollout_error,
    rollout_error_curve,
    valid_prediction_time,
)
from dno.evaluation._cost import Cost, measure_cost, parameter_count
from dno.evaluation._diagnosis import (
    THRESHOLDS,
    AmplitudeRatio,
    Diagnosis,
    amplitude_ratio,
    diagnose,
)
from dno.evaluation._figures import plot_diagnostics
from dno.evaluation._report import format_table
from dno.evaluation._run import EVALUATION_SPLITS, evaluate_run
from dno.evaluation._run_config import EvaluationConfig, load_evaluation_config
from dno.evaluation._run_summary import format_evaluation
from dno.evaluation._spectral import (
    BandErrors,
    CorrelationFunction,
    PowerSpectrum,
    SpectralDiagnostics,
    band_errors,
    correlation_function,
    cross_spectrum,
    power_spectrum,
    spatial_layout,
    spectral_diagnostics,
    spectral_zigzag,
)
from dno.evaluation._stability import (
    NoiseSensitivity,
    RolloutNoiseSensitivity,
    noise_sensitivity,
    rollout_noise_sensitivity,
)

__all__ = [
    "EVALUATION_SPLITS",
    "THRESHOLDS",
    "AmplitudeRatio",
    "BandErrors",
    "CorrelationFunction",
    "CorrelationTime",
    "Cost",
    "Diagnosis",
    "EvaluationConfig",
    "NoiseSensitivity",
    "PowerSpectrum",
    "RolloutError",
    "RolloutNoiseSensitivity",
    "SpectralDiagnostics",
    "ValidTime",
    "amplitude_ratio",
    "band_errors",
    "correlation_function",
    "correlation_time",
    "cross_spectrum",
    "diagnose",
    "evaluate_run",
    "format_evaluation",
    "format_table",
    "load_evaluation_config",
    "measure_cost",
    "noise_sensitivity",
    "one_step_error",
    "parameter_count",
    "plot_diagnostics",
    "power_spectrum",
    "relative_l2",
    "relative_l2_per_step",
    "rollout_error",
    "rollout_error_curve",
    "rollout_noise_sensitivity",
    "spatial_layout",
    "spectral_diagnostics",
    "spectral_zigzag",
    "valid_prediction_time",
]
