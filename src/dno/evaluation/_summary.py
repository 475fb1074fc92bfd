"""The summary of an evaluation (kept in ``final_results.json``) and its readable table.

Both read the JSON form of ``evaluation_<split>.json`` (see :func:`dno.evaluation.evaluate_run`),
so they work as well on a result loaded back from disk.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from dno.tracking import EVALUATION_JSON

__all__ = ["format_evaluation", "summarize"]


def _last(row: Sequence[Any]) -> Any:
    return row[-1] if row else None


def summarize(result: dict[str, Any]) -> dict[str, Any]:
    """What the summary of an evaluation holds besides the metric table's values (which
    :func:`dno.evaluation.evaluate_run` adds): the horizon, the windows, and the per-threshold and
    per-level details (flat, JSON values; times in tau).

    ``stability_gain`` maps each noise level to the one-step gain; ``rollout_stability_gain``
    to the gain at the end of the horizon. ``valid_time_lower_bound`` is true when some window
    never passed the threshold (its valid time is then the horizon).
    """
    rollout, stability = result["rollout"], result["stability"]
    correlation = rollout["correlation_time"]
    levels = [f"{level:g}" for level in stability["one_step"]["levels"]]
    return {
        "file": EVALUATION_JSON.format(split=result["split"]),
        "horizon_delays": result["horizon"]["delays"],
        "horizon_slices": result["horizon"]["slices"],
        "windows": result["data"]["windows"],
        "valid_time_lower_bound": rollout["valid_time"]["lower_bound"],
        "correlation_time": {
            f"{threshold:g}": time
            for threshold, time in zip(correlation["thresholds"], correlation["times"], strict=True)
        },
        "stability_gain": dict(zip(levels, stability["one_step"]["gain"], strict=True)),
        "rollout_stability_gain": {
            level: _last(row)
            for level, row in zip(levels, stability["rollout"]["gain"], strict=True)
        },
    }


def _num(value: Any) -> str:
    """A number with 4 significant digits; ``n/a`` for None (a non-finite value in JSON)."""
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.4g}"


def _times(correlation: dict[str, Any]) -> str:
    parts = []
    for threshold, time, reached in zip(
        correlation["thresholds"], correlation["times"], correlation["reached_horizon"], strict=True
    ):
        parts.append(f"{'>= ' if reached else ''}{_num(time)} tau (r < {threshold:g})")
    return ", ".join(parts)


def _rate(value: Any) -> str:
    """Samples per second: whole numbers with thousands separators from 1000 on."""
    if isinstance(value, int | float) and math.isfinite(value) and value >= 1000:
        return f"{value:,.0f}"
    return _num(value)


def _bytes(count: int) -> str:
    if count < 0:
        return "unavailable"
    return f"{count / 2**20:.4g} MiB"


def _accuracy_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    horizon, one, rollout = result["horizon"], result["one_step"], result["rollout"]
    valid = rollout["valid_time"]
    per_delay = ", ".join(_num(v) for v in rollout["per_delay"]["relative_l2"])
    bound = (
        f"; {100 * valid['reached_horizon_fraction']:.3g}% of windows never passed it: "
        "a lower bound"
        if valid["lower_bound"]
        else ""
    )
    return [
        (
            "horizon",
            f"{horizon['delays']} delays = {horizon['slices']} slices "
            f"(model m = {horizon['model_m']}: {horizon['model_steps']} steps)",
        ),
        ("one-step rel. L2", f"{_num(one['relative_l2'])} (mean per slice "
         f"{_num(one['relative_l2_per_step'])})"),
        ("rollout rel. L2", f"{_num(rollout['relative_l2'])} (mean per slice "
         f"{_num(rollout['relative_l2_per_step'])}; per delay {per_delay})"),
        ("valid time", f"{_num(valid['mean'])} tau (threshold {valid['threshold']:g}{bound})"),
        ("correlation time", _times(rollout["correlation_time"])),
    ]  # fmt: skip


def _other_rows(result: dict[str, Any]) -> list[tuple[str, str]]:
    stability, spectral, cost = result["stability"], result["spectral"], result["cost"]
    levels = " / ".join(f"{level:g}" for level in stability["one_step"]["levels"])
    gains = " / ".join(_num(g) for g in stability["one_step"]["gain"])
    final = " / ".join(_num(_last(row)) for row in stability["rollout"]["gain"])
    amplitude = spectral["diagnosis"].get("amplitude") or {}
    power = spectral.get("power_ratio") or {}
    return [
        ("stability gain", f"{gains} at noise {levels} (one step)"),
        ("", f"{final} after {result['horizon']['delays']} delays (rollout)"),
        ("amplitude ratio", f"std {_num(amplitude.get('std_ratio'))}, "
         f"range {_num(amplitude.get('range_ratio'))}"),
        ("P(k) ratio", f"{_num(power.get('all_k'))} (geometric mean over k), "
         f"{_num(power.get('high_k'))} (top third of k)"),
        ("parameters", f"{cost['parameters']:,}"),
        ("throughput", f"{_rate(cost['samples_per_second'])} samples/s (one step, batch "
         f"{cost['batch_size']}, {cost['device']})"),
        ("peak memory", f"{_bytes(cost['peak_memory_bytes'])} ({cost['memory_kind']})"),
    ]  # fmt: skip


def format_evaluation(result: dict[str, Any]) -> str:
    """A readable table of an evaluation result (what ``dno evaluate`` prints)."""
    data = result["data"]
    epoch = result["checkpoint"].get("epoch")
    lines = [
        f"{result['model']} on {result['family']}, split {result['split']}: "
        f"{data['windows']} windows from {data['trajectories_used']} of {data['trajectories']} "
        f"trajectories (best.pt{f', epoch {epoch}' if epoch is not None else ''})"
    ]
    lines += [f"  {name:<18}{text}" for name, text in _accuracy_rows(result) + _other_rows(result)]
    findings = result["spectral"]["diagnosis"].get("findings") or []
    lines += ["  findings:" if findings else "  findings: none"]
    lines += [f"    - {finding}" for finding in findings]
    return "\n".join(lines)
