"""Property-based: a config, sweep or comparison file or a command line that holds a value dno
must refuse gets the documented error: exit status 2 (a bad argument), exactly one
``dno: error:`` line (the last on stderr), no traceback, nothing written (not even in the folder
it was given), memory bounded (every case runs in a child process under an address-space limit,
see tests/hostile.py).

Every example holds at least one such value (the *poison*: NaN, inf, a wrong type, an unknown
name, a path for a name, bytes that are not UTF-8, ...), placed where nothing later overrides
it, among any mix of hostile and valid values; so no example may succeed. Examples are few and
derandomized (the suite runs in CI on 2 cores).
"""

from __future__ import annotations

import itertools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import dno.data as data
from dno._names import check_name, slug
from dno.errors import UsageError
from dno.models import accepted_keys
from dno.training import TRAINING_DEFAULTS
from hostile import HostileRunner

CASES = settings(
    max_examples=int(os.environ.get("DNO_HOSTILE_EXAMPLES", "25")),
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
_counter = itertools.count()

#: Numbers a hostile user writes: NaN, inf, huge, tiny, negative, zero, and ordinary ones.
NUMBERS = st.one_of(
    st.sampled_from([float("nan"), float("inf"), -float("inf"), 1e308, -1e308, 1e-320, 0, -5]),
    st.sampled_from([10**9, 10**18, -(10**9), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-(10**6), 10**6),
)
NAMES = st.one_of(
    st.sampled_from(["../x", "/abs", "a/../../b", "..", ".", ".hidden", "a b", "", "x" * 300]),
    st.text(st.characters(codec="utf-8"), max_size=12),
)
VALUES = st.recursive(
    st.one_of(NUMBERS, st.booleans(), st.none(), NAMES),
    lambda inner: st.one_of(st.lists(inner, max_size=4), st.dictionaries(NAMES, inner, max_size=3)),
    max_leaves=6,
)


@pytest.fixture(scope="module")
def runner() -> Iterator[HostileRunner]:
    process = HostileRunner()
    yield process
    process.close()


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("data") / "mackey.h5"
    data.generate_dataset("mackey", 12, 0, path, ["tau=17:20"], t_end=60.0)
    return path


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("hostile")


def _case(root: Path) -> Path:
    """A fresh ``root/case-N/work`` folder: commands run in ``work``."""
    work = root / f"case-{next(_counter)}" / "work"
    work.mkdir(parents=True)
    return work


def _refused(
    runner: HostileRunner, argv: list[str], work: Path, root: Path, status: int = 2
) -> str:
    """Run ``dno ARGV`` in ``work``; assert the documented error and return its line.

    ``status`` and exactly one ``dno: error:`` line, the last (a library's warning may come
    before it), no traceback; nothing written outside ``work``, nor in it beyond what the case
    put there before (``inputs``).
    """
    inputs = sorted(p.name for p in work.iterdir())
    code, err = runner.run(argv, work)
    assert code == status, f"exit {code} for {argv}, expected {status}:\n{err}"
    assert "Traceback" not in err, f"traceback for {argv}:\n{err}"
    lines = [line for line in err.splitlines() if line.startswith("dno: error:")]
    assert len(lines) == 1 and err.endswith(lines[0] + "\n"), f"{argv}:\n{err}"
    outside = [p for p in work.parent.iterdir() if p != work]
    outside += [p for p in root.iterdir() if not p.name.startswith("case-")]
    assert not outside, f"{argv} wrote outside its folder: {outside}"
    if status == 2:  # refused before any work: nothing made
        assert sorted(p.name for p in work.iterdir()) == inputs, f"{argv} wrote in its folder"
    return lines[0]


def _yaml(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True)


#: Every name a training config, ``--set`` or a sweep's parameters may use.
CONFIG_KEYS = [*TRAINING_DEFAULTS, *accepted_keys("method_of_steps")]
UNKNOWN_KEYS = NAMES.filter(lambda name: name not in CONFIG_KEYS and name != "model")
#: Values no config key takes, whatever its type and range.
NEVER_VALID = st.sampled_from([float("nan"), float("inf"), -float("inf"), {"k": 1}, [1, "a"], "zz"])
#: A config file dno must refuse: an unknown key; a key with a value it never takes (not
#: max_epochs: the command's --max-epochs 1 overrides the file's); YAML that is not a mapping (and
#: not empty: an empty file is an empty config); bytes that are not UTF-8.
CONFIG_POISON = st.one_of(
    st.tuples(st.just("entry"), UNKNOWN_KEYS, VALUES),
    st.tuples(
        st.just("entry"), st.sampled_from([k for k in CONFIG_KEYS if k != "max_epochs"]),
        NEVER_VALID,
    ),
    st.tuples(st.just("document"), VALUES.filter(lambda v: bool(v) and not isinstance(v, dict))),
    st.tuples(st.just("bytes"), st.binary(max_size=40).map(lambda raw: b"\xff" + raw)),
)  # fmt: skip


@CASES
@given(
    poison=CONFIG_POISON,
    extra=st.dictionaries(
        st.one_of(st.sampled_from(CONFIG_KEYS), NAMES), VALUES, min_size=0, max_size=3
    ),
    sets=st.lists(
        st.tuples(st.sampled_from(["lr", "S", "width", "batch_size"]), VALUES), max_size=2
    ),
)
def test_train_config_files_and_set_values(
    runner: HostileRunner, dataset: Path, root: Path, poison: tuple[Any, ...],
    extra: dict[str, Any], sets: list[tuple[str, Any]],
) -> None:  # fmt: skip
    work = _case(root)
    kind, *what = poison
    if kind == "bytes":
        (work / "config.yaml").write_bytes(what[0])
    else:
        document = {**extra, what[0]: what[1]} if kind == "entry" else what[0]
        (work / "config.yaml").write_text(_yaml(document), encoding="utf-8")
    argv = ["train", "--model", "method_of_steps", "--data", str(dataset), "--config",
            "config.yaml", "--max-epochs", "1", "--out", "run", "-q"]  # fmt: skip
    for key, value in sets:
        if kind != "entry" or key != what[0]:  # a --set of the poisoned key would replace it
            argv += ["--set", f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"]
    _refused(runner, argv, work, root)


SPEC = st.one_of(
    st.fixed_dictionaries({"values": st.lists(VALUES, max_size=3)}),
    st.fixed_dictionaries({"value": VALUES}),
    st.fixed_dictionaries({"min": NUMBERS, "max": NUMBERS}),
    st.fixed_dictionaries(
        {
            "type": st.sampled_from(["int", "float", "categorical", "x"]),
            "low": NUMBERS,
            "high": NUMBERS,
        },
        optional={"step": NUMBERS, "log": st.booleans(), "grid": st.lists(NUMBERS, max_size=3)},
    ),
    VALUES,
)
#: Parameter specs no reader of either format takes.
BAD_SPECS = st.sampled_from(
    [
        {"values": []},
        {"min": float("nan"), "max": 1.0},
        {"min": 1.0, "max": 0.1},
        {"type": "x", "low": 0, "high": 1},
        {"type": "float", "low": float("nan"), "high": 1.0},
        {"type": "int", "low": 5, "high": 1},
        {"value": 1, "min": 0},
    ]
)
#: A sweep dno must refuse: a method that is none of W&B's, a study name that is a path, a
#: parameter that is neither a training option nor a model key, a spec neither format takes.
SWEEP_POISON = st.one_of(
    st.tuples(st.just("method"), st.sampled_from(["nope", 3, "Grid", ["grid"]])),
    st.tuples(st.just("study"), st.sampled_from(["../x", "/abs/x", "a/b", "..", ".hidden"])),
    st.tuples(st.just("parameter"), UNKNOWN_KEYS, SPEC),
    st.tuples(st.just("parameter"), st.sampled_from(CONFIG_KEYS), BAD_SPECS),
)
SEARCH = ["search", "--model", "method_of_steps", "--space", "sweep.yaml", "--n-trials", "1",
          "--max-epochs", "1", "--results", "results", "--confirm-top", "0", "-q"]  # fmt: skip


@CASES
@given(
    poison=SWEEP_POISON,
    parameters=st.dictionaries(
        st.one_of(st.sampled_from(["lr", "width", "S", "a/../../../x"]), NAMES), SPEC,
        max_size=3,
    ),
    method=st.sampled_from([None, "grid", "random", "bayes", "nope", 3]),
    study=st.sampled_from([None, "ok-name", "../x", "/abs/x", "a/b", ".."]),
)  # fmt: skip
def test_sweep_files_and_study_names(
    runner: HostileRunner, dataset: Path, root: Path, poison: tuple[Any, ...],
    parameters: dict[str, Any], method: Any, study: str | None,
) -> None:  # fmt: skip
    work = _case(root)
    kind, *what = poison
    if kind == "parameter":
        parameters = {**parameters, what[0]: what[1]}
    method = what[0] if kind == "method" else method
    study = what[0] if kind == "study" else study
    document: dict[str, Any] = {"parameters": parameters}
    if method is not None:
        document["method"] = method
        document["metric"] = {"name": "val_rel_l2", "goal": "minimize"}
    (work / "sweep.yaml").write_text(_yaml(document), encoding="utf-8")
    argv = [*SEARCH, "--data", str(dataset)]
    if study is not None:
        argv += ["--study", study]
    _refused(runner, argv, work, root)


def test_a_sweep_value_the_model_refuses_fails_every_trial_in_one_line(
    runner: HostileRunner, dataset: Path, root: Path
) -> None:
    """A sweep's reader takes any fixed value or choice; the model refuses ``width: zz`` only
    in the trial. The README documents this end: every trial failed, exit status 1, one line."""
    work = _case(root)
    (work / "sweep.yaml").write_text(_yaml({"parameters": {"width": {"values": ["zz"]}}}))
    line = _refused(runner, [*SEARCH, "--data", str(dataset)], work, root, status=1)
    assert "all 1 trials failed" in line and "width must be an int >= 1, got 'zz'" in line


@CASES
@given(
    seeds=st.one_of(NUMBERS, st.lists(NUMBERS, max_size=3), VALUES),
    name=st.one_of(st.none(), NAMES),
    approaches=st.dictionaries(NAMES, st.one_of(VALUES, st.just({"model": "method_of_steps"})),
                               max_size=2),
    baseline=st.one_of(st.just("a"), NAMES),
    extra=st.dictionaries(st.sampled_from(["metric", "alpha", "max_epochs", "lr"]), VALUES,
                          max_size=2),
)  # fmt: skip
def test_comparison_files(
    runner: HostileRunner, root: Path, seeds: Any, name: Any, approaches: dict[str, Any],
    baseline: str, extra: dict[str, Any],
) -> None:  # fmt: skip
    work = _case(root)
    approaches = {"a": {"model": "method_of_steps"}, **approaches}
    document = {"family": "mackey", "data": "missing.h5", "seeds": seeds, "baseline": baseline,
                "approaches": approaches, **extra}  # fmt: skip
    if name is not None:
        document["name"] = name
    (work / "cmp.yaml").write_text(_yaml(document), encoding="utf-8")
    # The dataset is missing: a file that passes every check ends at that one line, untrained.
    _refused(runner, ["compare", "cmp.yaml", "--out", "out", "-q"], work, root)


FLAG_VALUES = st.sampled_from(
    ["nan", "inf", "-1", "0", "1e-300", "1e300", "abc", "", "5", "0.05", "1e9", "3"]
)
GENERATE_FLAGS = ["--t-end", "--dt", "--dt-obs", "--grid-points", "--seed"]
#: A generate command line dno must refuse, by the option given last (argparse keeps the last).
GENERATE_POISON = st.one_of(
    st.tuples(st.just("--family"), st.sampled_from(["lorenz", "", "Mackey", "../x"])),
    st.tuples(
        st.just("--n"),
        st.sampled_from(["0", "-3", "1.5", "abc", "", "nan", "100000000000000000000"]),
    ),
    st.tuples(
        st.just("--prior"),
        st.sampled_from(["tau=nan", "tau=inf", "tau=abc", "tau=", "zz=1:2", "=1:2", "tau=5:1",
                         "tau=1:1", "tau=-1:1", "tau=1:2:3", "gamma=abc", "tau=1e-300:1e-300"]),
    ),
    st.tuples(
        st.sampled_from(GENERATE_FLAGS),
        st.sampled_from(["nan", "inf", "-inf", "abc", "", "-1", "1e-300"]),
    ),
)  # fmt: skip


@CASES
@given(
    poison=GENERATE_POISON,
    family=st.sampled_from(["mackey", "neutral", "reaction_diffusion", "lorenz"]),
    n=st.sampled_from(["0", "-3", "2", "3", "1.5", "abc", "100000000000000000000"]),
    priors=st.lists(
        st.tuples(st.sampled_from(["tau", "gamma", "beta", "D", "c", "zz", ""]),
                  st.lists(FLAG_VALUES, min_size=1, max_size=2)),
        max_size=2,
    ),
    flags=st.dictionaries(st.sampled_from(GENERATE_FLAGS), FLAG_VALUES, max_size=2),
)  # fmt: skip
def test_generate_flags(
    runner: HostileRunner, root: Path, poison: tuple[str, str], family: str, n: str,
    priors: list[tuple[str, list[str]]], flags: dict[str, str],
) -> None:  # fmt: skip
    work = _case(root)
    argv = ["generate", "--family", family, "--n", n, "--out", "x.h5", "-q"]
    for name, bounds in priors:
        argv.append(f"--prior={name}={':'.join(bounds)}")
    for flag, value in flags.items():
        argv.append(f"{flag}={value}")
    argv.append("=".join(poison))
    _refused(runner, argv, work, root)  # and no file, not even a temporary one


@settings(max_examples=300, deadline=None, derandomize=True)
@given(text=st.text(max_size=40))
def test_names_and_slugs_stay_in_their_folder(text: str, tmp_path_factory: Any) -> None:
    base = Path("/results/study")
    name = slug(text)
    assert re.fullmatch(r"[A-Za-z0-9_][A-Za-z0-9_.+-]*", name) and name not in (".", "..")
    assert (base / f"{name}.png").resolve().parent == base
    try:
        check_name(text, "study name")
    except UsageError as error:
        assert "is not a folder name" in str(error)
    else:
        assert (base / text).resolve().parent == base and slug(text) == text
