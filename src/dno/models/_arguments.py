"""The models' constructor arguments, declared once: defaults, checks and meanings.

Every model takes the data dimensions (S, X, channels, cond_dim) and the common arguments (width,
layers, dropout, spectral_norm, output_scale); most take ``m`` and one or two mode counts. A model
declares only what differs (:func:`declare`): which of ``m``, ``modes_theta`` and ``modes_x`` it
takes, another default, its own arguments. The declaration is the model's signature: the registry
reads the accepted keys from it, :func:`resolve` checks a config against it (one line naming a bad
value) and the class docstring lists it.

Order, the same for every model (the recorded ``model.config`` follows it): S, X, channels,
cond_dim, m, width, modes_theta, modes_x, layers, the model's own arguments, dropout,
spectral_norm, output_scale. Checks run in the order of :data:`COMMON` first, then the rest in
declaration order, so a config with several bad values names the same one whatever the model.
"""

from __future__ import annotations

import dataclasses
import math
import numbers
import operator
from collections.abc import Callable, Mapping
from typing import Any

from dno.errors import UsageError

__all__ = [
    "COMMON",
    "Argument",
    "check_int",
    "declare",
    "describe",
    "modes",
    "new_slices",
    "resolve",
]

#: ``check(name, value, dims) -> value``: the value to record (a default resolved on the data
#: dimensions ``dims``, already checked: S, X, channels, cond_dim), or a UsageError naming it.
Check = Callable[[str, Any, Mapping[str, Any]], Any]


@dataclasses.dataclass(frozen=True)
class Argument:
    """One constructor argument: its default, how a value is checked, what it means.

    Args:
        default: the value when the config does not give one (None: resolved by ``check``).
        check: see :data:`Check`.
        help: its meaning, one line (with the rule of a None default).
        required: a data dimension; a config without it is an error.
    """

    default: Any
    check: Check
    help: str
    required: bool = False


def check_int(name: str, value: object, minimum: int = 1) -> int:
    """``value`` as an int ``>= minimum`` (bools refused), else a UsageError naming it."""
    if isinstance(value, bool):
        raise UsageError(f"{name} must be an int >= {minimum}, got {value!r}")
    try:
        number = operator.index(value)  # type: ignore[arg-type]
    except TypeError:
        raise UsageError(f"{name} must be an int >= {minimum}, got {value!r}") from None
    if number < minimum:
        raise UsageError(f"{name} must be an int >= {minimum}, got {number}")
    return int(number)


def check_float(name: str, value: object, low: float, high: float | None = None) -> float:
    """A real number in ``[low, high)`` (``[low, inf)`` without ``high``)."""
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    number = float(value) if ok else math.nan  # type: ignore[arg-type]
    inside = low <= number and (high is None or number < high)
    if not inside:
        wanted = f"in [{low}, {high})" if high is not None else f">= {low}"
        raise UsageError(f"{name} must be a number {wanted}, got {value!r}")
    return number


def positive(name: str, value: object, dims: Mapping[str, Any]) -> int:
    """An int >= 1 (the :data:`Check` of a count: width, layers, basis, ...)."""
    return check_int(name, value)


def _fraction(name: str, value: object, dims: Mapping[str, Any]) -> float:
    return check_float(name, value, 0.0, 1.0)


def _bound(name: str, value: object, dims: Mapping[str, Any]) -> float | None:
    """The spectral-norm bound: None (off) or a positive number."""
    if value is None:
        return None
    real = isinstance(value, numbers.Real) and not isinstance(value, bool)
    bound = float(value) if real else math.nan  # type: ignore[arg-type]
    if not (math.isfinite(bound) and bound > 0.0):
        raise UsageError(f"{name} must be a positive number or None, got {value!r}")
    return bound


def _flag(name: str, value: object, dims: Mapping[str, Any]) -> bool:
    if not isinstance(value, bool):
        raise UsageError(f"{name} must be true or false, got {value!r}")
    return value


def _dimension(help: str, minimum: int = 1) -> Argument:
    def check(name: str, value: object, dims: Mapping[str, Any]) -> int:
        return check_int(name, value, minimum)

    return Argument(None, check, help, required=True)


#: Every model's arguments, in the order they are checked.
COMMON: dict[str, Argument] = {
    "S": _dimension("points on the history window's θ-grid", minimum=2),
    "X": _dimension("spatial points"),
    "channels": _dimension("channels C of the state"),
    "cond_dim": _dimension("length P of the conditioning vector"),
    "width": Argument(32, positive, "hidden channels (or hidden size)"),
    "layers": Argument(3, positive, "Fourier layers (or hidden layers)"),
    "dropout": Argument(0.0, _fraction, "dropout probability"),
    "spectral_norm": Argument(None, _bound, "Lipschitz bound of every linear map; default None"),
    "output_scale": Argument(False, _flag, "learn a per-channel output scale"),
}


def modes(axis: str, default: int) -> Argument:
    """Frequencies kept on the axis of ``axis`` points (S or X): at most ``n // 2 + 1``."""

    def check(name: str, value: object, dims: Mapping[str, Any]) -> int:
        n = dims[axis]
        if value is None:
            return min(default, n // 2 + 1)
        kept = check_int(name, value)
        if kept > n // 2 + 1:
            raise UsageError(f"{name}={kept} exceeds {axis}={n} (at most {axis}//2+1={n // 2 + 1})")
        return kept

    what = "θ" if axis == "S" else "x"
    rule = f"at most {axis}//2+1; default min({default}, {axis}//2+1)"
    return Argument(None, check, f"{what}-frequencies kept, {rule}")


def new_slices(
    default: Callable[[int], int] = lambda S: S, default_help: str = "S", below_s: bool = False
) -> Argument:
    """``m``, the new slices per step: ``1 <= m <= S`` (``m < S`` if ``below_s``)."""
    need = "1 <= m < S" if below_s else "1 <= m <= S"

    def check(name: str, value: object, dims: Mapping[str, Any]) -> int:
        S = dims["S"]
        if value is None:
            return default(S)
        m = check_int(name, value)
        if m > S or (below_s and m == S):
            raise UsageError(f"{name}={m} is out of range: need {need}={S}")
        return m

    return Argument(None, check, f"new slices per step, ``{need}``; default {default_help}")


#: ``m`` of a model whose step predicts a whole window by default.
M_WINDOW = new_slices()
#: The θ-modes and x-modes of a Fourier layer.
MODES_THETA = modes("S", 16)
MODES_X = modes("X", 8)

_BEFORE = ("S", "X", "channels", "cond_dim", "m", "width", "modes_theta", "modes_x", "layers")
_AFTER = ("dropout", "spectral_norm", "output_scale")


def declare(**arguments: Any) -> dict[str, Argument]:
    """A model's arguments: :data:`COMMON` with ``arguments`` in their places (see the module).

    ``arguments`` maps a name to an :class:`Argument` (``m``, a mode count, the model's own), or
    a common argument's name to another default (``width=64``).

    Example:
        >>> list(declare(m=M_WINDOW, modes_x=MODES_X, width=64))[4:]
        ['m', 'width', 'modes_x', 'layers', 'dropout', 'spectral_norm', 'output_scale']
    """
    given = dict(COMMON)
    for name, value in arguments.items():
        if isinstance(value, Argument):
            given[name] = value
        elif name in COMMON:
            given[name] = dataclasses.replace(COMMON[name], default=value)
        else:
            raise TypeError(f"{name}={value!r}: give an Argument for a model's own argument")
    own = [name for name in given if name not in _BEFORE and name not in _AFTER]
    order = [*_BEFORE, *own, *_AFTER]
    return {name: given[name] for name in order if name in given}


def resolve(
    model: str, declared: Mapping[str, Argument], config: Mapping[str, Any]
) -> dict[str, Any]:
    """The checked, resolved arguments of model ``model``, in declaration order.

    Raises:
        UsageError: a key the model does not use, a missing data dimension, or a bad value; one
            line naming it.
    """
    unknown = [key for key in config if key not in declared]
    if unknown:
        keys = ", ".join(repr(k) for k in unknown)
        plural = "s" if len(unknown) > 1 else ""
        raise UsageError(
            f"model {model!r} does not use config key{plural} {keys}; "
            f"accepted keys: {', '.join(declared)}"
        )
    missing = [k for k, a in declared.items() if a.required and k not in config]
    if missing:
        described = ", ".join(f"{key} ({declared[key].help})" for key in missing)
        raise UsageError(f"model {model!r} needs {described}")
    resolved: dict[str, Any] = {}
    for name in [*(k for k in COMMON if k in declared), *declared]:
        if name not in resolved:
            argument = declared[name]
            resolved[name] = argument.check(name, config.get(name, argument.default), resolved)
    return {name: resolved[name] for name in declared}


def describe(declared: Mapping[str, Argument]) -> str:
    """The ``Args:`` section of a model's docstring, one line per argument."""
    lines = ["Args:"]
    for name, argument in declared.items():
        if argument.required:
            tail = " (required)"
        elif argument.default is None:
            tail = ""
        else:
            tail = f"; default {argument.default!r}"
        lines.append(f"    {name}: {argument.help}{tail}.")
    return "\n".join(lines)
