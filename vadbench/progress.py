"""Progress a person can see, for long loops (cells of a grid, test videos, epochs, profiling rounds).

:func:`progress` wraps an iterable and yields its values unchanged. Where stderr is a terminal it shows a
live tqdm bar (count, rate, time left); elsewhere (a log file, CI, a pipe) it writes plain lines: one at
the start, one about every tenth of the way (at most one a second) and at least every 30 seconds while
items keep arriving, and one at the end, each flushed at once. A loop inside another's (the test videos of
a cell of a grid) gets a bar of its own that disappears when it is done.

>>> import io
>>> log = io.StringIO()
>>> list(progress(range(3), desc="demo", unit="video", stream=log))
[0, 1, 2]
>>> print(log.getvalue().splitlines()[0][11:])
demo: 0/3 video
>>> print(log.getvalue().splitlines()[-1][11:].split(",")[0])
demo: 3/3 video (100%) in 0s
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterable, Iterator
from typing import IO, TypeVar

T = TypeVar("T")

__all__ = ["note", "progress"]

# plain mode: a line every this many seconds at the latest (while items arrive), and every tenth of the way
# unless the last line is younger than PLAIN_MIN_GAP_S (a quick loop gets its first and last lines only)
PLAIN_EVERY_S = 30.0
PLAIN_STEPS = 10
PLAIN_MIN_GAP_S = 1.0

_live_bars = 0  # tqdm bars open now; :func:`note` writes around them


def _is_tty(stream: IO[str]) -> bool:
    """A terminal a bar can be drawn on: one with a width (a pseudo-terminal of 0 columns shows no bar)."""
    try:
        if not stream.isatty():
            return False
        return os.get_terminal_size(stream.fileno()).columns > 0
    except (AttributeError, ValueError, OSError):  # a closed or exotic stream
        return False


def _duration(seconds: float) -> str:
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes}m{seconds:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"


def _stamp() -> str:
    return time.strftime("%H:%M:%S")


def note(message: str, *, stream: IO[str] | None = None) -> None:
    """Write one timestamped line to stderr (or ``stream``), without tearing a live progress bar."""
    stream = stream if stream is not None else sys.stderr
    line = f"[{_stamp()}] {message}"
    if _live_bars:
        from tqdm import tqdm

        tqdm.write(line, file=stream)
    else:
        print(line, file=stream, flush=True)


def progress(iterable: Iterable[T], *, total: int | None = None, desc: str = "", unit: str = "it",
             stream: IO[str] | None = None, tty: bool | None = None, show: bool = True) -> Iterator[T]:
    """Iterate ``iterable`` unchanged while showing how far along it is.

    ``total`` defaults to ``len(iterable)`` where it has one. ``stream`` (default: stderr at call time)
    and ``tty`` (default: whether ``stream`` is a terminal) are for tests and callers that log elsewhere;
    ``show=False`` shows nothing (for callers whose user asked for quiet).
    """
    if not show:
        return iter(iterable)
    stream = stream if stream is not None else sys.stderr
    if total is None:
        try:
            total = len(iterable)  # type: ignore[arg-type]  # Iterables without __len__ raise TypeError
        except TypeError:
            total = None
    if tty is None:
        tty = _is_tty(stream)
    if tty:
        try:
            from tqdm import tqdm
        except ImportError:  # an environment installed before tqdm became a dependency: plain lines
            pass
        else:
            return _bar(tqdm(iterable, total=total, desc=desc or None, unit=unit, file=stream,
                             dynamic_ncols=True, leave=not _live_bars))
    return _plain(iterable, total, desc, unit, stream)


def _bar(bar: Iterable[T]) -> Iterator[T]:
    global _live_bars
    _live_bars += 1
    try:
        yield from bar
    finally:
        _live_bars -= 1
        bar.close()  # type: ignore[attr-defined]  # a tqdm instance


def _plain(iterable: Iterable[T], total: int | None, desc: str, unit: str, stream: IO[str]) -> Iterator[T]:
    label = f"{desc}: " if desc else ""

    def say(text: str) -> None:
        print(f"[{_stamp()}] {label}{text}", file=stream, flush=True)

    def where(done: int) -> str:
        if total is None:
            return f"{done} {unit}"
        return f"{done}/{total} {unit}" + (f" ({100 * done // total}%)" if total and done else "")

    start = last = time.monotonic()
    say(where(0))
    done = 0
    next_step = 1  # the next tenth of the way that earns a line
    finished = False
    try:
        for item in iterable:
            yield item
            done += 1
            now = time.monotonic()
            due = now - last >= PLAIN_EVERY_S
            if total:
                reached = done * PLAIN_STEPS // total
                if reached >= next_step and done < total and now - last >= PLAIN_MIN_GAP_S:
                    due = True
                    next_step = reached + 1
            if due and (total is None or done < total):
                elapsed = now - start
                rate = done / elapsed if elapsed > 0 else 0.0
                text = f"{where(done)}, {rate:.3g} {unit}/s, {_duration(elapsed)} so far"
                if total and rate > 0:
                    text += f", ~{_duration((total - done) / rate)} left"
                say(text)
                last = now
        finished = True
    finally:
        elapsed = time.monotonic() - start
        text = f"{where(done)} in {_duration(elapsed)}"
        if done and elapsed > 0:
            text += f", {done / elapsed:.3g} {unit}/s"
        if not finished:
            text += " (stopped early)"
        say(text)
