"""Argument types of the ``vadbench`` command line: each parses one argument or raises argparse's
one-line usage error (``vadbench profile: error: argument --rounds: must be at least 1, got 0``).

Plugin scripts use them too (``from vadbench.argtypes import count_at_least``; the names are also
importable from :mod:`vadbench.cli`, where they lived before).
"""

from __future__ import annotations

import argparse
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from .names import UnsafeNameError, safe_name

__all__ = ["count_at_least", "csv_list", "json_of", "name_arg", "output_file", "rate"]


def csv_list(text: str) -> list[str]:
    """The non-empty, stripped parts of comma-separated text.

    >>> csv_list("a, b,,c ")
    ['a', 'b', 'c']
    """
    return [t.strip() for t in text.split(",") if t.strip()]


def count_at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: an integer of at least ``minimum`` (else argparse's one-line usage error).

    >>> count_at_least(1)("3"), count_at_least(0)("0")
    (3, 0)
    """
    def parse(text: str) -> int:
        value = int(text)
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be at least {minimum}, got {value}")
        return value

    parse.__name__ = "integer"  # argparse names the type in its message for a non-integer
    return parse


def rate(text: str) -> float:
    """An argparse type: a fraction in (0, 1), e.g. a false-alarm rate (else argparse's one-line usage error).

    >>> rate("0.01")
    0.01
    """
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not 0.0 < value < 1.0:
        raise argparse.ArgumentTypeError(f"must lie strictly between 0 and 1, got {value}")
    return value


def json_of(kind: type) -> Callable[[str], Any]:
    """An argparse type: JSON text that decodes to a ``kind`` (``dict`` or ``list``), else a one-line usage
    error.

    >>> json_of(dict)('{"epochs": 4}'), json_of(list)("[]")
    ({'epochs': 4}, [])
    >>> json_of(dict)("{epochs: 4}")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: not JSON (Expecting property name enclosed in double quotes at column 2): ...
    """
    def parse(text: str) -> Any:
        try:
            value = json.loads(text)
        except json.JSONDecodeError as exc:
            raise argparse.ArgumentTypeError(
                f"not JSON ({exc.msg} at column {exc.colno}): {text!r}") from None
        if not isinstance(value, kind):
            raise argparse.ArgumentTypeError(
                f"must be a JSON {'object' if kind is dict else 'list'}, got {text!r}")
        return value

    parse.__name__ = f"JSON {kind.__name__}"
    return parse


def output_file(text: str) -> str:
    """An argparse type: a file that can be written (its folder exists and is writable, or can be created).

    Checked when the arguments are parsed, so a mistyped path ends the command before it
    computes anything rather than after.

    >>> import tempfile, os
    >>> d = tempfile.mkdtemp()
    >>> output_file(os.path.join(d, "new", "report.json")) == os.path.join(d, "new", "report.json")
    True
    >>> output_file(d)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: is a folder, not a file: ...
    """
    path = Path(text)
    if path.is_dir():
        raise argparse.ArgumentTypeError(f"is a folder, not a file: {text}")
    folder = path.parent
    while not folder.exists():  # the nearest folder that exists must be a folder we may write in
        folder = folder.parent
    if not folder.is_dir():
        raise argparse.ArgumentTypeError(f"{folder} is a file, so {text} cannot be written")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise argparse.ArgumentTypeError(f"cannot write in {folder}, so {text} cannot be written")
    return text


def name_arg(what: str, *, many: bool = False) -> Callable[[str], str]:
    """An argparse type: a name safe in a file name (:func:`vadbench.names.safe_name`), else a one-line
    usage error.

    With ``many`` the text is a comma-separated list, each part checked; the text is returned as given.

    >>> name_arg("dataset")("ped2"), name_arg("model", many=True)("motion-diff,motion-flow")
    ('ped2', 'motion-diff,motion-flow')
    >>> name_arg("dataset")("../x")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    argparse.ArgumentTypeError: dataset name '../x' is not safe in a file name (...)
    """
    def parse(text: str) -> str:
        try:
            for part in csv_list(text) if many else [text]:
                safe_name(part, what=what)
        except UnsafeNameError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None
        return text

    parse.__name__ = f"{what} name"
    return parse
