"""Prior overrides: parsing, validation against the equation, sampling."""

from __future__ import annotations

import numpy as np
import pytest

import dno.dde as dde
from dno.errors import UsageError


def test_parse_range_and_fixed_value() -> None:
    assert dde.parse_prior("tau=0.1:0.2") == ("tau", (0.1, 0.2))
    assert dde.parse_prior(" beta = 0.25") == ("beta", (0.25, 0.25))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("tau", "malformed"),
        ("tau=", "malformed"),
        ("tau=1:2:3", "malformed"),
        ("tau=a:b", "not a number"),
        ("tau=2:1", r"inverted \(lo > hi\); expected tau=1:2"),
        ("tau=1:1", r"empty range \(lo == hi\)"),
        ("tau=1:inf", "non-finite"),
    ],
)
def test_bad_prior_text(text: str, match: str) -> None:
    with pytest.raises(UsageError, match=match):
        dde.parse_prior(text)


def test_paper_priors_for_reaction_diffusion() -> None:
    fam = dde.get_family("reaction_diffusion")
    priors = dde.resolve_priors(fam, ["D=0.004:0.02", "r=1:2", "tau=0.1:0.2"])
    assert priors == {"D": (0.004, 0.02), "r": (1.0, 2.0), "tau": (0.1, 0.2)}
    draws = dde.sample_parameters(fam, priors, 1000, np.random.default_rng(0))
    assert draws["D"].min() >= 0.004 and draws["D"].max() <= 0.02
    assert draws["tau"].min() >= 0.1 and draws["tau"].max() <= 0.2


def test_mapping_overrides_and_domain_checks() -> None:
    fam = dde.get_family("neutral")
    assert dde.resolve_priors(fam, {"c": (-0.2, 0.2), "a": -0.1})["a"] == (-0.1, -0.1)
    with pytest.raises(UsageError, match=r"\|c\| < 1"):
        dde.resolve_priors(fam, ["c=-1.5:0.5"])
    with pytest.raises(UsageError, match="must be positive"):
        dde.resolve_priors(fam, ["tau=-1:1"])
    with pytest.raises(UsageError, match="has no parameter 'beta'; expected one of: a, b, c, tau"):
        dde.resolve_priors(fam, ["beta=1:2"])


def test_default_priors_show_the_interesting_regimes() -> None:
    mackey = dde.get_family("mackey").default_priors
    assert mackey["tau"][1] >= 30 and mackey["tau"][0] > 16.8  # chaotic at beta=.2, gamma=.1
    logistic = dde.get_family("delayed_logistic").default_priors
    assert logistic["r"][0] * logistic["tau"][0] > np.pi / 2  # sustained oscillation
    neutral = dde.get_family("neutral").default_priors
    assert max(abs(c) for c in neutral["c"]) < 1
