"""The speed-accuracy Pareto front and its plot.

:func:`pareto_front` is a pure function. The front is computed from the
suite's own rows only (measured on one machine in one run); literature points
measured elsewhere are drawn for context, never put on the front.

>>> pareto_front([(10, 0.9), (100, 0.8), (50, 0.7), (100, 0.8)])
[0, 1, 3]
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..atomic import atomic_write_bytes
from ..errors import DataError
from ..machine import machine_summary

if TYPE_CHECKING:  # matplotlib is imported when a figure is drawn
    from matplotlib.layout_engine import ConstrainedLayoutEngine

#: Metrics that are fractions in the suite's rows and % in plots and in literature.csv.
PERCENT_METRICS = ("micro_auc", "macro_auc", "rbdc", "tbdc")
LITERATURE_COLUMNS = ("method", "venue", "year", "dataset", "micro_auc", "macro_auc", "rbdc", "tbdc", "fps",
                      "hardware", "source", "notes")
FAMILY_COLOURS = {"student": "#d62728", "teacher": "#1f77b4", "competitor": "#2ca02c", "baseline": "#7f7f7f"}
_AXIS = {"fps_e2e": "end-to-end frames/s (log scale)", "fps_model": "model-only frames/s (log scale)",
         "fps_model_b1": "model-only frames/s at batch 1 (log scale)",
         "fps_model_best": "model-only frames/s at best batch (log scale)",
         "micro_auc": "micro frame AUC (%)", "macro_auc": "macro frame AUC (%)", "rbdc": "RBDC (%)",
         "tbdc": "TBDC (%)"}


def _finite(v: Any) -> float | None:
    try:
        v = float(v)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None


def pareto_front(points: Sequence[tuple[float, float]]) -> list[int]:
    """Indices of the non-dominated points when maximising both x and y, sorted by x.

    A point is dominated when another point is >= on both coordinates and > on
    at least one. Exact duplicates do not dominate each other, so all copies of
    a front point are kept (in index order). Points with a missing or non-finite
    coordinate are never on the front.

    >>> pareto_front([])
    []
    >>> pareto_front([(1.0, 2.0)])
    [0]
    >>> pareto_front([(1, 1), (2, 2), (0, 0)])        # all dominated by one
    [1]
    >>> pareto_front([(1, 5), (1, 3), (4, 3), (2, 5)])  # ties on x and on y
    [3, 2]
    """
    clean: list[tuple[int, float, float]] = []
    for i, p in enumerate(points):
        x, y = _finite(p[0]), _finite(p[1])
        if x is not None and y is not None:
            clean.append((i, x, y))
    front = []
    for i, x, y in clean:
        dominated = any(xo >= x and yo >= y and (xo > x or yo > y) for _, xo, yo in clean)
        if not dominated:
            front.append((x, -y, i))
    return [i for _, _, i in sorted(front)]


def _row_value(row: Mapping, key: str) -> float | None:
    """A row's value of ``key`` (``<key>_mean`` for aggregated rows), AUC-like metrics in %."""
    if key == "fps_model":
        key = "fps_model_best"
    value = _finite(row.get(f"{key}_mean", row.get(key)))
    if value is not None and key in PERCENT_METRICS:
        value *= 100.0
    return value


def _lit_value(row: Mapping, key: str) -> float | None:
    if key.startswith("fps"):
        return _finite(row.get("fps"))
    value = row.get(key, row.get("value"))
    return _finite(value)


def place_labels(fig, ax, points: Sequence[tuple[float, float, str]], fontsize: float = 8) -> list:
    """Label each point beside it, moving a label up or down until it overlaps no label placed before.

    Points are labelled from the most to the least accurate; each label tries
    offsets of 4, -6, 14, -16, 24, ... points above its marker, and one that moved
    gets a thin leader line to its marker. Returns the texts.
    """
    fig.canvas.draw()  # settles the layout, so that label extents are known
    renderer = fig.canvas.get_renderer()
    placed: list[Any] = []  # the window extents (Bbox) of the labels placed so far
    texts: list[Any] = []
    for xv, yv, label in sorted(points, key=lambda p: -p[1]):
        text = ax.annotate(label, (xv, yv), xytext=(4, 4), textcoords="offset points", fontsize=fontsize)
        for step in range(24):
            dy = 4 + (step + 1) // 2 * 10 * (1 if step % 2 == 0 else -1)
            text.set_position((4, dy))
            box = text.get_window_extent(renderer)
            if not any(box.overlaps(other) for other in placed):
                break
        if dy != 4:  # moved away from its marker: a thin leader line says whose label it is
            text.remove()
            text = ax.annotate(label, (xv, yv), xytext=(4, dy), textcoords="offset points", fontsize=fontsize,
                               arrowprops={"arrowstyle": "-", "lw": 0.5, "color": "#888888", "shrinkA": 0,
                                           "shrinkB": 3})
        placed.append(box)
        texts.append(text)
    return texts


def plot_pareto(rows: Sequence[Mapping], *, x: str = "fps_e2e", y: str = "micro_auc",
                out_base: str | os.PathLike, title: str, machine: Mapping | str | None = None,
                literature: Sequence[Mapping] | None = None) -> list[Path]:
    """Draw the suite's rows (and literature points) with their Pareto front; write PNG and SVG.

    Parameters
    ----------
    rows : sequence of dict
        Rows of :func:`vadbench.publish.leaderboard.aggregate` (``<x>_mean``, ``<y>_mean``,
        ``model``, ``family``); AUC-like values are fractions and are drawn in %.
    x, y : str
        Speed key (``fps_e2e``, ``fps_model`` = best batch, ``fps_model_b1``,
        ``fps_model_best``) and accuracy key (``micro_auc``, ``macro_auc``, ``rbdc``, ``tbdc``).
    out_base : path
        Written as ``<out_base>.png`` (dpi 150) and ``<out_base>.svg``.
    title : str
        Figure title; the machine is named under it.
    machine : dict or str, optional
        Machine info (or a line); defaults to the first row's ``machine``.
    literature : sequence of dict, optional
        Rows of :func:`load_literature` (``method``, ``fps``, the y metric in %
        under its name or ``value``, ``hardware``, ``source``): hollow markers
        labelled as reported elsewhere, numbered, their sources in the footnote.

    Rows missing either value are not drawn and are named in the footnote.
    Returns the two paths written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    out_base = Path(out_base)
    skipped: list[str] = []
    pts = []
    for r in rows:
        xv, yv = _row_value(r, x), _row_value(r, y)
        if xv is None or yv is None or xv <= 0:
            skipped.append(str(r.get("model")))
        else:
            pts.append((xv, yv, r))
    lit = []
    for r in literature or []:
        xv, yv = _lit_value(r, x), _lit_value(r, y)
        if xv is None or yv is None or xv <= 0:
            skipped.append(f"{r.get('method')} (reported elsewhere)")
        else:
            lit.append((xv, yv, r))

    fig = Figure(figsize=(8, 5.6), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    ax.set_xscale("log")
    families_drawn = set()
    for xv, yv, r in pts:
        family = str(r.get("family") or "other")
        colour = FAMILY_COLOURS.get(family, "#9467bd")
        ax.scatter([xv], [yv], s=40, color=colour, zorder=3,
                   label=family if family not in families_drawn else None)
        families_drawn.add(family)
    front = [pts[i] for i in pareto_front([(p[0], p[1]) for p in pts])]
    if front:
        ax.step([p[0] for p in front], [p[1] for p in front], where="pre", color="black", lw=1.2,
                alpha=0.7, zorder=2, label="Pareto front (this run)")
    sources = []
    for n, (xv, yv, r) in enumerate(lit, 1):
        hardware = r.get("hardware") or "hardware not stated"
        ax.scatter([xv], [yv], s=50, marker="D", facecolors="none", edgecolors="#444444", linewidths=1.2,
                   zorder=3, label="reported elsewhere (own hardware)" if n == 1 else None)
        ax.annotate(f"[{n}] {r.get('method')}, reported elsewhere ({hardware})", (xv, yv), xytext=(5, -6),
                    textcoords="offset points", fontsize=7, color="#444444", va="top")
        sources.append(f"[{n}] {r.get('source') or 'source not given'}")

    ax.set_xlabel(_AXIS.get(x, x))
    ax.set_ylabel(_AXIS.get(y, y))
    ax.grid(True, which="both", alpha=0.25)
    ax.margins(x=0.12, y=0.08)
    if pts or lit:
        ax.legend(fontsize=8, loc="lower left")
    if machine is None:
        machine = next((r.get("machine") for r in rows if r.get("machine")), None)
    where = machine if isinstance(machine, str) else machine_summary(machine)
    ax.set_title(f"{title}\nmeasured on {where}", fontsize=10)
    notes = list(sources)
    if skipped:
        notes.append("not drawn (value missing): " + ", ".join(skipped))
    if notes:
        fig.text(0.01, 0.005, "\n".join(notes), fontsize=6, va="bottom", ha="left", wrap=True)
        reserve = 0.015 * (len(notes) + 1)
        cast("ConstrainedLayoutEngine", fig.get_layout_engine()).set(rect=(0, reserve, 1, 1 - reserve))
    place_labels(fig, ax, [(xv, yv, str(r.get("model"))) for xv, yv, r in pts])

    written = []
    for ext, kwargs in (("png", {"dpi": 150, "metadata": {"Software": None}}),
                        ("svg", {"metadata": {"Date": None}})):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, **kwargs)
        path = out_base.with_name(f"{out_base.name}.{ext}")
        atomic_write_bytes(path, buf.getvalue())
        written.append(path)
    return written


def load_literature(path: str | os.PathLike, dataset: str | None) -> list[dict]:
    """Rows of ``literature.csv`` for one dataset (case-insensitive; None: every row), empty cells as None.

    Columns: method, venue, year, dataset, micro_auc, macro_auc, rbdc, tbdc,
    fps, hardware, source, notes. AUCs are in %, as papers report them.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "literature.csv"
    >>> _ = p.write_text("method,venue,year,dataset,micro_auc,macro_auc,rbdc,tbdc,fps,hardware,source,"
    ...                  "notes\\nSSMTL,CVPR,2021,ped2,97.5,99.8,72.8,91.2,,,github.com/x,\\n")
    >>> [r] = load_literature(p, "Ped2")
    >>> r["method"], r["year"], r["micro_auc"], r["fps"], r["hardware"]
    ('SSMTL', 2021, 97.5, None, None)
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None
    reader = csv.DictReader(io.StringIO(text))
    missing = [c for c in LITERATURE_COLUMNS if c not in (reader.fieldnames or [])]
    if missing:
        raise DataError(path, f"lacks the column(s) {', '.join(missing)}")
    out = []
    for line, raw in enumerate(reader, 2):
        row: dict[str, Any] = {k: (v.strip() if isinstance(v, str) and v.strip() else None)
                               for k, v in raw.items() if k is not None}
        if dataset is not None and (row.get("dataset") or "").lower() != dataset.lower():
            continue
        for key in (*PERCENT_METRICS, "fps", "year"):
            if row.get(key) is None:
                continue
            try:
                row[key] = int(row[key]) if key == "year" else float(row[key])
            except ValueError:
                raise DataError(path, f"line {line}: {key} {row[key]!r} is not a number") from None
        out.append(row)
    return out
