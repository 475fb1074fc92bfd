"""Training: one trainer, one loss module, one config resolver for every model.

:func:`resolve_config` turns defaults, a YAML file and ``--set`` overrides into a validated
config; :func:`train` trains on a dataset's train split, selects on its validation split (never
the test split) and writes the run folder.
"""

from __future__ import annotations

from dno.training import _config, _losses, _trainer
from dno.training._config import *  # noqa: F403
from dno.training._losses import *  # noqa: F403
from dno.training._trainer import *  # noqa: F403

__all__ = [*_config.__all__, *_losses.__all__, *_trainer.__all__]
