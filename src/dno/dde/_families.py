"""The DDE families: one declaration each, everything else reads it.

A family is data (a frozen :class:`Family` that checks itself when it is made), as a Butcher
tableau is in jax-cfd: its equation in plain text, its parameters with their meaning, default
priors and valid domain, the kernel that integrates it and its right-hand side there, how its
random histories look, its sampling defaults and a reference right-hand side for verification.
The solver, the priors, the sampler, the dataset files and the command line ask the declaration;
none of them names a family.

A new family is one more entry of :data:`FAMILIES` (with its right-hand side beside it), a test
and a benchmark protocol (``configs/benchmarks/NAME.yaml``). The shipped families are tabled in
README.md ("Families") and listed with their priors by ``dno generate --help``.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypedDict

import numpy as np
from numba.extending import register_jitable

from dno.dde._kernels import KERNELS, Prepare, RightHandSide, as_given
from dno.errors import unknown_name

__all__ = ["FAMILIES", "Bound", "Family", "get_family"]

SAMPLINGS = ("irregular", "fixed")


@dataclass(frozen=True)
class Bound:
    """Where a parameter must lie for its equation: ``lo < value < hi`` (``<=`` if closed)."""

    lo: float = -math.inf
    hi: float = math.inf
    closed: bool = False

    def admits(self, values: Any) -> np.ndarray:
        """Whether each value lies in the bound (NaN never does); same shape as ``values``."""
        v = np.asarray(values, dtype=np.float64)
        if self.closed:
            return (self.lo <= v) & (v <= self.hi)
        return (self.lo < v) & (v < self.hi)

    def rule(self, name: str) -> str:
        """The rule in words, after a subject: ``must be positive (tau > 0)``."""
        if self.hi == math.inf and self.lo == 0:
            return (
                f"must be non-negative ({name} >= 0)"
                if self.closed
                else f"must be positive ({name} > 0)"
            )
        lt = "<=" if self.closed else "<"
        if self.hi == math.inf:
            return f"must satisfy {name} {'>=' if self.closed else '>'} {self.lo:g}"
        if self.lo == -self.hi:
            return f"must lie inside ({self.lo:g}, {self.hi:g}): |{name}| {lt} {self.hi:g}"
        return f"must satisfy {self.lo:g} {lt} {name} {lt} {self.hi:g}"


#: Every family's delay is positive (its last parameter, ``tau``).
DELAY = Bound(lo=0.0)


@dataclass(frozen=True)
class Family:
    """One DDE family and everything needed to draw, solve and verify its trajectories.

    Attributes:
        name: the family's name on the command line (``mackey``, ...).
        equation: the equation in plain text (as in README.md's table of families).
        parameters: parameter names in the equation's own words, ``tau`` last.
        parameter_help: one line per parameter: its meaning.
        default_priors: ``name -> (lo, hi)``; ``lo == hi`` means the value is fixed.
        kernel: which kernel of :data:`dno.dde._kernels.KERNELS` integrates it (``retarded``,
            ``neutral``, ``reaction_diffusion``).
        rhs: the right-hand side in that kernel, a ``register_jitable`` function of the
            kernel's arguments; its ``p`` holds the parameters but ``tau``, in order, shape (P,),
            or what ``prepare`` makes of them.
        reference: the same right-hand side written independently, over a mapping
            ``name -> value`` and plain numbers, arrays or symbols: what tests (scipy) and
            ``benchmarks/bench_generate.py`` (jitcdde) verify the kernel against.
        positive_history: initial histories must be positive (the equation needs it).
        history_level: range of the history's mean level (times ``history_scale``).
        history_amplitude: standard deviation of the history's smooth log- (or additive)
            perturbation.
        sampling: ``irregular`` (variable-length random observation times) or ``fixed``.
        t_end: default horizon of a trajectory.
        dt_obs: mean spacing of observations (irregular) or the fixed output step.
        dt: default solver step (the actual step divides each trajectory's tau).
        bound: a trajectory with ``|x| > bound`` is treated as blown up.
        grid_points: default number of interior spatial points (1 for scalar families).
        history_window: number of points of the stored initial history on ``[-tau, 0]``.
        domain: ``name -> Bound``: where a parameter (its prior and its values) must lie;
            ``tau > 0`` always holds.
        prepare: once per trajectory, its parameters but ``tau`` (shape (P,)) -> the ``rhs``'s
            ``p`` (a ``register_jitable`` function; default: the row as given).
        history_scale: the parameter that multiplies the history's level (the logistic's
            carrying capacity ``K``), or None.
        reference_horizon: the time up to which a trajectory is compared pointwise with the
            reference (a chaotic family's trajectories part after a while however exact).
        notes: one more line for ``--help``.
    """

    name: str
    equation: str
    parameters: tuple[str, ...]
    parameter_help: dict[str, str]
    default_priors: dict[str, tuple[float, float]]
    kernel: str
    rhs: RightHandSide
    reference: Callable[..., Any]
    positive_history: bool
    history_level: tuple[float, float]
    history_amplitude: float
    sampling: str
    t_end: float
    dt_obs: float
    dt: float
    bound: float
    grid_points: int = 1
    history_window: int = 101
    domain: dict[str, Bound] = field(default_factory=dict)
    prepare: Prepare = as_given
    history_scale: str | None = None
    reference_horizon: float = math.inf
    notes: str = field(default="")

    def __post_init__(self) -> None:
        """Check the declaration once, when it is made (a mistake here is dno's, not a user's).

        Raises:
            ValueError: naming the family, the field and what was expected.
        """
        problems = list(self._problems())
        if problems:
            raise ValueError(f"family {self.name!r}: " + "; ".join(problems))

    def _problems(self) -> Iterator[str]:
        names = self.parameters
        if not names or names[-1] != "tau" or len(set(names)) != len(names):
            yield f"parameters {names} must be distinct names with 'tau' last"
        for what, keys in (
            ("parameter_help", self.parameter_help),
            ("default_priors", self.default_priors),
        ):
            if set(keys) != set(names):
                yield f"{what} has {sorted(keys)}; expected one entry per parameter {names}"
        if not set(self.domain) <= set(names):
            yield f"domain names {sorted(set(self.domain) - set(names))}, not parameters"
        for name, (lo, hi) in self.default_priors.items():
            bound = self.bounds.get(name, Bound())
            if not (lo <= hi and bound.admits(lo) and bound.admits(hi)):
                yield f"default prior {name}=({lo:g}, {hi:g}) is empty or outside: {name} " + (
                    bound.rule(name)
                )
        if self.kernel not in KERNELS:
            yield str(unknown_name("kernel", self.kernel, KERNELS))
            return
        kernel = KERNELS[self.kernel]
        functions = {"rhs": self.rhs, "reference": self.reference, "prepare": self.prepare}
        for what, function in functions.items():
            expected = ("row",) if what == "prepare" else kernel.arguments
            if not inspect.isfunction(function):
                yield f"{what} must be a plain function (register_jitable), not {function!r}"
            elif len(inspect.signature(function).parameters) != len(expected):
                yield f"{what} must take ({', '.join(expected)}) for the {kernel.name} kernel"
        if kernel.spatial and (names[0] != "D" or self.grid_points < 2):
            yield "a field needs the diffusion coefficient 'D' first and grid_points >= 2"
        if not kernel.spatial and self.grid_points != 1:
            yield f"grid_points={self.grid_points}; a scalar family has 1"
        if self.sampling not in SAMPLINGS:
            yield f"sampling {self.sampling!r}; expected one of: {', '.join(SAMPLINGS)}"
        if self.history_scale is not None and self.history_scale not in names:
            yield f"history_scale {self.history_scale!r} is not a parameter"
        steps = {"t_end": self.t_end, "dt_obs": self.dt_obs, "dt": self.dt, "bound": self.bound}
        if not all(value > 0 for value in steps.values()) or self.dt_obs > self.t_end:
            yield f"{steps} must be positive with dt_obs <= t_end"

    @property
    def bounds(self) -> dict[str, Bound]:
        """``name -> Bound`` for every constrained parameter, ``tau`` first."""
        return {"tau": DELAY, **self.domain}

    @property
    def is_spatial(self) -> bool:
        """Whether the state is a field on a spatial grid (reaction-diffusion)."""
        return KERNELS[self.kernel].spatial

    def describe(self) -> str:
        """A few lines for ``--help`` and ``dno data info``: equation, parameters, priors."""
        lines = [f"{self.name}: {self.equation}"]
        for name in self.parameters:
            lo, hi = self.default_priors[name]
            prior = f"{lo:g}" if lo == hi else f"[{lo:g}, {hi:g}]"
            lines.append(f"  {name:<6} {prior:<16} {self.parameter_help[name]}")
        if self.notes:
            lines.append(f"  {self.notes}")
        return "\n".join(lines)


# The right-hand sides, in the kernels' arguments (see dno.dde._kernels.KERNELS).


@register_jitable(inline="always")
def _hill_power(x: float, n: float, whole: int) -> float:
    """``x ** n``, by repeated squaring if ``whole >= 0`` (``n`` is that whole number).

    pow() dominates Mackey-Glass' right-hand side otherwise (the default n = 10 is whole).
    """
    if whole < 0:
        return x**n
    result = 1.0
    base = x
    k = whole
    while k > 0:
        if k & 1:
            result *= base
        base *= base
        k >>= 1
    return result


@register_jitable(inline="always")
def _mackey_glass_prepare(row: np.ndarray) -> tuple[float, float, float, int]:
    """``(beta, gamma, n, whole)``, ``whole`` the Hill exponent if it is a whole number in
    [0, 64] (then :func:`_hill_power` squares instead of calling pow()), else -1.

    Found once per trajectory and held in registers: 2000 default trajectories take 0.30 s of
    one core (``NUMBA_NUM_THREADS=1``), 0.33 s when ``n`` is tested at every call.
    """
    n = row[2]
    whole = int(n) if n == np.floor(n) and 0.0 <= n <= 64.0 else -1
    return (row[0], row[1], n, whole)


@register_jitable(inline="always")
def _mackey_glass(p: tuple[float, float, float, int], x: float, x_delayed: float) -> float:
    return p[0] * x_delayed / (1.0 + _hill_power(x_delayed, p[2], p[3])) - p[1] * x


@register_jitable(inline="always")
def _hutchinson(p: np.ndarray, x: float, x_delayed: float) -> float:
    return p[0] * x * (1.0 - x_delayed / p[1])


@register_jitable(inline="always")
def _linear_neutral(p: np.ndarray, x: float, x_delayed: float, slope_delayed: float) -> float:
    return p[0] * x + p[1] * x_delayed + p[2] * slope_delayed


@register_jitable(inline="always")
def _delayed_logistic_reaction(p: np.ndarray, u: float, u_delayed: float) -> float:
    return p[1] * u * (1.0 - u_delayed)


def _declare(*families: Family) -> dict[str, Family]:
    return {family.name: family for family in families}


class _ParameterFields(TypedDict):
    parameters: tuple[str, ...]
    parameter_help: dict[str, str]
    default_priors: dict[str, tuple[float, float]]
    domain: dict[str, Bound]


#: One parameter: its name, default prior ``(lo, hi)``, meaning and, if it must lie in less
#: than the real line, its :class:`Bound` (``tau > 0`` always holds).
_Row = tuple[str, tuple[float, float], str] | tuple[str, tuple[float, float], str, Bound]


def _parameters(*rows: _Row) -> _ParameterFields:
    """The :class:`Family` fields that name its parameters (``parameters``, ``parameter_help``,
    ``default_priors``, ``domain``) from one row per parameter, ``tau`` last, as ``--help``
    shows them: each parameter is spelled once."""
    return {
        "parameters": tuple(row[0] for row in rows),
        "parameter_help": {row[0]: row[2] for row in rows},
        "default_priors": {row[0]: row[1] for row in rows},
        "domain": {row[0]: row[3] for row in rows if len(row) == 4},
    }


FAMILIES: dict[str, Family] = _declare(
    Family(
        name="mackey",
        equation="x' = beta x(t-tau) / (1 + x(t-tau)^n) - gamma x",
        **_parameters(
            ("beta", (0.2, 0.2), "production rate of the delayed feedback"),
            ("gamma", (0.1, 0.1), "decay rate"),
            (
                "n",
                (10.0, 10.0),
                "Hill exponent of the feedback (non-negative; x stays positive)",
                Bound(lo=0.0, closed=True),
            ),
            ("tau", (17.0, 30.0), "delay; chaotic for tau > ~16.8 at beta=0.2, gamma=0.1, n=10"),
        ),
        kernel="retarded",
        rhs=_mackey_glass,
        prepare=_mackey_glass_prepare,
        reference=lambda p, x, xd: p["beta"] * xd / (1 + xd ** p["n"]) - p["gamma"] * x,
        reference_horizon=200.0,
        positive_history=True,
        history_level=(0.5, 1.3),
        history_amplitude=0.2,
        sampling="irregular",
        t_end=500.0,
        dt_obs=1.0,
        dt=0.1,
        bound=1e3,
        notes="Observed at irregular times (mean spacing 1.0) on [0, 500].",
    ),
    Family(
        name="delayed_logistic",
        equation="N' = r N (1 - N(t-tau) / K)   (Hutchinson)",
        **_parameters(
            ("r", (1.0, 1.25), "growth rate; r tau > pi/2 gives sustained oscillation"),
            ("K", (0.5, 2.0), "carrying capacity", Bound(lo=0.0)),
            ("tau", (1.6, 2.0), "delay (maturation time)"),
        ),
        kernel="retarded",
        rhs=_hutchinson,
        reference=lambda p, x, xd: p["r"] * x * (1 - xd / p["K"]),
        positive_history=True,
        history_level=(0.5, 1.2),
        history_scale="K",
        history_amplitude=0.2,
        sampling="irregular",
        t_end=100.0,
        dt_obs=0.2,
        dt=0.005,
        bound=1e6,
        notes="Default priors keep r tau in [1.6, 2.5] > pi/2. Irregular times, mean spacing 0.2.",
    ),
    Family(
        name="neutral",
        equation="x' = a x + b x(t-tau) + c x'(t-tau),  |c| < 1",
        **_parameters(
            ("a", (-0.5, 0.0), "instantaneous feedback"),
            ("b", (-1.0, -0.4), "delayed feedback"),
            (
                "c",
                (-0.5, 0.5),
                "neutral (delayed-derivative) coefficient, |c| < 1",
                Bound(lo=-1.0, hi=1.0),
            ),
            ("tau", (1.5, 3.0), "delay"),
        ),
        kernel="neutral",
        rhs=_linear_neutral,
        reference=lambda p, x, xd, dxd: p["a"] * x + p["b"] * xd + p["c"] * dxd,
        positive_history=False,
        history_level=(-1.0, 1.0),
        history_amplitude=0.5,
        sampling="fixed",
        t_end=25.0,
        dt_obs=0.05,
        dt=0.02,
        bound=1e6,
        notes="500 fixed steps of 0.05. Derivative jumps at t = k tau are kept (not smoothed).",
    ),
    Family(
        name="reaction_diffusion",
        equation="u_t = D u_xx + r u (1 - u(t-tau)),  x in [0, 1], zero-flux (Neumann) ends",
        **_parameters(
            ("D", (0.005, 0.05), "diffusion coefficient", Bound(lo=0.0, closed=True)),
            ("r", (0.8, 1.5), "growth rate of the delayed logistic reaction"),
            ("tau", (1.0, 2.0), "delay"),
        ),
        kernel="reaction_diffusion",
        rhs=_delayed_logistic_reaction,
        reference=lambda p, u, ud: p["r"] * u * (1 - ud),
        positive_history=True,
        history_level=(0.6, 1.4),
        history_amplitude=0.3,
        sampling="fixed",
        t_end=50.0,
        dt_obs=0.1,
        dt=0.01,
        grid_points=20,
        bound=1e6,
        notes=(
            "Method of lines on cell centres x_i = (i - 1/2)/X, i = 1..X (X = 20 by default); "
            "500 fixed steps of 0.1; diffusion integrated exactly (integrating factor)."
        ),
    ),
)


def get_family(name: str) -> Family:
    """Return the family called ``name``.

    Raises:
        UsageError: an unknown name, with the known ones and the closest match.
    """
    try:
        return FAMILIES[name]
    except KeyError:
        raise unknown_name("family", name, FAMILIES) from None
