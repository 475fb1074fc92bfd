"""Property-based: whatever a user writes into a config, sweep or comparison file or a flag,
``dno`` either works or prints exactly one ``dno: error:`` line and exits 1 or 2: no traceback,
nothing written outside the folder it was given, memory bounded (every case runs in a child
process under an address-space limit, see tests/hostile.py).

Examples are few and derandomized (the suite runs in CI on 2 cores); each property still mixes
hostile values (NaN, inf, huge and negative numbers, wrong types, path-like names, bytes that
are not UTF-8) with valid ones.
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


def _check(runner: HostileRunner, argv: list[str], work: Path, root: Path) -> int:
    """Run ``dno ARGV`` in ``work``; assert the one-line contract and the folder fence."""
    code, err = runner.run(argv, work)
    assert code in (0, 1, 2), f"exit {code} for {argv}:\n{err}"
    assert "Traceback" not in err, f"traceback for {argv}:\n{err}"
    lines = [line for line in err.splitlines() if line.startswith("dno: error:")]
    if code:
        # Exactly one error line, and the last one (a library's warning may come before it).
        assert len(lines) == 1 and err.endswith(lines[0] + "\n"), f"{argv}:\n{err}"
    else:
        assert not lines
    outside = [p for p in work.parent.iterdir() if p != work]
    outside += [p for p in root.iterdir() if not p.name.startswith("case-")]
    assert not outside, f"{argv} wrote outside its folder: {outside}"
    return code


def _yaml(document: Any) -> str:
    return yaml.safe_dump(document, allow_unicode=True)


@CASES
@given(
    document=st.one_of(
        st.dictionaries(
            st.one_of(
                st.sampled_from([*TRAINING_DEFAULTS, *accepted_keys("method_of_steps")]), NAMES
            ),
            VALUES,
            min_size=1,
            max_size=3,
        ),
        VALUES,
    ),
    raw=st.one_of(st.none(), st.binary(max_size=40)),
    sets=st.lists(
        st.tuples(st.sampled_from(["lr", "S", "width", "batch_size"]), VALUES), max_size=2
    ),
)
def test_train_config_files_and_set_values(
    runner: HostileRunner, dataset: Path, root: Path, document: Any, raw: bytes | None,
    sets: list[tuple[str, Any]],
) -> None:  # fmt: skip
    work = _case(root)
    config = work / "config.yaml"
    config.write_bytes(raw if raw is not None else _yaml(document).encode())
    argv = ["train", "--model", "method_of_steps", "--data", str(dataset), "--config",
            str(config), "--max-epochs", "1", "--out", "run", "-q"]  # fmt: skip
    for key, value in sets:
        argv += ["--set", f"{key}={yaml.safe_dump(value, default_flow_style=True).strip()}"]
    code = _check(runner, argv, work, root)
    if code and (work / "run").exists():  # failed in training: recorded, never an empty folder
        assert (work / "run" / "final_results.json").is_file()


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


@CASES
@given(
    parameters=st.dictionaries(
        st.one_of(st.sampled_from(["lr", "width", "S", "a/../../../x"]), NAMES), SPEC,
        min_size=1, max_size=3,
    ),
    method=st.sampled_from([None, "grid", "random", "bayes", "nope", 3]),
    study=st.sampled_from([None, "ok-name", "../x", "/abs/x", "a/b", ".."]),
)  # fmt: skip
def test_sweep_files_and_study_names(
    runner: HostileRunner, dataset: Path, root: Path, parameters: dict[str, Any],
    method: Any, study: str | None,
) -> None:  # fmt: skip
    work = _case(root)
    document: dict[str, Any] = {"parameters": parameters}
    if method is not None:
        document["method"] = method
        document["metric"] = {"name": "val_rel_l2", "goal": "minimize"}
    (work / "sweep.yaml").write_text(_yaml(document), encoding="utf-8")
    argv = ["search", "--model", "method_of_steps", "--data", str(dataset), "--space",
            "sweep.yaml", "--n-trials", "1", "--max-epochs", "1", "--results", "results",
            "--confirm-top", "0", "-q"]  # fmt: skip
    if study is not None:
        argv += ["--study", study]
    _check(runner, argv, work, root)


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
    assert _check(runner, ["compare", "cmp.yaml", "--out", "out", "-q"], work, root) in (1, 2)


FLAG_VALUES = st.sampled_from(
    ["nan", "inf", "-1", "0", "1e-300", "1e300", "abc", "", "5", "0.05", "1e9", "3"]
)


@CASES
@given(
    family=st.sampled_from(["mackey", "neutral", "reaction_diffusion", "lorenz"]),
    n=st.sampled_from(["0", "-3", "2", "3", "1.5", "abc", "100000000000000000000"]),
    priors=st.lists(
        st.tuples(st.sampled_from(["tau", "gamma", "beta", "D", "c", "zz", ""]),
                  st.lists(FLAG_VALUES, min_size=1, max_size=2)),
        max_size=2,
    ),
    flags=st.dictionaries(st.sampled_from(["--t-end", "--dt", "--dt-obs", "--grid-points",
                                           "--seed"]), FLAG_VALUES, max_size=2),
)  # fmt: skip
def test_generate_flags(
    runner: HostileRunner, root: Path, family: str, n: str,
    priors: list[tuple[str, list[str]]], flags: dict[str, str],
) -> None:  # fmt: skip
    work = _case(root)
    argv = ["generate", "--family", family, "--n", n, "--out", "x.h5", "-q"]
    for name, bounds in priors:
        argv.append(f"--prior={name}={':'.join(bounds)}")
    for flag, value in flags.items():
        argv.append(f"{flag}={value}")
    _check(runner, argv, work, root)
    assert [p.name for p in work.iterdir()] in ([], ["x.h5"])  # no temporary left behind


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
