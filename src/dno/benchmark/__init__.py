"""Benchmarks: a protocol's models x seeds on its data, and a leaderboard with intervals.

``dno benchmark PROTOCOL --budget small|full --out DIR`` generates the protocol's dataset from its
seed, trains every model on every seed (resumable, in parallel workers that share the cores),
selects each run on the validation split, scores the test split once on one horizon in delays
for every model, and writes ``leaderboard.md``, ``.csv`` and ``.json`` (mean and 95% interval of
the one-step and rollout relative L2, valid time, amplitude ratio, parameters, training time;
paired comparisons against the baseline with ``dno compare``'s statistics and Holm's
correction) and an HTML page through ``dno report``. With ``--tune N`` every model is first
searched with the same budget of N trials on the validation split (:mod:`._tune`), and its best
configuration is what trains on the protocol's seeds; ``ledger.json`` accounts for what every
model spent in each phase (:mod:`._ledger`). A protocol's ``regimes`` (:mod:`._regimes`) test the
kept weights also beyond the training priors and on a finer grid, each with its own table;
``match: params`` (:mod:`._capacity`) gives every model the baseline's parameter count.

``dno benchmark --aggregate DIR [DIR ...]`` reads finished benchmark folders and writes their
aggregate (:func:`aggregate_benchmarks`, :func:`write_aggregate`): per regime and model the
interquartile mean of the scores normalised by the baseline on each task, with rliable's
stratified-bootstrap intervals, probabilities of improvement and performance profiles.

Example:
    >>> from dno.benchmark import Workers, load_protocol, run_benchmark  # doctest: +SKIP
    >>> from dno.benchmark import tune_protocol  # doctest: +SKIP
    >>> out = "benchmark_results/mackey-tuned"
    >>> protocol = load_protocol("mackey", budget="small", tune=8)  # doctest: +SKIP
    >>> protocol = tune_protocol(protocol, out, Workers(2))  # doctest: +SKIP
    >>> runs = run_benchmark(protocol, out, 2)  # doctest: +SKIP
    >>> write_leaderboard(build_leaderboard(protocol, runs), out)  # doctest: +SKIP
"""

from __future__ import annotations

from dno.benchmark import (
    _aggregate,
    _capacity,
    _execution,
    _leaderboard,
    _ledger,
    _protocol,
    _regimes,
    _tune,
)
from dno.benchmark._aggregate import *  # noqa: F403
from dno.benchmark._capacity import *  # noqa: F403
from dno.benchmark._execution import *  # noqa: F403
from dno.benchmark._leaderboard import *  # noqa: F403
from dno.benchmark._ledger import *  # noqa: F403
from dno.benchmark._protocol import *  # noqa: F403
from dno.benchmark._regimes import *  # noqa: F403
from dno.benchmark._tune import *  # noqa: F403

__all__ = [
    *_aggregate.__all__, *_leaderboard.__all__, *_ledger.__all__, *_protocol.__all__,
    *_execution.__all__, *_tune.__all__, *_regimes.__all__, *_capacity.__all__,
]  # fmt: skip
