"""Random smooth initial histories on ``[-tau, 0]``.

A history is a few Fourier modes in ``s = t / tau`` (and, for fields, cosine modes in ``x`` that
satisfy the zero-flux boundary), exponentiated where the equation needs a positive state. Values
and time derivatives are exact, so the neutral family gets the history's true derivative.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dno.dde._families import Family

__all__ = ["FourierHistory", "sample_histories"]

N_TIME_MODES = 4
N_SPACE_MODES = 3


@dataclass(frozen=True)
class FourierHistory:
    """A batch of smooth histories ``h_b(t, x)`` for ``t`` in ``[-tau_b, 0]``.

    ``g_b(s, x) = sum_k sum_j [A_bkj cos(pi k s) + B_bkj sin(pi k s)] cos(pi j x)`` with
    ``s = t / tau_b``; the history is ``level_b * exp(g_b)`` if :attr:`positive`, else
    ``level_b + g_b``.

    Attributes:
        tau: delays, shape (B,).
        level: mean levels, shape (B,).
        cos_coef: shape (B, K, J); ``K`` time modes (``k = 1..K``), ``J`` space modes.
        sin_coef: shape (B, K, J).
        x: spatial points, shape (X,); ``[0.5]`` for scalar families.
        positive: exponentiate (positive histories) or add.
    """

    tau: np.ndarray
    level: np.ndarray
    cos_coef: np.ndarray
    sin_coef: np.ndarray
    x: np.ndarray
    positive: bool

    @property
    def batch_size(self) -> int:
        return int(self.tau.shape[0])

    def _modes(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        t = np.asarray(t, dtype=np.float64)
        if t.ndim == 1:
            t = np.broadcast_to(t, (self.batch_size, t.shape[0]))
        k = np.arange(1, self.cos_coef.shape[1] + 1, dtype=np.float64)
        phase = np.pi * (t / self.tau[:, None])[:, :, None] * k  # (B, T, K)
        space = np.cos(np.pi * np.outer(self.x, np.arange(self.cos_coef.shape[2])))  # (X, J)
        return phase, space, k

    def _g(self, phase: np.ndarray, space: np.ndarray) -> np.ndarray:
        return np.einsum("btk,bkj,xj->btx", np.cos(phase), self.cos_coef, space) + np.einsum(
            "btk,bkj,xj->btx", np.sin(phase), self.sin_coef, space
        )

    def __call__(self, t: np.ndarray) -> np.ndarray:
        """Values at times ``t`` of shape (T,) (shared) or (B, T) (one row per trajectory).

        Returns:
            Array of shape (B, T, X).
        """
        phase, space, _ = self._modes(t)
        g = self._g(phase, space)
        level = self.level[:, None, None]
        return level * np.exp(g) if self.positive else level + g

    def derivative(self, t: np.ndarray) -> np.ndarray:
        """Time derivative at ``t`` (shape (T,) or (B, T)); returns shape (B, T, X)."""
        phase, space, k = self._modes(t)
        scale = (np.pi * k)[None, None, :] / self.tau[:, None, None]  # d(phase)/dt, (B, 1, K)
        dg = np.einsum("btk,bkj,xj->btx", -np.sin(phase) * scale, self.cos_coef, space)
        dg += np.einsum("btk,bkj,xj->btx", np.cos(phase) * scale, self.sin_coef, space)
        if self.positive:
            return self(t) * dg
        return dg


def sample_histories(
    family: Family,
    tau: np.ndarray,
    scale: np.ndarray,
    x: np.ndarray,
    rng: np.random.Generator,
) -> FourierHistory:
    """Draw one random smooth history per trajectory.

    Args:
        family: sets positivity, level range and amplitude.
        tau: delays, shape (B,).
        scale: multiplies the level (the family's ``history_scale`` parameter; ones otherwise),
            shape (B,).
        x: spatial points, shape (X,).
        rng: the generator; draws happen in a fixed order, so the same seed gives the same bytes.
    """
    n = tau.shape[0]
    n_space = N_SPACE_MODES if family.is_spatial else 1
    lo, hi = family.history_level
    level = rng.uniform(lo, hi, size=n) * scale
    # Mode amplitudes fall off as 1/k (time) and 1/(1+j) (space) so the history is smooth.
    decay = 1.0 / np.arange(1, N_TIME_MODES + 1)[:, None] / (1.0 + np.arange(n_space))[None, :]
    sigma = family.history_amplitude * decay / np.sqrt(np.sum(decay**2))
    cos_coef = rng.standard_normal((n, N_TIME_MODES, n_space)) * sigma
    sin_coef = rng.standard_normal((n, N_TIME_MODES, n_space)) * sigma
    return FourierHistory(
        tau=np.asarray(tau, dtype=np.float64),
        level=level,
        cos_coef=cos_coef,
        sin_coef=sin_coef,
        x=np.asarray(x, dtype=np.float64),
        positive=family.positive_history,
    )
