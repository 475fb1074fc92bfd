"""The metric table: one name, one direction type, one unit and one description per metric;
qualified names, old names read, and the same numbers everywhere."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from dno.errors import UsageError
from dno.evaluation import (
    METRICS,
    Direction,
    canonical_names,
    get_metric,
    metric_names,
    parse_name,
    qualify,
    run_metric,
)


def test_every_entry_is_complete_and_every_name_is_unique() -> None:
    names = list(METRICS)
    aliases = [alias for m in METRICS.values() for alias in m.aliases]
    assert len(set(names + aliases)) == len(names) + len(aliases)
    for name, metric in METRICS.items():
        assert metric.name == name and metric.label and metric.description
        assert isinstance(metric.direction, Direction)
        assert metric.kind in ("score", "model", "run")
        assert (metric.target is not None) == (metric.direction is Direction.TARGET)
        assert not metric.noise or metric.rollout  # the noise test is a rollout's


def test_qualified_names_round_trip() -> None:
    for name in metric_names(kind="score"):
        for split in ("val", "test"):
            metric, found = parse_name(qualify(name, split))
            assert (metric.name, found) == (name, split)
    assert parse_name("parameters") == (METRICS["parameters"], None)
    assert qualify("latency_ms", "val") == "latency_ms"  # a cost has no split


def test_old_names_are_read_and_the_new_ones_win() -> None:
    assert get_metric("one_step_relative_l2") is METRICS["rel_l2"]
    assert parse_name("n_parameters")[0] is METRICS["parameters"]
    record = {"one_step_relative_l2": 0.1, "rollout_relative_l2": 0.2, "best_val_rel_l2": 0.3,
              "n_parameters": 7, "other": "kept"}  # fmt: skip
    assert canonical_names(record) == {
        "rel_l2": 0.1, "rollout_rel_l2": 0.2, "val_rel_l2": 0.3, "parameters": 7, "other": "kept"
    }  # fmt: skip
    assert canonical_names({"rel_l2": 1.0, "one_step_relative_l2": 2.0}) == {"rel_l2": 1.0}
    # a final_results.json written before the table
    old = {"best_val_rel_l2": 0.25, "n_parameters": 100, "seconds": 3.5}
    assert run_metric(old, "val_rel_l2") == 0.25
    assert run_metric(old, "parameters") == 100
    assert run_metric(old, "train_seconds") == 3.5  # a run cost read from its record
    assert run_metric({"val_rollout_rel_l2": None}, "val_rollout_rel_l2") is None


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("val_rolout_rel_l2", "did you mean 'val_rollout_rel_l2'"),
        ("rollout_rel_l2", "unknown metric 'rollout_rel_l2'"),  # a score needs its split
        ("accuracy", "The metrics are listed by dno metrics"),
    ],
)
def test_an_unknown_name_is_one_line_with_the_closest_match(name: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        parse_name(name)


def test_better_follows_the_direction() -> None:
    assert METRICS["rollout_rel_l2"].better(0.1, 0.2)
    assert METRICS["valid_time"].better(2.0, 1.0)
    assert METRICS["amplitude_ratio"].better(1.1, 0.8)  # closer to 1
    assert not METRICS["rel_l2"].better(math.nan, 0.2)
    assert METRICS["rel_l2"].better(0.3, math.nan)  # anything finite beats none
    assert not METRICS["amplitude_ratio"].direction.searchable


def test_docs_describe_every_metric() -> None:
    text = (Path(__file__).parents[2] / "docs" / "metrics.md").read_text(encoding="utf-8")
    for name in METRICS:
        assert f"`{name}`" in text, name
