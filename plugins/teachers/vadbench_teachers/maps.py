"""From scored boxes to anomaly maps: max-painting and adaptive max-pooling.

A teacher paints each object's score over its box in a full-resolution map
(the maximum where boxes overlap, zero elsewhere) and pools that map by
adaptive max-pooling to the scales the student learns (1x1, 4x4, 16x16 by
default). :func:`rasterize` and :func:`vadbench.maps.pool_maps` do exactly that;
:func:`box_maps` gives the same pooled maps straight from the boxes, without
the full-resolution map (cheap for 856x480 videos), and is what the teachers use.

Adaptive max-pooling uses PyTorch's ``adaptive_max_pool2d`` cells (see :mod:`vadbench.maps`).

>>> import numpy as np
>>> from vadbench.maps import pool_maps
>>> boxes = np.array([[0, 0, 3, 3], [2, 2, 7, 5]])
>>> m = rasterize(boxes, np.array([1.0, 2.0]), 8, 8)
>>> float(m[0, 0]), float(m[3, 3]), float(m[7, 7])
(1.0, 2.0, 0.0)
>>> pool_maps(m[None], (1, 2))["2x2"][0].tolist()
[[2.0, 2.0], [2.0, 2.0]]
>>> box_maps([boxes], [np.array([1.0, 2.0])], (8, 8), 2)[0].tolist()
[[2.0, 2.0], [2.0, 2.0]]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def rasterize(boxes: np.ndarray, scores: np.ndarray, height: int, width: int) -> np.ndarray:
    """Full-resolution map (H, W) float32: each box's score over its inclusive pixels, max on overlap."""
    out = np.zeros((height, width), np.float32)
    for (x0, y0, x1, y1), s in zip(np.asarray(boxes, np.int64).reshape(-1, 4), np.asarray(scores).reshape(-1),
                                   strict=False):
        x0, y0 = max(int(x0), 0), max(int(y0), 0)
        x1, y1 = min(int(x1), width - 1), min(int(y1), height - 1)
        if x1 < x0 or y1 < y0:
            continue
        region = out[y0:y1 + 1, x0:x1 + 1]
        np.maximum(region, np.float32(s), out=region)
    return out


def _cells(size: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last (inclusive) input index of each of the ``n`` adaptive-pooling cells."""
    i = np.arange(n)
    start = (i * size) // n
    stop = -((-(i + 1) * size) // n) - 1  # ceil((i+1)*size/n) - 1
    return start, stop


def box_maps(boxes: Sequence[np.ndarray], scores: Sequence[np.ndarray], shape: tuple[int, int],
             n: int) -> np.ndarray:
    """Pooled maps (T, n, n) float32 straight from per-frame boxes and scores.

    Equal to ``pool_maps([rasterize(b, s, H, W) for ...], (n,))`` (cells a box
    touches take the box's score when larger; cells no box touches stay 0).
    """
    height, width = shape
    rs, re = _cells(height, n)
    cs, ce = _cells(width, n)
    out = np.zeros((len(boxes), n, n), np.float32)
    for t, (b, s) in enumerate(zip(boxes, scores, strict=False)):
        b = np.asarray(b, np.int64).reshape(-1, 4)
        if not len(b):
            continue
        x0 = b[:, 0].clip(0, width - 1)
        x1 = b[:, 2].clip(0, width - 1)
        y0 = b[:, 1].clip(0, height - 1)
        y1 = b[:, 3].clip(0, height - 1)
        valid = (x1 >= x0) & (y1 >= y0)
        # a box touches a cell when their index ranges intersect
        rows = (y0[:, None] <= re[None]) & (y1[:, None] >= rs[None]) & valid[:, None]  # (N, n)
        cols = (x0[:, None] <= ce[None]) & (x1[:, None] >= cs[None])
        touch = rows[:, :, None] & cols[:, None, :]  # (N, n, n)
        vals = np.where(touch, np.asarray(s, np.float32).reshape(-1)[:, None, None], -np.inf)
        out[t] = np.maximum(vals.max(0), 0.0) if np.isfinite(vals).any() else 0.0
    return out
