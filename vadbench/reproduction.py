"""Moved to :mod:`vadbench.publish.reproduction`; this module keeps the old import path working."""

from .publish.reproduction import METRICS, render_reproduction, reproduction_rows

__all__ = ["METRICS", "render_reproduction", "reproduction_rows"]
