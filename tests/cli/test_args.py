"""The shared flags: each declared once (a parent parser), reaching every command that takes it."""

from __future__ import annotations

import pytest

from dno.cli import COMMANDS, build_parser, main
from dno.cli._args import SHARED_FLAGS

#: The commands that take each shared flag.
TAKEN_BY = {
    "-q": {"generate", "train", "search", "worker", "compare", "report", "benchmark", "metrics"},
    "--results": {"search", "worker", "trials", "replay", "compare", "report"},
    "--storage": {"search", "worker", "trials", "replay", "report"},
    "--device": {"train", "search", "worker", "evaluate", "benchmark"},
    "--devices": {"search", "benchmark"},
    "--threads": {"train", "search", "worker", "compare", "benchmark"},
}


def _help(command: str, capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    return capsys.readouterr().out


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
def test_help_lists_the_shared_flags_of_each_command(
    command: str, capsys: pytest.CaptureFixture[str]
) -> None:
    text = " ".join(_help(command, capsys).split())
    for flag, commands in TAKEN_BY.items():
        (action,) = SHARED_FLAGS[flag]._actions
        described = ", ".join(action.option_strings)
        help_text = " ".join((str(action.help) % {"default": action.default}).split())
        assert (described in text and help_text in text) == (command in commands), (command, flag)


def test_every_command_parses_its_shared_flags() -> None:
    parser = build_parser()
    values = {"-q": [], "--results": ["r"], "--storage": ["s.journal"], "--device": ["cuda:1"],
              "--devices": ["cuda:0,cuda:1"], "--threads": ["2"]}  # fmt: skip
    positional = {"evaluate": ["run"], "trials": ["study"], "replay": ["study", "3"],
                  "report": ["study"], "worker": ["--study", "x"],
                  "train": ["--model", "fno"], "benchmark": ["mackey"]}  # fmt: skip
    for command in {c for commands in TAKEN_BY.values() for c in commands}:
        argv = [command, *positional.get(command, [])]
        flags = [f for f, commands in TAKEN_BY.items() if command in commands]
        for flag in flags:
            argv += [flag, *values[flag]]
        args = parser.parse_args(argv)
        expected = {"quiet": True, "results": "r", "storage": "s.journal", "device": "cuda:1",
                    "devices": "cuda:0,cuda:1", "threads": 2}  # fmt: skip
        dests = {SHARED_FLAGS[f]._actions[0].dest for f in flags}
        assert {d: getattr(args, d) for d in dests} == {d: expected[d] for d in dests}, command


@pytest.mark.parametrize(
    ("argv", "match"),
    [
        (["train", "--model", "fno", "--device", "tpu"], "--device: expected auto, cpu, cuda, "),
        (["evaluate", "run", "--device", "cuda:x"], "--device: expected auto, cpu, cuda, "),
        (["search", "--threads", "0"], "--threads: expected a positive integer, got '0'"),
        (["worker", "--study", "x"], "dno worker needs --storage"),
    ],
)
def test_a_bad_shared_flag_is_one_usage_error(
    argv: list[str], match: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code: object = None
    try:
        code = main(argv)
    except SystemExit as stop:
        code = stop.code
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and match in err, err
