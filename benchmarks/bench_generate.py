"""Data-generation speed: dno's batched solver against jitcdde on the same problems.

Run:  python benchmarks/bench_generate.py [--n 1024] [--anchor-n 256] [--families mackey,...]
      (or `make bench`; jitcdde is a benchmark-only dependency: pip install -e '.[bench]')

For each family, N trajectories (the family's default priors, random histories, horizon and
observation times) are drawn once. dno integrates all N in one batched call (after a warm-up
call that compiles the kernels); jitcdde (a compiled adaptive DDE solver) integrates the first
``anchor-n`` of the same problems one by one, from one C module compiled per family with the
parameters and the delay as control parameters. Rates are trajectories per second; the ratio is
dno's rate over jitcdde's.

The anchor is configured fairly: the same history (401 Hermite anchors with exact derivatives),
a maximum step below the delay (jitcdde returns NaN otherwise), steps landing exactly on the
first breakpoints k tau and on every early observation time (as its own
``step_on_discontinuities`` does, which cannot be used with the delay as a control parameter),
and later observations taken by ``integrate(t)`` at increasing times only (an earlier time would
be extrapolated, not integrated).

Accuracy is measured on the first 8 trajectories against jitcdde at atol = 1e-12, rtol = 1e-11
(an independent reference, from each family's declared reference right-hand side): max |error|
up to the family's ``reference_horizon`` (t <= 200 for Mackey-Glass, chaotic; the whole horizon
for the other families). The compile time of jitcdde's module is reported, not counted in its rate.
"""

from __future__ import annotations

import argparse
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

import dno.dde as dde
from dno.dde._sampling import _draw  # the same draws dno generate makes
from dno.dde._solver import integrate

ANCHORS = 401
#: The reference: jitcdde at atol, rtol (and the smallest step it may take).
REFERENCE_TOL = (1e-12, 1e-11, 1e-15)
N_ERROR = 8
#: Matched accuracy: jitcdde runs at the loosest of these rtol (atol 1e-10, its default) whose
#: max error on the first N_ERROR trajectories is at most max(dno's error, TARGET_ERROR).
ANCHOR_RTOLS = (1e-5, 1e-6, 1e-7, 1e-8, 1e-9, 1e-10)
ANCHOR_ATOL = 1e-10
TARGET_ERROR = 1e-6


@dataclass
class Problems:
    family: dde.Family
    params: dict[str, np.ndarray]
    history: dde.FourierHistory
    t: np.ndarray
    lengths: np.ndarray
    settings: dde.SamplingSettings


def draw(name: str, n: int, seed: int) -> Problems:
    fam = dde.get_family(name)
    settings = dde.SamplingSettings.for_family(fam)
    params, history, t, lengths = _draw(
        fam, dde.resolve_priors(fam), settings, n, np.random.default_rng(seed)
    )
    return Problems(fam, params, history, t, lengths, settings)


def run_dno(p: Problems, index: np.ndarray) -> np.ndarray:
    sub = dde.FourierHistory(
        p.history.tau[index], p.history.level[index], p.history.cos_coef[index],
        p.history.sin_coef[index], p.history.x, p.history.positive,
    )  # fmt: skip
    y, status, _ = integrate(
        p.family, {k: v[index] for k, v in p.params.items()}, sub,
        np.nan_to_num(p.t[index], nan=np.inf), p.lengths[index], p.settings.dt, p.history.x,
    )  # fmt: skip
    if np.any(status):
        raise RuntimeError(f"dno: {int(np.sum(status != 0))} trajectories blew up")
    return y


def build_jitcdde(p: Problems) -> tuple[object, float]:
    """One compiled jitcdde module per family; returns (integrator, compile seconds)."""
    import symengine
    from jitcdde import dy, jitcdde, t, y

    family = p.family
    syms = symengine.symbols(" ".join(family.parameters))
    par = dict(zip(family.parameters, syms, strict=True))
    tau = par["tau"]
    # The family's reference right-hand side, over jitcdde's symbols: the kernel's second spelling.
    if family.kernel == "neutral":
        f = [family.reference(par, y(0), y(0, t - tau), dy(0, t - tau))]
    elif family.is_spatial:
        n_x = p.history.x.shape[0]
        lap = dde.neumann_laplacian(n_x)
        f = []
        for i in range(n_x):
            diffusion = sum(lap[i, j] * y(j) for j in range(n_x) if lap[i, j] != 0)
            f.append(par["D"] * diffusion + family.reference(par, y(i), y(i, t - tau)))
    else:
        f = [family.reference(par, y(0), y(0, t - tau))]
    max_tau = float(p.params["tau"].max())
    start = time.perf_counter()
    solver = jitcdde(f, control_pars=list(syms), max_delay=max_tau, verbose=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solver.compile_C(simplify=False, do_cse=False, verbose=False)
    return solver, time.perf_counter() - start


def run_jitcdde(
    solver: object, p: Problems, b: int, atol: float, rtol: float, min_step: float = 1e-10
) -> np.ndarray:
    """Integrate trajectory ``b`` with jitcdde; returns its observations, shape (T, X)."""
    with warnings.catch_warnings():
        # Several observations within one of its steps are read from that step's Hermite
        # interpolant; jitcdde warns about it, but that is interpolation, not extrapolation.
        warnings.simplefilter("ignore")
        return _run_jitcdde(solver, p, b, atol, rtol, min_step)


def _run_jitcdde(
    solver: object, p: Problems, b: int, atol: float, rtol: float, min_step: float
) -> np.ndarray:
    s = solver  # jitcdde has no type hints
    tau = float(p.params["tau"][b])
    s.purge_past()  # type: ignore[attr-defined]
    times = np.linspace(-tau, 0.0, ANCHORS)
    one = dde.FourierHistory(
        p.history.tau[b : b + 1], p.history.level[b : b + 1], p.history.cos_coef[b : b + 1],
        p.history.sin_coef[b : b + 1], p.history.x, p.history.positive,
    )  # fmt: skip
    values, slopes = one(times)[0], one.derivative(times)[0]
    s.add_past_points(list(zip(times, values, slopes, strict=True)))  # type: ignore[attr-defined]
    s.set_parameters(*[float(p.params[k][b]) for k in p.family.parameters])  # type: ignore[attr-defined]
    s.set_integration_parameters(  # type: ignore[attr-defined]
        atol=atol, rtol=rtol, first_step=min(0.1, tau / 4), max_step=tau / 2, min_step=min_step
    )
    s.initial_discontinuities_handled = True  # type: ignore[attr-defined]
    n = int(p.lengths[b])
    obs = p.t[b, :n]
    out = np.empty((n, p.history.x.shape[0]))
    landing = np.unique(np.concatenate([obs[obs <= 2 * tau], [tau, 2 * tau]]))
    k = 0
    for target in landing:
        while s.DDE.get_t() < target - 1e-12:  # type: ignore[attr-defined]
            if s.try_single_step(min(s.dt, target - s.DDE.get_t())):  # type: ignore[attr-defined]
                s.DDE.accept_step()  # type: ignore[attr-defined]
        while k < n and obs[k] <= target + 1e-12:
            out[k] = s.DDE.get_recent_state(obs[k])  # type: ignore[attr-defined]
            k += 1
        s.DDE.forget(s.max_delay)  # type: ignore[attr-defined]
    for j in range(k, n):
        out[j] = s.integrate(obs[j])  # type: ignore[attr-defined]
    return out


def timed(func: Callable[[], object]) -> float:
    start = time.perf_counter()
    func()
    return time.perf_counter() - start


def bench_family(name: str, n: int, anchor_n: int, seed: int) -> dict[str, float | str]:
    import numba

    p = draw(name, n, seed)
    everyone = np.arange(n)
    run_dno(p, everyone[:4])  # compile
    dno_time = min(timed(lambda: run_dno(p, everyone)) for _ in range(2))
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    dno_time_1 = timed(lambda: run_dno(p, everyone))
    numba.set_num_threads(threads)
    row: dict[str, float | str] = {
        "family": name,
        "dno_rate": n / dno_time,
        "dno_rate_1thread": n / dno_time_1,
        "dt": p.settings.dt,
    }
    try:
        solver, compile_s = build_jitcdde(p)
    except ImportError as error:
        row["anchor"] = f"unavailable ({error}); pip install -e '.[bench]'"
        return row
    # Accuracy against jitcdde at REFERENCE_TOL, on the first N_ERROR trajectories.
    y_dno = run_dno(p, everyone[:N_ERROR])
    horizon = p.family.reference_horizon
    windows = [p.t[b, : int(p.lengths[b])] <= horizon for b in range(N_ERROR)]
    refs = [run_jitcdde(solver, p, b, *REFERENCE_TOL)[w] for b, w in enumerate(windows)]
    err_dno = max(
        float(np.max(np.abs(y_dno[b, : int(p.lengths[b])][w] - refs[b])))
        for b, w in enumerate(windows)
    )
    target = max(err_dno, TARGET_ERROR)
    atol = ANCHOR_ATOL
    for rtol in ANCHOR_RTOLS:
        err_anchor = max(
            float(np.max(np.abs(run_jitcdde(solver, p, b, atol, rtol)[w] - refs[b])))
            for b, w in enumerate(windows)
        )
        if err_anchor <= target:
            break
    anchor_n = min(anchor_n, n)
    anchor_time = timed(lambda: [run_jitcdde(solver, p, b, atol, rtol) for b in range(anchor_n)])
    row.update(
        anchor_rate=anchor_n / anchor_time,
        anchor_n=anchor_n,
        anchor_compile_s=compile_s,
        anchor_tol=f"{atol:g}/{rtol:g}" + ("" if err_anchor <= target else "*"),
        err_dno=err_dno,
        err_anchor=err_anchor,
        ratio=float(row["dno_rate"]) / (anchor_n / anchor_time),
        ratio_1thread=float(row["dno_rate_1thread"]) / (anchor_n / anchor_time),
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1024, help="trajectories per family (1024)")
    parser.add_argument(
        "--anchor-n", type=int, default=256, help="of which jitcdde solves the first (256)"
    )
    parser.add_argument("--families", default=",".join(dde.FAMILIES))
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"# {args.n} trajectories per family, default priors and horizons; cpu count "
          f"{os.cpu_count()}")  # fmt: skip
    header = (
        f"{'family':<19} {'dno traj/s':>11} {'(1 thread)':>11} {'jitcdde traj/s':>15} "
        f"{'ratio':>7} {'(1 thr)':>8} {'err dno':>9} {'err jitcdde':>12} "
        f"{'jitcdde tol a/r':>16} {'compile s':>9}"
    )
    print(header)
    print("-" * len(header))
    for name in args.families.split(","):
        row = bench_family(name, args.n, args.anchor_n, args.seed)
        if "anchor" in row:
            print(f"{name:<19} {row['dno_rate']:>11.0f} {row['dno_rate_1thread']:>11.0f}  "
                  f"anchor {row['anchor']}")  # fmt: skip
            continue
        print(
            f"{name:<19} {row['dno_rate']:>11.0f} {row['dno_rate_1thread']:>11.0f} "
            f"{row['anchor_rate']:>15.1f} {row['ratio']:>6.0f}x {row['ratio_1thread']:>7.0f}x "
            f"{row['err_dno']:>9.1e} "
            f"{row['err_anchor']:>12.1e} {row['anchor_tol']:>16} {row['anchor_compile_s']:>9.1f}"
        )
    print("# ratio = dno traj/s (all cores) / jitcdde traj/s (one process, first --anchor-n);")
    print("# jitcdde at the loosest rtol whose error <= max(err dno, 1e-6) (matched accuracy);")
    print("# * jitcdde did not reach that error at its tightest rtol tried (1e-10).")
    print("# errors: max |y - y_ref| on the first 8 trajectories, y_ref = jitcdde at 1e-12/1e-11;")
    print("# Mackey-Glass on t <= 200, other families over the whole horizon.")


if __name__ == "__main__":
    main()
