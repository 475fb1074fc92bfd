"""The four DDE families: equations, parameter names, default priors and sampling defaults.

A family is data (a frozen dataclass), not a class hierarchy: the solver dispatches on
:attr:`Family.kernel` and :attr:`Family.code`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dno.errors import UsageError

__all__ = ["FAMILIES", "Family", "get_family"]


@dataclass(frozen=True)
class Family:
    """One DDE family and everything needed to draw and solve its trajectories.

    Attributes:
        name: the family's name on the command line (``mackey``, ...).
        equation: the equation in plain text, as in DESIGN.md.
        parameters: parameter names in the equation's own words, ``tau`` last.
        parameter_help: one line per parameter: its meaning.
        default_priors: ``name -> (lo, hi)``; ``lo == hi`` means the value is fixed.
        kernel: which solver kernel integrates it (``retarded``, ``neutral``,
            ``reaction_diffusion``).
        code: the right-hand side inside the ``retarded`` kernel (0 Mackey-Glass, 1 logistic).
        positive_history: initial histories must be positive (the equation needs it).
        history_level: range of the history's mean level (scaled by ``K`` for the logistic).
        history_amplitude: standard deviation of the history's smooth log- (or additive)
            perturbation.
        sampling: ``irregular`` (variable-length random observation times) or ``fixed``.
        t_end: default horizon of a trajectory.
        dt_obs: mean spacing of observations (irregular) or the fixed output step.
        dt: default solver step (the actual step divides each trajectory's tau).
        bound: a trajectory with ``|x| > bound`` is treated as blown up.
        grid_points: default number of interior spatial points (1 for scalar families).
        history_window: number of points of the stored initial history on ``[-tau, 0]``.
    """

    name: str
    equation: str
    parameters: tuple[str, ...]
    parameter_help: dict[str, str]
    default_priors: dict[str, tuple[float, float]]
    kernel: str
    code: int
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
    notes: str = field(default="")

    @property
    def is_spatial(self) -> bool:
        """Whether the state is a field on a spatial grid (reaction-diffusion)."""
        return self.kernel == "reaction_diffusion"

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


FAMILIES: dict[str, Family] = {
    "mackey": Family(
        name="mackey",
        equation="x' = beta x(t-tau) / (1 + x(t-tau)^n) - gamma x",
        parameters=("beta", "gamma", "n", "tau"),
        parameter_help={
            "beta": "production rate of the delayed feedback",
            "gamma": "decay rate",
            "n": "Hill exponent of the feedback (non-negative; x stays positive)",
            "tau": "delay; chaotic for tau > ~16.8 at beta=0.2, gamma=0.1, n=10",
        },
        default_priors={
            "beta": (0.2, 0.2),
            "gamma": (0.1, 0.1),
            "n": (10.0, 10.0),
            "tau": (17.0, 30.0),
        },
        kernel="retarded",
        code=0,
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
    "delayed_logistic": Family(
        name="delayed_logistic",
        equation="N' = r N (1 - N(t-tau) / K)   (Hutchinson)",
        parameters=("r", "K", "tau"),
        parameter_help={
            "r": "growth rate; r tau > pi/2 gives sustained oscillation",
            "K": "carrying capacity",
            "tau": "delay (maturation time)",
        },
        default_priors={"r": (1.0, 1.25), "K": (0.5, 2.0), "tau": (1.6, 2.0)},
        kernel="retarded",
        code=1,
        positive_history=True,
        history_level=(0.5, 1.2),
        history_amplitude=0.2,
        sampling="irregular",
        t_end=100.0,
        dt_obs=0.2,
        dt=0.005,
        bound=1e6,
        notes="Default priors keep r tau in [1.6, 2.5] > pi/2. Irregular times, mean spacing 0.2.",
    ),
    "neutral": Family(
        name="neutral",
        equation="x' = a x + b x(t-tau) + c x'(t-tau),  |c| < 1",
        parameters=("a", "b", "c", "tau"),
        parameter_help={
            "a": "instantaneous feedback",
            "b": "delayed feedback",
            "c": "neutral (delayed-derivative) coefficient, |c| < 1",
            "tau": "delay",
        },
        default_priors={
            "a": (-0.5, 0.0),
            "b": (-1.0, -0.4),
            "c": (-0.5, 0.5),
            "tau": (1.5, 3.0),
        },
        kernel="neutral",
        code=2,
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
    "reaction_diffusion": Family(
        name="reaction_diffusion",
        equation="u_t = D u_xx + r u (1 - u(t-tau)),  x in [0, 1], zero-flux (Neumann) ends",
        parameters=("D", "r", "tau"),
        parameter_help={
            "D": "diffusion coefficient",
            "r": "growth rate of the delayed logistic reaction",
            "tau": "delay",
        },
        default_priors={"D": (0.005, 0.05), "r": (0.8, 1.5), "tau": (1.0, 2.0)},
        kernel="reaction_diffusion",
        code=3,
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
}


def get_family(name: str) -> Family:
    """Return the family called ``name`` or raise a :class:`UsageError` listing the known ones."""
    try:
        return FAMILIES[name]
    except KeyError:
        known = ", ".join(sorted(FAMILIES))
        raise UsageError(f"unknown family {name!r}; expected one of: {known}") from None
