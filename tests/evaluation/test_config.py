"""The evaluation config: validated fields, read from YAML with overrides."""

from __future__ import annotations

from pathlib import Path

import pytest

from dno.errors import UsageError
from dno.evaluation import EvaluationConfig, load_evaluation_config


def test_evaluation_config_from_yaml(tmp_path: Path) -> None:
    path = tmp_path / "eval.yaml"
    path.write_text("horizon_delays: 5\nnoise_levels: [0.02]\n")
    config = load_evaluation_config(path, horizon_delays=None)
    assert config.horizon_delays == 5 and config.noise_levels == (0.02,)
    assert load_evaluation_config(path, horizon_delays=2).horizon_delays == 2
    path.write_text("horizon: 5\n")
    with pytest.raises(UsageError, match="unknown evaluation config key 'horizon'"):
        load_evaluation_config(path)
    with pytest.raises(UsageError, match="horizon_delays=0"):
        EvaluationConfig(horizon_delays=0)
    with pytest.raises(UsageError, match="noise_levels"):
        EvaluationConfig(noise_levels=(0.1, -1.0))
