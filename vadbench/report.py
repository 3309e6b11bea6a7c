"""Moved to :mod:`vadbench.publish.report`; this module keeps the old import path working."""

from .publish.report import curves_figure, plot_video_curves, pooled_rank

__all__ = ["curves_figure", "plot_video_curves", "pooled_rank"]
