"""Region- and track-based detection criteria (RBDC, TBDC) and helpers to get regions.

Implemented from the prose description of the Street Scene criteria
(Ramachandra & Jones, WACV 2020) in vadbench's research notes; no reference code
was copied. Conventions written down here where the description is open:

* Boxes are inclusive pixel boxes: width = ``x_max - x_min + 1``. A GT region and
  a prediction match when their IoU is ``>= iou_threshold``.
* One global sweep over all predicted regions of all videos by descending score.
  Ties are broken by input order (stable sort): the earlier row comes first. Each
  prefix of the sweep is one operating point (ties are not grouped).
* A prediction on a frame without GT regions, or matching none, is one false
  positive. A prediction that matches only GT regions already detected counts
  neither as a hit nor as a false positive. One prediction may detect several GT
  regions at once.
* A track is detected once ``hits / track_length >= track_fraction``.
* x axis: false positives per frame, ``FP / num_frames``. The curve starts at
  (0, 0), keeps the points with FPR ``<= max_fp_per_frame``, is extended flat to
  ``max_fp_per_frame``, and its trapezoid area is divided by
  ``max_fp_per_frame`` so the result is always in [0, 1]. For the default
  ``max_fp_per_frame=1.0`` this equals the unnormalised area of the published
  protocol (the trapezoids are summed on integer FP counts and divided once, so
  a curve at its maximum gives exactly 1.0).
* No predictions give ``(0.0, 0.0)``; no GT regions raise ``ValueError``.
* Video keys of predictions and GT are compared by equality (``1 == 1.0``, but
  ``"01" != 1``); predictions on videos without GT are false positives.
  Frame numbers are rounded to integers.

GT tracks from :func:`regions_from_masks` + :func:`link_tracks` are a documented
fallback for datasets without released tracks (e.g. Avenue); TBDC computed on
such derived tracks is **not comparable** to published TBDC numbers (and RBDC
only as far as the derived regions match the published ones). Record
``tracks_derived=True`` with such results.
"""

from __future__ import annotations

import math
from collections import defaultdict

import numpy as np


def box_iou(box, boxes) -> np.ndarray:
    """IoU of one inclusive pixel box (or of each of several) with each of several boxes.

    Parameters
    ----------
    box : array_like, shape (4,) or (m, 4)
        ``(x_min, y_min, x_max, y_max)``, inclusive, so a one-pixel box has
        ``x_min == x_max``; several boxes give one row of IoUs each.
    boxes : array_like, shape (n, 4)
        Boxes in the same format.

    Returns
    -------
    ndarray, shape (n,), or (m, n) for boxes ``box`` of shape (m, 4)
        Intersection over union, 0 where the union is empty.

    Examples
    --------
    >>> box_iou([0, 0, 1, 1], [[0, 0, 1, 1], [1, 1, 2, 2], [5, 5, 6, 6]]).tolist()
    [1.0, 0.14285714285714285, 0.0]
    >>> box_iou([[0, 0, 9, 9]], [[0, 0, 4, 9], [20, 20, 29, 29]]).tolist()  # pairwise
    [[0.5, 0.0]]
    """
    a = np.asarray(box, dtype=float)
    b = np.asarray(boxes, dtype=float).reshape(-1, 4)
    if a.ndim == 2:  # pairwise: one row per box of ``box``
        a = a[:, None, :]
    iw = np.clip(np.minimum(a[..., 2], b[:, 2]) - np.maximum(a[..., 0], b[:, 0]) + 1, 0, None)
    ih = np.clip(np.minimum(a[..., 3], b[:, 3]) - np.maximum(a[..., 1], b[:, 1]) + 1, 0, None)
    inter = iw * ih
    area_a = (a[..., 2] - a[..., 0] + 1) * (a[..., 3] - a[..., 1] + 1)
    union = area_a + (b[:, 2] - b[:, 0] + 1) * (b[:, 3] - b[:, 1] + 1) - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)


def _rows(rows, ncols: int, name: str, box_cols: slice):
    """Split rows ``(video, numbers...)`` into a list of video keys and a float array."""
    if rows is None or len(rows) == 0:
        return [], np.empty((0, ncols - 1))
    try:
        arr = np.asarray(rows, dtype=object)
    except ValueError as e:
        raise ValueError(f"{name}: rows of unequal length") from e
    if arr.ndim != 2 or arr.shape[1] != ncols:
        raise ValueError(f"{name}: expected rows of {ncols} values, got shape {arr.shape}")
    nums = arr[:, 1:].astype(float)
    if not np.isfinite(nums).all():
        raise ValueError(f"{name}: NaN or infinite values")
    box = nums[:, box_cols]
    if (box[:, 2] < box[:, 0]).any() or (box[:, 3] < box[:, 1]).any():
        raise ValueError(f"{name}: a box has x_max < x_min or y_max < y_min")
    return arr[:, 0].tolist(), nums


def _sweep(pred_regions, gt_tracks, num_frames, iou_threshold, track_fraction, max_fp_per_frame):
    """Operating points of the sweep as counts ``(FP, TP regions, detected tracks)``, from (0, 0, 0).

    Points with ``FP / num_frames > max_fp_per_frame`` are not produced. Also returns the
    numbers of GT regions and tracks.
    """
    gv, g = _rows(gt_tracks, 7, "gt_tracks", slice(2, 6))
    pv, p = _rows(pred_regions, 7, "pred_regions", slice(1, 5))
    if not gv:
        raise ValueError("gt_tracks is empty: RBDC/TBDC are undefined without GT regions")
    track_index: dict = {}
    track_of = np.array([track_index.setdefault((v, t), len(track_index))
                         for v, t in zip(gv, g[:, 0], strict=True)])
    track_len = np.bincount(track_of)
    by_frame = defaultdict(list)
    for i, (v, f) in enumerate(zip(gv, np.rint(g[:, 1]).astype(int).tolist(), strict=True)):
        by_frame[(v, f)].append(i)
    by_frame = {k: np.array(i) for k, i in by_frame.items()}
    gbox = g[:, 2:6]

    n_regions, n_tracks = len(gv), len(track_len)
    detected = np.zeros(n_regions, bool)
    hits = np.zeros(n_tracks, int)
    done = np.zeros(n_tracks, bool)
    fp = tp = tracks_done = 0
    points = [(0, 0, 0)]
    pframe = np.rint(p[:, 0]).astype(int).tolist()
    for j in np.argsort(-p[:, 5], kind="stable"):
        idx = by_frame.get((pv[j], pframe[j]))
        matched = idx[box_iou(p[j, 1:5], gbox[idx]) >= iou_threshold] if idx is not None else ()
        if len(matched) == 0:
            fp += 1
            if fp / num_frames > max_fp_per_frame:
                break
        else:
            new = matched[~detected[matched]]
            detected[new] = True
            tp += new.size
            for t in track_of[new]:
                hits[t] += 1
                if not done[t] and hits[t] / track_len[t] >= track_fraction:
                    done[t] = True
                    tracks_done += 1
        points.append((fp, tp, tracks_done))
    return np.array(points, dtype=float), n_regions, n_tracks


def rbdc_tbdc(pred_regions, gt_tracks, num_frames: int, *, iou_threshold: float = 0.1,
              track_fraction: float = 0.1, max_fp_per_frame: float = 1.0) -> tuple[float, float]:
    """Region-based and track-based detection criteria (RBDC, TBDC) of predicted regions.

    Parameters
    ----------
    pred_regions : array_like, shape (n, 7)
        Rows ``(video, frame, x_min, y_min, x_max, y_max, score)``; higher score =
        more anomalous. ``video`` may be any hashable (number or string) that
        matches the ``video`` column of ``gt_tracks``.
    gt_tracks : array_like, shape (m, 7)
        Rows ``(video, track_id, frame, x_min, y_min, x_max, y_max)``; each row is
        one GT region, a track is all rows sharing ``(video, track_id)``.
    num_frames : int
        Number of test frames over all videos (the x axis is false positives
        per frame).
    iou_threshold : float
        A prediction hits a GT region of its frame when IoU ``>=`` this.
    track_fraction : float
        A track is detected once this fraction of its regions is detected.
    max_fp_per_frame : float
        Upper end of the x axis; the curve is extended flat to it and the area
        is divided by it.

    Returns
    -------
    (float, float)
        ``(rbdc, tbdc)``, both in [0, 1].

    Examples
    --------
    One track over two frames; a perfect prediction and one false positive:

    >>> gt = [(0, 0, 0, 10, 10, 19, 19), (0, 0, 1, 12, 10, 21, 19)]
    >>> pred = [(0, 0, 10, 10, 19, 19, 0.9), (0, 1, 50, 50, 59, 59, 0.8)]
    >>> rbdc_tbdc(pred, gt, num_frames=2)
    (0.5, 1.0)
    >>> rbdc_tbdc(pred + [(0, 1, 12, 10, 21, 19, 0.95)], gt, num_frames=2)
    (1.0, 1.0)
    """
    if not num_frames > 0:
        raise ValueError(f"num_frames must be > 0, got {num_frames!r}")
    if not (0 < iou_threshold <= 1 and 0 < track_fraction <= 1 and max_fp_per_frame > 0):
        raise ValueError("need 0 < iou_threshold <= 1, 0 < track_fraction <= 1 and max_fp_per_frame > 0")
    pts, n_regions, n_tracks = _sweep(pred_regions, gt_tracks, num_frames, iou_threshold, track_fraction,
                                      max_fp_per_frame)
    if len(pts) == 1:
        return 0.0, 0.0
    # Trapezoids on the counts (exact integers) and one division at the end, so that a curve
    # at its maximum gives exactly 1.0; the axis [0, max_fp_per_frame] is num_frames * max wide.
    x_end = max_fp_per_frame * num_frames
    widths = np.append(np.diff(pts[:, 0]), max(x_end - pts[-1, 0], 0.0))
    heights = np.vstack([pts[:-1] + pts[1:], 2 * pts[-1]])  # the last row: flat extension
    rbdc = math.fsum(widths * heights[:, 1]) / (2 * n_regions * x_end)
    tbdc = math.fsum(widths * heights[:, 2]) / (2 * n_tracks * x_end)
    return float(min(max(rbdc, 0.0), 1.0)), float(min(max(tbdc, 0.0), 1.0))


def regions_from_maps(maps, frame_size, *, levels=(0.5, 0.7, 0.9), frame_indices=None,
                      connectivity: int = 8) -> np.ndarray:
    """Predicted regions of one video from its anomaly maps (for RBDC/TBDC of map-only models).

    For each frame: the map is upsampled to the frame size (``cv2.resize``,
    ``INTER_LINEAR``); frames whose upsampled maximum is ``<= 0`` give no region;
    for each level, pixels with value ``>= level * max`` of that frame are
    split into connected components (``cv2.connectedComponentsWithStats``); each
    component's bounding box becomes a region scored by the map's maximum inside
    the box. Exact duplicate boxes of a frame (from several levels) are kept once.

    Parameters
    ----------
    maps : array_like, shape (T, h, w)
        Anomaly maps of one video, higher = more anomalous.
    frame_size : (int, int)
        ``(height, width)`` of the video frames, numpy order.
    levels : sequence of float
        Thresholds relative to each frame's map maximum, in (0, 1].
    frame_indices : sequence of int, optional
        Frame number of each map (default ``0 .. T-1``), as used by the GT tracks.
    connectivity : {4, 8}
        Pixel connectivity of the components.

    Returns
    -------
    ndarray, shape (n, 6)
        Rows ``(frame, x_min, y_min, x_max, y_max, score)``, inclusive pixel boxes,
        by frame, then level, then component label.

    Examples
    --------
    A map already at frame size: a square blob and a weaker single pixel.

    >>> m = np.zeros((1, 4, 6), np.float32)
    >>> m[0, 1:3, 1:3], m[0, 1, 4] = 1.0, 0.75
    >>> regions_from_maps(m, (4, 6), levels=(0.5, 0.9)).tolist()
    [[0.0, 1.0, 1.0, 2.0, 2.0, 1.0], [0.0, 4.0, 1.0, 4.0, 1.0, 0.75]]
    """
    import cv2

    maps = np.asarray(maps, dtype=np.float32)
    if maps.ndim != 3:
        raise ValueError(f"maps must have shape (T, h, w), got {maps.shape}")
    if not np.isfinite(maps).all():
        raise ValueError("maps contain NaN or infinite values")
    if not all(0 < lv <= 1 for lv in levels):
        raise ValueError(f"levels must be in (0, 1], got {levels!r}")
    height, width = (int(v) for v in frame_size)
    frames = range(len(maps)) if frame_indices is None else list(frame_indices)
    if len(frames) != len(maps):
        raise ValueError(f"{len(frames)} frame indices for {len(maps)} maps")
    rows = []
    for t, m in zip(frames, maps, strict=True):
        up = cv2.resize(m, (width, height), interpolation=cv2.INTER_LINEAR)
        top = float(up.max())
        if top <= 0:
            continue
        seen = set()
        for level in levels:
            mask = (up >= level * top).astype(np.uint8)
            _, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=connectivity)
            for x, y, w, h, _ in stats[1:].tolist():
                box = (x, y, x + w - 1, y + h - 1)
                if box not in seen:
                    seen.add(box)
                    rows.append((t, *box, float(up[y:y + h, x:x + w].max())))
    return np.array(rows, dtype=float).reshape(-1, 6)


def regions_from_masks(masks, *, connectivity: int = 8) -> np.ndarray:
    """GT regions of one video: bounding boxes of the connected components of pixel masks.

    Parameters
    ----------
    masks : array_like of bool, shape (T, H, W)
        Pixel-level anomaly masks of one video.
    connectivity : {4, 8}
        Pixel connectivity of the components.

    Returns
    -------
    ndarray of int64, shape (n, 5)
        Rows ``(frame, x_min, y_min, x_max, y_max)``, inclusive, frame = index
        along axis 0; empty frames give no row.

    Examples
    --------
    >>> m = np.zeros((2, 4, 6), bool)
    >>> m[0, 1:3, 1:3] = True; m[0, 0, 5] = True
    >>> regions_from_masks(m).tolist()
    [[0, 1, 1, 2, 2], [0, 5, 0, 5, 0]]
    """
    import cv2

    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise ValueError(f"masks must have shape (T, H, W), got {masks.shape}")
    rows: list[tuple[int, int, int, int, int]] = []
    for t, m in enumerate(masks):
        if not m.any():
            continue
        _, _, stats, _ = cv2.connectedComponentsWithStats((m != 0).astype(np.uint8),
                                                          connectivity=connectivity)
        rows.extend((t, x, y, x + w - 1, y + h - 1) for x, y, w, h, _ in stats[1:].tolist())
    return np.array(rows, dtype=np.int64).reshape(-1, 5)


def link_tracks(regions, iou: float = 0.1, max_gap: int = 1) -> np.ndarray:
    """Link the regions of one video into tracks, greedily by IoU between nearby frames.

    Frames are visited in increasing order. A region of frame ``f`` may continue a
    track whose last region is in frame ``f - g`` with ``1 <= g <= max_gap``
    (``max_gap=1``: consecutive frames only). All (track, region) pairs with
    IoU ``>= iou`` are taken greedily by decreasing IoU (ties: lower track id,
    then earlier region), each track and region at most once; unlinked regions
    start new tracks. Track ids are ``0, 1, ...`` in order of creation.

    Parameters
    ----------
    regions : array_like, shape (n, >=5)
        Rows ``(frame, x_min, y_min, x_max, y_max, ...)``; extra columns are ignored.
    iou : float
        Minimum IoU (inclusive pixel boxes) to link two regions.
    max_gap : int
        Largest frame gap bridged by a link.

    Returns
    -------
    ndarray, shape (n, 6)
        Rows ``(track_id, frame, x_min, y_min, x_max, y_max)`` sorted by track then
        frame, as ``gt_tracks`` of :func:`rbdc_tbdc` expects (after prepending
        the video column).

    Examples
    --------
    >>> r = [(0, 0, 0, 9, 9), (1, 1, 0, 10, 9), (1, 50, 50, 59, 59), (2, 52, 50, 61, 59)]
    >>> link_tracks(r).tolist()
    [[0, 0, 0, 0, 9, 9], [0, 1, 1, 0, 10, 9], [1, 1, 50, 50, 59, 59], [1, 2, 52, 50, 61, 59]]
    """
    arr = np.asarray(regions)
    if arr.size == 0:
        return np.empty((0, 6), dtype=np.result_type(arr.dtype, np.int64))
    if arr.ndim != 2 or arr.shape[1] < 5:
        raise ValueError(f"regions must have rows (frame, x_min, y_min, x_max, y_max), got shape {arr.shape}")
    if max_gap < 1:
        raise ValueError(f"max_gap must be >= 1, got {max_gap!r}")
    frames, boxes = arr[:, 0], arr[:, 1:5].astype(float)
    track_of = np.empty(len(arr), dtype=np.int64)
    last_frame: list = []
    last_box: list = []
    for f in np.unique(frames):
        here = np.flatnonzero(frames == f)
        open_tracks = [k for k in range(len(last_frame)) if 1 <= f - last_frame[k] <= max_gap]
        pairs = sorted((-v, k, i) for k in open_tracks
                       for i, v in zip(here, box_iou(last_box[k], boxes[here]), strict=True) if v >= iou)
        used_t, used_r = set(), set()
        for _, k, i in pairs:
            if k not in used_t and i not in used_r:
                used_t.add(k)
                used_r.add(i)
                track_of[i] = k
        for i in here:
            if i not in used_r:
                track_of[i] = len(last_frame)
                last_frame.append(f)
                last_box.append(None)
            last_frame[track_of[i]], last_box[track_of[i]] = f, boxes[i]
    order = np.lexsort((frames, track_of))
    out = np.column_stack([track_of, arr[:, :5]])[order]
    return out.astype(np.result_type(arr.dtype, np.int64))
