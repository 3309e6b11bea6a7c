"""A light IoU tracker: links per-frame boxes into tracks by Hungarian matching on IoU.

Each frame's boxes are matched to the tracks alive in the previous ``max_gap``
frames (cost ``1 - IoU``, pairs under ``min_iou`` forbidden); unmatched boxes
start new tracks. Good enough for short object sequences on static cameras.

>>> import numpy as np
>>> boxes = [np.array([[0, 0, 9, 9]]), np.array([[2, 0, 11, 9], [50, 50, 59, 59]]), np.array([[4, 0, 13, 9]])]
>>> IoUTracker().track(boxes)
[array([0]), array([0, 1]), array([0])]
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

from vadbench.metrics import box_iou


class IoUTracker:
    """Track ids for per-frame boxes (inclusive ``x_min, y_min, x_max, y_max``)."""

    def __init__(self, min_iou: float = 0.3, max_gap: int = 1):
        self.min_iou = min_iou
        self.max_gap = max_gap

    def track(self, boxes_per_frame) -> list[np.ndarray]:
        """One array of track ids per frame, aligned with that frame's boxes."""
        next_id = 0
        alive: dict[int, tuple[int, np.ndarray]] = {}  # id -> (last frame, last box)
        out = []
        for t, boxes in enumerate(boxes_per_frame):
            boxes = np.asarray(boxes).reshape(-1, 4)
            ids = np.full(len(boxes), -1, np.int64)
            alive = {k: v for k, v in alive.items() if t - v[0] <= self.max_gap}
            if len(boxes) and alive:
                keys = list(alive)
                prev = np.stack([alive[k][1] for k in keys])
                iou = box_iou(boxes, prev)
                rows, cols = linear_sum_assignment(1.0 - iou)
                for r, c in zip(rows, cols, strict=True):
                    if iou[r, c] >= self.min_iou:
                        ids[r] = keys[c]
            for i in range(len(boxes)):
                if ids[i] < 0:
                    ids[i] = next_id
                    next_id += 1
                alive[int(ids[i])] = (t, boxes[i])
            out.append(ids)
        return out
