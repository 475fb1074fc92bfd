"""The first line of each shipped protocol names the protocol and its own equation (it once said
"Mackey-Glass" in every file)."""

from __future__ import annotations

import pytest

from dno.benchmark import load_protocol, shipped_protocols

#: words the first line of a protocol of each family uses for its equation
EQUATION = {
    "mackey": "Mackey-Glass",
    "delayed_logistic": "delayed logistic",
    "neutral": "neutral DDE",
    "reaction_diffusion": "reaction-diffusion",
}


@pytest.mark.parametrize("name", sorted(shipped_protocols()))
def test_first_line_names_the_protocol_and_its_family(name: str) -> None:
    path = shipped_protocols()[name]
    first = path.read_text(encoding="utf-8").splitlines()[0]
    family = load_protocol(path, budget=None).family
    assert first.startswith("# dno benchmark protocol: ")
    assert EQUATION[family] in first, first
    others = [words for f, words in EQUATION.items() if f != family]
    assert not any(words in first for words in others), first
