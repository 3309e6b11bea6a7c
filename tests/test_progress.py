"""vadbench.progress: values pass through unchanged; plain (non-terminal) logging stays short and sane."""

from __future__ import annotations

import io
import itertools
import re

import pytest

from vadbench import progress as progress_mod
from vadbench.progress import note, progress

LINE = re.compile(r"^\[\d\d:\d\d:\d\d\] ")


class NotATerminal(io.StringIO):
    def isatty(self) -> bool:
        return False


def _clock(monkeypatch, step: float) -> None:
    """Every read of the clock ``step`` seconds later than the one before."""
    ticks = itertools.count()
    monkeypatch.setattr(progress_mod.time, "monotonic", lambda: next(ticks) * step)


def test_values_unchanged_and_lines_sane(monkeypatch):
    _clock(monkeypatch, 0.0125)  # 1000 items in 12.5 s: a tenth of the way every 1.25 s
    stream = NotATerminal()
    items = [object() for _ in range(1000)]
    seen = list(progress(iter(items), total=len(items), desc="cells", unit="cell", stream=stream))
    assert all(a is b for a, b in zip(seen, items, strict=True))
    lines = stream.getvalue().splitlines()
    assert all(LINE.match(line) for line in lines), lines
    # a start line, one per tenth (10%..90%), an end line: never one per item
    assert 3 <= len(lines) <= 12, lines
    assert lines[0].endswith("cells: 0/1000 cell")
    assert "cells: 1000/1000 cell (100%) in " in lines[-1]
    assert any("(50%)" in line and "left" in line for line in lines)


def test_len_is_the_default_total_and_generators_work():
    stream = NotATerminal()
    assert list(progress(range(5), stream=stream)) == [0, 1, 2, 3, 4]
    assert "5/5 it" in stream.getvalue()
    stream = NotATerminal()
    assert list(progress((i * i for i in range(4)), desc="g", stream=stream)) == [0, 1, 4, 9]
    lines = stream.getvalue().splitlines()
    assert lines[0].endswith("g: 0 it") and "g: 4 it in " in lines[-1]


def test_empty_and_early_stop():
    stream = NotATerminal()
    assert list(progress([], desc="none", stream=stream)) == []
    assert "none: 0/0 it" in stream.getvalue().splitlines()[-1]
    stream = NotATerminal()
    for i in progress(range(10), desc="cut", stream=stream):
        if i == 2:
            break
    # the generator finishes when it is collected (at once in CPython)
    assert "stopped early" in stream.getvalue().splitlines()[-1]


def test_quick_loops_say_only_where_they_start_and_end():
    stream = NotATerminal()
    assert list(progress(range(20), desc="quick", stream=stream)) == list(range(20))
    assert len(stream.getvalue().splitlines()) == 2


def test_nothing_shown_when_asked_for_quiet():
    stream = NotATerminal()
    items = [3, 1, 2]
    assert list(progress(items, stream=stream, show=False)) == items and stream.getvalue() == ""


def test_slow_items_log_at_least_every_interval(monkeypatch):
    _clock(monkeypatch, 40)  # every item 40 s after the one before
    stream = NotATerminal()
    assert list(progress(iter(range(3)), desc="slow", stream=stream)) == [0, 1, 2]
    lines = stream.getvalue().splitlines()
    assert [line.split("] ", 1)[1].split(",")[0] for line in lines[1:-1]] == ["slow: 1 it", "slow: 2 it",
                                                                              "slow: 3 it"]


def test_terminal_bar_passes_values_and_note_does_not_break_it():
    pytest.importorskip("tqdm")
    stream = io.StringIO()
    out = []
    for v in progress(range(4), desc="bar", stream=stream, tty=True):
        note(f"at {v}", stream=stream)
        out.append(v)
    assert out == [0, 1, 2, 3]
    assert "at 3" in stream.getvalue() and "4/4" in stream.getvalue()
    assert progress_mod._live_bars == 0


def test_exceptions_propagate():
    def boom():
        yield 1
        raise ValueError("x")

    stream = NotATerminal()
    with pytest.raises(ValueError):
        list(progress(boom(), stream=stream))
    assert "stopped early" in stream.getvalue()
