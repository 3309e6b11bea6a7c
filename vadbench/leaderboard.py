"""Moved to :mod:`vadbench.publish.leaderboard`; this module keeps the old import path working."""

from .publish.leaderboard import (
    ACCURACY,
    AGGREGATED,
    SPEED,
    aggregate,
    changed_settings,
    commits_text,
    design_history,
    format_fps,
    format_pct,
    render_csv,
    render_latex,
    render_markdown,
    write_leaderboard,
)

__all__ = ["ACCURACY", "AGGREGATED", "SPEED", "aggregate", "changed_settings", "commits_text",
           "design_history", "format_fps", "format_pct", "render_csv", "render_latex", "render_markdown",
           "write_leaderboard"]
