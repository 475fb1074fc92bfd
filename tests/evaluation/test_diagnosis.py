"""``diagnose``: findings, non-finite predictions, JSON, table and figures."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from dno.errors import DnoError, UsageError
from dno.evaluation import diagnose, format_diagnosis, plot_diagnostics
from dno.tracking import json_safe as to_jsonable
from dno.tracking import write_json


def _fields(shape: tuple[int, ...] = (4, 32, 32)) -> np.ndarray:
    return np.random.default_rng(0).standard_normal(shape)


def test_amplitude_collapse_is_a_finding() -> None:
    truth = _fields()
    result = diagnose(0.38 * truth, truth)
    assert result.amplitude is not None and result.spectral is not None
    assert result.amplitude.std_ratio == pytest.approx(0.38)
    assert result.batch_size == 1 and result.spatial_shape == (4, 32, 32)
    assert any("amplitude: prediction std is 0.38 x" in line for line in result.findings)
    assert any("P(k): prediction power is 0.144 x" in line for line in result.findings)


def test_identical_fields_have_no_findings() -> None:
    truth = _fields((3, 16, 16, 16))
    result = diagnose(truth.copy(), truth)
    assert result.findings == ()
    assert result.batch_size == 3
    assert "findings: none" in format_diagnosis(result)


def test_zigzag_and_decorrelation_are_findings() -> None:
    n = 64
    truth = np.random.default_rng(1).standard_normal((8, n))
    k = np.arange(n // 2 + 1)
    # Alternate the power from shell to shell above k = 16; flip the sign of the top modes.
    factor = np.where(k > 16, np.where(k % 2 == 0, 2.0, 0.5), 1.0) * np.where(k > 28, -1.0, 1.0)
    prediction = np.fft.irfft(np.fft.rfft(truth, axis=1) * factor, n=n, axis=1)
    result = diagnose(prediction, truth, spatial_dims=1)
    assert any(line.startswith("spectral zig-zag") for line in result.findings)
    assert any(line.startswith("r(k) drops below 0.5 at k = ") for line in result.findings)


def test_nan_in_prediction_is_a_finding_not_a_crash() -> None:
    truth = _fields((4, 16, 16, 16))
    prediction = truth.copy()
    prediction[1, :2] = np.nan  # 512 of 16384 values
    result = diagnose(prediction, truth)
    assert result.nonfinite_fraction == pytest.approx(512 / 16384)
    assert result.samples_used == 3
    assert result.findings[0].startswith(
        "prediction has 512 non-finite values (NaN or inf) of 16384"
    )
    assert result.spectral is not None and result.findings[1:] == ()
    single = diagnose(np.full((16, 16), np.inf), truth[0, 0])
    assert single.spectral is None and single.amplitude is None
    assert "no field is all finite" in single.findings[0]
    assert json.dumps(to_jsonable(single), allow_nan=False)
    assert "findings:" in format_diagnosis(single)


def test_bad_input() -> None:
    with pytest.raises(DnoError, match="truth has 1 non-finite values"):
        diagnose(np.zeros(8), np.array([0, 0, 0, np.nan, 0, 0, 0, 0]))
    with pytest.raises(UsageError, match=r"expected equal shapes"):
        diagnose(np.zeros((4, 100)), np.zeros((4, 101)))
    with pytest.raises(UsageError, match="rank 5"):
        diagnose(np.zeros((2,) * 5), np.zeros((2,) * 5))


def test_json_and_figures(tmp_path: Path) -> None:
    truth = _fields((2, 24, 20))
    prediction = 0.9 * truth
    prediction[0, 0, 0] = np.nan
    result = diagnose(prediction, truth, box_size=(2.0, 1.0), spatial_dims=2)
    written = write_json(tmp_path / "diagnostics.json", result)
    loaded = json.loads(written.read_text())
    assert loaded["spectral"]["box_size"] == [2.0, 1.0]
    assert loaded["spectral"]["power_ratio"] == pytest.approx([0.81] * len(loaded["spectral"]["k"]))
    paths = plot_diagnostics(result, prediction, truth, tmp_path / "figures")
    assert sorted(path.name for path in paths) == [
        "correlation_function.png",
        "cross_correlation.png",
        "power_spectrum.png",
        "prediction_vs_truth.png",
    ]
    assert all(path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for path in paths)
    assert not [p for p in (tmp_path / "figures").iterdir() if p.name.startswith(".")]


@pytest.mark.parametrize("shape", [(50,), (3, 20, 6, 5)])
def test_figures_for_1d_and_3d(tmp_path: Path, shape: tuple[int, ...]) -> None:
    truth = _fields(shape)
    result = diagnose(truth + 0.1, truth)
    paths = plot_diagnostics(result, truth + 0.1, truth, tmp_path)
    assert len(paths) == 4
