"""Publishing: what a results store shows people. Leaderboards (md, csv, tex), the speed-accuracy Pareto
plot, the reproduction table beside the published numbers, per-video score curves and the manifest that
says which code, commits and machine made them.

:func:`publish_suite` writes all of it for the datasets of a run (``vadbench run`` calls it);
the modules below hold the pieces: :mod:`~vadbench.publish.leaderboard`, :mod:`~vadbench.publish.pareto`,
:mod:`~vadbench.publish.reproduction`, :mod:`~vadbench.publish.report` (curves) and
:mod:`~vadbench.publish.boards` (one dataset's set of files, the manifest).
"""

from __future__ import annotations

from .boards import (
    LITERATURE_FILE,
    finished_rows,
    leaderboards,
    pareto_figure,
    publish_dataset,
    publish_suite,
)
from .leaderboard import aggregate, write_leaderboard
from .pareto import load_literature, pareto_front, plot_pareto
from .report import curves_figure, plot_video_curves
from .reproduction import render_reproduction, reproduction_rows

__all__ = [
    "LITERATURE_FILE",
    "aggregate",
    "curves_figure",
    "finished_rows",
    "leaderboards",
    "load_literature",
    "pareto_figure",
    "pareto_front",
    "plot_pareto",
    "plot_video_curves",
    "publish_dataset",
    "publish_suite",
    "render_reproduction",
    "reproduction_rows",
    "write_leaderboard",
]
