"""``vadbench leaderboard``, ``pareto``, ``curves``: tables and figures from a results store
(:mod:`vadbench.publish` does the work)."""

from __future__ import annotations

from argparse import Namespace
from pathlib import Path

from ..argtypes import csv_list
from . import say


def cmd_leaderboard(args: Namespace) -> int:
    from ..publish import leaderboards
    from ..results import ResultsStore

    store = ResultsStore(args.results)
    written = leaderboards(store, Path(args.out), [args.dataset] if args.dataset else None,
                           command=args.command, latex=args.latex)
    for paths in written.values():
        print(Path(paths["md"]).read_text())
    return 0


def cmd_pareto(args: Namespace) -> int:
    from ..publish import pareto_figure
    from ..results import ResultsStore

    for p in pareto_figure(ResultsStore(args.results), args.dataset, Path(args.out), x=args.x, y=args.y,
                           literature_file=args.literature):
        print(p)
    return 0


def cmd_curves(args: Namespace) -> int:
    """Per-video score curves of several models from the results store (first seed of each)."""
    from ..publish import curves_figure
    from ..results import ResultsStore

    for p in curves_figure(ResultsStore(args.results), args.dataset, csv_list(args.models), Path(args.out),
                           videos=csv_list(args.videos) if args.videos else None,
                           false_alarm_rate=args.false_alarm_rate, threshold_folds=args.threshold_folds,
                           progress=say):
        print(p)
    return 0
