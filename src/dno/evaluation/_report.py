"""A diagnosis as a readable table (as JSON: :func:`dno.tracking.json_safe`)."""

from __future__ import annotations

import math

import numpy as np

from dno.evaluation._diagnosis import Diagnosis
from dno.evaluation._spectral import SpectralDiagnostics

__all__ = ["format_table"]


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


def format_table(diagnosis: Diagnosis) -> str:
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
