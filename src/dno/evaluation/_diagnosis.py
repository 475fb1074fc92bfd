"""One call for everything ``dno diagnose`` shows: amplitude, spectra and plain-words findings.

A finding is one line raised by a documented threshold (:data:`THRESHOLDS`): an amplitude off by
more than 20-25%, a power ratio off by 2x, a cross-correlation below 0.5, a spectrum twice as
rough as the truth's at high k, a correlation length off by 1.5x, or non-finite values in the
prediction (reported with their fraction; the diagnostics then use the samples that are all
finite, and are skipped if none is).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dno.errors import DnoError
from dno.evaluation._checks import check_pair
from dno.evaluation._spectral import (
    BAND_EDGES,
    BoxSize,
    SpectralDiagnostics,
    spatial_layout,
    spectral_diagnostics,
)

__all__ = [
    "THRESHOLDS",
    "AmplitudeRatio",
    "Diagnosis",
    "amplitude_ratio",
    "diagnose",
    "format_diagnosis",
    "power_ratios",
    "usable_amplitude",
]

THRESHOLDS: dict[str, float] = {
    "amplitude_low": 0.8,
    "amplitude_high": 1.25,
    "power_ratio_low": 0.5,
    "power_ratio_high": 2.0,
    "cross_correlation_low": 0.5,
    "zigzag_ratio_high": 2.0,
    "correlation_length_factor": 1.5,
}


@dataclass(frozen=True)
class AmplitudeRatio:
    """Amplitude of the prediction relative to the truth, per sample, then the median.

    The median, not the mean: a sample whose truth is nearly constant (a solution decaying to
    rest) has a ratio of thousands, and would make a mean say nothing about the others.
    Samples whose truth is exactly constant are left out.

    Attributes:
        std_ratio: ``median_b std(p_b) / std(t_b)``.
        range_ratio: ``median_b (max p_b - min p_b) / (max t_b - min t_b)``.
    """

    std_ratio: float
    range_ratio: float


def _amplitude(pred: np.ndarray, true: np.ndarray) -> AmplitudeRatio:
    """Amplitude ratio of flattened samples, shape (B, points)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        std = pred.std(axis=1) / true.std(axis=1)
        spread = np.ptp(pred, axis=1) / np.ptp(true, axis=1)
    return AmplitudeRatio(std_ratio=_median(std), range_ratio=_median(spread))


def _median(ratios: np.ndarray) -> float:
    """The median of the finite ratios (NaN if there is none)."""
    finite = ratios[np.isfinite(ratios)]
    return float(np.median(finite)) if finite.size else math.nan


def usable_amplitude(prediction: np.ndarray, truth: np.ndarray) -> AmplitudeRatio | None:
    """The amplitude ratio of the samples (rows of shape (B, ...)) whose prediction is all
    finite, as :func:`diagnose` reports it; None if no sample is."""
    batch = prediction.shape[0]
    flat_p, flat_t = prediction.reshape(batch, -1), truth.reshape(batch, -1)
    usable = np.isfinite(flat_p).all(axis=1)
    return _amplitude(flat_p[usable], flat_t[usable]) if usable.any() else None


def amplitude_ratio(
    prediction: np.ndarray, truth: np.ndarray, *, spatial_dims: int | None = None
) -> AmplitudeRatio:
    """Amplitude ratio (std and range), prediction over truth, per sample, then the median.

    Args:
        prediction: shape ``(*batch, n_1, ..., n_d)`` (layout as in :func:`power_spectrum`).
        truth: same shape.
        spatial_dims: number of trailing axes that make one sample.

    Returns:
        An :class:`AmplitudeRatio`; ``prediction = 0.38 * truth`` gives 0.38 for both.
    """
    pred, true = check_pair(prediction, truth)
    batch, _ = spatial_layout(pred.shape, spatial_dims)
    return _amplitude(pred.reshape(batch, -1), true.reshape(batch, -1))


@dataclass(frozen=True)
class Diagnosis:
    """Everything ``dno diagnose`` reports for one prediction/truth pair.

    Attributes:
        shape: shape of the input arrays.
        batch_size: number of fields; spatial_shape: shape of one field.
        nonfinite_fraction: fraction of prediction values that are NaN or infinite.
        samples_used: fields used for the diagnostics (those that are all finite).
        amplitude: :class:`AmplitudeRatio`, None if no field is usable.
        spectral: :class:`SpectralDiagnostics`, None if no field is usable.
        findings: one plain-words line per problem found (thresholds in :data:`THRESHOLDS`).
    """

    shape: tuple[int, ...]
    batch_size: int
    spatial_shape: tuple[int, ...]
    nonfinite_fraction: float
    samples_used: int
    amplitude: AmplitudeRatio | None
    spectral: SpectralDiagnostics | None
    findings: tuple[str, ...]


def diagnose(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    box_size: BoxSize = None,
    spatial_dims: int | None = None,
    band_edges: Sequence[int] = BAND_EDGES,
) -> Diagnosis:
    """Amplitude ratio, all spectral diagnostics and findings for one pair of arrays.

    Args:
        prediction: shape ``(*batch, n_1, ..., n_d)`` (layout as in :func:`power_spectrum`).
        truth: same shape, all finite.
        box_size, spatial_dims, band_edges: passed to :func:`spectral_diagnostics`.

    Returns:
        A :class:`Diagnosis`.

    Raises:
        UsageError: for unequal shapes or an unsupported layout.
        DnoError: if the truth has non-finite values.
    """
    pred, true = check_pair(prediction, truth)
    batch, spatial = spatial_layout(pred.shape, spatial_dims)
    flat_p, flat_t = pred.reshape(batch, -1), true.reshape(batch, -1)
    bad_truth = int(np.count_nonzero(~np.isfinite(flat_t)))
    if bad_truth:
        raise DnoError(
            f"truth has {bad_truth} non-finite values of {flat_t.size}; expected finite numbers"
        )
    finite = np.isfinite(flat_p)
    usable = finite.all(axis=1)
    findings: list[str] = []
    fraction = 1.0 - float(finite.mean())
    if fraction > 0:
        findings.append(_nonfinite_finding(finite, usable))
    amplitude, spectral = None, None
    if usable.any():
        amplitude = _amplitude(flat_p[usable], flat_t[usable])
        used_shape = (int(usable.sum()), *spatial)
        spectral = spectral_diagnostics(
            flat_p[usable].reshape(used_shape),
            flat_t[usable].reshape(used_shape),
            box_size=box_size,
            spatial_dims=len(spatial),
            band_edges=band_edges,
        )
        findings.extend(_findings(amplitude, spectral))
    return Diagnosis(
        shape=tuple(pred.shape),
        batch_size=batch,
        spatial_shape=spatial,
        nonfinite_fraction=fraction,
        samples_used=int(usable.sum()),
        amplitude=amplitude,
        spectral=spectral,
        findings=tuple(findings),
    )


def _nonfinite_finding(finite: np.ndarray, usable: np.ndarray) -> str:
    bad = int(finite.size - np.count_nonzero(finite))
    head = (
        f"prediction has {bad} non-finite values (NaN or inf) of {finite.size} "
        f"({100 * bad / finite.size:.3g}%)"
    )
    if not usable.any():
        return f"{head}; no field is all finite, so no diagnostics were computed"
    return (
        f"{head}; diagnostics use the {int(usable.sum())} of {usable.size} fields that are finite"
    )


def _geometric_mean(values: np.ndarray) -> float:
    ok = values[np.isfinite(values) & (values > 0)]
    return float(np.exp(np.log(ok).mean())) if ok.size else float("nan")


def power_ratios(spectral: SpectralDiagnostics) -> tuple[float, float, float | None]:
    """Geometric means of ``P_pred / P_true`` up to the Nyquist shell (the few-mode corner
    shells are noise): over all k, over the top third of k, and where that third starts."""
    complete = spectral.shells <= spectral.nyquist_shell
    ratio, k = spectral.power_ratio[complete], spectral.k[complete]
    start = ratio.size - -(-ratio.size // 3)
    top = float(k[start]) if start < ratio.size else None
    return _geometric_mean(ratio), _geometric_mean(ratio[start:]), top


def _findings(amplitude: AmplitudeRatio, spectral: SpectralDiagnostics) -> list[str]:
    t = THRESHOLDS
    out: list[str] = []
    if not t["amplitude_low"] <= amplitude.std_ratio <= t["amplitude_high"]:
        out.append(
            f"amplitude: prediction std is {amplitude.std_ratio:.3g} x the truth's "
            f"(range {amplitude.range_ratio:.3g} x)"
        )
    overall, high, k_top = power_ratios(spectral)
    low_r, high_r = t["power_ratio_low"], t["power_ratio_high"]
    if not low_r <= overall <= high_r:
        out.append(f"P(k): prediction power is {overall:.3g} x the truth's (geometric mean over k)")
    elif k_top is not None and not low_r <= high <= high_r:
        out.append(
            f"P(k): prediction power is {high:.3g} x the truth's over the top third of k "
            f"(k >= {k_top:.3g})"
        )
    below = np.flatnonzero(~(spectral.cross_correlation >= t["cross_correlation_low"]))
    if below.size:
        out.append(
            f"r(k) drops below {t['cross_correlation_low']} at k = {spectral.k[below[0]]:.3g}: "
            "prediction and truth decorrelate at smaller scales"
        )
    if spectral.zigzag_ratio > t["zigzag_ratio_high"]:
        out.append(
            f"spectral zig-zag: predicted P(k) is {spectral.zigzag_ratio:.3g} x as rough as the "
            "truth's at high k"
        )
    out.extend(_length_finding(spectral))
    return out


def _length_finding(spectral: SpectralDiagnostics) -> list[str]:
    pred, true = spectral.correlation_length_prediction, spectral.correlation_length_truth
    if not np.isfinite(true):
        return []
    if not np.isfinite(pred):
        return ["xi(r): the prediction's correlation never drops to half its variance (flat)"]
    factor = THRESHOLDS["correlation_length_factor"]
    if not 1 / factor <= pred / true <= factor:
        return [f"xi(r): correlation length {pred:.3g} vs {true:.3g} in the truth"]
    return []


def _number(value: float) -> str:
    return "n/a" if not math.isfinite(value) else f"{value:.4g}"


def _band_rows(spectral: SpectralDiagnostics) -> list[str]:
    low, mid = spectral.band_errors.edges
    last = int(spectral.shells.max()) if spectral.shells.size else 0
    ranges = ((0, low), (low + 1, mid), (mid + 1, max(last, mid + 1)))
    rows = [f"  {'band':<6}{'shells':>10}{'P_pred/P_true':>15}{'r(k)':>9}{'fRMSE':>12}{'rel.':>9}"]
    for name, (start, stop), absolute, relative in zip(
        ("low", "mid", "high"),
        ranges,
        spectral.band_errors.absolute,
        spectral.band_errors.relative,
        strict=True,
    ):
        inside = (spectral.shells >= start) & (spectral.shells <= stop)
        ratio = float(np.mean(spectral.power_ratio[inside])) if inside.any() else math.nan
        cross = float(np.mean(spectral.cross_correlation[inside])) if inside.any() else math.nan
        rows.append(
            f"  {name:<6}{f'{start}-{stop}':>10}{_number(ratio):>15}{_number(cross):>9}"
            f"{_number(float(absolute)):>12}{_number(float(relative)):>9}"
        )
    return rows


def format_diagnosis(diagnosis: Diagnosis) -> str:
    """A readable multi-line summary of a :class:`Diagnosis` (what ``dno diagnose`` prints)."""
    lines = [
        f"shape {diagnosis.shape}: {diagnosis.batch_size} field(s) of spatial shape "
        f"{diagnosis.spatial_shape}; {diagnosis.samples_used} used",
        f"non-finite values in prediction: {100 * diagnosis.nonfinite_fraction:.3g}%",
    ]
    if diagnosis.amplitude is not None and diagnosis.spectral is not None:
        spectral = diagnosis.spectral
        lines += [
            f"box size {spectral.box_size}",
            f"amplitude ratio (pred/true): std {_number(diagnosis.amplitude.std_ratio)}, "
            f"range {_number(diagnosis.amplitude.range_ratio)}",
            *_band_rows(spectral),
            f"spectral zig-zag (high-k roughness): pred {_number(spectral.zigzag_prediction)}, "
            f"true {_number(spectral.zigzag_truth)}, ratio {_number(spectral.zigzag_ratio)}",
            f"correlation length (xi = xi(0)/2): pred "
            f"{_number(spectral.correlation_length_prediction)}, "
            f"true {_number(spectral.correlation_length_truth)}",
        ]
    lines.append("findings:" if diagnosis.findings else "findings: none")
    lines += [f"  - {finding}" for finding in diagnosis.findings]
    return "\n".join(lines)
