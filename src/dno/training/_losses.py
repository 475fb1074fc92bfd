"""Training losses on normalized states of shape (batch, m, X, C).

- ``mse``: mean squared error, per-channel weights optional.
- ``rel_l2``: mean over the batch of ``||p - t|| / ||t||`` per sample.
- frequency bands: the error's spectrum along the predicted slices (rfft over the m axis),
  weighted by smooth low / mid / high band masks (logistic transitions at the band edges,
  given as fractions of the highest frequency), ``sum_f w(f) |E(f)|^2 / (m X C)``.
- DC penalty: the squared difference of the means over the slices, ``mean((<p> - <t>)^2)``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch

from dno.training._config import TrainConfig

__all__ = ["band_masks", "training_loss"]

_EPS = 1e-8
#: Width of the logistic band transitions, as a fraction of the highest frequency.
TRANSITION = 0.05


def band_masks(n_freq: int, edges: Sequence[float], device: torch.device) -> torch.Tensor:
    """Smooth low / mid / high masks over ``n_freq`` rfft frequencies, shape (3, n_freq).

    The three masks sum to one at every frequency.
    """
    f = torch.linspace(0.0, 1.0, n_freq, device=device)
    low_to_mid = torch.sigmoid((f - edges[0]) / TRANSITION)
    mid_to_high = torch.sigmoid((f - edges[1]) / TRANSITION)
    return torch.stack([1 - low_to_mid, low_to_mid - mid_to_high, mid_to_high])


def training_loss(
    prediction: torch.Tensor,
    target: torch.Tensor,
    config: TrainConfig,
) -> torch.Tensor:
    """The configured loss of ``prediction`` against ``target``, both (batch, m, X, C)."""
    error = prediction - target
    weights = config.channel_weights
    channel_w = (
        torch.as_tensor(weights, dtype=error.dtype, device=error.device)
        if weights is not None
        else torch.ones(error.shape[-1], dtype=error.dtype, device=error.device)
    )
    if config.loss == "rel_l2":
        num = (error.square() * channel_w).flatten(1).sum(1)
        den = (target.square() * channel_w).flatten(1).sum(1)
        loss = (torch.sqrt(num + _EPS) / torch.sqrt(den + _EPS)).mean()
    else:
        loss = (error.square() * channel_w).mean()
    bands = config.band_weights
    if bands is not None and error.shape[1] > 1:
        spectrum = torch.fft.rfft(error.float(), dim=1, norm="ortho").abs().square()
        masks = band_masks(spectrum.shape[1], config.band_edges, error.device)
        w = torch.as_tensor(bands, dtype=spectrum.dtype, device=error.device) @ masks  # (F,)
        loss = loss + (spectrum * w[None, :, None, None] * channel_w).mean()
    if config.dc_weight > 0:
        loss = loss + config.dc_weight * (prediction.mean(1) - target.mean(1)).square().mean()
    return loss
