"""Objects and their boxes, the plain-array helpers of :class:`~.base.ObjectTeacher`.

An :data:`Objects` dict holds one row per object (always ``"frame"`` and
``"box"``) plus the per-video keys of :data:`PER_VIDEO`; this module holds what
turns frames and boxes into such rows and back: the mirrored context frames
before a video's first frame (:func:`with_context`), a detections file's rows
as processing-size boxes (:func:`file_boxes`), the foreground masks of boxes
with no mask of their own (:func:`box_masks`), the running median of object
scores along IoU tracks (:func:`smooth_along_tracks`) and the concatenation of
per-chunk dicts (:func:`concat_objects`). No torch here.
"""

from __future__ import annotations

import itertools

import numpy as np

from .detector import scale_boxes

Objects = dict  # name -> array with one row per object; always "frame" (N,) and "box" (N, 4)
PER_VIDEO = ("shape", "native")  # keys of an Objects dict that are not per object


def with_context(frames: np.ndarray, k: int) -> np.ndarray:
    """``frames`` (T, ...) preceded by ``k`` mirrored frames (``k, ..., 1``), edge-padded if too short.

    >>> with_context(np.arange(5), 2).tolist()
    [2, 1, 0, 1, 2, 3, 4]
    >>> with_context(np.arange(2), 3).tolist()
    [1, 1, 1, 0, 1]
    """
    if k <= 0:
        return frames
    n = len(frames)
    idx = np.arange(k, 0, -1).clip(0, n - 1)
    return np.concatenate([frames[idx], frames])


def file_boxes(rows: np.ndarray, n_frames: int, native: tuple[int, int],
               proc: tuple[int, int]) -> list[np.ndarray]:
    """Per frame, the inclusive integer boxes at the processing size of detection rows
    ``(frame, x1, y1, x2, y2)``.

    ``native`` and ``proc`` are (width, height) of the video and of the
    processing size. Float corners become the pixels they touch.

    >>> rows = np.array([[1, 10.2, 4.0, 20.0, 14.5]], np.float32)
    >>> [b.tolist() for b in file_boxes(rows, 2, (40, 20), (20, 10))]
    [[], [[5, 2, 9, 6]]]
    """
    rows = np.asarray(rows, np.float64).reshape(-1, 5)
    W, H = native
    b = np.stack([np.floor(rows[:, 1]), np.floor(rows[:, 2]), np.ceil(rows[:, 3]) - 1,
                  np.ceil(rows[:, 4]) - 1], 1)
    b[:, [0, 2]] = b[:, [0, 2]].clip(0, W - 1)
    b[:, [1, 3]] = b[:, [1, 3]].clip(0, H - 1)
    b[:, 2:] = np.maximum(b[:, 2:], b[:, :2])
    b = scale_boxes(b, native, proc)
    frame = rows[:, 0].astype(np.int64)
    return [b[frame == t] for t in range(n_frames)]


def box_masks(boxes: list[np.ndarray], shape: tuple[int, int]) -> np.ndarray:
    """uint8 masks (T, h, w): 1 inside each frame's boxes (the foreground of boxes with no mask of their own).

    >>> int(box_masks([np.array([[1, 1, 2, 3]])], (5, 5)).sum())
    6
    """
    out = np.zeros((len(boxes), *shape), np.uint8)
    for t, bs in enumerate(boxes):
        for x0, y0, x1, y1 in np.asarray(bs, np.int64).reshape(-1, 4):
            out[t, y0:y1 + 1, x0:x1 + 1] = 1
    return out


def smooth_along_tracks(frame: np.ndarray, boxes: np.ndarray, scores: np.ndarray, window: int,
                        min_iou: float = 0.3) -> np.ndarray:
    """Object scores replaced by their running median (``window`` frames, centred) along IoU tracks.

    A flow glitch that makes one object score high in a single frame is voted
    down by the same object's neighbouring frames; a cyclist stays high.

    >>> f = np.array([0, 1, 2, 3, 4]); b = np.tile([[0, 0, 9, 9]], (5, 1))
    >>> smooth_along_tracks(f, b, np.array([1.0, 1.0, 9.0, 1.0, 1.0]), 3).tolist()
    [1.0, 1.0, 1.0, 1.0, 1.0]
    """
    from scipy.ndimage import median_filter

    from .tracker import IoUTracker

    scores = np.asarray(scores, np.float64)
    if window <= 1 or not len(scores):
        return scores
    frame = np.asarray(frame)
    order = np.argsort(frame, kind="stable")
    n = int(frame.max()) + 1
    starts = np.searchsorted(frame[order], np.arange(n + 1))
    per_frame = [order[starts[t]:starts[t + 1]] for t in range(n)]
    ids = IoUTracker(min_iou=min_iou).track([boxes[i] for i in per_frame])
    track = np.empty(len(scores), np.int64)
    for idx, tid in zip(per_frame, ids, strict=True):
        track[idx] = tid
    out = scores.copy()
    by_track = np.argsort(track * (n + 1) + frame, kind="stable")
    tstarts = np.flatnonzero(np.r_[True, np.diff(track[by_track]) != 0, True])
    for a, b in itertools.pairwise(tstarts):
        idx = by_track[a:b]
        if len(idx) > 1:
            out[idx] = median_filter(scores[idx], size=min(window, len(idx) | 1), mode="nearest")
    return out


def knn_distance(query: np.ndarray, bank: np.ndarray, k: int, skip_self: bool = False) -> np.ndarray:
    """Each query row's mean Euclidean distance to its ``k`` nearest rows of ``bank``.

    ``skip_self``: the query is the bank itself, so each row's nearest neighbour
    (itself) is left out.

    >>> bank = np.array([[0.0], [1.0], [3.0]])
    >>> knn_distance(np.array([[0.5]]), bank, 2).tolist()
    [0.5]
    >>> knn_distance(bank, bank, 1, skip_self=True).tolist()
    [1.0, 1.0, 2.0]
    """
    from sklearn.neighbors import NearestNeighbors

    kk = min(k + int(skip_self), len(bank))
    d = NearestNeighbors(n_neighbors=kk).fit(bank).kneighbors(query)[0]
    return d[:, int(skip_self):].mean(1) if d.shape[1] > int(skip_self) else d.mean(1)


def concat_objects(parts: list[Objects]) -> Objects:
    out = {k: np.concatenate([p[k] for p in parts]) for k in parts[0] if k not in PER_VIDEO}
    out.update({k: parts[0][k] for k in PER_VIDEO if k in parts[0]})
    return out


__all__ = ["PER_VIDEO", "Objects", "box_masks", "concat_objects", "file_boxes", "knn_distance",
           "smooth_along_tracks", "with_context"]
