"""dno.plotting: every draw_* function draws, writes a PNG, and names a bad shape."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dno.errors import UsageError
from dno.plotting import (
    DPI,
    Line,
    Panel,
    draw_boxes,
    draw_correlation_function,
    draw_cross_correlation,
    draw_field,
    draw_heatmap,
    draw_importance,
    draw_intervals,
    draw_panels,
    draw_parallel,
    draw_power_spectrum,
    draw_probabilities,
    draw_profiles,
    draw_regime_errors,
    draw_rollout_error,
    draw_rollouts,
    draw_slices,
    draw_tuning_curves,
    save_figure,
)

RNG = np.random.default_rng(0)
K = np.arange(1.0, 17.0)
SPECTRUM = K**-2.0
TIME = np.arange(1, 31) / 15
WINDOWS = RNG.normal(size=(2, 9, 1, 1)), RNG.normal(size=(2, 30, 1, 1))
FIELDS = RNG.normal(size=(2, 9, 12, 2)), RNG.normal(size=(2, 30, 12, 2))
LINES = [Panel([Line([1, 2, 3], [3.0, 2.0, 1.0], "a"), Line([1, 2], [1.0, 2.0], kind="points")])]

#: (name, function, good arguments, bad arguments, words the error must hold)
CASES: list[tuple[str, Callable[..., None], tuple[Any, ...], tuple[Any, ...], str]] = [
    ("rollouts-lines", draw_rollouts, (WINDOWS[0], WINDOWS[1], WINDOWS[1] + 0.1),
     (WINDOWS[0], WINDOWS[1], WINDOWS[1][:, :5]), r"prediction\[0\] has shape \(5, 1, 1\)"),
    ("rollouts-fields", draw_rollouts, (FIELDS[0], FIELDS[1], FIELDS[1] * 0.9, 0.25),
     (FIELDS[0][:, :, :3], FIELDS[1], FIELDS[1]), r"history\[0\] has shape \(9, 3, 2\)"),
    ("field-1d", draw_field, (np.sin(K), np.cos(K)), (np.sin(K), K[:4]), "prediction"),
    ("field-3d", draw_field, (RNG.normal(size=(4, 6, 6)), RNG.normal(size=(4, 6, 6))),
     (np.zeros((2, 2, 2, 2)), np.zeros((2, 2, 2, 2))), r"truth has shape \(2, 2, 2, 2\)"),
    ("power", draw_power_spectrum, (K, SPECTRUM, 1.1 * SPECTRUM),
     (K, SPECTRUM[:3], SPECTRUM), r"P_truth has shape \(3,\)"),
    ("cross", draw_cross_correlation, (K, np.linspace(1, 0, 16)), (K[:, None], K), "k has shape"),
    ("xi", draw_correlation_function, (K, np.exp(-K), np.exp(-K / 2)),
     (K, np.exp(-K), K[:2]), "xi_prediction has shape"),
    ("rollout-error", draw_rollout_error, (TIME, TIME**2, 1 - TIME / 3, (0.9, 0.5), "x"),
     (TIME, TIME[:4], TIME), "relative_l2 has shape"),
    ("panels", draw_panels, (LINES,), ([Panel([Line([1, 2], [1.0])], "loss")],),
     r"loss line 0 y has shape \(1,\)"),
    ("boxes", draw_boxes, ([[1.0, 2.0, 3.0], [2.0, 4.0]], ["a", "b"], ["red", "blue"],
                           {"f": "red", "g": "blue"}, "loss"),
     ([[1.0]], ["a", "b"], ["red"], {}, "loss"), "labels 2"),
    ("importance", draw_importance, (["lr", "width"], [0.7, 0.3], [-0.5, 0.2], ["g", "r"],
                                     ["ρ = -0.50", "ρ = +0.20"], ("importance", "x", "ρ")),
     (["lr"], [0.7, 0.3], [0.1], ["g"], ["n"], ("a", "b", "c")), "importance 2"),
    ("heatmap", draw_heatmap, (np.array([[1.0, np.nan], [2.0, 3.0]]), np.array([[1, 0], [2, 1]]),
                               ["1", "2"], ["a", "b"], ("x", "y", "mean")),
     (np.ones((2, 3)), np.ones((2, 3)), ["1", "2"], ["a", "b"], ("x", "y", "m")),
     r"mean has shape \(2, 3\); expected \(2, 2\)"),
    ("slices", draw_slices, ([[1e-3, 1e-2, 1e-1], [0.0, 1.0, 0.0]], [3.0, 1.0, 2.0], [0, 1, 2],
                             ["lr", "act"], [True, False], [None, ["relu", "gelu"]], "loss"),
     ([[1.0, 2.0]], [3.0, 1.0, 2.0], [0, 1, 2], ["lr"], [False], [None], "loss"),
     "values of lr has shape"),
    ("parallel", draw_parallel, (["lr", "loss"], np.array([[1.0, 2.0, np.nan], [3.0, 1.0, 2.0]]),
                                 [None, None], [3.0, 1.0, 2.0]),
     (["lr"], np.ones((2, 3)), [None], [1.0, 2.0, 3.0]), r"values has shape \(2, 3\)"),
    ("intervals", draw_intervals, (["a", "b"], [0.5, 1.0], [0.4, np.nan], [0.6, np.nan],
                                   ["red", "blue"], "IQM", 1.0),
     (["a", "b"], [0.5, 1.0], [0.4], [0.6, 1.1], ["red", "blue"], "IQM"), "lows 1"),
    ("profiles", draw_profiles, (TIME, [TIME / 2], [TIME / 3], [TIME], ["a"], ["red"], "tau",
                                 1.0, True),
     (TIME, [TIME / 2], [TIME[:3]], [TIME], ["a"], ["red"], "tau"),
     r"band low of a has shape \(3,\)"),
    ("probabilities", draw_probabilities, (np.array([[np.nan, 0.8], [0.2, np.nan]]),
                                           np.array([[np.nan, 0.6], [0.1, np.nan]]),
                                           np.array([[np.nan, 0.9], [0.4, np.nan]]), ["a", "b"],
                                           ("X", "Y")),
     (np.ones((2, 3)), np.ones((2, 3)), np.ones((2, 3)), ["a", "b"], ("X", "Y")),
     r"probability has shape \(2, 3\); expected \(2, 2\)"),
    ("regimes", draw_regime_errors, (np.array([[0.1, 0.3, np.nan], [0.2, 0.25, 0.4]]),
                                     np.array([[0.08, 0.2, np.nan], [0.15, np.nan, 0.3]]),
                                     np.array([[0.12, 0.4, np.nan], [0.25, np.nan, 0.5]]),
                                     ["a", "b"], ["in", "delay", "grid"], ["red", "blue"], "L2"),
     (np.ones((2, 2)), np.ones((2, 2)), np.ones((2, 2)), ["a", "b"], ["in", "delay", "grid"],
      ["red", "blue"], "L2"), r"means has shape \(2, 2\); expected \(2, 3\)"),
    ("tuning", draw_tuning_curves, ([[3.0, 2.0, 1.5], [2.5, 2.4]], [[1.0, 0.5, 0.2], [0.1, 0.05]],
                                    ["a", "b"], ["red", "blue"], "best"),
     ([[3.0, 2.0]], [[1.0]], ["a"], ["red"], "best"), r"sd\[0\] has shape \(1,\)"),
]  # fmt: skip


@pytest.mark.parametrize(
    ("draw", "good", "bad", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_draws_a_png_and_names_a_bad_shape(
    draw: Callable[..., None], good: tuple[Any, ...], bad: tuple[Any, ...], words: str,
    tmp_path: Path,
) -> None:  # fmt: skip
    from matplotlib.image import imread

    path = save_figure(tmp_path / "figure.png", draw, *good, title="a title")
    assert path == tmp_path / "figure.png" and [p.name for p in tmp_path.iterdir()] == [path.name]
    image = imread(path)
    assert image.shape[0] > 200 and image.shape[1] > 500  # drawn at DPI on the figure's size
    assert image[..., :3].std() > 0.05  # not blank
    with pytest.raises(UsageError, match=words):
        save_figure(tmp_path / "bad.png", draw, *bad)
    assert not (tmp_path / "bad.png").exists()


def test_the_size_set_by_the_drawing_is_the_png_size(tmp_path: Path) -> None:
    from matplotlib.image import imread

    save_figure(tmp_path / "p.png", draw_power_spectrum, K, SPECTRUM, SPECTRUM)
    assert imread(tmp_path / "p.png").shape[:2] == (6 * DPI, 6 * DPI)


def test_windows_must_agree_in_number() -> None:
    with pytest.raises(UsageError, match="history 2, truth 1, prediction 2"):
        save_figure("never.png", draw_rollouts, WINDOWS[0], WINDOWS[1][:1], WINDOWS[1])


def test_importing_draws_nothing() -> None:
    """No matplotlib at import time (and so no backend chosen)."""
    code = "import sys, dno.plotting; assert 'matplotlib' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_an_empty_line_is_left_out(tmp_path: Path) -> None:
    panel = Panel([Line([], [], "no points"), Line([1.0, 2.0], [1.0, 4.0], "two")], logy=True)
    assert save_figure(tmp_path / "p.png", draw_panels, [panel]).stat().st_size > 1000


#: axes named by their tick labels (models, parameters), so they need no axis label
CATEGORICAL = {"boxes": "x", "importance": "y", "parallel": "x", "regimes": "x"}


@pytest.mark.parametrize(
    ("name", "draw", "good"), [c[:3] for c in CASES], ids=[c[0] for c in CASES]
)
def test_every_axis_is_labelled(
    name: str, draw: Callable[..., None], good: tuple[Any, ...]
) -> None:
    """Each axis says what it shows: its own label, or that of an axis it shares (a column of
    panels labels its x axis once); each colour bar says what its colours are."""
    from matplotlib.figure import Figure

    figure = Figure()
    if name == "panels":  # a panel named by what it shows: the name labels its y axis
        good = ([Panel(LINES[0].lines, "loss", "epoch")],)
    draw(figure, *good)
    for ax in (ax for ax in figure.axes if ax.get_visible()):
        if hasattr(ax, "_colorbar"):
            assert ax.get_ylabel() or ax.get_xlabel(), f"{name}: a colour bar without a label"
            continue
        for axis in "xy":
            if CATEGORICAL.get(name) == axis:
                continue
            shared = getattr(ax, f"get_shared_{axis}_axes")().get_siblings(ax)
            labels = [getattr(other, f"get_{axis}label")() for other in shared]
            assert any(labels), f"{name}: panel {ax.get_title()!r} has no {axis} label"
