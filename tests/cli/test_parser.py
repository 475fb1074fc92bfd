"""The parser a newcomer meets: no abbreviated flags, names that teach, help that lists names."""

from __future__ import annotations

import argparse

import pytest

from dno.cli import COMMANDS, build_parser, main
from dno.dde import FAMILIES
from dno.models import available


def _error(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stopped:
        main(argv)
    assert stopped.value.code == 2
    err = capsys.readouterr().err
    assert err.startswith("dno: error: ") and err.count("\n") == 1, err
    return err


@pytest.mark.parametrize(
    ("argv", "expected"),
    [  # argparse's allow_abbrev would take the first as --n-trials
        (["search", "--n-trial", "3"], "dno search: unrecognized arguments: --n-trial 3 (did "
         "you mean --n-trials?) (see dno search --help)"),
        (["search", "--confirm-to=1"], "--confirm-to=1 (did you mean --confirm-top?)"),
        (["train", "--model", "fno", "--max-epoch", "2"], "(did you mean --max-epochs?)"),
        (["benchmark", "mackey", "--seed", "3"], "--seed 3 (did you mean --seeds?)"),
        (["--verison"], "dno: error: unrecognized arguments: --verison (did you mean --version?)"),
    ],
)  # fmt: skip
def test_an_abbreviated_or_misspelt_flag_is_refused_with_the_closest_flag(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert expected in _error(argv, capsys)


def test_no_parser_of_any_command_abbreviates() -> None:
    parser = build_parser()
    (commands,) = (a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert not parser.allow_abbrev and len(commands.choices) == len(COMMANDS)
    for name, sub in commands.choices.items():
        assert not sub.allow_abbrev, name
    for command in COMMANDS:
        assert all(not parent.allow_abbrev for parent in command.parents), command.name


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["trian"], "unknown command 'trian' (did you mean 'train'?)"),
        (["search", "--model", "fnoo"], "unknown model 'fnoo' (did you mean 'fno'?)"),
        (["train", "--model", "method_of_step"], "(did you mean 'method_of_steps'?)"),
        (["train", "--model", "fno", "--family", "mackay"], "(did you mean 'mackey'?)"),
        (["search", "--pruner", "meidan"], "unknown pruner 'meidan' (did you mean 'median'?)"),
        (["evaluate", "run", "--split", "tset"], "unknown split 'tset' (did you mean 'test'?)"),
    ],
)
def test_an_unknown_choice_gets_the_closest_name_and_the_valid_ones(
    argv: list[str], expected: str, capsys: pytest.CaptureFixture[str]
) -> None:
    err = _error(argv, capsys)
    assert expected in err and "expected one of: " in err


@pytest.mark.parametrize("command", ["train", "search"])
def test_train_and_search_help_list_every_model_and_family_of_the_registries(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert f"one of: {', '.join(available())}" in text
    assert f"one of: {', '.join(sorted(FAMILIES))}" in text
