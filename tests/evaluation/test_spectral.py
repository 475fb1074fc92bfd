"""Spectral diagnostics against known answers: scaled copies, noisy copies, GRFs, white noise."""

from __future__ import annotations

import numpy as np
import pytest

from dno.errors import UsageError
from dno.evaluation import (
    amplitude_ratio,
    band_errors,
    correlation_function,
    cross_spectrum,
    power_spectrum,
    spatial_layout,
    spectral_diagnostics,
    spectral_zigzag,
)
from evaluation.evaluation_fields import expected_shell_power, gaussian_random_field


@pytest.mark.parametrize("shape", [(256,), (48, 40), (20, 24, 16), (3, 16, 16, 16)])
def test_scaled_copy_gives_exact_ratios(shape: tuple[int, ...]) -> None:
    truth = np.random.default_rng(0).standard_normal(shape)
    result = spectral_diagnostics(0.38 * truth, truth)
    np.testing.assert_allclose(result.power_ratio, 0.1444, rtol=1e-12)
    np.testing.assert_allclose(result.cross_correlation, 1.0, rtol=1e-12)
    amplitude = amplitude_ratio(0.38 * truth, truth)
    assert amplitude.std_ratio == pytest.approx(0.38, rel=1e-12)
    assert amplitude.range_ratio == pytest.approx(0.38, rel=1e-12)
    np.testing.assert_allclose(result.band_errors.relative, 0.62, rtol=1e-12)
    np.testing.assert_allclose(result.xi_prediction, 0.1444 * result.xi_truth, atol=1e-12)


def test_a_nearly_constant_truth_does_not_swamp_the_amplitude_ratio() -> None:
    """The median over samples: one window of a solution at rest (truth std 1e-9) would give a
    mean ratio of ~1e8; every other window's ratio is 0.5."""
    rng = np.random.default_rng(1)
    truth = rng.standard_normal((9, 64))
    prediction = 0.5 * truth
    truth[0] = 1.0 + 1e-9 * rng.standard_normal(64)
    prediction[0] = 1.0 + 0.1 * rng.standard_normal(64)
    amplitude = amplitude_ratio(prediction, truth, spatial_dims=1)
    assert amplitude.std_ratio == pytest.approx(0.5, rel=1e-12)
    assert amplitude.range_ratio == pytest.approx(0.5, rel=1e-12)
    truth[1] = 2.0  # exactly constant: left out
    assert amplitude_ratio(prediction, truth, spatial_dims=1).std_ratio == pytest.approx(0.5)


def test_noisy_copy_matches_analytic_cross_correlation() -> None:
    """t: a GRF with P_t = 50 / (1 + (k/0.3)^2); p = t + independent white noise of variance 1
    (P_n = 1 in grid units): r(k) = sqrt(P_t / (P_t + P_n))."""
    rng = np.random.default_rng(1)
    shape = (128, 128)

    def power(k: np.ndarray) -> np.ndarray:
        return 50.0 / (1.0 + (k / 0.3) ** 2)

    truth = gaussian_random_field(shape, power, rng, batch=8)
    prediction = truth + rng.standard_normal(truth.shape)
    result = spectral_diagnostics(prediction, truth, spatial_dims=2)
    expected = expected_shell_power(shape, (128.0, 128.0), power)
    p_t = np.array([expected[s] for s in result.shells])
    analytic = np.sqrt(p_t / (p_t + 1.0))
    inside = (result.shells >= 4) & (result.shells <= result.nyquist_shell)
    error = result.cross_correlation - analytic
    # Sampling error of r per shell is about (1 - r^2) / sqrt(modes / 2).
    sigma = (1 - analytic**2) / np.sqrt(result.modes / 2) + 1e-3
    assert np.all(np.abs(error[inside]) < 5 * sigma[inside])
    assert analytic[inside].min() < 0.7 < 0.95 < analytic[inside].max()  # r(k) really varies


def test_gaussian_random_field_recovered_in_3d_with_box_size() -> None:
    rng = np.random.default_rng(2)
    shape, box = (64, 64, 64), (200.0, 200.0, 200.0)

    def power(k: np.ndarray) -> np.ndarray:
        return 1e4 * k**-2 * np.exp(-((k / 1.0) ** 2))

    field = gaussian_random_field(shape, power, rng, box=box)[0]
    spectrum = power_spectrum(field, box_size=200.0)
    expected = expected_shell_power(shape, box, power)
    ratio = spectrum.power / np.array([expected[s] for s in spectrum.shells])
    complete = spectrum.shells <= 32
    sigma = np.sqrt(2 / spectrum.modes)  # conjugate pairs: modes / 2 independent values
    assert np.all(np.abs(ratio[complete] - 1) < 5 * sigma[complete])
    assert abs(np.average(ratio[complete], weights=spectrum.modes[complete]) - 1) < 0.01
    # Shell 1 holds the 6 modes with |j| = 1 and the 12 with |j| = sqrt(2).
    assert spectrum.k[0] == pytest.approx(2 * np.pi / 200.0 * (6 + 12 * np.sqrt(2)) / 18)


def test_white_noise_is_flat_with_the_documented_normalization() -> None:
    rng = np.random.default_rng(3)
    field = 2.0 * rng.standard_normal((48, 48, 48))
    for box, level in ((None, 4.0), (10.0, 4.0 * 1000.0 / 48**3)):
        spectrum = power_spectrum(field, box_size=box)
        ratio = spectrum.power / level
        assert np.all(np.abs(ratio - 1) < 5 * np.sqrt(2 / spectrum.modes) + 1e-9)
        assert abs(np.average(ratio, weights=spectrum.modes) - 1) < 0.01


def test_correlation_function_of_gaussian_spectrum_is_analytic() -> None:
    """P(k) = exp(-k^2 s^2) in 3-D has xi(r) = exp(-r^2 / (4 s^2)) / (8 pi^1.5 s^3)."""
    rng = np.random.default_rng(4)
    s = 2.0

    def power(k: np.ndarray) -> np.ndarray:
        return np.exp(-(k**2) * s**2)

    field = gaussian_random_field((64, 64, 64), power, rng, batch=2)
    xi = correlation_function(field, spatial_dims=3)
    analytic = np.exp(-(xi.r**2) / (4 * s**2)) / (8 * np.pi**1.5 * s**3)
    near = xi.r <= 8
    np.testing.assert_allclose(xi.xi[near], analytic[near], atol=0.05 * analytic[0])
    assert xi.xi[0] == pytest.approx(
        np.mean((field - field.mean(axis=(1, 2, 3), keepdims=True)) ** 2)
    )


def test_identical_fields_have_zero_band_errors_and_unit_ratios() -> None:
    truth = np.random.default_rng(5).standard_normal((32, 32, 32))
    result = spectral_diagnostics(truth.copy(), truth)
    np.testing.assert_array_equal(result.band_errors.absolute, 0.0)
    np.testing.assert_array_equal(result.band_errors.relative, 0.0)
    np.testing.assert_allclose(result.power_ratio, 1.0, rtol=1e-12)
    np.testing.assert_allclose(result.cross_correlation, 1.0, rtol=1e-12)
    assert result.zigzag_ratio == pytest.approx(1.0)


def test_band_errors_put_an_offset_in_low_and_a_wave_in_mid() -> None:
    n = 64
    truth = np.random.default_rng(6).standard_normal((n, n))
    offset = band_errors(truth + 0.5, truth)
    # Only shell 0 differs: E_0 = |0.5 N| V / N = 0.5 V, averaged over shells 0..4.
    np.testing.assert_allclose(offset.absolute, [0.5 * n * n / 5, 0.0, 0.0], atol=1e-9)
    x = np.arange(n)
    wave = np.cos(2 * np.pi * 8 * x / n)[:, None] * np.ones(n)
    result = band_errors(truth + wave, truth, edges=(4, 12))
    assert result.absolute[1] > 0
    np.testing.assert_allclose(result.absolute[[0, 2]], 0.0, atol=1e-9)
    assert band_errors(truth + wave, truth, edges=(8, 12)).absolute[1] == pytest.approx(
        0.0, abs=1e-9
    )


def test_zigzag_of_smooth_and_alternating_spectra() -> None:
    k = np.arange(1.0, 61.0)
    smooth = 3.0 * np.exp(-0.2 * k)  # log P linear in the shell index
    assert spectral_zigzag(smooth) == pytest.approx(0.0, abs=1e-12)
    alternating = smooth * np.exp(0.1 * (-1.0) ** np.arange(k.size))
    assert spectral_zigzag(alternating) == pytest.approx(0.4, rel=1e-9)
    assert np.isnan(spectral_zigzag(np.ones(5)))  # fewer than 3 shells in the top third


def test_cross_spectrum_of_a_field_with_itself_is_its_power() -> None:
    field = np.random.default_rng(7).standard_normal((40, 30))
    np.testing.assert_allclose(cross_spectrum(field, field).power, power_spectrum(field).power)
    np.testing.assert_allclose(cross_spectrum(field, -field).power, -power_spectrum(field).power)


def test_layout_rules() -> None:
    assert spatial_layout((100,), None) == (1, (100,))
    assert spatial_layout((8, 8, 8), None) == (1, (8, 8, 8))
    assert spatial_layout((4, 8, 8, 8), None) == (4, (8, 8, 8))
    assert spatial_layout((4, 100), 1) == (4, (100,))
    assert spatial_layout((2, 3, 50, 20), 2) == (6, (50, 20))
    with pytest.raises(UsageError, match=r"rank 5 \(shape \(2, 2, 2, 2, 2\)\)"):
        spatial_layout((2, 2, 2, 2, 2), None)
    with pytest.raises(UsageError, match="at least 2 points"):
        spatial_layout((5, 1), 1)


def test_bad_input_gives_one_clear_message() -> None:
    a = np.zeros((4, 100))
    with pytest.raises(
        UsageError,
        match=r"prediction has shape \(4, 100\), truth has shape \(4, 101\); expected equal",
    ):
        spectral_diagnostics(a, np.zeros((4, 101)))
    with pytest.raises(UsageError, match="box_size is"):
        power_spectrum(np.ones((8, 8)), box_size=(1.0, 2.0, 3.0))
    with pytest.raises(UsageError, match="band edges"):
        band_errors(a, a, edges=(12, 4))
    with pytest.raises(UsageError, match="dtype <U1; expected real numbers"):
        power_spectrum(np.array(["a", "b"]))
    with pytest.raises(UsageError, match="complex"):
        power_spectrum(np.ones(8, dtype=complex))
