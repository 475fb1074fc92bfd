"""A benchmark's test regimes: the test split, and test data the training never saw.

A protocol lists its regimes (``regimes:``; default ``[in_distribution]``)::

    regimes:
      - in_distribution                          # the test split (always scored, first)
      - held_out_delay                           # tau beyond its training prior
      - {held_out_params: {beyond: [0.1, 0.3]}}  # the other parameters beyond theirs
      - resolution                               # spatial families: a 1.5x finer grid

``held_out_delay`` draws tau from ``[hi + a w, hi + b w]`` above the training prior ``[lo, hi]``
(``w = hi - lo``, ``beyond: [a, b]``, default ``[0.1, 0.3]``) and from ``[lo - b w, lo - a w]``
below it when that range lies inside the family's domain (:attr:`dno.dde.Family.bounds`); the
other parameters from their training priors. ``held_out_params`` does the same for every
parameter but tau whose prior is a range (a fixed parameter stays fixed), tau from its prior:
one part of the data with each parameter above its range (below where above leaves the domain),
one with each below (above where below leaves it). ``resolution`` keeps the priors and draws on
``round(1.5 X)`` points. Two sides split the trajectories in halves (above first).

A regime's data are as many trajectories as the protocol's test split, on its horizon, steps and
observation grid, all in the file's ``test`` split (train and val empty), written once into the
benchmark's ``data/`` (named by a digest of the request, reused by a rerun). Part ``k`` of regime
``r`` is drawn with seed ``SeedSequence([data seed, CODE[r], k]).generate_state(1)[0]``, so no
regime shares a stream with the protocol's dataset or with another regime. Training, selection
and tuning read only the protocol's dataset; a regime's file is opened only to score the kept
weights, after the test split.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from dno import __version__
from dno._io import make_folder
from dno.benchmark._aggregate import IN_DISTRIBUTION
from dno.data import read_dataset, write_dataset
from dno.dde import (
    Family,
    SamplingSettings,
    TrajectorySet,
    get_family,
    resolve_priors,
    sample_trajectories,
)
from dno.errors import UsageError, unknown_name
from dno.tracking import DATA_FOLDER

__all__ = [
    "DEFAULT_BEYOND",
    "REGIMES",
    "RESOLUTION_FACTOR",
    "Regime",
    "RegimePart",
    "parse_regimes",
    "regime_dataset",
]

#: The regimes dno knows, in the order a leaderboard shows them.
REGIMES = (IN_DISTRIBUTION, "held_out_delay", "held_out_params", "resolution")
#: How far beyond a training prior a held-out value is drawn, in fractions of its width.
DEFAULT_BEYOND = (0.1, 0.3)
#: How much finer the ``resolution`` regime's spatial grid is.
RESOLUTION_FACTOR = 1.5
#: Each regime's random stream, apart from the protocol's dataset (see the module doc).
_SEED_CODES = {"held_out_delay": 1, "held_out_params": 2, "resolution": 3}
_HELD_OUT = ("held_out_delay", "held_out_params")

Priors = dict[str, tuple[float, float]]
Log = Callable[[str], None]


@dataclass(frozen=True)
class RegimePart:
    """One part of a regime's data: its priors (every parameter) and its grid.

    Attributes:
        side: ``above`` or ``below`` the training priors, or ``finer`` (resolution).
        priors: ``name -> (lo, hi)`` of every parameter of the family.
        grid_points: the spatial points (None: the protocol's).
    """

    side: str
    priors: Priors
    grid_points: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"side": self.side, "priors": {k: list(v) for k, v in self.priors.items()},
                "grid_points": self.grid_points}  # fmt: skip


@dataclass(frozen=True)
class Regime:
    """A validated regime: its name, its ``beyond`` fractions (held-out regimes) and the parts
    of its data (none for ``in_distribution``, the protocol's test split)."""

    name: str
    beyond: tuple[float, float] | None = None
    parts: tuple[RegimePart, ...] = field(default_factory=tuple)
    #: parameter -> the sides its held-out range was drawn on (the others leave the domain)
    sides: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "beyond": list(self.beyond) if self.beyond else None,
            "sides": {k: list(v) for k, v in self.sides.items()},
            "parts": [p.to_dict() for p in self.parts],
        }


def parse_regimes(
    value: Any, family: str, request: dict[str, Any], source: str
) -> tuple[Regime, ...]:
    """The protocol's ``regimes:`` (None: ``[in_distribution]``), checked against the family
    and the training priors of ``request`` (the protocol's data request); in_distribution
    first whether listed or not.

    Raises:
        UsageError: one line naming the file and the value: not a list, an unknown regime or
            option, a regime twice, ``beyond`` not ``[a, b]`` with ``0 < a < b``, a held-out
            range outside the family's domain on both sides, a fixed tau (or every other
            parameter fixed), ``resolution`` for a non-spatial family.
    """
    if value is None:
        value = [IN_DISTRIBUTION]
    if not isinstance(value, list) or not value:
        raise UsageError(
            f"{source}: regimes {value!r}; expected a list of regimes: {', '.join(REGIMES)}"
        )
    fam = get_family(family)
    try:
        priors = resolve_priors(fam, request.get("priors") or None)
        settings = SamplingSettings.for_family(
            fam, request.get("t_end"), request.get("dt"), request.get("dt_obs"),
            request.get("grid_points"),
        )  # fmt: skip
    except UsageError as error:
        raise UsageError(f"{source}: data: {error}") from None
    regimes: dict[str, Regime] = {IN_DISTRIBUTION: Regime(IN_DISTRIBUTION)}
    for item in value:
        name, options = _item(item, source)
        if name in regimes and name != IN_DISTRIBUTION:
            raise UsageError(f"{source}: regimes: {name!r} is listed twice")
        where = f"{source}: regimes: {name}"
        regimes[name] = _regime(name, options, fam, priors, settings, where)
    return tuple(regimes.values())


def _item(item: Any, source: str) -> tuple[str, dict[str, Any]]:
    """A list entry: ``NAME`` or ``{NAME: {options}}``; the name checked."""
    if isinstance(item, dict) and len(item) == 1:
        name, options = next(iter(item.items()))
    elif isinstance(item, str):
        name, options = item, None
    else:
        raise UsageError(
            f"{source}: regimes: {item!r}; expected a regime name or {{NAME: {{options}}}}"
        )
    if name not in REGIMES:
        raise UsageError(f"{source}: regimes: {unknown_name('regime', name, REGIMES)}")
    if options is None:
        options = {}
    allowed = ("beyond",) if name in _HELD_OUT else ()
    if not isinstance(options, dict) or any(k not in allowed for k in options):
        expected = "{beyond: [lo, hi]}" if allowed else "no options"
        raise UsageError(f"{source}: regimes: {name}: options {options!r}; expected {expected}")
    return str(name), dict(options)


def _regime(
    name: str,
    options: dict[str, Any],
    fam: Family,
    priors: Priors,
    settings: SamplingSettings,
    where: str,
) -> Regime:
    if name == IN_DISTRIBUTION:
        return Regime(name)
    if name == "resolution":
        if not fam.is_spatial:
            raise UsageError(
                f"{where}: family {fam.name!r} has no spatial grid (a scalar state); the "
                "resolution regime is for spatial families (reaction_diffusion)"
            )
        finer = round(RESOLUTION_FACTOR * settings.grid_points)
        return Regime(name, parts=(RegimePart("finer", priors, finer),))
    beyond = _beyond(options.get("beyond", list(DEFAULT_BEYOND)), where)
    if name == "held_out_delay":
        held = ["tau"]
        if priors["tau"][0] == priors["tau"][1]:
            raise UsageError(
                f"{where}: tau is fixed ({priors['tau'][0]:g}) in the training prior; a delay "
                "held out needs a range to lie beyond"
            )
    else:
        held = [p for p in fam.parameters if p != "tau" and priors[p][0] < priors[p][1]]
        if not held:
            fixed = ", ".join(f"{p}={priors[p][0]:g}" for p in fam.parameters if p != "tau")
            raise UsageError(
                f"{where}: every parameter but tau is fixed in the training priors ({fixed}); "
                "there is no range to hold out (drop held_out_params, or give priors)"
            )
    ranges = {p: _sides(p, priors[p], beyond, fam, where) for p in held}
    parts = []
    for side, other in (("above", "below"), ("below", "above")):
        if all(side not in r for r in ranges.values()):
            continue  # no parameter can go this way: the part would repeat the other
        held_out = {p: r[side] if side in r else r[other] for p, r in ranges.items()}
        part = RegimePart(side, {**priors, **held_out})
        try:
            settings.check_steps(part.priors)
        except UsageError as error:
            raise UsageError(f"{where} ({side}): {error}") from None
        parts.append(part)
    sides = {p: tuple(r) for p, r in ranges.items()}
    return Regime(name, beyond, tuple(parts), sides)


def _beyond(value: Any, where: str) -> tuple[float, float]:
    """``[a, b]`` with ``0 < a < b``: the held-out range's distance from the prior, in widths."""
    numbers = isinstance(value, list | tuple) and len(value) == 2 and all(
        isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v) for v in value
    )  # fmt: skip
    if not numbers or not 0 < value[0] < value[1]:
        raise UsageError(
            f"{where}: beyond {value!r}; expected [a, b] with 0 < a < b, fractions of the "
            "training prior's width (0 would overlap it, a = b is empty), e.g. [0.1, 0.3]"
        )
    return float(value[0]), float(value[1])


def _sides(
    name: str,
    prior: tuple[float, float],
    beyond: tuple[float, float],
    fam: Family,
    where: str,
) -> dict[str, tuple[float, float]]:
    """The held-out ranges of ``name`` above and below its prior that lie in the domain."""
    lo, hi = prior
    width = hi - lo
    a, b = beyond
    candidates = {
        side: (_clean(x), _clean(y))
        for side, (x, y) in {
            "above": (hi + a * width, hi + b * width), "below": (lo - b * width, lo - a * width),
        }.items()
    }  # fmt: skip
    bound = fam.bounds.get(name)
    inside = {
        side: (float(x), float(y)) for side, (x, y) in candidates.items()
        if bound is None or bool(bound.admits(x) and bound.admits(y))
    }  # fmt: skip
    if not inside:
        assert bound is not None
        shown = "; ".join(f"{s} [{x:.4g}, {y:.4g}]" for s, (x, y) in candidates.items())
        raise UsageError(
            f"{where}: {name} beyond {list(beyond)} of its prior [{lo:g}, {hi:g}] leaves the "
            f"family's domain on both sides ({shown}; {name} {bound.rule(name)}); choose a "
            "smaller beyond"
        )
    return inside


def _clean(value: float) -> float:
    """``value`` to 12 significant digits (0.1175, not 0.11750000000000001)."""
    return float(f"{value:.12g}")


def _part_seed(data_seed: int, regime: str, part: int) -> int:
    """Part ``part`` of ``regime``'s seed: its own stream of the data seed (see the module
    doc)."""
    sequence = np.random.SeedSequence([data_seed, _SEED_CODES[regime], part])
    return int(sequence.generate_state(1)[0])


def regime_request(regime: Regime, family: str, request: dict[str, Any], n: int) -> dict[str, Any]:
    """What regime ``regime``'s data are drawn from: ``n`` trajectories split over its parts,
    each with its priors, grid and seed, on the protocol's horizon and steps."""
    data_seed = int(request["seed"])
    counts = [
        n // len(regime.parts) + (k < n % len(regime.parts)) for k in range(len(regime.parts))
    ]
    return {
        "regime": regime.name,
        "family": family,
        "n": n,
        "data_seed": data_seed,
        **{k: request.get(k) for k in ("t_end", "dt", "dt_obs", "grid_points")},
        "parts": [
            {**part.to_dict(), "n": count, "seed": _part_seed(data_seed, regime.name, k)}
            for k, (part, count) in enumerate(zip(regime.parts, counts, strict=True))
        ],
    }


def regime_dataset(
    regime: Regime,
    family: str,
    request: dict[str, Any],
    main: Path,
    folder: Path,
    log: Log | None = None,
) -> Path:
    """Regime ``regime``'s test data in ``folder/data/``: as many trajectories as the test split
    of the protocol's dataset ``main`` (drawn from ``request``), generated once, then reused.

    Returns:
        The file; its ``test`` split holds every trajectory (train and val are empty).
    """
    n = len(read_dataset(main, check_values=False).splits["test"])
    drawn = regime_request(regime, family, request, n)
    digest = hashlib.sha256(json.dumps(drawn, sort_keys=True).encode()).hexdigest()[:10]
    path = (
        folder / DATA_FOLDER / f"{family}-{regime.name}-n{n}-seed{drawn['data_seed']}-{digest}.h5"
    )
    if path.is_file():
        return path
    make_folder(path.parent)
    if log is not None:
        log(f"generating {n} {family} trajectories of regime {regime.name} into {path}")
    fam = get_family(family)
    sets = []
    for part in drawn["parts"]:
        if part["n"] == 0:
            continue
        settings = SamplingSettings.for_family(
            fam, drawn["t_end"], drawn["dt"], drawn["dt_obs"],
            part["grid_points"] or drawn["grid_points"],
        )  # fmt: skip
        priors = {k: (float(v[0]), float(v[1])) for k, v in part["priors"].items()}
        sets.append(sample_trajectories(fam, part["n"], part["seed"], priors, settings))
    trajectories = sets[0] if len(sets) == 1 else TrajectorySet.concatenate(sets)
    provenance = {
        **drawn,
        "kind": "dno-benchmark-regime",
        "prior_distribution": "uniform within each part",
        "n_written": len(trajectories),
        "trajectories_rejected": trajectories.rejected,
        "trajectories_dropped": trajectories.dropped,
        "splits": "every trajectory in test",
        "dno_version": __version__,
    }
    write_dataset(
        path, fam.name, fam.parameters, trajectories,
        {"test": np.arange(len(trajectories))}, provenance,
    )  # fmt: skip
    return path
