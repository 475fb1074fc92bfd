"""A small but real training program to sweep with dno: an autoencoder with latent pruning.

It knows nothing of dno. It takes its hyperparameters as command-line flags (as W&B's sweep agent
passes them: ``--key=value``), trains a tiny autoencoder on a synthetic dataset of smooth 1-D
signals (sums of a few random sinusoids, 64 samples each), and prints one JSON line per epoch:

    {"epoch": 3, "train_loss": 0.021, "val_loss": 0.024, "active_latents": 6}

Latent pruning: after each epoch, latent units whose mean absolute activation on the training
set is below ``--threshold`` (relative to the largest) are switched off for good. Spectral
normalization (``--spectral_norm=True``) bounds every linear map's largest singular value by 1.

Run it alone:  python train.py --lr=0.003 --latent=8 --threshold=0.05 --spectral_norm=False
"""

from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from torch import nn


def flag(text: str) -> bool:
    """W&B passes booleans as str(value): True / False."""
    return text.strip().lower() in ("true", "1", "yes")


def signals(n: int, rng: np.random.Generator) -> torch.Tensor:
    x = np.linspace(0, 1, 64)
    freq = rng.integers(1, 6, size=(n, 3))
    amp = rng.normal(size=(n, 3))
    phase = rng.uniform(0, 2 * np.pi, size=(n, 3))
    waves = amp[:, :, None] * np.sin(2 * np.pi * freq[:, :, None] * x + phase[:, :, None])
    return torch.tensor(waves.sum(axis=1), dtype=torch.float32)


def linear(n_in: int, n_out: int, spectral: bool) -> nn.Module:
    layer = nn.Linear(n_in, n_out)
    return nn.utils.parametrizations.spectral_norm(layer) if spectral else layer


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--latent", type=int, default=8)
    parser.add_argument("--threshold", type=float, default=0.05)
    parser.add_argument("--spectral_norm", type=flag, default=False)
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()

    torch.manual_seed(args.seed)
    data_rng = np.random.default_rng(1234)  # the dataset is fixed; the seed moves the model
    train, val = signals(512, data_rng), signals(128, data_rng)
    encoder = nn.Sequential(linear(64, 32, args.spectral_norm), nn.GELU(),
                            linear(32, args.latent, args.spectral_norm))  # fmt: skip
    decoder = nn.Sequential(linear(args.latent, 32, args.spectral_norm), nn.GELU(),
                            linear(32, 64, args.spectral_norm))  # fmt: skip
    params = [*encoder.parameters(), *decoder.parameters()]
    optimizer = torch.optim.Adam(params, lr=args.lr)
    mask = torch.ones(args.latent)
    for epoch in range(1, args.epochs + 1):
        for batch in train[torch.randperm(len(train))].split(64):
            loss = (decoder(encoder(batch) * mask) - batch).square().mean()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        with torch.no_grad():
            codes = encoder(train) * mask
            activity = codes.abs().mean(0)
            mask = mask * (activity >= args.threshold * activity.max()).float()
            train_loss = (decoder(codes * mask) - train).square().mean().item()
            val_loss = (decoder(encoder(val) * mask) - val).square().mean().item()
        record = {"epoch": epoch, "train_loss": train_loss, "val_loss": val_loss,
                  "active_latents": int(mask.sum())}  # fmt: skip
        print(json.dumps(record), flush=True)


if __name__ == "__main__":
    main()
