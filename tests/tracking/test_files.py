"""The one JSON and CSV reader/writer: standard JSON, and CSV with one rule for numbers."""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from dno.errors import DnoError
from dno.tracking import (
    RunFolder,
    json_safe,
    parse_cell,
    read_csv,
    read_json,
    write_csv,
    write_json,
)


@dataclasses.dataclass
class _Result:
    value: float
    curve: np.ndarray


def test_json_is_standard_with_numpy_values_and_non_finite_numbers(tmp_path: Path) -> None:
    data = {
        "nan": float("nan"),
        "inf": np.float64("inf"),
        "n": np.int64(3),
        "flag": np.bool_(True),
        "array": np.array([[1.0, np.nan]]),
        "result": _Result(np.float32(0.5), np.arange(2)),
        "path": Path("a/b"),
    }
    path = write_json(tmp_path / "x.json", data)
    text = path.read_text()
    assert "NaN" not in text and "Infinity" not in text and text.endswith("}\n")
    assert read_json(path) == {
        "nan": None,
        "inf": None,
        "n": 3,
        "flag": True,
        "array": [[1.0, None]],
        "result": {"value": 0.5, "curve": [0, 1]},
        "path": "a/b",
    }


def test_json_keys_keep_their_order_unless_sorted(tmp_path: Path) -> None:
    assert list(read_json(write_json(tmp_path / "a.json", {"b": 1, "a": 2}))) == ["b", "a"]
    run = RunFolder(tmp_path / "run").create()
    assert list(run.read_json(run.write_json("r.json", {"b": 1, "a": 2}).name)) == ["a", "b"]


@pytest.mark.parametrize("text", ["[1, 2]", "{bad", ""])
def test_read_json_names_a_file_that_holds_no_object(tmp_path: Path, text: str) -> None:
    path = tmp_path / "x.json"
    path.write_text(text)
    with pytest.raises(DnoError, match=r"x\.json"):
        read_json(path)


def test_csv_columns_are_the_union_of_the_rows_keys(tmp_path: Path) -> None:
    rows = [{"a": 1, "b": np.float64("nan")}, {"c": "x", "a": np.int64(2)}]
    path = write_csv(tmp_path / "t.csv", rows)
    assert path.read_text() == "a,b,c\n1,,\n2,,x\n"
    assert read_csv(path) == [{"a": 1, "b": None, "c": None}, {"a": 2, "b": None, "c": "x"}]
    assert write_csv(tmp_path / "empty.csv", []).read_text() == ""
    assert read_csv(tmp_path / "missing.csv") == []


@pytest.mark.parametrize(
    ("text", "value"),
    [("", None), ("7", 7), ("-7", -7), ("+7", 7), ("7.0", 7.0), ("1e-4", 1e-4), ("1E5", 1e5),
     (".5", 0.5), ("inf", "inf"), ("fno", "fno"), ("1_000", "1_000"), (" 3", " 3")],
)  # fmt: skip
def test_one_number_rule(text: str, value: object) -> None:
    parsed = parse_cell(text)
    assert parsed == value and type(parsed) is type(value)


@given(
    st.lists(
        st.fixed_dictionaries(
            {
                "i": st.integers(),
                "x": st.floats(allow_nan=False, allow_infinity=False),
                "name": st.text(st.characters(categories=["L"]), min_size=1),
            }
        ),
        max_size=5,
    )
)
def test_csv_round_trip_keeps_numbers_and_their_types(rows: list[dict[str, object]]) -> None:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        read = read_csv(write_csv(Path(folder) / "t.csv", rows))
    assert read == rows
    assert all(type(a["x"]) is float and type(a["i"]) is int for a in read)


def test_nan_in_json_safe_and_csv_is_empty(tmp_path: Path) -> None:
    assert json_safe([np.nan, -np.inf, 1]) == [None, None, 1]
    write_csv(tmp_path / "m.csv", [{"epoch": 1, "loss": math.nan}])
    assert read_csv(tmp_path / "m.csv") == [{"epoch": 1, "loss": None}]
    assert json.loads(json.dumps(json_safe({"x": np.float32("nan")}))) == {"x": None}
