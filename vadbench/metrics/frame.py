"""Frame-level ROC AUC with every convention an explicit, named parameter.

Public video-anomaly-detection code computes "frame-level AUC" in several
incompatible ways (pooled or per video, smoothed or not, normalised or not,
first frames dropped or not, single-class videos dropped, padded or set to 1).
Here each of those choices is a keyword argument, and nothing is ever chosen on
the test labels.

Inputs are always *one 1-D array per test video*: ``scores`` (higher = more
anomalous) and ``labels`` (0 = normal, 1 = anomalous) of equal lengths. A single
1-D array (or a list of numbers) is taken as one video.

Processing order, per video and never across video boundaries:

1. ``skip_first=k`` drops the first ``k`` frames of scores and labels;
2. ``sigma`` smooths with ``scipy.ndimage.gaussian_filter1d(x, sigma)`` (its
   default ``mode="reflect"`` and ``truncate=4.0``);
3. ``normalize="minmax"`` maps the smoothed video to ``(x - min) / (max - min)``;
   a constant video becomes zeros.

Skipping comes first so that placeholder scores of frames a model cannot score
never leak into their neighbours through the smoothing.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import NamedTuple

import numpy as np
from scipy.ndimage import gaussian_filter1d

AVERAGES = ("micro", "macro")
NORMALIZERS = (None, "minmax")
SINGLE_CLASS_POLICIES = ("drop", "pad", "one", "raise")


def _as_videos(x, name: str) -> list[np.ndarray]:
    """Turn one array or a sequence of per-video arrays into a list of 1-D float arrays."""
    if isinstance(x, np.ndarray):
        if x.ndim == 1:
            x = [x]
        elif x.ndim != 2:
            raise ValueError(f"{name}: expected one 1-D array per video, got an array of shape {x.shape}")
    elif len(x) and np.ndim(x[0]) == 0:
        x = [x]
    videos = []
    for i, v in enumerate(x):
        a = np.asarray(v, dtype=float)
        if a.ndim != 1:
            raise ValueError(f"{name}: video {i} is not 1-D (shape {a.shape})")
        videos.append(a)
    if not videos:
        raise ValueError(f"{name}: no videos given")
    return videos


def _check(scores, labels) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Validate per-video scores and labels; return them as lists of arrays."""
    s = _as_videos(scores, "scores")
    y = _as_videos(labels, "labels")
    if len(s) != len(y):
        raise ValueError(f"{len(s)} videos of scores but {len(y)} videos of labels")
    for i, (a, b) in enumerate(zip(s, y, strict=True)):
        if a.shape != b.shape:
            raise ValueError(f"video {i}: {a.size} scores but {b.size} labels")
        if not np.isfinite(a).all():
            raise ValueError(f"video {i}: scores contain NaN or infinite values")
        if not np.isin(b, (0, 1)).all():
            raise ValueError(f"video {i}: labels must be 0 (normal) or 1 (anomalous)")
    return s, [b.astype(np.int8) for b in y]


def _check_both_classes(labels: list[np.ndarray]) -> None:
    n_pos = sum(int(b.sum()) for b in labels)
    n_all = sum(b.size for b in labels)
    if n_pos == 0 or n_pos == n_all:
        raise ValueError(
            "ROC AUC is undefined: the labels (after skip_first) contain only one class "
            f"({n_all} frames, {n_pos} anomalous)"
        )


def prepare_scores(scores, labels=None, *, sigma: float | None = None, normalize: str | None = None,
                   skip_first: int = 0):
    """Apply the per-video conventions (skip, smooth, normalise) to scores and labels.

    Parameters
    ----------
    scores : sequence of 1-D array_like
        One array of frame scores per video (higher = more anomalous).
    labels : sequence of 1-D array_like, optional
        One 0/1 array per video, same lengths as ``scores``. Only validated and
        cut by ``skip_first``.
    sigma : float, optional
        Standard deviation, in frames, of ``scipy.ndimage.gaussian_filter1d``
        applied to each video on its own. ``None`` or 0: no smoothing.
    normalize : {None, "minmax"}
        ``"minmax"``: per video, after smoothing, ``(x - min) / (max - min)``;
        a constant video becomes zeros.
    skip_first : int
        Number of leading frames dropped from every video before anything else.

    Returns
    -------
    scores : list of ndarray
        Processed float scores, one array per video (possibly empty).
    labels : list of ndarray or None
        The matching int8 labels, or ``None`` when no labels were given.

    Examples
    --------
    >>> s, y = prepare_scores([[0., 2., 4., 3.]], [[0, 0, 1, 1]], normalize="minmax", skip_first=1)
    >>> s[0].tolist(), y[0].tolist()
    ([0.0, 1.0, 0.5], [0, 1, 1])
    """
    if labels is None:
        s, y = _check(scores, [np.zeros(np.shape(v)) for v in _as_videos(scores, "scores")])
    else:
        s, y = _check(scores, labels)
    if normalize not in NORMALIZERS:
        raise ValueError(f"normalize must be one of {NORMALIZERS}, got {normalize!r}")
    if sigma is not None and not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be None or a finite number >= 0, got {sigma!r}")
    if int(skip_first) != skip_first or skip_first < 0:
        raise ValueError(f"skip_first must be an integer >= 0, got {skip_first!r}")
    k = int(skip_first)
    out = []
    for a in s:
        a = a[k:]
        if sigma and a.size:
            a = gaussian_filter1d(a, float(sigma))
        if normalize == "minmax" and a.size:
            a = minmax(a)
        out.append(a)
    return out, (None if labels is None else [b[k:] for b in y])


def minmax(x) -> np.ndarray:
    """``(x - min) / (max - min)`` of one video's scores; a constant video becomes zeros.

    >>> minmax([2.0, 4.0, 3.0]).tolist()
    [0.0, 1.0, 0.5]
    >>> minmax([5.0, 5.0]).tolist()
    [0.0, 0.0]
    """
    a = np.asarray(x, dtype=np.float64)
    lo, hi = float(a.min()), float(a.max())
    return (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)


def _tie_groups(scores: np.ndarray) -> tuple[np.ndarray, int]:
    """Index of each score's group of equal values, in increasing order of value."""
    uniq, inv = np.unique(scores, return_inverse=True)
    return inv.ravel(), uniq.size


def _grouped_auc(groups: np.ndarray, n_groups: int, labels: np.ndarray, weights=None) -> float:
    """Weighted Mann-Whitney ROC AUC from tie groups; ties count one half (as sklearn)."""
    w = np.ones(labels.size) if weights is None else weights
    pos = np.bincount(groups, weights=w * labels, minlength=n_groups)
    neg = np.bincount(groups, weights=w * (1 - labels), minlength=n_groups)
    below = np.cumsum(neg) - neg
    return float((pos * (below + 0.5 * neg)).sum() / (pos.sum() * neg.sum()))


def _auc(scores: np.ndarray, labels: np.ndarray) -> float:
    """ROC AUC of one pooled set of frames that holds both classes."""
    groups, n = _tie_groups(scores)
    return _grouped_auc(groups, n, labels.astype(float))


def _video_auc(s: np.ndarray, y: np.ndarray, policy: str, vid) -> float | None:
    """AUC of one video under a single-class policy; ``None`` means left out."""
    if y.size == 0:
        return None  # nothing left after skip_first: left out under every policy
    if policy == "pad":
        s = np.concatenate(([-np.inf], s, [np.inf]))
        y = np.concatenate(([0], y, [1]))
        return _auc(s, y)
    if 0 < y.sum() < y.size:
        return _auc(s, y)
    if policy == "one":
        return 1.0
    if policy == "raise":
        raise ValueError(f"video {vid!r} holds only {'anomalous' if y[0] else 'normal'} frames; "
                         "its AUC is undefined (single_class='raise')")
    return None


class FrameAUC(NamedTuple):
    """Result of :func:`frame_auc_details`."""

    value: float
    """The micro or macro AUC."""
    dropped: list
    """Ids of the videos left out of the macro mean (always empty for micro)."""
    n_dropped: int
    """``len(dropped)``."""
    per_video: list
    """Macro only: the AUC used for each video, ``None`` where it was left out."""


def frame_auc_details(scores, labels, *, average: str = "micro", video_ids: Sequence[Hashable] | None = None,
                      sigma: float | None = None, normalize: str | None = None, single_class: str = "drop",
                      skip_first: int = 0) -> FrameAUC:
    """Frame-level ROC AUC plus which videos the macro policy left out.

    Videos that have no frame left after ``skip_first`` are left out of the
    macro mean under every policy.

    Parameters
    ----------
    scores, labels : sequence of 1-D array_like
        Per-video frame scores and 0/1 labels, as in :func:`frame_auc`.
    average, sigma, normalize, single_class, skip_first
        As in :func:`frame_auc`.
    video_ids : sequence of hashable, optional
        One name per video (default ``0 .. n-1``), used in ``dropped``.

    Returns
    -------
    FrameAUC
        Named tuple ``(value, dropped, n_dropped, per_video)``.

    Examples
    --------
    >>> r = frame_auc_details([[0.1, 0.9], [0.2, 0.3], [0.5, 0.4]], [[0, 1], [0, 0], [1, 0]],
    ...                       average="macro", video_ids=["a", "b", "c"])
    >>> r.value, r.dropped, r.per_video
    (1.0, ['b'], [1.0, None, 1.0])
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    if single_class not in SINGLE_CLASS_POLICIES:
        raise ValueError(f"single_class must be one of {SINGLE_CLASS_POLICIES}, got {single_class!r}")
    s, y = prepare_scores(scores, labels, sigma=sigma, normalize=normalize, skip_first=skip_first)
    ids = list(range(len(s))) if video_ids is None else list(video_ids)
    if len(ids) != len(s):
        raise ValueError(f"{len(ids)} video ids for {len(s)} videos")
    _check_both_classes(y)
    if average == "micro":
        return FrameAUC(_auc(np.concatenate(s), np.concatenate(y)), [], 0, [])
    per_video = [_video_auc(a, b, single_class, v) for a, b, v in zip(s, y, ids, strict=True)]
    kept = [a for a in per_video if a is not None]
    dropped = [v for v, a in zip(ids, per_video, strict=True) if a is None]
    if not kept:
        raise ValueError("macro AUC is undefined: every video holds a single class and single_class='drop'")
    return FrameAUC(float(np.mean(kept)), dropped, len(dropped), per_video)


def frame_auc(scores, labels, *, average: str = "micro", sigma: float | None = None,
              normalize: str | None = None, single_class: str = "drop", skip_first: int = 0) -> float:
    """Frame-level ROC AUC of per-video anomaly scores.

    Parameters
    ----------
    scores : sequence of 1-D array_like
        One array of frame scores per test video; higher = more anomalous.
    labels : sequence of 1-D array_like
        One array of 0/1 frame labels per video, same lengths as ``scores``.
    average : {"micro", "macro"}
        ``"micro"``: ROC AUC of all frames pooled (equal to
        ``sklearn.metrics.roc_auc_score`` on the concatenation). ``"macro"``:
        mean of the per-video AUCs.
    sigma : float, optional
        Gaussian temporal smoothing (``scipy.ndimage.gaussian_filter1d``, default
        mode and truncation) of each video on its own. ``None``/0: none.
    normalize : {None, "minmax"}
        Per-video min-max normalisation after smoothing; a constant video
        becomes zeros.
    single_class : {"drop", "pad", "one", "raise"}
        Macro only, for a video whose frames are all normal or all anomalous:
        ``"drop"`` leaves it out (see :func:`frame_auc_details` for which);
        ``"pad"`` gives *every* video one extra normal frame scored below all of
        its frames and one extra anomalous frame scored above all of them;
        ``"one"`` counts it as 1.0 (reproduces the seed code only);
        ``"raise"`` raises ``ValueError``.
    skip_first : int
        Drop the first ``skip_first`` frames of every video (before smoothing).

    Returns
    -------
    float
        The AUC, in [0, 1].

    Raises
    ------
    ValueError
        On one class overall, scores and labels of different lengths, NaN or
        infinite scores, labels other than 0/1, or an unknown option.

    Examples
    --------
    >>> scores = [[0.1, 0.2, 0.9, 0.8], [0.3, 0.1, 0.7]]
    >>> labels = [[0, 0, 1, 1], [0, 0, 1]]
    >>> frame_auc(scores, labels)
    1.0
    >>> frame_auc(scores, [[0, 0, 1, 1], [1, 0, 0]], average="macro", single_class="drop")
    0.75
    """
    return frame_auc_details(scores, labels, average=average, sigma=sigma, normalize=normalize,
                             single_class=single_class, skip_first=skip_first).value


def video_breakdown(scores, labels, *, video_ids: Sequence[Hashable] | None = None,
                    sigma: float | None = None, normalize: str | None = None,
                    skip_first: int = 0) -> list[dict]:
    """Per video: what it holds, how it ranks on its own, and what it costs the pooled (micro) AUC.

    A micro AUC far below the macro one means the videos' scores are not on
    one scale: each ranks its own frames well, but one video's normal frames
    outscore another's anomalies. This table says which videos do that.

    Parameters
    ----------
    scores, labels : sequence of 1-D array_like
        Per-video frame scores and 0/1 labels, as in :func:`frame_auc`.
    video_ids : sequence of hashable, optional
        One name per video (default ``0 .. n-1``).
    sigma, normalize, skip_first
        The per-video conventions, as in :func:`frame_auc`.

    Returns
    -------
    list of dict
        One per video: ``video``, ``frames``, ``anomalous`` (fraction),
        ``auc`` (the video alone; None with one class), ``normal_median`` and
        ``anomalous_median`` (processed scores; None where the class is absent)
        and ``micro_without`` (micro AUC of all the other videos pooled; None
        where they hold one class).

    Examples
    --------
    Each video below ranks its own frames perfectly, but b's normal frame (0.6)
    outscores c's anomalous one (0.3): pooled without b (or without c), the
    AUC is perfect.

    >>> rows = video_breakdown([[0.1, 0.9], [0.6, 0.8], [0.2, 0.3]], [[0, 1], [0, 1], [0, 1]],
    ...                        video_ids=["a", "b", "c"])
    >>> [(r["video"], r["auc"], r["micro_without"]) for r in rows]
    [('a', 1.0, 0.75), ('b', 1.0, 1.0), ('c', 1.0, 1.0)]
    """
    s, y = prepare_scores(scores, labels, sigma=sigma, normalize=normalize, skip_first=skip_first)
    ids = list(range(len(s))) if video_ids is None else list(video_ids)
    if len(ids) != len(s):
        raise ValueError(f"{len(ids)} video ids for {len(s)} videos")
    rows = []
    for i, (a, b) in enumerate(zip(s, y, strict=True)):
        rest_s = np.concatenate([v for j, v in enumerate(s) if j != i] or [np.zeros(0)])
        rest_y = np.concatenate([v for j, v in enumerate(y) if j != i] or [np.zeros(0)])
        rows.append({
            "video": ids[i], "frames": int(a.size), "anomalous": float(b.mean()) if b.size else 0.0,
            "auc": _video_auc(a, b, "drop", ids[i]),
            "normal_median": float(np.median(a[b == 0])) if (b == 0).any() else None,
            "anomalous_median": float(np.median(a[b == 1])) if (b == 1).any() else None,
            "micro_without": _auc(rest_s, rest_y) if 0 < rest_y.sum() < rest_y.size else None,
        })
    return rows
