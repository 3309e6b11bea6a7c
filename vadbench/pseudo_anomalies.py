"""Pseudo-anomalies made from normal training videos: the label-free stand-in for test labels.

A model's settings must be chosen before any test video is scored. What it is
chosen on instead is a held-out *training* video with a known, synthetic
anomalous segment. Two kinds, each a pure function of a clip ``frames`` (T, H, W)
or (T, H, W, 3), its detection rows ``(frame, x1, y1, x2, y2)`` in pixels (or an
empty array) and a NumPy random generator:

``skip_frames``
    A segment of ``length`` frames replaced by the frames ``stride`` apart from
    the same start, so that everything in it moves ``stride`` times faster; the
    segment's detection rows are those of the frames shown.
``enlarged_object``
    One object followed through a segment (greedy IoU linking of the detection
    rows) and pasted back ``scale`` times larger, anchored at the middle of its
    box's bottom edge, as a cart or a cyclist is larger than a walker; its
    detection row is replaced by the enlarged box.

Both return ``(frames, rows, labels)`` with ``labels`` 1 on the segment. The
copies are made from the clip alone: no test video, no label.

>>> rng = np.random.default_rng(0)
>>> frames = np.zeros((60, 40, 50), np.uint8)
>>> rows = np.array([[t, 10, 10, 16, 24] for t in range(60)], np.float32)
>>> f, r, y = skip_frames(frames, rows, rng, length=15, stride=3)
>>> f.shape, int(y.sum()), len(r) == 60
((60, 40, 50), 15, True)
>>> f, r, y = enlarged_object(frames, rows, rng, length=20, scale=2.0)
>>> int(y.sum()), sorted({tuple(b) for b in r[y[r[:, 0].astype(int)] == 1, 1:].tolist()})
(20, [(7.0, 0.0, 19.0, 24.0)])
"""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np

from .metrics.region import box_iou

KINDS = ("skip_frames", "enlarged_object")


def _segment(n: int, length: int, rng: np.random.Generator, stride: int = 1) -> int:
    """A random start of a ``length``-frame segment whose ``stride * length`` source frames fit in ``n``."""
    if length < 2:
        raise ValueError(f"a clip of {n} frames is too short for a pseudo-anomaly at stride {stride}")
    return int(rng.integers(1, n - stride * length))


def skip_frames(frames: np.ndarray, rows: np.ndarray, rng: np.random.Generator, *, length: int = 40,
                stride: int = 3) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frames`` with one segment sped up ``stride`` times (see the module docstring)."""
    frames, rows = np.asarray(frames), np.asarray(rows, np.float32).reshape(-1, 5)
    n = len(frames)
    length = min(length, (n - 2) // stride)
    start = _segment(n, length, rng, stride)
    src = start + stride * np.arange(length)
    out = frames.copy()
    out[start:start + length] = frames[src]
    keep = rows[(rows[:, 0] < start) | (rows[:, 0] >= start + length)]
    moved = [np.c_[np.full(int((rows[:, 0] == s).sum()), start + i, np.float32), rows[rows[:, 0] == s, 1:]]
             for i, s in enumerate(src)]
    out_rows = np.concatenate([keep, *moved]) if moved else keep
    out_rows = out_rows[np.argsort(out_rows[:, 0], kind="stable")]
    labels = np.zeros(n, np.uint8)
    labels[start:start + length] = 1
    return out, out_rows, labels


def _track(rows: np.ndarray, start: int, length: int, rng: np.random.Generator) -> list[int] | None:
    """Row indices of one object followed from frame ``start`` for ``length`` frames, or None."""
    first = np.flatnonzero(rows[:, 0] == start)
    if not len(first):
        return None
    heights = rows[first, 4] - rows[first, 2]
    cur = int(first[rng.choice(np.flatnonzero(heights >= np.median(heights)))])
    track = [cur]
    for t in range(start + 1, start + length):
        cand = np.flatnonzero(rows[:, 0] == t)
        if not len(cand):
            return None
        iou = box_iou(rows[cur, 1:], rows[cand, 1:])
        if iou.max() < 0.3:
            return None
        cur = int(cand[int(np.argmax(iou))])
        track.append(cur)
    return track


def enlarged_object(frames: np.ndarray, rows: np.ndarray, rng: np.random.Generator, *, length: int = 40,
                    scale: float = 2.0, tries: int = 50) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``frames`` with one tracked object pasted ``scale`` times larger over a segment (module docstring)."""
    frames, rows = np.asarray(frames), np.asarray(rows, np.float32).reshape(-1, 5)
    n, H, W = len(frames), frames.shape[1], frames.shape[2]
    length = min(length, n - 2)
    for _ in range(tries):
        start = _segment(n, length, rng)
        track = _track(rows, start, length, rng)
        if track is not None:
            break
    else:
        raise ValueError(f"no object could be followed for {length} frames in this clip ({len(rows)} boxes)")
    out, out_rows = frames.copy(), rows.copy()
    for i in track:
        t = int(rows[i, 0])
        x1, y1, x2, y2 = (round(float(v)) for v in rows[i, 1:])
        x2, y2 = max(x2, x1 + 1), max(y2, y1 + 1)
        w, h = x2 - x1, y2 - y1
        nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
        cx = (x1 + x2) / 2
        nx1, ny2 = round(cx - nw / 2), y2
        ny1 = ny2 - nh
        big = cv2.resize(frames[t, y1:y2, x1:x2], (nw, nh), interpolation=cv2.INTER_LINEAR)
        # the part of the enlarged box inside the frame
        ax1, ay1, ax2, ay2 = max(nx1, 0), max(ny1, 0), min(nx1 + nw, W), min(ny2, H)
        out[t, ay1:ay2, ax1:ax2] = big[ay1 - ny1:ay2 - ny1, ax1 - nx1:ax2 - nx1]
        out_rows[i, 1:] = (ax1, ay1, ax2, ay2)
    labels = np.zeros(n, np.uint8)
    labels[start:start + length] = 1
    return out, out_rows, labels


def make(kind: str, frames: np.ndarray, rows: np.ndarray, rng: np.random.Generator,
         **options) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The pseudo-anomaly ``kind`` (one of :data:`KINDS`) of a clip; see the module docstring."""
    if kind not in KINDS:
        raise ValueError(f"unknown pseudo-anomaly {kind!r}: one of {', '.join(KINDS)}")
    makers: dict[str, Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]]] = {
        "skip_frames": skip_frames, "enlarged_object": enlarged_object}
    maker = makers[kind]
    return maker(frames, rows, rng, **options)
