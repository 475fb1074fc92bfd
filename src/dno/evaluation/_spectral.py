"""Spectral diagnostics of 1-D, 2-D and 3-D fields: P(k), r(k), band errors, xi(r), zig-zag.

Layout. A field array is ``(*batch, n_1, ..., n_d)`` with d = 1, 2 or 3 trailing spatial axes.
With ``spatial_dims=None`` a rank 1-3 array is one field (all axes spatial) and a rank-4 array is
a batch of 3-D fields ``(B, n, n, n)``; pass ``spatial_dims`` for anything else (e.g. a batch of
1-D time windows ``(B, T)`` with ``spatial_dims=1``). Spectra are averaged over the batch.

Wavenumbers. The box has side ``L_i`` along axis i (default ``L_i = n_i``: grid units);
``k_i = 2 pi j_i / L_i`` for the integer FFT index ``j_i``. Shells are integer multiples of the
fundamental ``dk = 2 pi / max_i L_i``: mode k belongs to shell ``s = round(|k| / dk)`` (for a
cubic box, the integer shells of ``|j|``). Each shell reports the mean ``|k|`` of its modes.
All shells with modes are kept, up to the corner of the grid; shells beyond the smallest axis
Nyquist wavenumber (``nyquist_shell``) are partial.

Normalization. With ``d_k = sum_x f(x) exp(-i k.x)`` (unnormalized FFT), N points and volume
``V = prod L_i``: ``P(k) = < |d_k|^2 > V / N^2``, averaged over the modes of a shell and the
batch, so a Gaussian random field with power spectrum P is recovered as P. The cross spectrum
is ``P_pt(k) = < Re(d_p d_t*) > V / N^2`` and ``r(k) = P_pt / sqrt(P_pp P_tt)``.

Correlation function. ``xi(x) = (1/V) sum_k P(k) exp(i k.x)`` over the full d-dimensional grid
(the inverse FFT of the unbinned power, with the k = 0 mode removed so the mean does not count),
then averaged in radial bins of width ``h = max_i L_i / n_i``; ``xi(0)`` is the variance.
Kept up to half the longest side.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from dno.errors import UsageError
from dno.evaluation._checks import as_field, check_pair

__all__ = [
    "BandErrors",
    "CorrelationFunction",
    "PowerSpectrum",
    "SpectralDiagnostics",
    "band_errors",
    "correlation_function",
    "cross_spectrum",
    "power_spectrum",
    "spatial_layout",
    "spectral_diagnostics",
    "spectral_zigzag",
]

BoxSize = float | Sequence[float] | None

#: The default ``(low, mid)`` shell edges of the band errors (:class:`BandErrors`).
BAND_EDGES = (4, 12)


def spatial_layout(shape: tuple[int, ...], spatial_dims: int | None) -> tuple[int, tuple[int, ...]]:
    """Split ``shape`` into (batch size, spatial shape) by the rule in the module doc.

    Raises:
        UsageError: for an unsupported rank or a field with a single point.
    """
    rank = len(shape)
    if spatial_dims is None:
        if rank not in (1, 2, 3, 4):
            raise UsageError(
                f"fields have rank {rank} (shape {shape}); expected rank 1-3 (one field) or 4 "
                "(batch, n, n, n); set spatial_dims for other layouts"
            )
        spatial_dims = min(rank, 3)
    if spatial_dims not in (1, 2, 3) or spatial_dims > rank:
        raise UsageError(
            f"spatial_dims is {spatial_dims} for shape {shape}; expected 1, 2 or 3 and <= rank"
        )
    spatial = tuple(int(n) for n in shape[rank - spatial_dims :])
    if int(np.prod(spatial)) < 2:
        raise UsageError(f"fields have spatial shape {spatial}; expected at least 2 points")
    return int(np.prod(shape[: rank - spatial_dims], dtype=np.int64)), spatial


def _box(spatial: tuple[int, ...], box_size: BoxSize) -> tuple[float, ...]:
    if box_size is None:
        return tuple(float(n) for n in spatial)
    sides = np.atleast_1d(np.asarray(box_size, dtype=np.float64))
    if sides.size == 1:
        sides = np.repeat(sides, len(spatial))
    if sides.shape != (len(spatial),) or not np.all(np.isfinite(sides)) or np.any(sides <= 0):
        raise UsageError(
            f"box_size is {box_size}; expected one positive length or one per spatial axis "
            f"({len(spatial)} for spatial shape {spatial})"
        )
    return tuple(float(x) for x in sides)


@dataclass(frozen=True)
class _Grid:
    """Shell index, weight and |k| of each rfftn mode (flattened), and the shell totals."""

    spatial: tuple[int, ...]
    box: tuple[float, ...]
    shell: np.ndarray
    weight: np.ndarray
    modes: np.ndarray
    k_mean: np.ndarray
    nyquist_shell: int

    @property
    def volume(self) -> float:
        return float(np.prod(self.box))

    @property
    def points(self) -> int:
        return int(np.prod(self.spatial))

    def shell_sum(self, per_mode: np.ndarray) -> np.ndarray:
        """Weighted sum over each shell's modes: (M,) -> (n_shells,)."""
        return np.bincount(self.shell, self.weight * per_mode, minlength=self.modes.size)


def _make_grid(spatial: tuple[int, ...], box: tuple[float, ...]) -> _Grid:
    d = len(spatial)
    k_squared: np.ndarray = np.zeros((1,) * d)
    for axis, (n, side) in enumerate(zip(spatial, box, strict=True)):
        freq = np.fft.rfftfreq(n, side / n) if axis == d - 1 else np.fft.fftfreq(n, side / n)
        k_squared = k_squared + ((2 * np.pi * freq) ** 2).reshape(
            [-1 if i == axis else 1 for i in range(d)]
        )
    k = np.sqrt(k_squared).ravel()
    long_side = max(side for n, side in zip(spatial, box, strict=True) if n > 1)
    dk = 2 * np.pi / long_side
    # The Nyquist wavenumber of axis i is pi n_i / L_i; shells beyond the smallest are partial.
    nyquist = min(n * long_side / (2 * side) for n, side in zip(spatial, box, strict=True) if n > 1)
    shell = np.rint(k / dk).astype(np.int64)
    n_last = spatial[-1]
    j = np.arange(n_last // 2 + 1)
    single = (j == 0) | ((n_last % 2 == 0) & (j == n_last // 2))
    weight = np.broadcast_to(np.where(single, 1.0, 2.0), k_squared.shape).ravel()
    modes = np.bincount(shell, weight)
    with np.errstate(invalid="ignore"):
        k_mean = np.bincount(shell, weight * k) / modes
    return _Grid(spatial, box, shell, weight, modes, k_mean, int(np.floor(nyquist + 1e-9)))


@dataclass(frozen=True)
class _Radial:
    """Radial bin of each grid point (flattened), with the kept bins' counts and mean r."""

    index: np.ndarray
    counts: np.ndarray
    r_mean: np.ndarray
    keep: np.ndarray


def _make_radial(spatial: tuple[int, ...], box: tuple[float, ...]) -> _Radial:
    d = len(spatial)
    r_squared: np.ndarray = np.zeros((1,) * d)
    for axis, (n, side) in enumerate(zip(spatial, box, strict=True)):
        x = np.arange(n)
        separation = np.minimum(x, n - x) * (side / n)
        r_squared = r_squared + (separation**2).reshape([-1 if i == axis else 1 for i in range(d)])
    r = np.sqrt(r_squared).ravel()
    width = max(side / n for n, side in zip(spatial, box, strict=True) if n > 1)
    index = np.rint(r / width).astype(np.int64)
    counts = np.bincount(index)
    with np.errstate(invalid="ignore"):
        r_mean = np.bincount(index, r) / counts
    keep = (counts > 0) & (r_mean <= max(box) / 2 * (1 + 1e-12))
    return _Radial(index, counts, r_mean, keep)


@dataclass(frozen=True)
class PowerSpectrum:
    """An isotropic (cross) power spectrum, one value per non-empty shell with k > 0.

    Attributes:
        k: shape (n,), mean |k| of each shell's modes (units of 1/length of ``box_size``).
        power: shape (n,), ``P(k)`` (normalization in the module doc).
        modes: shape (n,), number of Fourier modes in each shell (both halves counted).
        shells: shape (n,), integer shell index ``round(|k| / dk)`` (module doc).
    """

    k: np.ndarray
    power: np.ndarray
    modes: np.ndarray
    shells: np.ndarray


@dataclass(frozen=True)
class CorrelationFunction:
    """Two-point correlation function binned radially.

    Attributes:
        r: shape (n,), mean separation in each bin (units of ``box_size``).
        xi: shape (n,), ``xi(r)``; ``xi[0]`` (r = 0) is the variance.
    """

    r: np.ndarray
    xi: np.ndarray


@dataclass(frozen=True)
class BandErrors:
    """Fourier-space errors in low / mid / high wavenumber bands (PDEBench's fRMSE).

    Per shell s, ``E_s = sqrt(< sum_{k in s} |d_p(k) - d_t(k)|^2 >_batch) V / N``; a band's
    ``absolute`` error is the mean of ``E_s`` over its shells (shell 0 included in low), its
    ``relative`` error ``sqrt(sum_band |d_p - d_t|^2 / sum_band |d_t|^2)`` (scale-free).
    Bands are shells ``[0, low]``, ``[low + 1, mid]`` and ``[mid + 1, inf)`` with
    ``edges = (low, mid)``, default :data:`BAND_EDGES` (4, 12). A band without shells gives NaN.

    Attributes:
        edges: ``(low, mid)``, inclusive upper shells of the low and mid bands.
        absolute: shape (3,), low / mid / high.
        relative: shape (3,), low / mid / high.
    """

    edges: tuple[int, int]
    absolute: np.ndarray
    relative: np.ndarray


def _prepare(
    field: object, name: str, box_size: BoxSize, spatial_dims: int | None
) -> tuple[np.ndarray, _Grid]:
    values = as_field(field, name)
    batch, spatial = spatial_layout(values.shape, spatial_dims)
    return values.reshape(batch, *spatial), _make_grid(spatial, _box(spatial, box_size))


def _fft(values: np.ndarray) -> np.ndarray:
    """Unnormalized rfftn over the spatial axes: (B, *spatial) -> (B, M) complex."""
    return np.fft.rfftn(values, axes=tuple(range(1, values.ndim))).reshape(values.shape[0], -1)


def _spectrum(per_mode: np.ndarray, grid: _Grid) -> PowerSpectrum:
    """Bin a batch-averaged ``|d_k|^2``-like quantity (M,) into a :class:`PowerSpectrum`."""
    keep = grid.modes > 0
    keep[0] = False
    with np.errstate(invalid="ignore"):
        power = grid.shell_sum(per_mode) / grid.modes * grid.volume / grid.points**2
    return PowerSpectrum(
        k=grid.k_mean[keep],
        power=power[keep],
        modes=grid.modes[keep],
        shells=np.flatnonzero(keep),
    )


def _correlation(per_mode: np.ndarray, grid: _Grid, radial: _Radial) -> CorrelationFunction:
    half = (*grid.spatial[:-1], grid.spatial[-1] // 2 + 1)
    spectrum = per_mode.reshape(half).copy()
    spectrum.flat[0] = 0.0
    axes = tuple(range(len(grid.spatial)))
    xi_grid = np.fft.irfftn(spectrum, s=grid.spatial, axes=axes).ravel() / grid.points
    with np.errstate(invalid="ignore"):
        xi = np.bincount(radial.index, xi_grid) / radial.counts
    return CorrelationFunction(r=radial.r_mean[radial.keep], xi=xi[radial.keep])


def power_spectrum(
    field: np.ndarray, *, box_size: BoxSize = None, spatial_dims: int | None = None
) -> PowerSpectrum:
    """Isotropic power spectrum ``P(k) = < |d_k|^2 > V / N^2``, averaged over the batch.

    Args:
        field: shape ``(*batch, n_1, ..., n_d)`` (layout in the module doc).
        box_size: side length, one number or one per spatial axis (default: grid units).
        spatial_dims: number of trailing spatial axes (default: the module doc's rule).

    Returns:
        A :class:`PowerSpectrum`.

    Example:
        >>> spectrum = power_spectrum(np.random.default_rng(0).standard_normal((64, 64)))
        >>> bool(abs(spectrum.power.mean() - 1.0) < 0.1)  # white noise: P = V / N = 1
        True
    """
    values, grid = _prepare(field, "field", box_size, spatial_dims)
    transform = _fft(values)
    return _spectrum((transform.real**2 + transform.imag**2).mean(axis=0), grid)


def cross_spectrum(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    box_size: BoxSize = None,
    spatial_dims: int | None = None,
) -> PowerSpectrum:
    """Isotropic cross spectrum ``P_pt(k) = < Re(d_p d_t*) > V / N^2`` (arguments as
    :func:`power_spectrum`)."""
    pred, true = check_pair(prediction, truth)
    values, grid = _prepare(pred, "prediction", box_size, spatial_dims)
    fp, ft = _fft(values), _fft(true.reshape(values.shape))
    return _spectrum((fp.real * ft.real + fp.imag * ft.imag).mean(axis=0), grid)


def correlation_function(
    field: np.ndarray, *, box_size: BoxSize = None, spatial_dims: int | None = None
) -> CorrelationFunction:
    """Two-point correlation function ``xi(r)`` from the inverse FFT of the unbinned power
    (arguments as :func:`power_spectrum`; definition in the module doc)."""
    values, grid = _prepare(field, "field", box_size, spatial_dims)
    transform = _fft(values)
    per_mode = (transform.real**2 + transform.imag**2).mean(axis=0)
    return _correlation(per_mode, grid, _make_radial(grid.spatial, grid.box))


def _check_edges(edges: Sequence[int]) -> tuple[int, int]:
    values = tuple(edges)
    if (
        len(values) != 2
        or not all(isinstance(x, (int, np.integer)) and not isinstance(x, bool) for x in values)
        or not 0 <= values[0] < values[1]
    ):
        raise UsageError(f"band edges are {edges}; expected two integers 0 <= low < mid")
    return int(values[0]), int(values[1])


def _bands(diff: np.ndarray, true: np.ndarray, grid: _Grid, edges: tuple[int, int]) -> BandErrors:
    """Band errors from batch-averaged ``|d_p - d_t|^2`` and ``|d_t|^2`` per mode (M,)."""
    diff_shell, true_shell = grid.shell_sum(diff), grid.shell_sum(true)
    per_shell = np.sqrt(diff_shell) * grid.volume / grid.points
    shell = np.arange(grid.modes.size)
    has = grid.modes > 0
    bands = (shell <= edges[0], (shell > edges[0]) & (shell <= edges[1]), shell > edges[1])
    absolute, relative = np.full(3, np.nan), np.full(3, np.nan)
    for i, band in enumerate(bands):
        if np.any(band & has):
            absolute[i] = per_shell[band & has].mean()
            num, den = diff_shell[band].sum(), true_shell[band].sum()
            with np.errstate(divide="ignore", invalid="ignore"):
                relative[i] = 0.0 if num == 0 and den == 0 else np.sqrt(num / den)
    return BandErrors(edges=edges, absolute=absolute, relative=relative)


def band_errors(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    edges: Sequence[int] = BAND_EDGES,
    box_size: BoxSize = None,
    spatial_dims: int | None = None,
) -> BandErrors:
    """Low / mid / high wavenumber errors (definition in :class:`BandErrors`; other arguments
    as :func:`power_spectrum`)."""
    band_edges = _check_edges(edges)
    pred, true = check_pair(prediction, truth)
    values, grid = _prepare(pred, "prediction", box_size, spatial_dims)
    fp, ft = _fft(values), _fft(true.reshape(values.shape))
    diff = fp - ft
    per_diff = (diff.real**2 + diff.imag**2).mean(axis=0)
    return _bands(per_diff, (ft.real**2 + ft.imag**2).mean(axis=0), grid, band_edges)


def spectral_zigzag(power: np.ndarray) -> float:
    """Roughness of a spectrum's high-k end: mean ``|second difference of log P|`` over the top
    third of the shells (at least 3 shells, all with positive finite power; else NaN).

    A smooth spectrum gives about 0; a prediction whose P(k) alternates from shell to shell
    (spectral zig-zag) gives a value well above the truth's, whose own value measures the
    sampling noise of the shells (about ``2 / sqrt(modes)``).
    """
    values = np.asarray(power, dtype=np.float64).reshape(-1)
    tail = values[values.size - -(-values.size // 3) :]
    if tail.size < 3 or not np.all(np.isfinite(tail)) or np.any(tail <= 0):
        return float("nan")
    return float(np.abs(np.diff(np.log(tail), n=2)).mean())


def _correlation_length(correlation: CorrelationFunction) -> float:
    """Smallest r with ``xi(r) <= xi(0) / 2`` (linear interpolation between bins); NaN if none."""
    r, xi = correlation.r, correlation.xi
    if xi.size < 2 or not np.isfinite(xi[0]) or xi[0] <= 0:
        return float("nan")
    below = np.flatnonzero(xi <= xi[0] / 2)
    if below.size == 0:
        return float("nan")
    i = int(below[0])
    fraction = (xi[i - 1] - xi[0] / 2) / (xi[i - 1] - xi[i])
    return float(r[i - 1] + fraction * (r[i] - r[i - 1]))


@dataclass(frozen=True)
class SpectralDiagnostics:
    """Every spectral diagnostic of one prediction/truth pair (definitions in the module doc).

    Attributes:
        spatial_shape: the spatial shape (n_1, ..., n_d). batch_size: fields averaged over.
        box_size: side lengths (L_1, ..., L_d).
        k: shape (n,), shell wavenumbers. modes: shape (n,), modes per shell.
        shells: shape (n,), integer shell indices (the band edges refer to them).
        nyquist_shell: the last complete shell: shells above it reach past the Nyquist
            wavenumber of some axis (toward the grid's corner) and hold few modes.
        power_prediction, power_truth: shape (n,), ``P_pp(k)`` and ``P_tt(k)``.
        power_ratio: shape (n,), ``P_pp / P_tt``.
        cross_power: shape (n,), ``P_pt(k)``.
        cross_correlation: shape (n,), ``r(k) = P_pt / sqrt(P_pp P_tt)``.
        r: shape (n_r,), separations. xi_prediction, xi_truth: shape (n_r,), ``xi(r)``.
        correlation_length_prediction, correlation_length_truth: smallest r with
            ``xi(r) = xi(0) / 2`` (NaN if xi never drops that far).
        band_errors: :class:`BandErrors`.
        zigzag_prediction, zigzag_truth: :func:`spectral_zigzag` of each P(k) up to the
            Nyquist shell (the few-mode corner shells would dominate it).
        zigzag_ratio: prediction over truth (about 1 when the prediction is no rougher).
    """

    spatial_shape: tuple[int, ...]
    batch_size: int
    box_size: tuple[float, ...]
    k: np.ndarray
    modes: np.ndarray
    shells: np.ndarray
    nyquist_shell: int
    power_prediction: np.ndarray
    power_truth: np.ndarray
    power_ratio: np.ndarray
    cross_power: np.ndarray
    cross_correlation: np.ndarray
    r: np.ndarray
    xi_prediction: np.ndarray
    xi_truth: np.ndarray
    correlation_length_prediction: float
    correlation_length_truth: float
    band_errors: BandErrors
    zigzag_prediction: float
    zigzag_truth: float
    zigzag_ratio: float


def spectral_diagnostics(
    prediction: np.ndarray,
    truth: np.ndarray,
    *,
    box_size: BoxSize = None,
    spatial_dims: int | None = None,
    band_edges: Sequence[int] = BAND_EDGES,
) -> SpectralDiagnostics:
    """All spectral diagnostics from two FFTs (and two inverse FFTs for ``xi``).

    Args:
        prediction: shape ``(*batch, n_1, ..., n_d)`` (layout in the module doc).
        truth: same shape.
        box_size: side length, one number or one per spatial axis (default: grid units).
        spatial_dims: number of trailing spatial axes (default: the module doc's rule).
        band_edges: ``(low, mid)`` shell edges of the band errors.

    Returns:
        A :class:`SpectralDiagnostics`.
    """
    edges = _check_edges(band_edges)
    pred, true = check_pair(prediction, truth)
    values, grid = _prepare(pred, "prediction", box_size, spatial_dims)
    fp, ft = _fft(values), _fft(true.reshape(values.shape))
    pp = (fp.real**2 + fp.imag**2).mean(axis=0)
    tt = (ft.real**2 + ft.imag**2).mean(axis=0)
    pt = (fp.real * ft.real + fp.imag * ft.imag).mean(axis=0)
    diff = fp - ft
    bands = _bands((diff.real**2 + diff.imag**2).mean(axis=0), tt, grid, edges)
    del fp, ft, diff
    p_pp, p_tt, p_pt = _spectrum(pp, grid), _spectrum(tt, grid), _spectrum(pt, grid)
    radial = _make_radial(grid.spatial, grid.box)
    xi_p, xi_t = _correlation(pp, grid, radial), _correlation(tt, grid, radial)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = p_pp.power / p_tt.power
        cross = p_pt.power / np.sqrt(p_pp.power * p_tt.power)
    complete = p_pp.shells <= grid.nyquist_shell
    zig_p = spectral_zigzag(p_pp.power[complete])
    zig_t = spectral_zigzag(p_tt.power[complete])
    with np.errstate(divide="ignore", invalid="ignore"):
        zig_ratio = float(np.float64(zig_p) / np.float64(zig_t))
    return SpectralDiagnostics(
        spatial_shape=grid.spatial,
        batch_size=values.shape[0],
        box_size=grid.box,
        k=p_pp.k,
        modes=p_pp.modes,
        shells=p_pp.shells,
        nyquist_shell=grid.nyquist_shell,
        power_prediction=p_pp.power,
        power_truth=p_tt.power,
        power_ratio=ratio,
        cross_power=p_pt.power,
        cross_correlation=cross,
        r=xi_p.r,
        xi_prediction=xi_p.xi,
        xi_truth=xi_t.xi,
        correlation_length_prediction=_correlation_length(xi_p),
        correlation_length_truth=_correlation_length(xi_t),
        band_errors=bands,
        zigzag_prediction=zig_p,
        zigzag_truth=zig_t,
        zigzag_ratio=zig_ratio,
    )
