"""Moved to :mod:`vadbench.publish.pareto`; this module keeps the old import path working."""

from .publish.pareto import (
    FAMILY_COLOURS,
    LITERATURE_COLUMNS,
    PERCENT_METRICS,
    load_literature,
    pareto_front,
    place_labels,
    plot_pareto,
)

__all__ = ["FAMILY_COLOURS", "LITERATURE_COLUMNS", "PERCENT_METRICS", "load_literature", "pareto_front",
           "place_labels", "plot_pareto"]
