"""``dno report``: what it writes, from real tiny studies; bad input; the analysis on plain data."""

from __future__ import annotations

import argparse
import json
import re
import shutil
import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from dno.cli import main
from dno.cli._report import ReportCommand
from dno.errors import DnoError, UsageError
from dno.report import ParamInfo, StudyData, TrialRecord, choose_pairs, write_report
from dno.report._analysis import compute_importance, heatmap_grid, spearman
from dno.report._plotting import render
from dno.report._study_figures import (
    heatmap_plots,
    history_plot,
    importance_plot,
    parallel_plot,
    pareto_plot,
    slice_plot,
)

pytest.importorskip(
    "plotly", reason="the interactive report needs plotly (pip install 'dno[plot]')"
)

SEARCHED = {"lr", "modes_theta", "width"}


def run_cli(argv: list[str]) -> int:
    """``dno report ARGV``, as the console script runs it: its exit status."""
    return main(["report", *argv])


def load(out: Path) -> dict[str, Any]:
    return dict(json.loads((out / "visualization_report.json").read_text()))


@pytest.mark.slow
def test_every_listed_file_exists_and_only_searched_params_are_plotted(
    single_study: Path, tmp_path: Path
) -> None:
    out = tmp_path / "report"
    assert run_cli([str(single_study), "--out", str(out), "-q"]) == 0
    report = load(out)
    (study,) = report["studies"]
    keys = {f["key"] for f in report["figures"]}
    assert {
        "history",
        "importance",
        "slices",
        "parallel",
        "convergence",
        "rollout_error",
        "spectra",
    } <= keys
    for figure in report["figures"]:
        assert (out / figure["png"]).stat().st_size > 1000
        assert (out / figure["html"]).is_file()
    for item in report["artifacts"] + report["tables"]:
        assert (out / item.get("path", item.get("html"))).is_file()
    assert any(a["title"] == "prediction vs truth" for a in report["artifacts"])
    # heatmaps: only parameters the study searched (S and layers were fixed values)
    assert set(study["searched_parameters"]) == SEARCHED
    assert study["heatmap_pairs"] and all(set(p) <= SEARCHED for p in study["heatmap_pairs"])
    assert all(
        set(k.removeprefix("heatmap_").split("_")) - {"modes", "theta"} <= SEARCHED
        for k in keys
        if k.startswith("heatmap_")
    )
    assert study["importance"]["method"] == "ped-anova"  # 12 completed trials
    assert study["totals"]["complete"] == 12 and report["models"] == ["method_of_steps"]
    assert study["best"][0]["values"]["val_rel_l2"] <= study["worst"][0]["values"]["val_rel_l2"]


@pytest.mark.slow
def test_requested_pairs_and_unsearched_pairs(single_study: Path, tmp_path: Path) -> None:
    out = tmp_path / "pairs"
    result = write_report([str(single_study)], out=out, pairs=["width:lr"])
    assert [f.key for f in result.figures if f.key.startswith("heatmap")] == ["heatmap_width_lr"]
    with pytest.raises(UsageError, match="S:lr: no study searched both"):
        write_report([str(single_study)], out=out, pairs=["S:lr"])
    assert run_cli([str(single_study), "--out", str(out), "--pairs", "lr"]) == 2


@pytest.mark.slow
def test_index_is_offline_and_embeds_plotly_once(single_study: Path, tmp_path: Path) -> None:
    out = tmp_path / "offline"
    result = write_report([str(single_study)], out=out)
    page = result.index.read_text()
    sources = re.findall(r"<script[^>]*\ssrc=['\"]([^'\"]+)", page)
    assert sources == []  # everything inline: no CDN, no file next to it needed
    bundles = re.findall(r"<script type='text/javascript'>(.*?)</script>", page, flags=re.S)
    assert len(bundles) == 1 and len(bundles[0]) > 1_000_000  # plotly.js, embedded once
    rest = page.replace(bundles[0], "")
    assert "plotly.js v" not in rest and "http" not in rest
    for figure in result.figures:
        assert f'id="{figure.div_id}"' in page
        own = (out / str(figure.html)).read_text()
        assert re.findall(r"<script[^>]*\ssrc=['\"]([^'\"]+)", own) == ["../plotly.min.js"]
    assert (out / "figures" / "plotly.min.js").stat().st_size > 1_000_000


@pytest.mark.slow
def test_several_studies_pareto_box_plots_and_comparisons(
    single_study: Path, multi_study: Path, tmp_path: Path
) -> None:
    compare = tmp_path / "comparisons" / "fno-vs-mos"
    compare.mkdir(parents=True)
    (compare / "comparison.csv").write_text("approach,mean,ci_low,ci_high\nfno,0.41,0.4,0.42\n")
    out = tmp_path / "both"
    result = write_report(
        [str(single_study), str(multi_study)], out=out, compare=[tmp_path / "comparisons"]
    )
    report = load(out)
    assert report["models"] == ["fno", "method_of_steps"] and report["families"] == ["mackey"]
    assert report["totals"]["studies"] == 2 and report["totals"]["trials"] == 18
    multi = next(s for s in report["studies"] if s["name"] == "multi")
    assert multi["pareto_front"] and any(f["key"] == "pareto" for f in multi["figures"])
    assert [f["key"] for f in report["across_studies"]] == ["box_val_rel_l2"]
    table = next(t for t in report["tables"] if t["key"] == "compare-fno-vs-mos")
    assert "0.41" in (out / table["html"]).read_text()
    assert "Comparison: fno-vs-mos" in result.index.read_text()
    with pytest.raises(UsageError, match="no such folder"):
        write_report([str(single_study)], out=out, compare=[tmp_path / "nowhere"])


@pytest.mark.slow
def test_zero_completed_trials_give_a_report_that_says_so(
    failed_study: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli([str(failed_study)]) == 0
    assert "no completed trials" in capsys.readouterr().out
    out = failed_study / "report"
    report = load(out)
    (study,) = report["studies"]
    assert study["totals"]["complete"] == 0 and study["totals"]["failed"] == 2
    assert report["figures"] == [] and study["best"] == []
    page = (out / "index.html").read_text()
    assert "No completed trials" in page and "failed" in page
    assert "modes_theta=12 exceeds S=16" in page  # the failure reasons are listed
    assert "<script type='text/javascript'>" not in page  # nothing to draw: no plotly.js


@pytest.mark.slow
def test_report_regenerates_from_the_folder_alone(single_study: Path, tmp_path: Path) -> None:
    """Moved elsewhere, without checkpoints or the dataset: the same figures."""
    moved = tmp_path / "elsewhere" / "single"
    shutil.copytree(single_study, moved, ignore=shutil.ignore_patterns("report", "*.pt"))
    before = write_report([str(single_study)], out=tmp_path / "a", interactive=False)
    after = write_report([str(moved)], out=tmp_path / "b", interactive=False)
    assert [f.key for f in after.figures] == [f.key for f in before.figures]
    assert not list(moved.rglob("*.pt"))


def test_missing_study_is_one_clear_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_cli([str(tmp_path / "no-such-study"), "--no-interactive"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and err.startswith("dno: error: no study")
    assert not (tmp_path / "no-such-study").exists()  # nothing was created on the way


def test_help_names_the_figures() -> None:
    parser = argparse.ArgumentParser(prog="dno report")
    ReportCommand().add_arguments(parser)
    text = ReportCommand.description + parser.format_help()
    for word in ("heatmaps", "Pareto", "--pairs", "--compare", "--no-interactive", "offline"):
        assert word in text


def synthetic(
    values: list[tuple[float, str, float]],
    directions: tuple[str, ...] = ("minimize",),
    extra: list[list[float]] | None = None,
) -> StudyData:
    """A study of (lr, width, objective) trials, without storage."""
    trials = [
        TrialRecord(i, "complete", [y, *(extra[i] if extra else [])], {"lr": lr, "act": a})
        for i, (lr, a, y) in enumerate(values)
    ]
    params = [
        ParamInfo("act", "categorical", choices=("relu", "gelu")),
        ParamInfo("lr", "float", 1e-4, 1e-2, log=True),
    ]
    objectives = ["val_rel_l2", "n_parameters"][: len(directions)]
    return StudyData(
        "syn", Path("."), "fno", "mackey", "random", objectives, list(directions), params, trials
    )


def test_heatmap_cells_are_means_of_their_trials() -> None:
    study = synthetic([(1.5e-4, "relu", 1.0), (2e-4, "relu", 3.0), (5e-3, "gelu", 10.0)])
    grid = heatmap_grid(study, "lr", "act")
    assert grid.y_labels == ["relu", "gelu"] and len(grid.x_labels) == 2
    assert grid.mean[0, 0] == 2.0 and grid.count[0, 0] == 2
    assert grid.mean[1, 1] == 10.0 and np.isnan(grid.mean[0, 1])


def test_pairs_never_use_unsearched_parameters() -> None:
    study = synthetic([(1e-3, "relu", 1.0)] * 3)
    pairs, notes = choose_pairs(study, [("lr", "act"), ("lr", "S")])
    assert pairs == [("lr", "act")] and "S not searched" in notes[0]
    assert choose_pairs(study)[0] == [("act", "lr")]


def test_spearman_and_pareto_front() -> None:
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert spearman(x, x**3) == pytest.approx(1.0) and spearman(x, -x) == pytest.approx(-1.0)
    assert spearman(x, np.ones(4)) is None
    study = synthetic(
        [(1e-3, "relu", 1.0), (1e-3, "relu", 2.0), (1e-3, "relu", 3.0)],
        ("minimize", "minimize"),
        extra=[[5.0], [1.0], [6.0]],
    )
    assert [t.number for t in study.pareto_front()] == [0, 1]
    assert [t.number for t in study.ranked()] == [0, 1, 2]


@pytest.mark.parametrize("n", [1, 2, 30])
def test_study_figures_draw_from_any_number_of_trials(n: int, tmp_path: Path) -> None:
    rng = np.random.default_rng(n)
    rows = [
        (float(10 ** rng.uniform(-4, -2)), ("relu", "gelu")[i % 2], float(rng.random()))
        for i in range(n)
    ]
    study = synthetic(rows, ("maximize", "minimize"), extra=[[float(i)] for i in range(n)])
    study.importance = compute_importance(None, study)
    plots = [
        history_plot(study),
        importance_plot(study),
        slice_plot(study),
        parallel_plot(study),
        pareto_plot(study),
        *heatmap_plots(study, choose_pairs(study)[0]),
    ]
    for plot in plots:
        assert plot is not None
        done = render(plot, "syn", tmp_path, interactive=True)
        assert (tmp_path / done.png).is_file() and done.fragment


def test_missing_plotly_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "plotly", None)
    with pytest.raises(DnoError, match=r"pip install 'dno\[plot\]'.*--no-interactive"):
        write_report(["whatever"])


PROGRAM = """
import argparse, json
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--seed", type=int)
args = parser.parse_args()
for epoch in range(1, 5):
    print(json.dumps({"epoch": epoch, "val_loss": args.lr / epoch + 0.01 * args.seed,
                      "recon_error": 2 * args.lr / epoch}))
"""


@pytest.mark.slow
@pytest.mark.usefixtures("python_on_path")
def test_program_sweeps_get_the_same_report(tmp_path: Path) -> None:
    """A W&B-format sweep of a user's program, 2 seeds: curves come from its own metrics."""
    import yaml

    from dno.compare import compare_study
    from dno.search import SearchOptions, run_search

    (tmp_path / "train.py").write_text(PROGRAM)
    sweep = {"program": "train.py", "method": "grid",
             "metric": {"name": "val_loss", "goal": "minimize"},
             "parameters": {"lr": {"values": [0.1, 0.2, 0.4]}}}  # fmt: skip
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    options = SearchOptions(space=tmp_path / "sweep.yaml", results=tmp_path / "r", seeds=2,
                            seed_param="seed", workdir=tmp_path, progress=False,
                            confirm_top=0)  # fmt: skip
    folder = Path(run_search(options, log=lambda _: None)["folder"])
    metrics = (folder / "trials" / "0" / "seeds" / "1" / "metrics.csv").read_text().splitlines()
    assert metrics[0] == "epoch,recon_error,val_loss" and len(metrics) == 5
    compare_study(str(folder), tmp_path / "r")  # its comparison is shown without --compare
    out = tmp_path / "report"
    assert run_cli([str(folder), "--out", str(out), "-q"]) == 0
    report = load(out)
    (study,) = report["studies"]
    assert study["totals"]["complete"] == 3
    assert any(t["key"] == "compare-train-grid" for t in report["tables"])
    figures = {f["key"]: f for f in study["figures"]}
    assert "history" in figures and (out / figures["convergence"]["png"]).is_file()
    curves = (out / figures["convergence"]["html"]).read_text()
    assert "recon_error" in curves and "val_loss" in curves


@pytest.mark.parametrize("n_x", [1, 5])
def test_prediction_vs_truth_is_redrawn_from_the_kept_rollouts(n_x: int, tmp_path: Path) -> None:
    """dno evaluate's rollouts_val.npz: lines for one value, (time, x) maps for a field."""
    from dno.report._run_figures import evaluation_plots, evaluations

    trials = []
    for number in (4, 7):
        folder = tmp_path / "trials" / str(number)
        folder.mkdir(parents=True)
        doc = {"split": "val", "examples": {"file": "rollouts_val.npz", "windows": [0, 5]}}
        (folder / "evaluation_val.json").write_text(json.dumps(doc))
        t = np.linspace(0, 3, 45)[None, :, None, None] + np.zeros((2, 1, n_x, 1))
        np.savez(folder / "rollouts_val.npz", history=np.ones((2, 16, n_x, 1)),
                 truth=np.sin(t), prediction=0.9 * np.sin(t))  # fmt: skip
        trials.append(TrialRecord(number, "complete", [0.1], {}, folder=folder))
    (plot,) = evaluation_plots(evaluations(trials))
    assert plot.key == "prediction" and ("(time, x)" in plot.caption) == (n_x > 1)
    done = render(plot, "g", tmp_path / "out", interactive=True)
    assert (tmp_path / "out" / done.png).is_file()
    assert "trial 7" in (tmp_path / "out" / str(done.html)).read_text()
    kinds = {trace.type for trace in plot.interactive().data}
    assert kinds == ({"heatmap"} if n_x > 1 else {"scatter"})
