"""Pooled frame-level curve metrics and a whole-video bootstrap interval.

Every function takes the same per-video ``scores``/``labels`` and the same
conventions (``sigma``, ``normalize``, ``skip_first``) as
:func:`vadbench.metrics.frame.frame_auc`. Equal error rate, average precision
and partial AUC are computed on all frames pooled (micro); "anomalous" is the
positive class.
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import average_precision_score, roc_auc_score, roc_curve

from .frame import (
    AVERAGES,
    SINGLE_CLASS_POLICIES,
    _check_both_classes,
    _grouped_auc,
    _tie_groups,
    _video_auc,
    prepare_scores,
)


def _pooled(scores, labels, sigma, normalize, skip_first):
    s, y = prepare_scores(scores, labels, sigma=sigma, normalize=normalize, skip_first=skip_first)
    _check_both_classes(y)
    return np.concatenate(s), np.concatenate(y)


def equal_error_rate(scores, labels, *, sigma: float | None = None, normalize: str | None = None,
                     skip_first: int = 0) -> float:
    """Equal error rate: the false positive rate where it equals the miss rate.

    The ROC curve (all thresholds) is taken as piecewise linear and intersected
    with the line ``FPR = 1 - TPR``; the EER is the FPR at that point.

    Parameters
    ----------
    scores, labels : sequence of 1-D array_like
        Per-video frame scores and 0/1 labels, as in ``frame_auc``.
    sigma, normalize, skip_first
        Per-video conventions, as in ``frame_auc``.

    Returns
    -------
    float
        In [0, 1]; 0 for a perfect scorer, 1 for an inverted one.

    Examples
    --------
    >>> equal_error_rate([[0.1, 0.4, 0.35, 0.8]], [[0, 0, 1, 1]])
    0.5
    >>> equal_error_rate([[0.1, 0.2, 0.9]], [[0, 0, 1]])
    0.0
    """
    s, y = _pooled(scores, labels, sigma, normalize, skip_first)
    fpr, tpr, _ = roc_curve(y, s, drop_intermediate=False)
    g = fpr + tpr - 1.0  # non-decreasing from -1 at (0, 0) to 1 at (1, 1)
    i = int(np.argmax(g >= 0))
    if g[i] == 0 or i == 0:
        return float(fpr[i])
    t = -g[i - 1] / (g[i] - g[i - 1])
    return float(fpr[i - 1] + t * (fpr[i] - fpr[i - 1]))


def average_precision(scores, labels, *, sigma: float | None = None, normalize: str | None = None,
                      skip_first: int = 0) -> float:
    """Average precision of the pooled frames (``sklearn.metrics.average_precision_score``).

    Parameters
    ----------
    scores, labels : sequence of 1-D array_like
        Per-video frame scores and 0/1 labels, as in ``frame_auc``.
    sigma, normalize, skip_first
        Per-video conventions, as in ``frame_auc``.

    Returns
    -------
    float
        In [0, 1]; the step-wise area under the precision-recall curve.

    Examples
    --------
    >>> average_precision([[0.1, 0.4, 0.35, 0.8]], [[0, 0, 1, 1]])
    0.8333333333333333
    """
    s, y = _pooled(scores, labels, sigma, normalize, skip_first)
    return float(average_precision_score(y, s))


def partial_auc(scores, labels, *, max_fpr: float = 0.1, sigma: float | None = None,
                normalize: str | None = None, skip_first: int = 0) -> float:
    """Standardised partial ROC AUC up to ``max_fpr`` (McClish), as sklearn's ``max_fpr``.

    The area under the pooled ROC curve for FPR in [0, ``max_fpr``] is rescaled
    so that a random scorer gives 0.5 and a perfect one 1.

    Parameters
    ----------
    scores, labels : sequence of 1-D array_like
        Per-video frame scores and 0/1 labels, as in ``frame_auc``.
    max_fpr : float
        Upper FPR limit, in (0, 1]; 1 gives the full AUC.
    sigma, normalize, skip_first
        Per-video conventions, as in ``frame_auc``.

    Returns
    -------
    float
        The standardised partial AUC, in [0, 1].

    Examples
    --------
    >>> partial_auc([[0.1, 0.2, 0.9, 0.8]], [[0, 0, 1, 1]], max_fpr=0.1)
    1.0
    """
    if not 0 < max_fpr <= 1:
        raise ValueError(f"max_fpr must be in (0, 1], got {max_fpr!r}")
    s, y = _pooled(scores, labels, sigma, normalize, skip_first)
    return float(roc_auc_score(y, s, max_fpr=None if max_fpr == 1 else max_fpr))


def bootstrap_ci(scores, labels, *, average: str = "micro", n_boot: int = 1000, alpha: float = 0.05,
                 seed: int = 0, sigma: float | None = None, normalize: str | None = None,
                 skip_first: int = 0, single_class: str = "drop") -> tuple[float, float]:
    """Percentile bootstrap confidence interval of micro or macro AUC over whole videos.

    Each resample draws ``n`` videos with replacement from the ``n`` test videos
    (frames of a video stay together, so temporal correlation is respected).
    Resamples that hold a single class overall, or (macro, ``"drop"``) no video
    with both classes, are skipped, not redrawn. Conventions are applied to each
    video before resampling, which is equivalent since all of them act per video.

    Parameters
    ----------
    scores, labels : sequence of 1-D array_like
        Per-video frame scores and 0/1 labels, as in ``frame_auc``.
    average : {"micro", "macro"}
        Which AUC to resample.
    n_boot : int
        Number of resamples drawn.
    alpha : float
        The interval covers ``1 - alpha``: quantiles ``alpha/2`` and ``1 - alpha/2``.
    seed : int
        Seed of ``numpy.random.default_rng``; the same seed gives the same interval.
    sigma, normalize, skip_first, single_class
        Conventions, as in ``frame_auc``.

    Returns
    -------
    (float, float)
        Lower and upper bounds.

    Examples
    --------
    >>> s = [[0.1, 0.9], [0.2, 0.8], [0.7, 0.3]]
    >>> y = [[0, 1], [0, 1], [0, 1]]
    >>> bootstrap_ci(s, y, average="macro", n_boot=200, seed=0)
    (0.0, 1.0)
    >>> bootstrap_ci(s[:2], y[:2], n_boot=50)
    (1.0, 1.0)
    """
    if average not in AVERAGES:
        raise ValueError(f"average must be one of {AVERAGES}, got {average!r}")
    if single_class not in SINGLE_CLASS_POLICIES:
        raise ValueError(f"single_class must be one of {SINGLE_CLASS_POLICIES}, got {single_class!r}")
    if not 0 < alpha < 1 or n_boot < 1:
        raise ValueError(f"need 0 < alpha < 1 and n_boot >= 1, got alpha={alpha!r}, n_boot={n_boot!r}")
    s, y = prepare_scores(scores, labels, sigma=sigma, normalize=normalize, skip_first=skip_first)
    _check_both_classes(y)
    n = len(s)
    rng = np.random.default_rng(seed)
    draws = [np.bincount(rng.integers(0, n, n), minlength=n) for _ in range(int(n_boot))]
    stats = []
    if average == "macro":
        per_video = [_video_auc(a, b, single_class, i) for i, (a, b) in enumerate(zip(s, y, strict=True))]
        value = np.array([np.nan if a is None else a for a in per_video])
        npos = np.array([b.sum() for b in y])
        nall = np.array([b.size for b in y])
        for c in draws:
            if not 0 < c @ npos < c @ nall:
                continue
            keep = c * ~np.isnan(value)
            if keep.sum():
                stats.append(float(keep @ np.nan_to_num(value) / keep.sum()))
    else:
        video_of = np.concatenate([np.full(b.size, i) for i, b in enumerate(y)])
        groups, n_groups = _tie_groups(np.concatenate(s))
        lab = np.concatenate(y).astype(float)
        for c in draws:
            w = c[video_of].astype(float)
            if 0 < w @ lab < w.sum():
                stats.append(_grouped_auc(groups, n_groups, lab, w))
    if not stats:
        raise ValueError("no bootstrap resample holds both classes; the interval is undefined")
    lo, hi = np.quantile(stats, [alpha / 2, 1 - alpha / 2])
    return float(lo), float(hi)
