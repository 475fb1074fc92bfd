"""Realistic W&B sweep files (tests/search/sweeps/) run as W&B's agent would run them, offline.

Each trial's argv, config file, working folder and seed are compared with what W&B's own agent
code (``wandb.sdk.launch.sweeps.utils``, ``config_util``, installed with the dev extra) builds
for the same run config; grid order, run_cap and which runs hyperband stops when follow W&B's
rules (wandb/sweeps), worked out by hand in the comments.
"""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path
from typing import Any

import optuna
import pytest
import yaml

from dno.cli import main
from dno.errors import UsageError
from dno.search import SearchOptions, open_storage, parse_space, run_search

SWEEPS = Path(__file__).resolve().parent / "sweeps"
utils = pytest.importorskip("wandb.sdk.launch.sweeps.utils")
config_util = pytest.importorskip("wandb.sdk.lib.config_util")
pytestmark = pytest.mark.usefixtures("python_on_path")


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A project folder holding the sweep files and the stub; the search starts there."""
    folder = tmp_path / "project"
    shutil.copytree(SWEEPS, folder)
    monkeypatch.chdir(folder)
    return folder


def search(project: Path, name: str, lines: list[str] | None = None, **options: Any) -> dict:
    settings = SearchOptions(space=project / name, results=project / "results", progress=False,
                             quiet=True, **options)  # fmt: skip
    return run_search(settings, log=(lines if lines is not None else []).append)


def trials(result: dict) -> list[optuna.trial.FrozenTrial]:
    storage, _ = open_storage(None, result["folder"].parent, result["spec"].name)
    study = optuna.load_study(study_name=result["spec"].name, storage=storage)
    return study.get_trials()


def received(result: dict, number: int, seed: int | None = None) -> dict:
    folder = result["folder"] / "trials" / str(number)
    folder = folder if seed is None else folder / "seeds" / str(seed)
    return json.loads((folder / "received.json").read_text())


def run_config(record: dict) -> dict:
    """The run config W&B's agent got, read back from the config file the program received."""
    return {k: v["value"] for k, v in yaml.safe_load(record["config_file"]).items()
            if k != "wandb_version"}  # fmt: skip


def wandb_argv(command: list[Any], config: dict, json_file: str = "") -> list[str]:
    """What W&B's agent runs for ``config`` (``wandb_agent.Agent._command_run``), built with W&B's
    own ``create_sweep_command`` and ``create_sweep_command_args``."""
    args = {k: {"value": v} for k, v in config.items()}
    sweep_vars = utils.create_sweep_command_args({"args": args})
    sweep_vars.update(interpreter=["python"], program=["stub.py"], env=["/usr/bin/env"],
                      args_json_file=[json_file])  # fmt: skip
    out: list[str] = []
    for item in utils.create_sweep_command(list(command)):
        item = str(item)
        if item.startswith("${") and item.endswith("}"):
            out += sweep_vars.get(item[2:-1]) or []
        else:
            out.append(item)
    return out[3:]  # without /usr/bin/env python stub.py (the program's own argv)


def wandb_config_file(config: dict, tmp: Path) -> str:
    """The config file W&B's agent writes for ``config``."""
    path = tmp / "wandb-config.yaml"
    config_util.save_config_file_from_dict(str(path), {k: {"value": v} for k, v in config.items()})
    return path.read_text()


def test_dotted_names_constant_seed_and_wandbs_grid_order(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    result = search(project, "grid_hydra_dotted.yaml")
    done = trials(result)
    # W&B's grid: names sorted, the first varying slowest; constants in every run
    expected = [
        {"metric": "val_acc", "model.n_layers": n, "optimizer.lr": lr, "seed": 30,
         "train.use_amp": amp}
        for n in (2, 7) for lr in (0.1, 0.01) for amp in (True, False)
    ]  # fmt: skip
    assert [t.state.name for t in done] == ["COMPLETE"] * 8
    assert result["spec"].directions == ["maximize"]
    command = yaml.safe_load((project / "grid_hydra_dotted.yaml").read_text())["command"]
    for t, config in zip(done, expected, strict=True):
        record = received(result, t.number)
        assert run_config(record) == config
        assert record["argv"] == wandb_argv(command, config)  # model.n_layers=2 ... seed=30
        assert record["config_file"] == wandb_config_file(config, tmp_path)
        assert record["cwd"] == str(project)  # where the search started, as wandb agent
        assert record["wandb_mode"] == "offline"  # wandb.init() never prompts
        assert not any("--seed" in a for a in record["argv"])


def test_nested_parameters_run_cap_and_q_log_uniform_values(project: Path) -> None:
    lines: list[str] = []
    result = search(project, "random_nested_run_cap.yaml", lines, n_trials=10)
    assert result["spec"].name == "nested-random"  # the sweep's name names the study
    done = trials(result)
    assert len(done) == 3 and all(t.state.name == "COMPLETE" for t in done)  # run_cap: 3
    assert "--n-trials 10 is capped by the sweep's run_cap: 3 trials" in lines
    for t in done:
        record = received(result, t.number)
        config = run_config(record)
        assert list(config) == ["batch_size", "dropout", "epochs", "optim"]
        assert config["optim"]["beta"] == 0.9  # nested, as W&B passes it
        lr, batch = config["optim"]["lr"], config["batch_size"]
        assert isinstance(batch, int) and batch % 16 == 0 and 16 <= batch <= 256
        assert 1e-4 <= lr <= 0.1 and abs(lr / 1e-4 - round(lr / 1e-4)) < 1e-6
        assert record["argv"] == wandb_argv(["${env}", "${interpreter}", "${program}",
                                             "${args}"], config)  # fmt: skip
        assert record["argv"][3].startswith("--optim={'beta': 0.9, 'lr': ")


def test_every_command_macro(project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STUB_FLAG", "--from-env")
    result = search(project, "every_macro.yaml")
    record = received(result, 0)
    # ratio: 1.0 arrives as 1, as from W&B's server (JSON)
    config = {"dropout_off": False, "layers": 3, "lr": 0.001, "ratio": 1, "tags": ["a", "b"],
              "use_bn": True}  # fmt: skip
    assert run_config(record) == config
    json_file = str(result["folder"] / "trials" / "0" / "args.json")
    command = yaml.safe_load((project / "every_macro.yaml").read_text())["command"]
    assert record["argv"] == wandb_argv(command, config, json_file)
    assert record["argv"][:3] == ["--epochs-literal", "2", "--from-env"]
    assert "--use_bn" in record["argv"] and "--dropout_off=False" in record["argv"]
    assert json.loads(record["args_json_file"]) == config


def test_parameters_reach_wandb_config_without_an_args_macro(project: Path) -> None:
    result = search(project, "config_only.yaml")
    (trial,) = trials(result)
    assert trial.state.name == "COMPLETE", trial.user_attrs.get("fail_reason")
    folder = result["folder"] / "trials" / "0"
    seen = json.loads((folder / "wandb_config.json").read_text())  # offline wandb.init()
    assert seen == {"lr": 0.01, "model.width": 64, "optim": {"name": "adam"}}
    command = (folder / "command.txt").read_text().split()
    assert command == ["/usr/bin/env", "python", "wandb_stub.py"]  # no argument at all


def test_hyperband_max_iter_s_stops_runs_at_wandbs_brackets(project: Path) -> None:
    # brackets 27/3 = 9 and 9/3 = 3; a run passing index 3 (its 4th value) is stopped when its
    # best value is worse than the sorted values there at int(n / 3):
    # q=1 alone: keeps; q=2: [1, 2] -> 1, stop; q=3: [1, 2, 3] -> 2, stop; q=0.5: [0.5, 1, 2, 3]
    # -> 1, keeps (and at index 9: [0.5, 1] -> 0.5, keeps); q=4 and q=5: -> 1 and 2, stop
    result = search(project, "hyperband_max_iter.yaml")
    done = trials(result)
    assert [t.params["quality"] for t in done] == [1.0, 2.0, 3.0, 0.5, 4.0, 5.0]
    assert [t.state.name for t in done] == ["COMPLETE", "PRUNED", "PRUNED", "COMPLETE",
                                            "PRUNED", "PRUNED"]  # fmt: skip
    assert [len(t.intermediate_values) for t in done] == [12, 4, 4, 12, 4, 4]


def test_hyperband_min_iter_compares_the_best_value_so_far(project: Path) -> None:
    # brackets 2, 4, 8, ...; maximize. At index 2: [5], [5, 2] -> 2, [5, 2, 1] -> 2 (the third
    # run's best so far, 3, beats 2: it goes on), [5, 2, 1, 0.5] -> 1: the fourth stops
    result = search(project, "hyperband_min_iter.yaml")
    done = trials(result)
    assert [t.state.name for t in done] == ["COMPLETE", "COMPLETE", "COMPLETE", "PRUNED"]
    assert len(done[3].intermediate_values) == 3
    assert received(result, 0)["argv"][0] == "--curve=[1, 1, 5, 5, 5, 5]"  # whole floats as ints


def test_no_early_terminate_means_no_pruning(project: Path) -> None:
    document = yaml.safe_load((project / "hyperband_max_iter.yaml").read_text())
    del document["early_terminate"]
    (project / "plain.yaml").write_text(yaml.safe_dump(document))
    done = trials(search(project, "plain.yaml"))
    assert [t.state.name for t in done] == ["COMPLETE"] * 6
    with pytest.raises(UsageError, match="contradicts the sweep's early_terminate"):
        search(project, "hyperband_max_iter.yaml", pruner="median", study="other")


@pytest.mark.parametrize(
    ("early", "bands"),
    [
        ({"max_iter": 27, "s": 2}, [3, 9]),
        ({"max_iter": 81, "s": 3, "eta": 3}, [3, 9, 27]),
        ({"max_iter": 5, "s": 2, "eta": 2}, [1, 2]),
        ({"max_iter": 27, "s": 5}, [1, 3, 9]),  # past max_iter / eta^i < 1: no more
        ({"min_iter": 3}, [3, 9, 27, 81]),
        ({"min_iter": 25, "eta": 2}, [25, 50, 100, 200]),
        ({"min_iter": 2, "s": 9, "strict": True}, [2, 6, 18]),  # s alone does nothing (W&B)
    ],
)
def test_hyperband_brackets_for_every_documented_form(early: dict, bands: list[int]) -> None:
    sweep = {"method": "random", "metric": {"name": "loss"}, "parameters": {"x": {"value": 1}},
             "early_terminate": {"type": "hyperband", **early}}  # fmt: skip
    assert parse_space(sweep).early_terminate["bands"][: len(bands)] == bands


def test_random_sweep_without_a_metric_is_recorded_without_an_objective(project: Path) -> None:
    result = search(project, "random_no_metric.yaml")
    done = trials(result)
    assert len(done) == 2 and all(t.state.name == "COMPLETE" and t.values is None for t in done)
    assert result["spec"].objectives == []
    for t in done:
        config = run_config(received(result, t.number))
        assert 8 <= config["width"] <= 64 and config["act"] in ("relu", "gelu")
    summary = (result["folder"] / "summary.csv").read_text().splitlines()
    assert len(summary) == 3 and "completed" not in summary[0]
    for command in (["compare", "--study"], ["report"]):  # one clear line, no traceback
        assert main([*command, str(result["folder"])]) == 2
    document = yaml.safe_load((project / "random_no_metric.yaml").read_text())
    (project / "bayes.yaml").write_text(yaml.safe_dump({**document, "method": "bayes"}))
    with pytest.raises(UsageError, match="bayes needs a metric"):
        search(project, "bayes.yaml")


def test_every_distribution_samples_in_wandbs_support(project: Path) -> None:
    result = search(project, "every_distribution.yaml")
    done = trials(result)
    assert len(done) == 6 and all(t.state.name == "COMPLETE" for t in done)
    command = ["${env}", "${interpreter}", "${program}", "${args}"]
    for t in done:
        record = received(result, t.number)
        c = run_config(record)
        assert record["argv"] == wandb_argv(command, c)
        assert c["constant"] == 7 and c["constant_explicit"] == "x"
        assert c["categorical"] in ("a", "b", "c") and c["categorical_explicit"] in ([1, 2], [3])
        assert c["weighted"] in ("small", "large")
        assert 1 <= c["int_uniform"] <= 5 and 10 <= c["int_inferred"] <= 20
        assert 0 <= c["uniform"] <= 1 and 0.5 <= c["uniform_inferred"] <= 1.5
        assert c["q_uniform"] in range(0, 101, 10)  # q: 10 (an int): ints
        assert 1e-5 <= c["log_uniform_values"] <= 0.1
        assert 1.0e-4 < c["log_uniform"] < 0.101  # exp(-9.2) .. exp(-2.3)
        assert isinstance(c["q_log_uniform_values"], int) and c["q_log_uniform_values"] % 8 == 0
        assert isinstance(c["q_log_uniform"], int) and c["q_log_uniform"] % 2 == 0
        assert 0.01 <= c["inv_log_uniform_values"] <= 1.0
        assert 0.0099 <= c["inv_log_uniform"] <= 1.0  # exp(-4.6) .. exp(0)
        assert c["q_normal"] % 5 == 0 and isinstance(c["q_normal"], int)
        assert c["log_normal"] > 0 and c["q_log_normal"] >= 0
        assert 0 <= c["beta"] <= 1 and c["q_beta"] in (0, 0.25, 0.5, 0.75, 1)
    assert len({received(result, t.number)["config_file"] for t in done}) == 6


def test_replicate_seeds_reach_the_program_only_when_asked(project: Path) -> None:
    lines: list[str] = []
    result = search(project, "random_no_metric.yaml", lines, seeds=2, study="env")
    assert any("only as the environment variable DNO_SEED" in line for line in lines)
    records = [received(result, 0, seed) for seed in (0, 1)]
    assert [r["seed"] for r in records] == ["0", "1"]
    assert records[0]["argv"] == records[1]["argv"]  # the seed is not an argument
    result = search(project, "random_no_metric.yaml", seeds=2, seed_param="seed", study="arg")
    records = [received(result, 0, seed) for seed in (0, 1)]
    assert [run_config(r)["seed"] for r in records] == [0, 1]
    assert "--seed=1" in records[1]["argv"]  # sorted with the sweep's own names
    with pytest.raises(UsageError, match="the sweep already sets 'seed'"):
        search(project, "grid_hydra_dotted.yaml", seeds=2, seed_param="seed")


def test_a_grid_with_n_trials_says_what_runs(project: Path) -> None:
    lines: list[str] = []
    done = trials(search(project, "grid_hydra_dotted.yaml", lines, n_trials=3))
    assert len(done) == 3 and [t.params["train.use_amp"] for t in done] == [True, False, True]
    assert "grid search: 3 of the grid's 8 points run (--n-trials 3), in W&B's order" in lines
    done = trials(search(project, "grid_hydra_dotted.yaml"))  # the rerun runs the other 5
    assert len(done) == 8 and len({tuple(sorted(t.params.items())) for t in done}) == 8
    lines.clear()
    search(project, "hyperband_min_iter.yaml", lines, n_trials=9, study="other")
    assert "grid search: the grid has 4 points, so 4 trials run, not --n-trials 9" in lines


def test_a_search_whose_trials_all_failed_exits_non_zero(
    project: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    document = yaml.safe_load((project / "random_no_metric.yaml").read_text())
    document["parameters"]["fail"] = {"value": True}
    (project / "broken.yaml").write_text(yaml.safe_dump(document))
    code = main(["search", "--space", "broken.yaml", "--results", "r", "-q"])
    err = capsys.readouterr().err
    assert code == 1
    assert "all 2 trials failed; trial 0: ProgramFailed: the program exited with status 1: " \
           "the stub was asked to fail" in err  # fmt: skip


def test_quiet_silences_optunas_warnings(project: Path) -> None:
    document = yaml.safe_load((project / "random_no_metric.yaml").read_text())
    document["parameters"]["repeat"] = {"value": True}  # a step reported twice: Optuna warns
    document["metric"] = {"name": "val_loss"}
    (project / "repeat.yaml").write_text(yaml.safe_dump(document))
    command = ["search", "--space", "repeat.yaml", "--results", "r"]
    with pytest.warns(UserWarning, match="already reported"):
        assert main([*command, "--study", "a"]) == 0
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert main([*command, "--study", "b", "-q"]) == 0
    assert [str(w.message) for w in caught if "optuna" in w.filename] == []


@pytest.mark.parametrize(
    ("change", "match"),
    [
        ({"command": "python stub.py"}, "command must be a list of items"),
        ({"program": 5}, "program 5 must be the path"),
        ({"command": ["${interpreter}", "${program}", "${args_dict}"]},
         "expands to the parameter names only"),
        ({"command": ["${interpreter}", "${program}", "${args_yaml}"]},
         "W&B's agent would silently drop it"),
        ({"command": ["${interpreter}", "${program}", "--cfg=${args_json_file}"]},
         "only as a whole item"),
        ({"parameters": {"lr": {"distribution": "uniform", "min": 0.0, "max": 1.0}},
          "method": "grid"}, "a grid cannot enumerate"),
        ({"early_terminate": {"type": "hyperband", "min_iter": 3, "max_iter": 27},
          "metric": {"name": "val_loss"}}, "max_iter needs s"),
        ({"metric": {"name": "val_loss", "target": 0.1}}, "target cannot be honoured"),
        ({"program": "src/stub.py"}, "does not exist in .*project"),
    ],
)  # fmt: skip
def test_sweeps_w_and_b_would_not_run_are_refused_clearly(
    project: Path, change: dict, match: str
) -> None:
    document = {**yaml.safe_load((project / "random_no_metric.yaml").read_text()), **change}
    (project / "bad.yaml").write_text(yaml.safe_dump(document))
    with pytest.raises(UsageError, match=match):
        search(project, "bad.yaml")


def test_program_in_a_subfolder_runs_from_the_starting_folder(project: Path) -> None:
    (project / "src").mkdir()
    shutil.move(project / "stub.py", project / "src" / "stub.py")
    document = {**yaml.safe_load((project / "random_no_metric.yaml").read_text()),
                "program": "src/stub.py"}  # fmt: skip
    (project / "configs").mkdir()
    (project / "configs" / "sweep.yaml").write_text(yaml.safe_dump(document))
    result = search(project, "configs/sweep.yaml")
    assert received(result, 0)["cwd"] == str(project)
    assert (result["folder"] / "trials" / "0" / "command.txt").read_text().split()[2] == (
        "src/stub.py"
    )
