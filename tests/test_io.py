"""Reading the YAML files a user wrote: one clear error naming the file."""

from __future__ import annotations

from pathlib import Path

import pytest

from dno._io import (
    atomic_path,
    confine_writes,
    disk_full_error,
    folder_lock,
    load_yaml,
    make_folder,
    read_yaml_mapping,
)
from dno.errors import DnoError, UsageError


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


def test_writes_are_confined_to_the_results_folder_which_may_itself_be_a_link(
    tmp_path: Path,
) -> None:
    real, elsewhere = tmp_path / "real", tmp_path / "elsewhere"
    (real / "study").mkdir(parents=True)
    elsewhere.mkdir()
    results = tmp_path / "results"
    results.symlink_to(real)  # the results folder on another disk: fine
    (real / "study" / "inside").symlink_to(real / "study")  # a link that stays inside: fine
    (real / "study" / "out").symlink_to(elsewhere)
    with confine_writes(results):
        make_folder(results / "study" / "inside" / "run")
        with atomic_path(results / "study" / "inside" / "a.json") as tmp:
            tmp.write_text("{}")
        with pytest.raises(DnoError, match=r"'.*/results/study/out' is a symbolic link to"):
            make_folder(results / "study" / "out" / "run")
        refused = pytest.raises(DnoError, match="outside the results folder")
        with refused, atomic_path(results / "study" / "out" / "b.json") as tmp:
            tmp.write_text("{}")
    make_folder(results / "study" / "out" / "run")  # unconfined: the caller's choice
    assert (real / "study" / "run").is_dir() and (real / "study" / "a.json").is_file()
    assert sorted(p.name for p in elsewhere.iterdir()) == ["run"]


def test_a_folder_lock_refuses_a_second_holder_and_is_released(tmp_path: Path) -> None:
    refused = pytest.raises(DnoError, match=r"in use by another dno benchmark \(process \d+ on ")
    with folder_lock(tmp_path, "dno benchmark"), refused, folder_lock(tmp_path, "dno benchmark"):
        pass
    with folder_lock(tmp_path, "dno benchmark"):
        pass


def test_a_write_on_a_full_disk_names_the_target(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    import dno._io

    monkeypatch.setattr(dno._io, "_disk_full", lambda folder: True)
    target = tmp_path / "best.pt"
    with pytest.raises(OSError) as caught, atomic_path(target):
        raise RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 576")
    assert (caught.value.errno, caught.value.filename) == (errno.ENOSPC, str(target))
    assert disk_full_error(DnoError("wrapped").with_traceback(None)) is None
    try:
        try:
            raise caught.value
        except OSError:
            raise DnoError("cannot write checkpoint") from None
    except DnoError as wrapped:
        assert disk_full_error(wrapped) is caught.value  # found behind the wrapping error
    assert list(tmp_path.iterdir()) == []
