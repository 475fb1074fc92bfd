"""``dno diagnose PRED TRUE``: amplitude and spectral diagnostics of any prediction.

Works on two ``.npy`` / ``.npz`` arrays from any model or code. Layout: a rank 1-3 array is one
field (all axes spatial), a rank-4 array a batch ``(B, n, n, n)`` of 3-D fields; with
``--batch-axis`` the first axis is a batch of 1-D, 2-D or 3-D fields (e.g. ``(B, T)`` time
windows or ``(B, T, X)`` space-time fields). Prints a table, writes the figures and
``diagnostics.json`` into ``--out``.
"""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path

import numpy as np

from dno.cli._base import Command
from dno.errors import DnoError, UsageError
from dno.evaluation import diagnose, format_diagnosis, plot_diagnostics
from dno.tracking import DIAGNOSTICS_JSON, json_safe, write_json

__all__ = ["DiagnoseCommand"]


def _load(text: str, key: str | None, role: str) -> np.ndarray:
    """Load one array from a ``.npy`` file or (by ``key``, or its only array) a ``.npz`` file."""
    path = Path(text)
    suffix = path.suffix.lower()
    if suffix not in (".npy", ".npz"):
        raise UsageError(f"{role} file {path} has suffix {suffix!r}; expected .npy or .npz")
    if not path.is_file():
        raise UsageError(f"{role} file {path} does not exist")
    try:
        loaded = np.load(path, allow_pickle=False)
    except ValueError:
        raise DnoError(
            f"cannot read {role} file {path}: not a .npy/.npz array file, or it holds pickled "
            "objects (which dno does not load)"
        ) from None
    except (OSError, EOFError, zipfile.BadZipFile) as error:
        raise DnoError(f"cannot read {role} file {path}: {error}") from None
    if not isinstance(loaded, np.lib.npyio.NpzFile):
        return np.asarray(loaded)
    with loaded:
        names = list(loaded.files)
        if key is None and len(names) != 1:
            raise UsageError(
                f"{role} file {path} holds arrays {names}; pass --key NAME to pick one"
            )
        name = names[0] if key is None else key
        if name not in names:
            raise UsageError(f"{role} file {path} has no array {name!r}; it holds {names}")
        try:
            return np.asarray(loaded[name])
        except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
            raise DnoError(f"cannot read array {name!r} of {role} file {path}: {error}") from None


def _box_size(text: str | None) -> float | tuple[float, ...] | None:
    if text is None:
        return None
    try:
        sides = tuple(float(part) for part in text.split(","))
    except ValueError:
        sides = ()
    if not sides or not all(np.isfinite(side) and side > 0 for side in sides):
        raise UsageError(
            f"--box-size is {text!r}; expected a positive length, or one per spatial axis "
            "separated by commas"
        )
    return sides[0] if len(sides) == 1 else sides


def _bands(text: str) -> tuple[int, int]:
    try:
        low, mid = (int(part) for part in text.split(","))
    except ValueError:
        raise UsageError(f"--bands is {text!r}; expected LOW,MID, e.g. 4,12") from None
    if not 0 <= low < mid:
        raise UsageError(f"--bands is {text!r}; expected integers 0 <= LOW < MID")
    return low, mid


def _spatial_dims(shape: tuple[int, ...], batch_axis: bool) -> int | None:
    """Spatial axes of the input: None (the library's rule) unless ``--batch-axis`` is given."""
    if not batch_axis:
        if not 1 <= len(shape) <= 4:
            raise UsageError(
                f"prediction has shape {shape} (rank {len(shape)}); expected rank 1-3 (one field) "
                "or 4 (batch, n, n, n)"
            )
        return None
    if not 2 <= len(shape) <= 4:
        raise UsageError(
            f"prediction has shape {shape} (rank {len(shape)}); with --batch-axis expected "
            "rank 2-4: (batch, 1-3 spatial axes)"
        )
    return len(shape) - 1


class DiagnoseCommand(Command):
    """``dno diagnose PRED TRUE``: table, figures and ``diagnostics.json``."""

    name = "diagnose"
    help = "spectral and amplitude diagnostics of a prediction against the truth (.npy/.npz)"
    description = (
        "Compare a prediction with the truth, from any model or code: amplitude ratio, power\n"
        "spectra P(k) and their ratio, cross-correlation r(k), band errors (low/mid/high k),\n"
        "correlation function xi(r) and spectral zig-zag; findings in plain words.\n\n"
        "Layout: rank 1-3 = one field; rank 4 = (B, n, n, n); --batch-axis: the first axis\n"
        "is a batch of 1-3-D fields. Writes the figures and diagnostics.json into --out."
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument("pred", metavar="PRED", help="predicted array (.npy or .npz)")
        parser.add_argument("true", metavar="TRUE", help="true array (.npy or .npz), same shape")
        parser.add_argument(
            "--box-size",
            metavar="L",
            help="box side length for physical wavenumbers, or one per axis: L1,L2,L3 "
            "(default: grid units, L = number of points)",
        )
        parser.add_argument(
            "--batch-axis",
            action="store_true",
            help="the first axis is a batch of fields (spectra are averaged over it)",
        )
        parser.add_argument(
            "--bands",
            default="4,12",
            metavar="LOW,MID",
            help="band edges in shells of |k|: low [0, LOW], mid [LOW+1, MID], high above "
            "(default: 4,12)",
        )
        parser.add_argument("--key", metavar="NAME", help="array name inside .npz files")
        parser.add_argument("--pred-key", metavar="NAME", help="array name inside PRED (.npz)")
        parser.add_argument("--true-key", metavar="NAME", help="array name inside TRUE (.npz)")
        parser.add_argument(
            "--out",
            default="diagnostics",
            metavar="DIR",
            help="folder for the figures and diagnostics.json (default: ./diagnostics)",
        )
        parser.add_argument("--no-figures", action="store_true", help="skip the figures")
        parser.add_argument(
            "--json", action="store_true", help="print the JSON result instead of the table"
        )

    def run(self, args: argparse.Namespace) -> int:
        box_size, bands = _box_size(args.box_size), _bands(args.bands)
        prediction = _load(args.pred, args.pred_key or args.key, "prediction")
        truth = _load(args.true, args.true_key or args.key, "truth")
        diagnosis = diagnose(
            prediction,
            truth,
            box_size=box_size,
            spatial_dims=_spatial_dims(prediction.shape, args.batch_axis),
            band_edges=bands,
        )
        out = Path(args.out)
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise DnoError(f"cannot create output folder {out}: {error}") from None
        figures = [] if args.no_figures else plot_diagnostics(diagnosis, prediction, truth, out)
        result = {
            "prediction": str(args.pred),
            "truth": str(args.true),
            "diagnosis": json_safe(diagnosis),
            "figures": [path.name for path in figures],
        }
        json_path = write_json(out / DIAGNOSTICS_JSON, result)
        if args.json:
            print(json.dumps(result, indent=2, allow_nan=False))
        else:
            print(format_diagnosis(diagnosis))
            print(f"wrote {json_path}" + (f" and {len(figures)} figures" if figures else ""))
        return 0
