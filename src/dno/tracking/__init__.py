"""Run folders on disk: the exact config, one metrics row per epoch, final results, artifacts.

A run folder is readable without dno::

    <run>/config.json          the configuration as it ran (after defaulting)
    <run>/metrics.csv          one row per epoch
    <run>/final_results.json   the final metrics, standard JSON (no NaN or Infinity)
    <run>/artifacts/           checkpoints (best.pt, last.pt) and figures
"""

from __future__ import annotations

from dno.tracking._run import RunFolder, json_safe

__all__ = ["RunFolder", "json_safe"]
