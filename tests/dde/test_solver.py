"""The solver against exact solutions and an independent tight-tolerance solver."""

from __future__ import annotations

import numpy as np
import pytest
from numpy.polynomial import Polynomial

import dno.dde as dde
from dno.errors import DnoError, UsageError
from reference_solver import method_of_steps


def exact_neutral_constant_history(b: float, c: float, tau: float, t: np.ndarray) -> np.ndarray:
    """``x' = b x(t-tau) + c x'(t-tau)``, ``x = 1`` on ``[-tau, 0]``: piecewise polynomial.

    On the k-th interval ``x(k tau + s) = p_k(s)`` with ``p_k' = b p_{k-1} + c p_{k-1}'``.
    """
    pieces = [Polynomial([1.0])]  # the history
    for _ in range(int(np.ceil(t.max() / tau)) + 1):
        prev = pieces[-1]
        slope = b * prev + c * prev.deriv()
        start = prev(tau) if len(pieces) > 1 else 1.0
        pieces.append(slope.integ() + start - slope.integ()(0.0))
    k = np.minimum(np.floor(t / tau).astype(int), len(pieces) - 2)
    return np.array([pieces[ki + 1](ti - ki * tau) for ki, ti in zip(k, t, strict=True)])


@pytest.mark.parametrize(("b", "c", "tau"), [(-1.0, 0.0, 1.0), (-0.7, 0.5, 1.3), (0.4, -0.6, 0.9)])
def test_neutral_piecewise_polynomial_fourth_order(b: float, c: float, tau: float) -> None:
    errors = []
    for dt in (0.05, 0.025):
        sol = dde.solve("neutral", {"a": 0.0, "b": b, "c": c, "tau": tau}, 1.0, 6.0, 0.05, dt=dt)
        exact = exact_neutral_constant_history(b, c, tau, sol.t)
        errors.append(np.max(np.abs(sol.y[0, :, 0] - exact)))
    # Derivative jumps at every k tau sit on the grid, so the scheme keeps its 4th order.
    assert errors[1] < 1e-9
    assert 12 < errors[0] / errors[1] < 20  # 2^4 = 16


def test_delayed_negative_feedback_known_values() -> None:
    sol = dde.solve("neutral", {"a": 0, "b": -1, "c": 0, "tau": 1}, 1.0, 3.0, 0.5)
    # x = 1 - t on [0, 1]; 1 - t + (t-1)^2/2 on [1, 2]; 1/2 - t^2/2 ... check the integral form
    expected = exact_neutral_constant_history(-1.0, 0.0, 1.0, sol.t)
    np.testing.assert_allclose(sol.y[0, :, 0], expected, atol=1e-12)
    np.testing.assert_allclose(sol.y[0, :5, 0], [1.0, 0.5, 0.0, -0.375, -0.5], atol=1e-12)


def test_neutral_exponential_solution_converges_at_fourth_order() -> None:
    lam, a, c, tau = -0.3, -0.2, 0.4, 1.7
    b = (lam - a - c * lam * np.exp(-lam * tau)) * np.exp(lam * tau)  # e^{lam t} solves it
    errors = []
    for dt in (0.1, 0.05):
        sol = dde.solve(
            "neutral", {"a": a, "b": b, "c": c, "tau": tau}, lambda t: np.exp(lam * t), 25.0,
            0.05, dt=dt, history_derivative=lambda t: lam * np.exp(lam * t),
        )  # fmt: skip
        errors.append(np.max(np.abs(sol.y[0, :, 0] - np.exp(lam * sol.t))))
    assert errors[1] < 1e-9
    assert errors[0] / errors[1] > 12  # at least 4th order (2^4 = 16)


def _neutral_reference(a: float, b: float, c: float, tau: float, t_out: np.ndarray) -> np.ndarray:
    h = lambda t: 0.5 + np.sin(1.3 * t)  # noqa: E731
    dh = lambda t: 1.3 * np.cos(1.3 * t)  # noqa: E731
    # Augment with the derivative: x'(t - tau) of the solution is a x + b x(t-2tau) + ... so use
    # the method of steps on (x, x') where x' is carried as the delayed derivative.
    from scipy.integrate import solve_ivp

    pieces: list = []

    def state(t: float) -> tuple[float, float]:
        if t <= 0:
            return float(h(t)), float(dh(t))
        for start, sol in reversed(pieces):
            if start <= t + 1e-12:
                value = float(sol(t)[0])
                xd, fd = state(t - tau)
                return value, a * value + b * xd + c * fd

        raise AssertionError(t)

    def rhs(t: float, x: np.ndarray) -> list[float]:
        xd, fd = state(t - tau)
        return [a * x[0] + b * xd + c * fd]

    start, x0 = 0.0, np.array([h(0.0)])
    while start < t_out.max():
        end = min(start + tau, float(t_out.max()))
        sol = solve_ivp(rhs, (start, end), x0, "DOP853", rtol=1e-12, atol=1e-13, dense_output=True)
        pieces.append((start, sol.sol))
        x0, start = sol.y[:, -1], end
    return np.array([state(float(t))[0] for t in t_out])


def test_neutral_breakpoints_against_reference() -> None:
    a, b, c, tau = -0.3, -0.8, 0.45, 2.1
    sol = dde.solve(
        "neutral", {"a": a, "b": b, "c": c, "tau": tau}, lambda t: 0.5 + np.sin(1.3 * t),
        20.0, 0.1, history_derivative=lambda t: 1.3 * np.cos(1.3 * t),
    )  # fmt: skip
    ref = _neutral_reference(a, b, c, tau, sol.t)
    assert np.max(np.abs(sol.y[0, :, 0] - ref)) < 1e-8


def test_mackey_glass_matches_tight_reference_to_1e6_on_200() -> None:
    """A batch with three delays (periodic to chaotic) against scipy's DOP853 at rtol 1e-12."""
    family = dde.get_family("mackey")
    taus = np.array([17.0, 23.3, 30.0])
    history = dde.sample_histories(
        family, taus, np.ones(3), np.array([0.5]), np.random.default_rng(3)
    )
    sol = dde.solve("mackey", {"tau": taus}, history, 200.0, 1.0)
    for b, tau in enumerate(taus):
        ref = method_of_steps(
            lambda t, x, xd: 0.2 * xd / (1 + xd**10) - 0.1 * x,
            lambda t, b=b: history(np.array([[t]] * 3))[b, 0], float(tau), sol.t,
        )  # fmt: skip
        assert np.max(np.abs(sol.y[b, :, 0] - ref[:, 0])) <= 1e-6


def test_delayed_logistic_matches_reference() -> None:
    r, k, tau = 1.2, 1.5, 1.9
    h = lambda t: k * (0.8 + 0.3 * np.cos(2 * np.asarray(t)))  # noqa: E731
    sol = dde.solve("delayed_logistic", {"r": r, "K": k, "tau": tau}, h, 60.0, 0.5)
    ref = method_of_steps(lambda t, x, xd: r * x * (1 - xd / k), h, tau, sol.t)
    assert np.max(np.abs(sol.y[0, :, 0] - ref[:, 0])) < 2e-6


def test_reaction_diffusion_linear_mode_decays_exactly() -> None:
    n_x = 20
    x = dde.spatial_grid(n_x)
    mode = np.cos(2 * np.pi * x)  # a zero-flux eigenvector of the discrete Laplacian
    lam = -4 * n_x**2 * np.sin(np.pi * 2 / (2 * n_x)) ** 2
    np.testing.assert_allclose(dde.neumann_laplacian(n_x) @ mode, lam * mode, atol=1e-9)
    d = 0.05
    sol = dde.solve(
        "reaction_diffusion", {"D": d, "r": 0.0, "tau": 1.0},
        lambda t: np.exp(lam * d * np.asarray(t))[:, None] * mode[None, :], 10.0, 0.5,
    )  # fmt: skip
    exact = np.exp(lam * d * sol.t)[:, None] * mode[None, :]
    assert np.max(np.abs(sol.y[0] - exact)) < 1e-10


def test_reaction_diffusion_matches_reference_and_is_stable_when_stiff() -> None:
    n_x = 20
    x = dde.spatial_grid(n_x)
    lap = dde.neumann_laplacian(n_x)
    d, r, tau = 0.05, 1.3, 1.4  # the stiffest default prior: |lambda_max| D h = 0.8 at h = 0.02

    def h(t: np.ndarray) -> np.ndarray:
        return 1 + 0.3 * np.cos(np.pi * x)[None, :] * np.cos(np.asarray(t))[:, None]

    sol = dde.solve("reaction_diffusion", {"D": d, "r": r, "tau": tau}, h, 30.0, 0.5)
    ref = method_of_steps(
        lambda t, u, ud: d * lap @ u + r * u * (1 - ud), lambda t: h(np.array([t]))[0], tau, sol.t
    )
    assert np.max(np.abs(sol.y[0] - ref)) < 1e-6
    # Far stiffer (64 points, D = 0.5: |lambda| D h ~ 330) stays bounded at the same step.
    stiff = dde.solve(
        "reaction_diffusion", {"D": 0.5, "r": r, "tau": tau}, 1.0, 10.0, 0.5, grid_points=64
    )
    assert np.all(np.isfinite(stiff.y))


def test_batch_equals_single_solves() -> None:
    params = {"a": [-0.3, -0.1], "b": [-0.8, -0.5], "c": [0.3, -0.2], "tau": [1.1, 2.3]}
    both = dde.solve("neutral", params, 0.7, 10.0, 0.1)
    for b in range(2):
        one = dde.solve("neutral", {k: v[b] for k, v in params.items()}, 0.7, 10.0, 0.1)
        assert np.array_equal(one.y[0], both.y[b])
    assert both.y.shape == (2, 101, 1) and both.t.shape == (101,)


def test_sampling_is_reproducible_to_the_byte() -> None:
    fam = dde.get_family("neutral")
    priors = dde.resolve_priors(fam)
    settings = dde.SamplingSettings.for_family(fam)
    one = dde.sample_trajectories(fam, 16, 5, priors, settings)
    two = dde.sample_trajectories(fam, 16, 5, priors, settings)
    other = dde.sample_trajectories(fam, 16, 6, priors, settings)
    assert one.y.tobytes() == two.y.tobytes()
    assert one.history_y.tobytes() == two.history_y.tobytes()
    assert one.y.tobytes() != other.y.tobytes()


def test_blown_up_trajectories_are_redrawn_and_counted() -> None:
    fam = dde.get_family("neutral")
    # a in [0, 3] makes some trajectories grow past the bound 1e6 within t = 25.
    priors = dde.resolve_priors(fam, ["a=0:3"])
    settings = dde.SamplingSettings.for_family(fam)
    trajectories = dde.sample_trajectories(fam, 32, 0, priors, settings)
    assert sum(trajectories.rejected.values()) > 0
    assert len(trajectories) + trajectories.dropped == 32
    valid = np.arange(trajectories.y.shape[1])[None, :] < trajectories.lengths[:, None]
    assert np.all(np.isfinite(trajectories.y[valid]))
    assert np.all(np.abs(trajectories.y[valid]) <= fam.bound)


def test_irregular_times_have_variable_lengths_and_nan_padding() -> None:
    fam = dde.get_family("mackey")
    settings = dde.SamplingSettings.for_family(fam, t_end=100.0)
    ts = dde.sample_trajectories(fam, 12, 1, dde.resolve_priors(fam), settings)
    assert len(set(ts.lengths.tolist())) > 1
    for b in range(len(ts)):
        n = ts.lengths[b]
        assert np.all(np.diff(ts.t[b, :n]) > 0) and ts.t[b, 0] > 0 and ts.t[b, n - 1] <= 100.0
        assert np.all(np.isnan(ts.t[b, n:])) and np.all(np.isnan(ts.y[b, n:]))
        assert np.all(ts.y[b, :n] > 0)  # Mackey-Glass stays positive from a positive history


def test_solve_raises_on_blow_up_or_returns_nan() -> None:
    params = {"a": 5.0, "b": 1.0, "c": 0.0, "tau": 1.0}
    with pytest.raises(DnoError, match="blew up"):
        dde.solve("neutral", params, 1.0, 20.0, 0.1)
    sol = dde.solve("neutral", params, 1.0, 20.0, 0.1, on_failure="nan")
    assert np.all(np.isnan(sol.y))


@pytest.mark.parametrize(
    ("family", "params", "history", "match"),
    [
        ("lorenz", {"tau": 1.0}, 1.0, "unknown family 'lorenz'"),
        ("neutral", {"a": 0, "b": 0, "c": 1.0, "tau": 1}, 1.0, r"\|c\| < 1"),
        ("mackey", {"tau": -1.0}, 1.0, "tau must be positive"),
        ("mackey", {"tau": 17, "alpha": 1}, 1.0, "no parameter 'alpha'"),
        ("mackey", {"tau": [17, 18], "beta": [0.2, 0.2, 0.2]}, 1.0, "different batch sizes"),
        ("delayed_logistic", {"tau": 1.0, "K": 1.0}, 1.0, "'r' of family"),
        (
            "mackey",
            {"tau": 17},
            lambda t: np.ones((len(t), 3)),
            r"returned shape \(171, 3\); expected",
        ),
        ("mackey", {"tau": 17}, lambda t: np.full(len(t), np.nan), "non-finite"),
    ],
)
def test_bad_input_is_one_clear_error(
    family: str, params: dict, history: object, match: str
) -> None:
    with pytest.raises(UsageError, match=match):
        dde.solve(family, params, history, 10.0, 1.0)  # type: ignore[arg-type]
