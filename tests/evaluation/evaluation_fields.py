"""Test fields with known statistics, built independently of ``dno.evaluation``."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np


def wavenumbers(shape: tuple[int, ...], box: tuple[float, ...]) -> np.ndarray:
    """|k| on the full (complex) FFT grid of ``shape``, k_i = 2 pi fftfreq(n_i, L_i / n_i)."""
    grids = np.meshgrid(
        *[2 * np.pi * np.fft.fftfreq(n, side / n) for n, side in zip(shape, box, strict=True)],
        indexing="ij",
    )
    return np.sqrt(sum(g**2 for g in grids))


def gaussian_random_field(
    shape: tuple[int, ...],
    power: Callable[[np.ndarray], np.ndarray],
    rng: np.random.Generator,
    box: tuple[float, ...] | None = None,
    batch: int = 1,
) -> np.ndarray:
    """Gaussian random fields of shape (batch, *shape) with ``<|d_k|^2> = N^2 P(|k|) / V``.

    White noise (``<|w_k|^2> = N``) times ``sqrt(N P / V)`` in Fourier space; the k = 0 mode is
    zeroed. Multiplying by a real, even function of k keeps the field real.
    """
    box = box or tuple(float(n) for n in shape)
    n_points, volume = int(np.prod(shape)), float(np.prod(box))
    k = wavenumbers(shape, box)
    amplitude = np.zeros_like(k)
    nonzero = k > 0
    amplitude[nonzero] = np.sqrt(n_points * power(k[nonzero]) / volume)
    axes = tuple(range(1, len(shape) + 1))
    noise = np.fft.fftn(rng.standard_normal((batch, *shape)), axes=axes)
    return np.fft.ifftn(noise * amplitude, axes=axes).real


def expected_shell_power(
    shape: tuple[int, ...], box: tuple[float, ...], power: Callable[[np.ndarray], np.ndarray]
) -> dict[int, float]:
    """Mean of P(|k|) over the modes of each shell round(|k| / dk), dk = 2 pi / max L (k > 0)."""
    k = wavenumbers(shape, box).ravel()
    k = k[k > 0]
    shell = np.rint(k / (2 * np.pi / max(box))).astype(int)
    total = np.bincount(shell, power(k))
    count = np.bincount(shell)
    return {s: total[s] / count[s] for s in range(1, count.size) if count[s]}
