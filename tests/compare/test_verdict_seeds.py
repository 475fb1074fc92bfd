"""Seeds that can reach a verdict: the fewest paired seeds for which a Holm-adjusted Wilcoxon
test can reject, and the one warning line ``dno compare`` and ``dno benchmark`` give before
running when the seeds are fewer."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import yaml
from scipy import stats

from dno.cli import main
from dno.compare import compare_approaches, holm, min_verdict_seeds


def _best_holm_p(n: int, comparisons: int) -> float:
    """The smallest Holm-adjusted p any of ``comparisons`` approaches can get with n seeds:
    every approach better than the baseline on every seed (scipy's exact test)."""
    best = stats.wilcoxon(range(1, n + 1), method="exact").pvalue
    adjusted = holm([best] * comparisons)
    return min(p for p in adjusted if p is not None)


@pytest.mark.parametrize("alpha", [0.05, 0.01, 0.1])
@pytest.mark.parametrize("comparisons", [1, 2, 6, 8])
def test_min_verdict_seeds_is_the_first_n_whose_best_holm_p_is_below_alpha(
    alpha: float, comparisons: int
) -> None:
    need = min_verdict_seeds(alpha, comparisons)
    assert _best_holm_p(need, comparisons) < alpha <= _best_holm_p(need - 1, comparisons)


def test_with_the_minimum_the_verdict_is_reachable_and_one_fewer_it_is_not() -> None:
    need = min_verdict_seeds(0.05, 2)  # 7
    for n, verdict in ((need, "better"), (need - 1, "not distinguishable")):
        base = [1.0 + s for s in range(n)]
        better = [v - 0.3 * (s + 1) for s, v in enumerate(base)]
        rows = compare_approaches({"b": base, "x": better, "y": better}, baseline="b")
        assert {r.verdict for r in rows if not r.is_baseline} == {verdict}, n


def _comparison(folder: Path, seeds: int, approaches: int) -> Path:
    path = folder / "ab.yaml"
    names = [f"a{i}" for i in range(approaches)]
    path.write_text(yaml.safe_dump({
        "family": "mackey", "data": str(folder / "absent.h5"), "seeds": seeds,
        "metric": {"name": "val_rel_l2"}, "baseline": names[0],
        "approaches": {n: {"model": "fno", "set": {"lr": 1e-3 * (i + 1)}}
                       for i, n in enumerate(names)},
    }))  # fmt: skip
    return path


def test_dno_compare_warns_in_one_line_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # the dataset is absent, so the command stops right after its checks: nothing trains
    assert main(["compare", str(_comparison(tmp_path, 3, 2))]) == 2
    warning, error = capsys.readouterr().err.splitlines()
    assert warning == (
        "dno: warning: 3 paired seeds can never give a verdict: 1 comparison against the "
        "baseline at alpha = 0.05 after Holm's correction need at least 6 seeds (a paired "
        "Wilcoxon test of n seeds gives p >= 2/2^n), so every approach will be 'not "
        "distinguishable'; use --seeds 6 or more"
    )
    assert error.startswith("dno: error: dataset ")
    assert main(["compare", str(_comparison(tmp_path, 3, 3)), "--seeds", "7"]) == 2
    assert "warning" not in capsys.readouterr().err  # 2 comparisons need 7


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_dno_benchmark_warns_before_running(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # --device cuda on a CPU-only machine is refused before any data is made
    argv = ["benchmark", "mackey", "--out", str(tmp_path / "b"), "--device", "cuda"]
    assert main([*argv, "--seeds", "2"]) == 2
    *_, warning, error = capsys.readouterr().err.splitlines()  # after the protocol's own
    assert warning.startswith("dno: warning: 2 paired seeds can never give a verdict: 6 ")
    assert "need at least 8 seeds" in warning and error.startswith("dno: error: ")
    assert main(argv) == 2  # the protocol's own 8 seeds can
    assert "warning" not in capsys.readouterr().err
    assert not (tmp_path / "b").exists()
