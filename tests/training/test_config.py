"""TrainConfig: a frozen dataclass that checks itself; one error line names the key and value."""

from __future__ import annotations

import dataclasses
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dno.errors import UsageError
from dno.training import TRAINING_DEFAULTS, TrainConfig, resolve_config


@pytest.mark.parametrize(
    ("layer", "match"),
    [
        ({"batchsize": 8}, "unknown config key 'batchsize' \\(did you mean 'batch_size'\\?\\)"),
        ({"lr": "fast"}, r"^lr='fast'; expected a finite number >= 0$"),
        ({"lr": 0}, r"^lr=0; expected a number > 0$"),
        ({"S": True}, r"^S=True; expected an integer >= 1$"),
        ({"S": 1}, r"^S=1; expected an integer >= 2$"),
        ({"stride": 2.5}, r"^stride=2.5; expected an integer >= 1 \(or null"),
        ({"cond_params": "b"}, r"^cond_params='b'; expected a list of parameter names$"),
        ({"band_weights": [1, 2]}, r"^band_weights=\[1, 2\]; expected \[low, mid, high\]"),
        ({"band_edges": [0.5, 0.2]}, r"^band_edges=\[0.5, 0.2\]; expected \[a, b\] with 0 < a"),
        ({"channel_weights": []}, r"^channel_weights=\[\]; expected a list of weights >= 0"),
        ({"edge_quantile": 0.5}, r"^edge_quantile=0.5; expected 0 <= q < 0.5$"),
        ({"device": "tpu"}, r"^device='tpu'; expected one of: auto, cpu, cuda, cuda:N, mps$"),
        ({"amp": "yes"}, r"^amp='yes'; expected true or false$"),
        ({"patience": -1}, r"^patience=-1; expected an integer >= 0$"),
    ],
)
def test_a_bad_key_type_or_range_is_one_error_naming_it(layer: dict, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        resolve_config("method_of_steps", layer)


def test_the_config_is_frozen_typed_and_recorded_as_plain_json() -> None:
    config = resolve_config(
        "method_of_steps", {"S": 16, "width": 8}, {"cond_params": ["b"], "band_weights": [1, 0, 0]}
    )
    assert (config.S, config.cond_params, config.model_config) == (16, ("b",), {"width": 8})
    assert (config["S"], config["width"]) == (16, 8)  # one flat namespace, as in config files
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.S = 8  # type: ignore[misc]
    record = config.to_dict()
    assert list(record) == ["model", "model_config", *TRAINING_DEFAULTS]
    assert record["cond_params"] == ["b"] and record["band_weights"] == [1, 0, 0]
    assert json.loads(json.dumps(record)) == record
    assert TrainConfig(**record) == config  # what config.json holds builds the same config
    assert dataclasses.replace(config, seed=3).seed == 3
    with pytest.raises(UsageError, match="seed=-3; expected an integer >= 0"):
        dataclasses.replace(config, seed=-3)


VALUES = st.one_of(
    st.none(), st.booleans(), st.integers(-3, 100), st.floats(allow_nan=True),
    st.text(max_size=6), st.lists(st.one_of(st.floats(-1, 2), st.text(max_size=3)), max_size=4),
)  # fmt: skip


@settings(max_examples=150, deadline=None)
@given(key=st.sampled_from(list(TRAINING_DEFAULTS)), value=VALUES)
def test_any_value_of_an_option_is_a_config_or_one_error_naming_it(key: str, value: object) -> None:
    try:
        config = resolve_config("method_of_steps", {key: value})
    except UsageError as error:
        assert str(error).startswith(f"{key}=") and "; expected " in str(error)
        assert "\n" not in str(error)
    else:
        assert config.to_dict()[key] == (list(value) if isinstance(value, list) else value)
