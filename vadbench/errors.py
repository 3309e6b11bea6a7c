"""Errors that vadbench reports to users as one clear line.

Every error raised for bad input names the file (or folder) at fault and what is
wrong with it, so that ``vadbench`` can print ``error: <path>: <what>`` and stop
without a traceback.

>>> str(DataError("/data/ped2/testing/frames/01/003.jpg", "cannot be decoded as an image"))
'/data/ped2/testing/frames/01/003.jpg: cannot be decoded as an image'
"""

from __future__ import annotations

import os


class VadbenchError(Exception):
    """Base class of every error vadbench reports as a single line."""


class DataError(VadbenchError):
    """A dataset file or folder is missing, unreadable or inconsistent."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UnknownNameError(VadbenchError, KeyError):
    """A model or dataset name that no plugin registered."""

    def __init__(self, kind: str, name: str, suggestions: list[str]):
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else ""
        self.message = f"unknown {kind} {name!r}{hint} (see `vadbench list {kind}s`)"
        super().__init__(self.message)

    def __str__(self) -> str:  # KeyError would quote the message
        return self.message


class SettingsError(VadbenchError, ValueError):
    """A model's configuration names a setting the model does not take, or a value it refuses."""


class PluginError(VadbenchError):
    """A plugin is malformed (misspelt hook, bad registration) or broke its contract."""


def one_line(exc: BaseException) -> str:
    """``Type: first line of the message``, at most 300 characters: how a failed cell records its error.

    >>> one_line(ValueError("bad value\\nmore detail"))
    'ValueError: bad value'
    """
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]
