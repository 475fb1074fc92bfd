"""A family is one declaration: it checks itself, the kernels integrate its equation and no other,
and every declared family agrees with its own reference right-hand side."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable

import numpy as np
import pytest
from numba import njit
from numba.extending import register_jitable
from scipy.integrate import solve_ivp

import dno.dde as dde
from dno.dde import _kernels
from dno.errors import UsageError


def _inside(family: dde.Family) -> dict[str, float]:
    """A point inside the default priors (not the middle: the neutral c would be 0 there)."""
    return {name: lo + 0.3 * (hi - lo) for name, (lo, hi) in family.default_priors.items()}


def _history(family: dde.Family, params: dict[str, float]) -> tuple[Callable, Callable]:
    """A smooth history ``h(t)`` (shape (T,) or (T, X)) and its derivative."""
    level = family.history_level[1] * (params[family.history_scale] if family.history_scale else 1)
    if not family.is_spatial:
        return (
            lambda t: level * (1 + 0.2 * np.sin(np.asarray(t))),
            lambda t: level * 0.2 * np.cos(np.asarray(t)),
        )
    shape = np.cos(np.pi * dde.spatial_grid(family.grid_points))[None, :]
    return (
        lambda t: level * (1 + 0.3 * shape * np.cos(np.asarray(t))[..., None]),
        lambda t: -level * 0.3 * shape * np.sin(np.asarray(t))[..., None],
    )


def _reference_solution(
    family: dde.Family, params: dict[str, float], h: Callable, dh: Callable, t_out: np.ndarray
) -> np.ndarray:
    """The family's declared reference right-hand side by the method of steps with scipy's
    DOP853 at rtol 1e-12, one delay interval per call (breakpoints are interval ends).

    A neutral family's delayed slope is the equation's own right-hand side one delay back.
    """
    tau = params["tau"]
    lap = dde.neumann_laplacian(family.grid_points) if family.is_spatial else None
    neutral = family.kernel == "neutral"

    def f(x: np.ndarray, xd: np.ndarray, sd: np.ndarray) -> np.ndarray:
        if neutral:
            return np.asarray(family.reference(params, x, xd, sd))
        g = np.asarray(family.reference(params, x, xd))
        return params["D"] * lap @ x + g if lap is not None else g

    pieces: list[tuple[float, Callable]] = []

    def state(t: float) -> tuple[np.ndarray, np.ndarray]:
        if t <= 0:
            return np.atleast_1d(h(np.array([t]))[0]), np.atleast_1d(dh(np.array([t]))[0])
        for start, dense in reversed(pieces):
            if start <= t + 1e-12:
                x = dense(t)
                return x, (f(x, *state(t - tau)) if neutral else x)
        raise AssertionError(f"no piece covers t={t}")

    x0, start = state(0.0)[0], 0.0
    while start < t_out.max():
        end = min(start + tau, float(t_out.max()))
        sol = solve_ivp(
            lambda t, x: f(x, *state(t - tau)), (start, end), x0, "DOP853",
            rtol=1e-12, atol=1e-13, dense_output=True,
        )  # fmt: skip
        pieces.append((start, sol.sol))
        x0, start = sol.y[:, -1], end
    return np.array([state(float(t))[0] for t in t_out])


@pytest.mark.parametrize("name", sorted(dde.FAMILIES))
def test_every_family_matches_its_declared_reference(name: str) -> None:
    """The kernel's right-hand side against its second spelling over four delays."""
    family = dde.get_family(name)
    params = _inside(family)
    h, dh = _history(family, params)
    t_end = 4 * params["tau"]
    sol = dde.solve(name, params, h, t_end, t_end / 40, history_derivative=dh)
    ref = _reference_solution(family, params, h, dh, sol.t)
    assert np.max(np.abs(sol.y[0] - ref.reshape(sol.y[0].shape))) < 1e-6


@pytest.mark.parametrize("name", sorted(dde.FAMILIES))
def test_rhs_and_reference_agree_pointwise(name: str) -> None:
    family = dde.get_family(name)
    rng = np.random.default_rng(0)
    for _ in range(20):
        params = {k: rng.uniform(lo, hi) for k, (lo, hi) in family.default_priors.items()}
        row = np.array([params[k] for k in family.parameters[:-1]])
        args = rng.uniform(0.1, 2.0, size=len(_kernels.KERNELS[family.kernel].arguments) - 1)
        got = family.rhs(family.prepare(row), *args)
        assert math.isclose(got, family.reference(params, *args), rel_tol=1e-12, abs_tol=1e-14)


@register_jitable(inline="always")
def _growth(p: np.ndarray, x: float, x_delayed: float) -> float:
    return p[0] * x + p[1] * x_delayed


LINEAR = dataclasses.replace(
    dde.get_family("delayed_logistic"),
    name="linear",
    equation="x' = a x + b x(t-tau)",
    parameters=("a", "b", "tau"),
    parameter_help={"a": "growth", "b": "delayed feedback", "tau": "delay"},
    default_priors={"a": (-0.5, 0.5), "b": (-1.0, 0.0), "tau": (0.5, 1.5)},
    domain={},
    history_scale=None,
    rhs=_growth,
    reference=lambda p, x, xd: p["a"] * x + p["b"] * xd,
)


def test_a_declared_family_is_solved_by_its_own_equation(monkeypatch: pytest.MonkeyPatch) -> None:
    """A retarded family that is neither of the shipped two: x' = a x solves to e^{a t}.

    (Before, the retarded kernel integrated the delayed logistic equation for any code but 0.)
    """
    monkeypatch.setitem(dde.FAMILIES, "linear", LINEAR)
    sol = dde.solve("linear", {"a": 0.3, "b": 0.0, "tau": 1.0}, 1.0, 3.0, 0.5)
    np.testing.assert_allclose(sol.y[0, :, 0], np.exp(0.3 * sol.t), rtol=1e-9)
    logistic = dde.solve("delayed_logistic", {"r": 0.3, "K": 1.0, "tau": 1.0}, 1.0, 3.0, 0.5)
    assert np.max(np.abs(logistic.y - sol.y)) > 0.1


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"kernel": "retarded_v2"}, r"unknown kernel 'retarded_v2' \(did you mean 'retarded'\?\)"),
        ({"kernel": "neutral"}, r"rhs must take \(p, x, x_delayed, slope_delayed\)"),
        ({"rhs": njit(_growth)}, "rhs must be a plain function"),
        ({"reference": lambda p, x: x}, r"reference must take \(p, x, x_delayed\)"),
        ({"parameters": ("tau", "a", "b")}, "'tau' last"),
        ({"default_priors": {"a": (1.0, 0.0), "b": (0, 0), "tau": (1, 1)}}, "prior a=.* empty"),
        ({"default_priors": {"a": (0, 0), "b": (0, 0), "tau": (-1, 1)}}, r"\(tau > 0\)"),
        ({"domain": {"zz": dde.Bound(lo=0.0)}}, r"domain names \['zz'\]"),
        ({"history_scale": "K"}, "history_scale 'K' is not a parameter"),
        ({"grid_points": 20}, "grid_points=20; a scalar family has 1"),
        ({"kernel": "reaction_diffusion"}, "diffusion coefficient 'D' first"),
        ({"sampling": "random"}, "sampling 'random'; expected one of: irregular, fixed"),
    ],
)
def test_a_declaration_checks_itself(change: dict, match: str) -> None:
    with pytest.raises(ValueError, match=r"family 'linear': .*" + match):
        dataclasses.replace(LINEAR, **change)


def test_an_unknown_kernel_is_refused_before_any_compilation() -> None:
    with pytest.raises(ValueError, match="unknown kernel 'lorenz'; expected one of: retarded"):
        _kernels.compiled("lorenz", _growth)


def test_unknown_family_names_the_closest_one() -> None:
    with pytest.raises(UsageError, match=r"unknown family 'mackay' \(did you mean 'mackey'\?\)"):
        dde.get_family("mackay")


def test_domains_in_words() -> None:
    assert dde.Bound(lo=0.0).rule("tau") == "must be positive (tau > 0)"
    assert dde.Bound(lo=0.0, closed=True).rule("D") == "must be non-negative (D >= 0)"
    assert dde.Bound(lo=-1.0, hi=1.0).rule("c") == "must lie inside (-1, 1): |c| < 1"
    assert dde.Bound(lo=2.0).rule("n") == "must satisfy n > 2"
    assert dde.Bound(lo=0.0, hi=2.0, closed=True).rule("x") == "must satisfy 0 <= x <= 2"
    assert not dde.Bound(lo=0.0).admits(float("nan"))


@pytest.mark.parametrize(
    ("family", "params", "match"),
    [
        ("delayed_logistic", {"r": 1.0, "K": [1.0, -2.0], "tau": 1.0}, r"K must be .*got -2"),
        ("reaction_diffusion", {"D": -0.1, "r": 1.0, "tau": 1.0}, r"\(D >= 0\), got -0.1"),
        ("mackey", {"tau": 17.0, "n": -1.0}, r"\(n >= 0\), got -1"),
    ],
)
def test_solve_refuses_values_outside_the_declared_domain(
    family: str, params: dict, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        dde.solve(family, params, 1.0, 2.0, 1.0)


def test_each_right_hand_side_gets_a_kernel_of_its_own_name() -> None:
    """numba links machine code by name (qualified name, argument types and a counter that
    starts anew in each process): two families' kernels compiled in two processes and loaded
    from the disk cache into a third must not share a name, or one is linked for the other."""
    logistic = dde.get_family("delayed_logistic")
    ours = _kernels.compiled("retarded", _growth)
    theirs = _kernels.compiled("retarded", logistic.rhs, logistic.prepare)
    assert ours is not theirs
    assert ours.py_func.__qualname__ != theirs.py_func.__qualname__
    assert ours is _kernels.compiled("retarded", _growth)  # built once per process
