"""Reading the YAML files a user wrote: one clear error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dno._io import read_yaml_mapping
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
