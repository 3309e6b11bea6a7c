"""Names that become parts of file names: datasets, models and cell ids.

A dataset name ends up in ``<out>/<dataset>.md``, a model name in a cell id and
a cell id in ``records/<cell>.json``; a name holding ``/``, ``\\`` or ``..`` would
write outside the folder meant. Every such name goes through :func:`safe_name`
first, which refuses it with one line naming it.

>>> safe_name("ped2"), safe_name("motion-diff", what="model")
('ped2', 'motion-diff')
>>> safe_name("../x")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
vadbench.names.UnsafeNameError: dataset name '../x' is not safe in a file name (...)
"""

from __future__ import annotations

import re

from .errors import VadbenchError

_SAFE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")

#: The longest name accepted (file systems allow 255 bytes for a whole file name).
MAX_LENGTH = 200


class UnsafeNameError(VadbenchError, ValueError):
    """A dataset, model or cell name that cannot be used as (part of) a file name."""


def safe_name(name: object, what: str = "dataset") -> str:
    """Return ``name`` if it is safe as a file name stem, else raise :class:`UnsafeNameError`.

    Safe means: letters, digits, ``.``, ``_`` and ``-`` only, starting with a
    letter or digit (so no leading dot, no ``/`` or ``\\``), no ``..`` anywhere,
    at most :data:`MAX_LENGTH` characters. ``what`` names the kind of name in the
    message (``dataset``, ``model``, ``cell id``).

    >>> safe_name("a/b", what="cell id")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vadbench.names.UnsafeNameError: cell id 'a/b' is not safe in a file name (letters, digits and ...)

    >>> safe_name(".hidden", what="model")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vadbench.names.UnsafeNameError: model name '.hidden' is not safe in a file name (...)
    """
    if not isinstance(name, str) or not _SAFE.match(name) or ".." in name or len(name) > MAX_LENGTH:
        label = what if what.endswith((" id", " name")) else f"{what} name"
        raise UnsafeNameError(f"{label} {name!r} is not safe in a file name (letters, digits and ._- only, "
                              "starting with a letter or digit, no '..')")
    return name
