"""Parameter priors: parsing ``name=lo:hi`` overrides, validation, and sampling."""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping

import numpy as np

from dno.dde._families import Family
from dno.errors import UsageError

__all__ = ["Priors", "parse_prior", "resolve_priors", "sample_parameters"]

#: ``name -> (lo, hi)``; ``lo == hi`` is a fixed value. Values are drawn uniformly.
Priors = dict[str, tuple[float, float]]


def parse_prior(text: str) -> tuple[str, tuple[float, float]]:
    """Parse one ``--prior`` override: ``name=lo:hi`` (a range) or ``name=value`` (fixed).

    Args:
        text: e.g. ``"tau=0.1:0.2"`` or ``"beta=0.2"``.

    Returns:
        ``(name, (lo, hi))``.

    Raises:
        UsageError: malformed text, a non-number, or an empty (``lo == hi``) or inverted range.
    """
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or not name or not value.strip():
        raise UsageError(f"prior {text!r} is malformed; expected name=lo:hi or name=value")
    parts = value.split(":")
    if len(parts) > 2:
        raise UsageError(f"prior {text!r} is malformed; expected name=lo:hi or name=value")
    try:
        numbers = [float(part) for part in parts]
    except ValueError:
        raise UsageError(f"prior {text!r} has a value that is not a number") from None
    if not all(math.isfinite(x) for x in numbers):
        raise UsageError(f"prior {text!r} has a non-finite bound")
    if len(numbers) == 1:
        return name, (numbers[0], numbers[0])
    lo, hi = numbers
    if lo == hi:
        raise UsageError(
            f"prior {text!r} is an empty range (lo == hi); write {name}={lo:g} for a fixed value"
        )
    if lo > hi:
        raise UsageError(f"prior {text!r} is inverted (lo > hi); expected {name}={hi:g}:{lo:g}")
    return name, (lo, hi)


def resolve_priors(
    family: Family,
    overrides: Mapping[str, tuple[float, float]] | Iterable[str] | None = None,
) -> Priors:
    """Merge ``overrides`` into the family's default priors and check them against the equation.

    Args:
        family: the DDE family.
        overrides: ``name -> (lo, hi)`` or ``name -> value``, or strings ``"name=lo:hi"``.

    Returns:
        The complete priors, one ``(lo, hi)`` per parameter of the family.

    Raises:
        UsageError: an unknown parameter name, or a range the equation does not allow.
    """
    priors: Priors = dict(family.default_priors)
    items: list[tuple[str, tuple[float, float]]] = []
    if overrides is None:
        pass
    elif isinstance(overrides, Mapping):
        for name, value in overrides.items():
            lo, hi = (value, value) if np.isscalar(value) else tuple(value)
            text = f"{name}={lo}" if lo == hi else f"{name}={lo}:{hi}"
            items.append(parse_prior(text))
    else:
        items = [parse_prior(text) for text in overrides]
    for name, bounds in items:
        if name not in priors:
            known = ", ".join(family.parameters)
            raise UsageError(
                f"family {family.name!r} has no parameter {name!r}; expected one of: {known}"
            )
        priors[name] = bounds
    _check_domain(family, priors)
    return priors


def _check_domain(family: Family, priors: Priors) -> None:
    """Raise :class:`UsageError` where a prior leaves the equation's valid domain."""
    for name, bound in family.bounds.items():
        lo, hi = priors[name]
        if not (bound.admits(lo) and bound.admits(hi)):
            raise UsageError(f"prior {name}={_fmt(priors[name])} {bound.rule(name)}")


def _fmt(bounds: tuple[float, float]) -> str:
    lo, hi = bounds
    return f"{lo:g}" if lo == hi else f"{lo:g}:{hi:g}"


def sample_parameters(
    family: Family, priors: Priors, n: int, rng: np.random.Generator
) -> dict[str, np.ndarray]:
    """Draw ``n`` parameter sets uniformly from ``priors``.

    Returns:
        ``name -> array of shape (n,)`` for every parameter of the family, in the family's order.
    """
    draws = {}
    for name in family.parameters:
        lo, hi = priors[name]
        draws[name] = rng.uniform(lo, hi, size=n) if hi > lo else np.full(n, lo, dtype=np.float64)
    return draws
