"""Folders and files: run, study and trial folders, the names of dno's files, one JSON and one
CSV reader/writer, and a trial's state.

A run folder is readable without dno::

    <run>/config.json          the configuration as it ran (after defaulting)
    <run>/metrics.csv          one row per epoch
    <run>/final_results.json   the final metrics, standard JSON (no NaN or Infinity)
    <run>/artifacts/           checkpoints (best.pt, last.pt) and figures
"""

from __future__ import annotations

from dno.tracking import _files, _run, _study
from dno.tracking._files import *  # noqa: F403  (the names of the files, JSON and CSV)
from dno.tracking._run import *  # noqa: F403  (a run folder)
from dno.tracking._study import *  # noqa: F403  (a study folder, a trial's state)

__all__ = [*_files.__all__, *_run.__all__, *_study.__all__]
