"""Reading the YAML files a user wrote: one clear error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dno._io import load_yaml, read_yaml_mapping
from dno.errors import UsageError


@pytest.mark.parametrize(
    ("text", "message"),
    [(None, "does not exist"), ("a: [", "is not valid YAML"), ("- 1\n", "must hold a mapping")],
)
def test_read_yaml_mapping_names_the_bad_file(
    tmp_path: Path, text: str | None, message: str
) -> None:
    path = tmp_path / "config.yaml"
    if text is not None:
        path.write_text(text)
    with pytest.raises(UsageError, match=f"my config '.*config.yaml' {message}"):
        read_yaml_mapping(path, "my config")


def test_read_yaml_mapping_reads_a_mapping_and_an_empty_file(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("lr: 1.0e-3\n1: x\n")
    (tmp_path / "b.yaml").write_text("")
    assert read_yaml_mapping(tmp_path / "a.yaml", "config") == {"lr": 1e-3, "1": "x"}
    assert read_yaml_mapping(tmp_path / "b.yaml", "config") == {}


def test_read_yaml_mapping_refuses_a_huge_or_non_utf8_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import dno._io

    path = tmp_path / "big.yaml"
    path.write_text("lr: 0.001\n")
    monkeypatch.setattr(dno._io, "MAX_TEXT_BYTES", 4)
    with pytest.raises(UsageError, match="holds 10 bytes; expected at most 4"):
        read_yaml_mapping(path, "config")
    monkeypatch.undo()
    path.write_bytes(b"name: caf\xe9\n")
    with pytest.raises(UsageError, match=r"is not UTF-8 text \(byte b'\\xe9' at position 9\)"):
        read_yaml_mapping(path, "config")


def _alias_bomb(levels: int = 9) -> str:
    """A YAML mapping whose anchors expand to 9**levels values in about 350 bytes."""
    lines = ['a: &a ["x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    for level in range(1, levels):
        name, previous = chr(ord("a") + level), chr(ord("a") + level - 1)
        lines.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_load_yaml_reads_scientific_numbers_as_numbers() -> None:
    text = "lr: 1e-3\nbig: 5E+4\nsigned: -2e-5\ndot: 1.0e3\nquoted: '1e-3'\nversion: 1.2.3\n"
    assert load_yaml(text, "config") == {
        "lr": 1e-3, "big": 5e4, "signed": -2e-5, "dot": 1e3, "quoted": "1e-3", "version": "1.2.3"
    }  # fmt: skip


@pytest.mark.parametrize(
    ("text", "where"),
    [("a: [1,\n  2\nb: 3\n", "line 3, column 2"), ("a: b: c\n", "line 1, column 5"),
     ("a: 1\n---\nb: 2\n", "line 2, column 1: expected a single document in the stream, but")],
)  # fmt: skip
def test_a_yaml_error_names_the_file_line_and_column(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "space.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=f"space file '.*space.yaml' is not valid YAML at {where}"):
        read_yaml_mapping(path, "space file")


@pytest.mark.parametrize(
    ("text", "message"),
    [(_alias_bomb(), "holds more than 50,000 values"),
     ("a: &a [1, *a]\n", "holds an alias inside its own anchor"),
     ("[" + "0, " * 60_000 + "0]", "holds more than 50,000 values")],
)  # fmt: skip
def test_alias_bombs_and_huge_documents_are_refused_before_they_are_built(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "bomb.yaml"
    path.write_text(text)
    with pytest.raises(UsageError, match=f"config '.*bomb.yaml' {message}"):
        read_yaml_mapping(path, "config")


def test_anchors_within_the_bound_are_read() -> None:
    assert load_yaml("base: &b {lr: 1e-3}\nrun: {<<: *b, seed: 1}\n", "protocol") == {
        "base": {"lr": 1e-3}, "run": {"lr": 1e-3, "seed": 1}
    }  # fmt: skip
