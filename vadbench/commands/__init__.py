"""The subcommands of the ``vadbench`` console script, one module per group of commands.

:mod:`vadbench.cli` builds the parser and calls a ``cmd_*`` function here with the parsed
arguments; each returns the exit status. A command imports what it needs when it runs, so that
``vadbench --help`` or ``vadbench list`` does not load torch, OpenCV or scikit-learn.
"""

from __future__ import annotations

from ..progress import note

DEFAULT_RESULTS = "vadbench-results"


def say(message: str) -> None:
    """Tell the person at the terminal how a command advances: one timestamped line on stderr."""
    note(message)
