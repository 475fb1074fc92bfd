"""Bad input gives one clear line: unknown model, unused keys, modes, shapes, data mismatch."""

from __future__ import annotations

import pytest
import torch

from dno.errors import UsageError
from dno.models import accepted_keys, available, build, model_class

DIMS = {"S": 32, "X": 1, "channels": 1, "cond_dim": 1}


def _message(error: pytest.ExceptionInfo[UsageError]) -> str:
    text = str(error.value)
    assert "\n" not in text
    return text


def test_unknown_model_lists_the_known() -> None:
    with pytest.raises(UsageError) as error:
        build("transformer", **DIMS)
    assert (
        _message(error) == f"unknown model 'transformer'; expected one of: {', '.join(available())}"
    )
    with pytest.raises(UsageError, match=r"unknown model 'lagstack' \(did you mean 'lag_stack'"):
        build("lagstack", **DIMS)


def test_a_model_built_directly_checks_its_config_too() -> None:
    with pytest.raises(UsageError) as error:
        model_class("fno")(**DIMS, modes_theta=8)
    assert _message(error).startswith("model 'fno' does not use config key 'modes_theta'")
    with pytest.raises(UsageError, match="model 'fno' needs S"):
        model_class("fno")(X=1, channels=1, cond_dim=1)


def test_several_bad_values_name_the_first_common_one() -> None:
    # Common arguments are checked first, whatever the model declares before them.
    with pytest.raises(UsageError, match="dropout must be"):
        build("stacked_history", **DIMS, m=99, dropout=2.0)


def test_unused_config_key_is_named_with_the_accepted_keys() -> None:
    with pytest.raises(UsageError) as error:
        build("fno", **DIMS, modes_theta=8)
    accepted = ", ".join(accepted_keys("fno"))
    assert _message(error) == (
        f"model 'fno' does not use config key 'modes_theta'; accepted keys: {accepted}"
    )


def test_method_of_steps_does_not_take_m() -> None:
    with pytest.raises(UsageError, match="model 'method_of_steps' does not use config key 'm'"):
        build("method_of_steps", **DIMS, m=4)


def test_missing_dimension_is_named() -> None:
    with pytest.raises(UsageError) as error:
        build("deeponet", S=32, X=1, channels=1)
    assert (
        _message(error) == "model 'deeponet' needs cond_dim (length P of the conditioning vector)"
    )


def test_modes_beyond_the_grid() -> None:
    with pytest.raises(UsageError) as error:
        build("stacked_history", **DIMS, modes_theta=40)
    assert _message(error) == "modes_theta=40 exceeds S=32 (at most S//2+1=17)"
    with pytest.raises(UsageError, match=r"modes_x=12 exceeds X=20 \(at most X//2\+1=11\)"):
        build("fno", **{**DIMS, "X": 20}, modes_x=12)


def test_default_modes_adapt_to_small_grids() -> None:
    model = build("method_of_steps", S=8, X=1, channels=1, cond_dim=1)
    assert model.config["modes_theta"] == 5 and model.config["modes_x"] == 1


@pytest.mark.parametrize(
    ("name", "key", "value", "message"),
    [
        ("fno", "m", 33, "m=33 is out of range: need 1 <= m <= S=32"),
        ("history_space", "m", 32, "m=32 is out of range: need 1 <= m < S=32"),
        ("fno", "width", 0, "width must be an int >= 1, got 0"),
        ("fno", "layers", 2.5, "layers must be an int >= 1, got 2.5"),
        ("fno", "dropout", 1.0, "dropout must be a number in [0.0, 1.0), got 1.0"),
        ("fno", "spectral_norm", -1, "spectral_norm must be a positive number or None, got -1"),
        ("fno", "output_scale", "yes", "output_scale must be true or false, got 'yes'"),
        ("lag_stack", "lags", 40, "lags=40 exceeds S=32 (at most S history points)"),
        ("deeponet", "basis", True, "basis must be an int >= 1, got True"),
    ],
)
def test_bad_values_are_named(name: str, key: str, value: object, message: str) -> None:
    with pytest.raises(UsageError) as error:
        build(name, **DIMS, **{key: value})
    assert _message(error) == message


def test_history_of_the_wrong_shape() -> None:
    model = build("fno", S=64, X=20, channels=1, cond_dim=1, width=4, layers=1)
    with pytest.raises(UsageError) as error:
        model(torch.zeros(32, 64, 1, 1), torch.zeros(32, 1))
    assert _message(error) == "history has shape (32, 64, 1, 1), expected (batch, S=64, X=20, C=1)"
    with pytest.raises(UsageError, match=r"cond has shape \(32, 3\), expected \(batch=32, P=1\)"):
        model(torch.zeros(32, 64, 20, 1), torch.zeros(32, 3))


def test_data_whose_channels_do_not_match() -> None:
    model = build("lag_stack", S=64, X=20, channels=1, cond_dim=1, width=4, layers=1)
    model.check_data(S=64, X=20, channels=1, cond_dim=1)
    with pytest.raises(UsageError) as error:
        model.check_data(S=64, X=20, channels=2, cond_dim=1, source="dataset rd.h5")
    assert _message(error) == "dataset rd.h5 does not match the 'lag_stack' model: C=2 (model: 1)"


def test_rollout_needs_steps_or_horizon() -> None:
    model = build("fno", **DIMS, width=4, layers=1)
    with pytest.raises(UsageError, match="exactly one of steps and horizon"):
        model.rollout(torch.zeros(1, 32, 1, 1), torch.zeros(1, 1))
