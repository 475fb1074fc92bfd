"""Training: one trainer, one loss module, one config resolver for every model.

:func:`resolve_config` turns defaults, a YAML file and ``--set`` overrides into a validated
config; :func:`train` trains on a dataset's train split, selects on its validation split (never
the test split) and writes the run folder.
"""

from __future__ import annotations

from dno.training._config import (
    TRAINING_DEFAULTS,
    TrainConfig,
    check_keys,
    load_config_file,
    parse_set,
    resolve_config,
)
from dno.training._losses import band_masks, training_loss
from dno.training._trainer import (
    NonFiniteLoss,
    TrainData,
    build_model,
    prepare_data,
    train,
)

__all__ = [
    "TRAINING_DEFAULTS",
    "NonFiniteLoss",
    "TrainConfig",
    "TrainData",
    "band_masks",
    "build_model",
    "check_keys",
    "load_config_file",
    "parse_set",
    "prepare_data",
    "resolve_config",
    "train",
    "training_loss",
]
