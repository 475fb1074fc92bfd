"""A study folder's layout and a trial's state."""

from __future__ import annotations

from pathlib import Path

from dno.tracking import (
    INTERRUPTED_ATTR,
    TRIAL_STATES,
    seed_folder,
    trial_folder,
    trial_params,
    trial_reason,
    trial_runs,
    trial_state,
    write_json,
)


def test_a_trial_with_one_seed_runs_in_its_own_folder(tmp_path: Path) -> None:
    trial = trial_folder(tmp_path, 3)
    assert trial == tmp_path / "trials" / "3"
    assert seed_folder(trial, 0, seeds=1) == trial
    assert trial_runs(trial) == [trial]


def test_a_trial_with_seeds_has_its_runs_in_seed_order(tmp_path: Path) -> None:
    trial = trial_folder(tmp_path, 0)
    for seed in (10, 2, 0):
        seed_folder(trial, seed, seeds=3).mkdir(parents=True)
    assert [p.name for p in trial_runs(trial)] == ["0", "2", "10"]


def test_trial_params_come_from_trial_json(tmp_path: Path) -> None:
    assert trial_params(tmp_path, 1) is None
    trial_folder(tmp_path, 1).mkdir(parents=True)
    write_json(trial_folder(tmp_path, 1) / "trial.json", {"number": 1, "params": {"lr": 0.1}})
    assert trial_params(tmp_path, 1) == {"lr": 0.1}


def test_one_vocabulary_of_states() -> None:
    assert trial_state("COMPLETE", {}) == "complete"
    assert trial_state("FAIL", {"fail_reason": "boom"}) == "failed"
    assert trial_state("FAIL", {INTERRUPTED_ATTR: "killed"}) == "interrupted"
    names = ("COMPLETE", "PRUNED", "FAIL", "RUNNING", "WAITING")
    assert {trial_state(s, {}) for s in names} | {"interrupted"} == set(TRIAL_STATES)
    assert trial_reason({"fail_reason": "boom"}) == "boom"
    assert trial_reason({INTERRUPTED_ATTR: "killed"}) == "killed" and trial_reason({}) == ""
