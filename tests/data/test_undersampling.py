"""Undersampled delay windows: a warning at generation and at every read, a line in data info."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from dno.cli import main
from dno.data import (
    MIN_OBSERVATIONS_PER_DELAY,
    describe_dataset,
    generate_dataset,
    observations_per_delay,
    read_dataset,
)
from dno.errors import DnoWarning

#: The HS-FNO delayed reaction-diffusion priors on a small grid and a short horizon.
RD_FLAGS = ["--family", "reaction_diffusion", "--prior", "tau=0.1:0.2", "--grid-points", "8"]
RD_ARGS = dict(priors=["tau=0.1:0.2"], t_end=2.0, grid_points=8)


def test_generate_and_read_warn_naming_the_count(tmp_path: Path) -> None:
    out = tmp_path / "rd.h5"
    with pytest.warns(DnoWarning, match=r"as few as 1 observations .*dt_obs 0\.1\)"):
        generate_dataset("reaction_diffusion", 8, 0, out, dt_obs=0.1, **RD_ARGS)
    with pytest.warns(DnoWarning, match=r"as few as 1\.\d+ observations \(split '\w+'"):
        dataset = read_dataset(out)
    fewest, where = observations_per_delay(dataset)
    taus = np.concatenate([s.params["tau"] for s in dataset.splits.values()])
    assert fewest == pytest.approx(taus.min() / 0.1, rel=1e-9)
    assert f"tau={taus.min():.4g}" in where
    assert "undersampled, below 6" in describe_dataset(dataset)


def test_enough_observations_per_delay_stay_quiet(tmp_path: Path) -> None:
    out = tmp_path / "rd.h5"
    dt_obs = 0.1 / MIN_OBSERVATIONS_PER_DELAY
    with warnings.catch_warnings():
        warnings.simplefilter("error", DnoWarning)
        generate_dataset("reaction_diffusion", 8, 0, out, dt_obs=dt_obs, **RD_ARGS)
        dataset = read_dataset(out)
    assert observations_per_delay(dataset)[0] >= MIN_OBSERVATIONS_PER_DELAY
    assert "undersampled" not in describe_dataset(dataset)


def test_the_command_line_prints_one_warning_line_and_succeeds(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "rd.h5"
    flags = ["--n", "8", "--t-end", "2", "--dt-obs", "0.1", "--out", str(out)]
    assert main(["generate", *RD_FLAGS, *flags]) == 0
    lines = [line for line in capsys.readouterr().err.splitlines() if "dno:" in line]
    assert len(lines) == 1 and lines[0].startswith("dno: warning: a delay window holds")
    assert out.is_file()
    # -q: only the result, no warning
    assert main(["generate", *RD_FLAGS, *flags, "--overwrite", "-q"]) == 0
    assert capsys.readouterr().err == ""
