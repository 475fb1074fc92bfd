"""Compare the configurations of a study that ran every configuration on the same seeds.

A study made with ``dno search --seeds K`` (of dno's models or of a user's program, e.g. a
one-factor A/B sweep) holds K values per configuration, on seeds 0..K-1: the same statistics
as ``dno compare FILE.yaml`` apply, paired by seed.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from dno.compare._stats import ApproachStats, compare_approaches
from dno.compare._table import csv_rows, format_table, write_tables
from dno.errors import UsageError

__all__ = ["compare_study"]


def _label(number: int, params: dict[str, Any]) -> str:
    shown = ", ".join(
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(params.items())
    )
    return f"trial {number}: {shown}" if shown else f"trial {number}"


def compare_study(
    study: str,
    results: Path,
    storage: str | None = None,
    baseline: int | None = None,
    alpha: float = 0.05,
) -> tuple[list[ApproachStats], Path]:
    """Rank a study's complete configurations against a baseline trial, paired by seed.

    Args:
        study: the study folder or name (see ``dno trials``).
        results: the results folder (for a name).
        storage: a database URL for a shared study.
        baseline: the baseline trial number (default: the lowest-numbered complete trial).
        alpha: the level of the verdicts.

    Returns:
        The table rows and the folder where ``comparison.md`` and ``comparison.csv`` went.

    Raises:
        UsageError: fewer than two seeds per configuration, or an unknown baseline trial.
    """
    from dno.search import locate_study

    loaded, spec, folder = locate_study(study, results, storage, scoring="compare")
    if spec.seeds < 2:
        raise UsageError(
            f"study {spec.name!r} ran one seed per configuration; paired statistics need "
            "several: run the search with --seeds K (K >= 6 for a test at 0.05)"
        )
    complete = [t for t in loaded.get_trials(deepcopy=False) if t.state.name == "COMPLETE"]
    values = {
        _label(t.number, t.params): [
            v if isinstance(v, int | float) and math.isfinite(v) else None
            for v in t.user_attrs.get("seed_values", [])
        ]
        for t in complete
    }
    if len(values) < 2:
        raise UsageError(f"study {spec.name!r} has {len(values)} complete configurations; need 2")
    numbers = {t.number: _label(t.number, t.params) for t in complete}
    chosen = min(numbers) if baseline is None else baseline
    if chosen not in numbers:
        raise UsageError(
            f"trial {chosen} is not a complete trial of {spec.name!r}: {sorted(numbers)}"
        )
    lower = spec.directions[0] == "minimize"
    rows = compare_approaches(values, numbers[chosen], lower_is_better=lower, alpha=alpha)
    text = (
        f"# {spec.name}: configurations compared on {spec.seeds} paired seeds\n\n"
        f"Objective: {spec.objectives[0]} ({'lower' if lower else 'higher'} is better); "
        f"baseline: trial {chosen}; alpha = {alpha} after Holm's correction.\n\n"
        + format_table(rows)
        + "\n"
    )
    models = dict.fromkeys(values, spec.model)
    write_tables(folder, text, csv_rows(rows, range(spec.seeds), models))
    return rows, folder
