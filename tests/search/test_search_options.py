"""SearchOptions checks itself when made: one error line naming the bad field and value."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dno.errors import UsageError
from dno.search import SearchOptions


@pytest.mark.parametrize(
    ("fields", "match"),
    [
        ({"search": "annealing"}, r"^search='annealing'; expected one of: "),
        ({"n_trials": 0}, r"^n_trials=0; expected 1 to 100,000 trials$"),
        ({"n_trials": "12"}, r"^n_trials='12'; expected 1 to 100,000 trials$"),
        ({"max_epochs": 0}, r"^max_epochs=0; expected an integer >= 1$"),
        ({"seeds": 1001}, r"^seeds=1001; expected 1 to 1,000 seeds$"),
        ({"confirm_seeds": 0}, r"^confirm_seeds=0; expected 1 to 1,000 seeds$"),
        ({"workers": -1}, r"^workers=-1; expected an integer >= 0 or None$"),
        ({"threads": 0}, r"^threads=0; expected an integer >= 1 or None$"),
        ({"pruner": "asha"}, r"^pruner='asha'; expected median, hyperband or none$"),
        ({"pruner_warmup_steps": -2}, r"^pruner_warmup_steps=-2; expected an integer >= 0"),
        ({"pruner_startup_trials": 1.5}, r"^pruner_startup_trials=1.5; expected an integer >= 0"),
        ({"confirm_top": True}, r"^confirm_top=True; expected an integer >= 0$"),
        ({"trial_timeout": float("inf")}, r"^trial_timeout=inf; expected seconds > 0 or None$"),
        ({"metric_value": "mean"}, r"^metric_value='mean'; expected last or best$"),
        ({"objectives": "val_rel_l2"}, r"^objectives='val_rel_l2'; expected a list of"),
        ({"base": ["lr"]}, r"^base=\['lr'\]; expected a mapping of config keys$"),
    ],
)
def test_a_bad_option_is_one_error_naming_it(fields: dict, match: str, tmp_path: Path) -> None:
    with pytest.raises(UsageError, match=match):
        SearchOptions(results=tmp_path, **fields)


def test_good_options_are_kept_and_frozen(tmp_path: Path) -> None:
    options = SearchOptions(results=tmp_path, search="grid", n_trials=4, workers=0,
                            pruner="none", trial_timeout=2, objectives=["val_rel_l2"],
                            base={"device": "cpu"})  # fmt: skip
    assert (options.search, options.n_trials, options.workers) == ("grid", 4, 0)
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.n_trials = 5  # type: ignore[misc]
    with pytest.raises(UsageError, match="seed=-1"):
        dataclasses.replace(options, seed=-1)
    as_text = SearchOptions(results=str(tmp_path), space="sweep.yaml", data="d.h5")  # type: ignore[arg-type]
    assert (as_text.results, as_text.space, as_text.data) == (
        tmp_path,
        Path("sweep.yaml"),
        Path("d.h5"),
    )


@settings(max_examples=100, deadline=None)
@given(
    name=st.sampled_from(["n_trials", "max_epochs", "seeds", "seed", "workers", "threads",
                          "pruner_warmup_steps", "pruner_startup_trials", "confirm_top",
                          "confirm_seeds", "search", "pruner", "metric_value", "trial_timeout"]),
    value=st.one_of(st.none(), st.booleans(), st.integers(-5, 10**6), st.floats(),
                    st.sampled_from(["grid", "median", "last", "x"])),
)  # fmt: skip
def test_any_value_is_kept_or_one_error_naming_its_field(name: str, value: object) -> None:
    try:
        options = SearchOptions(**{name: value})  # type: ignore[arg-type]
    except UsageError as error:
        assert str(error).startswith(f"{name}={value!r}; expected ") and "\n" not in str(error)
    else:
        assert getattr(options, name) is value
