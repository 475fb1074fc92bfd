"""Every ``dno`` command the documentation shows is one the code takes, as written.

The commands are read from the ```bash blocks of README.md and docs/*.md, from the ``make
demo`` recipe of the Makefile and from the ``examples:`` of every command's ``--help``. Each is
parsed by dno's own parser (the real one: choices, types, no abbreviations, nothing left over);
a protocol or comparison file it names that ships with dno is loaded and checked, and one whose
seeds are given must be able to reach a verdict. Running them all at the documented sizes takes
longer than a test may (docs/quickstart.md gives the times); ``make demo`` runs its commands
for real.
"""

from __future__ import annotations

import re
import shlex
import warnings
from pathlib import Path

import pytest

from dno.benchmark import load_protocol, shipped_protocols
from dno.cli import COMMANDS, build_parser
from dno.compare import load_plan, seeds_warning
from dno.errors import DnoWarning

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def _joined(lines: list[str]) -> list[str]:
    """Lines with their backslash continuations joined."""
    joined: list[str] = []
    carry = ""
    for line in lines:
        if line.rstrip().endswith("\\"):
            carry += line.rstrip()[:-1] + " "
            continue
        joined.append(carry + line)
        carry = ""
    return joined


def _dno_commands(lines: list[str]) -> list[str]:
    """The ``dno ...`` commands among shell lines (a path before ``dno`` is dropped)."""
    found = []
    for line in _joined(lines):
        if re.match(r"\s*(\S*/)?dno(\s|$)", line):
            words = shlex.split(line, comments=True)
            found.append(shlex.join(["dno", *words[1:]]))
    return found


def documented() -> list[tuple[str, str]]:
    """(where, command) for every documented ``dno`` command."""
    found = []
    for path in DOCS:
        blocks = re.findall(r"^```bash\n(.*?)^```", path.read_text(encoding="utf-8"), re.S | re.M)
        for block in blocks:
            found += [(path.name, c) for c in _dno_commands(block.splitlines())]
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    demo = re.search(r"^demo:.*?\n((?:\t.*\n)+)", makefile, re.M)
    assert demo is not None, "the Makefile has no demo recipe"
    recipe = [line.replace("$(BIN)/", "").replace("$(DEMO)", "demo_output")
              for line in demo.group(1).splitlines()]  # fmt: skip
    found += [("Makefile demo", c) for c in _dno_commands(recipe)]
    for command in COMMANDS:
        examples = command.description.partition("examples:\n")[2] or (
            command.description.partition("example:\n")[2]
        )  # fmt: skip
        found += [(f"dno {command.name} --help", c) for c in _dno_commands(examples.splitlines())]
    return found


COMMANDS_SHOWN = documented()


def test_the_documentation_shows_every_command() -> None:
    shown = {shlex.split(c)[1] for _, c in COMMANDS_SHOWN}
    assert shown == {c.name for c in COMMANDS}
    quickstart = [c for where, c in COMMANDS_SHOWN if where == "quickstart.md"]
    steps = {"generate", "train", "evaluate", "search", "compare", "benchmark", "report"}
    assert steps <= {shlex.split(c)[1] for c in quickstart}


@pytest.mark.parametrize(("where", "command"), COMMANDS_SHOWN)
def test_a_documented_command_parses_as_written(where: str, command: str) -> None:
    argv = shlex.split(command)[1:]
    parser = build_parser()
    try:
        args, extra = parser.parse_known_args(argv)
    except SystemExit:
        pytest.fail(f"{where}: `{command}` is refused by dno's parser")
    assert extra == [], f"{where}: `{command}`: dno does not take {extra}"
    with warnings.catch_warnings():
        warnings.simplefilter("error", DnoWarning)  # documented seeds can reach a verdict
        _check_named_files(args)


def _check_named_files(args: object) -> None:
    """Load a protocol or comparison file the command names, if dno ships it."""
    command = getattr(args, "command", None)
    if command == "benchmark" and getattr(args, "protocol", None):
        protocol = args.protocol  # type: ignore[attr-defined]
        path = ROOT / protocol
        if protocol in shipped_protocols() or path.is_file():
            loaded = load_protocol(protocol if protocol in shipped_protocols() else path,
                                   args.budget, seeds=args.seeds)  # type: ignore[attr-defined]  # fmt: skip
            assert seeds_warning(loaded.plan) is None, seeds_warning(loaded.plan)
    if command == "compare" and getattr(args, "file", None) and (ROOT / args.file).is_file():  # type: ignore[attr-defined]
        plan = load_plan(ROOT / args.file, seeds=args.seeds)  # type: ignore[attr-defined]
        assert seeds_warning(plan) is None, seeds_warning(plan)
