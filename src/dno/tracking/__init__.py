"""Folders and files: run, study and trial folders, the names of dno's files (each readable
without dno), one JSON and one CSV reader/writer, and a trial's state."""

from __future__ import annotations

from dno.tracking import _files, _study_folder
from dno.tracking._files import *  # noqa: F403  (file names, JSON, CSV, a run folder)
from dno.tracking._study_folder import *  # noqa: F403  (a study folder, a trial's state)

__all__ = [*_files.__all__, *_study_folder.__all__]
