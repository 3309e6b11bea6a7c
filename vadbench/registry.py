"""Name -> factory registries for models and datasets (timm-style).

A plugin registers a plain factory under a name; users list names with fnmatch
wildcards and build objects with one ``create`` call.

>>> reg = Registry("model")
>>> reg.register("motion-diff", dict, family="baseline")
>>> reg.register("motion-flow", dict, family="baseline")
>>> reg.list("motion-*")
['motion-diff', 'motion-flow']
>>> reg.create("motion-diff", k=1)
{'k': 1}
>>> reg.create("motion-dif")  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
vadbench.errors.UnknownNameError: unknown model 'motion-dif'; did you mean motion-diff, motion-flow? ...
"""

from __future__ import annotations

import difflib
import fnmatch
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .errors import PluginError, UnknownNameError

_NAME = re.compile(r"^[a-z0-9][a-z0-9_.\-]*$")


@dataclass(frozen=True)
class Entry:
    """One registered name: its factory and descriptive metadata."""

    name: str
    factory: Callable[..., Any]
    family: str = ""
    description: str = ""
    defaults: dict = field(default_factory=dict)
    plugin: str = ""
    quick: dict = field(default_factory=dict)
    test_history: str = ""


class Registry:
    """A mapping of names to factories for one kind of object ("model", "dataset")."""

    def __init__(self, kind: str):
        self.kind = kind
        self._entries: dict[str, Entry] = {}
        self.current_plugin = ""

    def register(self, name: str, factory: Callable[..., Any], *, family: str = "",
                 description: str = "", quick: dict | None = None, test_history: str = "",
                 **defaults: Any) -> None:
        """Register ``factory`` under ``name``; ``defaults`` are passed to it on creation.

        ``quick`` is the configuration (overriding ``defaults``) that trains in
        seconds on a tiny dataset: the contract tests and ``vadbench run --quick``
        use it. Names are lower case (letters, digits, ``-_.``) so that they are
        safe as file names in the results store.

        ``test_history`` says, in one sentence, how the model's design was
        revised after a look at test results (empty: its design was frozen, from
        training videos alone, before its test videos were scored). The
        leaderboards show it beside the model's numbers.
        """
        if not _NAME.match(name):
            raise PluginError(f"{self.current_plugin or 'plugin'}: {self.kind} name {name!r} "
                              "must be lower case letters, digits, '-', '_' or '.'")
        if name in self._entries and self._entries[name].factory is not factory:
            raise PluginError(f"{self.kind} {name!r} registered twice "
                              f"(by {self._entries[name].plugin or '?'} and {self.current_plugin or '?'})")
        doc = description or (getattr(factory, "__doc__", "") or "").strip().split("\n")[0]
        self._entries[name] = Entry(name, factory, family, doc, dict(defaults), self.current_plugin,
                                    dict(quick or {}), test_history)

    def list(self, pattern: str = "*") -> list[str]:
        """Registered names matching the fnmatch ``pattern``, sorted."""
        return sorted(n for n in self._entries if fnmatch.fnmatchcase(n, pattern))

    def entry(self, name: str) -> Entry:
        """The :class:`Entry` of ``name``; unknown names raise with close matches suggested."""
        try:
            return self._entries[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._entries), n=3, cutoff=0.5)
            raise UnknownNameError(self.kind, name, close) from None

    def create(self, name: str, **config: Any) -> Any:
        """Build the object registered as ``name`` with its defaults overridden by ``config``."""
        entry = self.entry(name)
        return entry.factory(**{**entry.defaults, **config})

    def __contains__(self, name: str) -> bool:
        return name in self._entries

    def __len__(self) -> int:
        return len(self._entries)
