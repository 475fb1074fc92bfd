"""Numbers in a space file and the numeric ranges Optuna searches, for both formats.

dno's ``type: float | int`` and W&B's ``int_uniform``, ``uniform`` and log-uniform forms are all
one :func:`numeric_range`: checked bounds, step and grid, an Optuna distribution and, where a
range has few enough values, the values a grid search visits.
"""

from __future__ import annotations

from typing import Any

from optuna.distributions import BaseDistribution, FloatDistribution, IntDistribution

from dno._limits import MAX_GRID_SIZE, is_number
from dno.errors import UsageError


def numeric_range(
    name: str, kind: str, low: float, high: float, log: bool, step: Any, grid: Any, where: str
) -> tuple[BaseDistribution, tuple[Any, ...] | None]:
    """Optuna's distribution of ``kind`` (``"int"`` or ``"float"``) on [low, high], and its grid.

    Args:
        name, where: the parameter and the file, for the errors.
        low, high: checked bounds (low < high), see :func:`bounds`.
        log: log-scaled (low > 0, no step).
        step: None or a positive step that divides the range (an integer for ``int``).
        grid: None or the explicit grid values, a list of numbers in [low, high]; None gives
            every value of an integer or stepped range of at most ``MAX_GRID_SIZE`` values.

    Returns:
        (distribution, grid): grid is None for a continuous or too large range.

    Raises:
        UsageError: one line naming the parameter and the bad setting.
    """
    if log and low <= 0:
        raise UsageError(f"{where}: parameter {name!r} is log-scaled but low={low} <= 0")
    if log and step is not None:
        raise UsageError(f"{where}: parameter {name!r}: Optuna cannot combine log and step")
    if grid is not None and (
        not isinstance(grid, list) or not grid or not all(map(is_number, grid))
    ):
        raise UsageError(f"{where}: parameter {name!r}: grid must be a non-empty list of numbers")
    if step is not None:
        whole = kind == "int"
        if not is_number(step) or step <= 0 or (whole and step != int(step)):
            expected = "a positive integer" if whole else "a positive number"
            raise UsageError(f"{where}: parameter {name!r} has step {step!r}; expected {expected}")
        count = (high - low) / step
        if abs(count - round(count)) > 1e-9 * max(1.0, abs(count)):
            raise UsageError(
                f"{where}: parameter {name!r}: step {step} does not divide the range "
                f"[{low}, {high}]"
            )
    implied = (high - low) / (step or 1) + 1  # values of a stepped range, made only if few
    if kind == "int":
        dist: BaseDistribution = IntDistribution(int(low), int(high), log=log, step=int(step or 1))
        if grid is None and not log and implied <= MAX_GRID_SIZE:
            grid = list(range(int(low), int(high) + 1, int(step or 1)))
    else:
        dist = FloatDistribution(float(low), float(high), log=log, step=step)
        if grid is None and step is not None and implied <= MAX_GRID_SIZE:
            count = round((high - low) / step)
            grid = [round(low + i * step, 12) for i in range(count + 1)]
    if grid is not None and any(not (low <= g <= high) for g in grid):
        raise UsageError(f"{where}: parameter {name!r} has grid values outside [{low}, {high}]")
    return dist, tuple(grid) if grid is not None else None


def bounds(name: str, low: Any, high: Any, where: str) -> tuple[float, float]:
    """``low`` and ``high`` as finite numbers with low < high, else one line saying which."""
    check_text(name, {"low": low, "high": high}, where)
    if not (is_number(low) and is_number(high)):
        raise UsageError(f"{where}: parameter {name!r} needs finite numeric low/min and high/max")
    if not low < high:
        raise UsageError(
            f"{where}: parameter {name!r} has an empty range [{low}, {high}]; expected low < high"
        )
    return low, high


def check_numbers(name: str, settings: dict[str, Any], where: str) -> None:
    """Every setting is given (None: missing) and a finite number; YAML text such as ``5e-4``
    is explained."""
    for key, value in settings.items():
        if value is None:
            raise UsageError(f"{where}: parameter {name!r} needs {key}")
        check_text(name, {key: value}, where)
        if not is_number(value):
            raise UsageError(f"{where}: parameter {name!r}: {key} {value!r}; expected a number")


def check_text(name: str, settings: dict[str, Any], where: str) -> None:
    """A number written so that YAML reads it as text (``5e-4``) is an error saying why and how."""
    for key, value in settings.items():
        if not isinstance(value, str):
            continue
        try:
            float(value)
        except ValueError:
            continue
        raise UsageError(
            f"{where}: parameter {name!r}: {key}: {value} is read as text, not a number: YAML "
            "(PyYAML, which W&B also uses) reads a number without a decimal point and a signed "
            f"exponent as a string; write {_yaml_float(value)} or !!float {value}"
        )


def _yaml_float(text: str) -> str:
    """``5e-4`` -> ``5.0e-4``, ``1e5`` -> ``1.0e+5``: what PyYAML reads as a float."""
    mantissa, _, exponent = text.lower().partition("e")
    if "." not in mantissa:
        mantissa += ".0"
    if exponent and exponent[0] not in "+-":
        exponent = "+" + exponent
    return f"{mantissa}e{exponent}" if exponent else mantissa
