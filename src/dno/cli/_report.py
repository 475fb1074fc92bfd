"""``dno report STUDY [STUDY ...]``: figures, tables, JSON and one offline HTML page."""

from __future__ import annotations

import argparse

from dno.cli._base import Command

__all__ = ["ReportCommand"]


class ReportCommand(Command, shared="-q --results --storage"):
    """``dno report STUDY [STUDY ...] [--out DIR]``: the report of one or more studies."""

    name = "report"
    help = "figures, tables and one offline HTML page of one or more studies"
    description = (
        "Write the report of one or more studies, from what is in their storage and folders\n"
        "alone (no model is loaded or run):\n\n"
        "  - optimization history; parameter importance (Optuna's PED-ANOVA, or fANOVA) beside\n"
        "    each parameter's Spearman correlation with the objective; heatmaps of the mean\n"
        "    objective over pairs of parameters the study really searched (the most important\n"
        "    pairs, or --pairs); slice plots; parallel coordinates; the Pareto front of a\n"
        "    multi-objective study;\n"
        "  - convergence curves (loss, validation error, learning rate per epoch) of the best\n"
        "    trials, their prediction vs truth, and their rollout error and spectra where\n"
        "    dno evaluate has run on them;\n"
        "  - with several studies: box plots of the objective per model across families;\n"
        "  - a table of every trial (HTML and CSV), comparison tables (--compare).\n\n"
        "Given a benchmark folder (dno benchmark), the page of its leaderboard instead: the\n"
        "table, box plots across models and rollout error curves (BENCH/report/index.html);\n"
        "given an aggregate's folder (dno benchmark --aggregate), the aggregate's page.\n\n"
        "Every figure is a PNG (matplotlib) and an interactive page (plotly); index.html shows\n"
        "them all with the headline numbers first and works offline (plotly.js embedded once,\n"
        "no CDN); visualization_report.json lists totals, models, families, the best and worst\n"
        "trials and every file. A study without completed trials gives a report that says so.\n\n"
        "Default output: STUDY/report/ for one study, ./report/ for several.\n\n"
        "examples:\n"
        "  dno report hyperparameter_results/method_of_steps-mackey-bayesian\n"
        "  dno report hyperparameter_results/fno-mackey-random \\\n"
        "             hyperparameter_results/method_of_steps-mackey-random --out report\n"
        "  dno report shared --storage postgresql://user:pw@db/dno --pairs lr:width --pairs lr:S\n"
        "  dno report hyperparameter_results/fno-mackey-random --compare comparisons/fno-vs-mos"
    )

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        parser.add_argument(
            "studies",
            nargs="+",
            metavar="STUDY",
            help="a study folder (RESULTS/NAME, holding study.journal) or a study name; or one "
            "benchmark folder (holding leaderboard.json, written by dno benchmark) or aggregate "
            "folder (aggregate.json, dno benchmark --aggregate)",
        )
        parser.add_argument(
            "--out", help="report folder (default: STUDY/report, or report/ for several studies)"
        )
        parser.add_argument(
            "--pairs",
            action="append",
            metavar="A:B",
            help="a heatmap of this parameter pair, repeatable (default: the pairs of the 3 "
            "most important parameters)",
        )
        parser.add_argument(
            "--compare",
            action="append",
            metavar="DIR",
            help="a comparison folder (holding comparison.csv / .md, or sub-folders that do) "
            "to show as tables, repeatable; a study's own (dno compare --study) is shown anyway",
        )
        parser.add_argument(
            "--importance",
            choices=("ped-anova", "fanova"),
            default="ped-anova",
            help="Optuna's importance evaluator (ped-anova; fanova needs scikit-learn)",
        )
        parser.add_argument(
            "--no-interactive",
            action="store_true",
            help="PNG figures only (no plotly needed); index.html shows the PNGs",
        )

    def run(self, args: argparse.Namespace) -> int:
        from dno.report import is_benchmark, write_benchmark_report, write_report

        if len(args.studies) == 1 and is_benchmark(args.studies[0]):
            page = write_benchmark_report(
                args.studies[0], args.out, interactive=not args.no_interactive
            )
            print(f"report: {page.index} ({len(page.figures)} figures) in {page.seconds:.1f} s")
            return 0

        result = write_report(
            args.studies,
            out=args.out,
            results=args.results,
            storage=args.storage,
            pairs=args.pairs,
            compare=args.compare,
            interactive=not args.no_interactive,
            importance=args.importance,
            log=None if args.quiet else print,
        )
        for study in result.studies:
            counts = study.counts()
            if not study.complete():
                print(
                    f"study {study.name}: no completed trials ({counts['trials']} trials); "
                    "the report says so"
                )
        print(
            f"report: {result.index} ({len(result.figures)} figures, {result.json.name}) "
            f"in {result.seconds:.1f} s"
        )
        return 0
