"""One call that computes every vadbench metric and records the conventions used."""

from __future__ import annotations

import numpy as np

from .curves import average_precision, bootstrap_ci, equal_error_rate, partial_auc
from .frame import frame_auc_details, prepare_scores
from .region import rbdc_tbdc

PAUC_MAX_FPR = 0.1


def _plain(v):
    """A JSON-able Python value for a numpy scalar (other values unchanged)."""
    return v.item() if isinstance(v, np.generic) else v


def evaluate(scores, labels, *, video_ids=None, sigma: float | None = None, normalize: str | None = None,
             skip_first: int = 0, single_class: str = "drop", pred_regions=None, gt_tracks=None,
             num_frames: int | None = None, bootstrap: int = 200, seed: int = 0, tracks_derived: bool = False,
             iou_threshold: float = 0.1, track_fraction: float = 0.1, max_fp_per_frame: float = 1.0,
             alpha: float = 0.05) -> dict:
    """Every frame-, region- and track-level metric of one run, as one flat JSON-able record.

    Nothing is chosen on the test labels: each convention is an argument and is
    copied into ``record["conventions"]``.

    Parameters
    ----------
    scores, labels : sequence of 1-D array_like
        Per-video frame scores (higher = more anomalous) and 0/1 labels.
    video_ids : sequence of hashable, optional
        Names of the videos (default ``0 .. n-1``), used in ``macro_dropped``.
    sigma, normalize, skip_first, single_class
        Frame-level conventions, as in :func:`~vadbench.metrics.frame.frame_auc`.
    pred_regions, gt_tracks : array_like, optional
        Rows for :func:`~vadbench.metrics.region.rbdc_tbdc`; ``rbdc``/``tbdc`` are
        ``None`` unless both are given.
    num_frames : int, optional
        Test frames over all videos for RBDC/TBDC; default: the total length of
        ``labels`` as given (before ``skip_first``).
    bootstrap : int
        Whole-video bootstrap resamples for the AUC intervals; 0 gives ``None``.
    seed : int
        Seed of the bootstrap.
    tracks_derived : bool
        Whether ``gt_tracks`` were derived from pixel masks
        (``regions_from_masks`` + ``link_tracks``): such TBDC is not comparable to
        published numbers. Recorded only.
    iou_threshold, track_fraction, max_fp_per_frame
        RBDC/TBDC conventions, as in :func:`~vadbench.metrics.region.rbdc_tbdc`.
    alpha : float
        The intervals cover ``1 - alpha``.

    Returns
    -------
    dict
        Keys ``micro_auc``, ``micro_auc_minmax`` (micro AUC after a per-video
        min-max rescaling of the scores, the other conventions unchanged),
        ``macro_auc``, ``micro_auc_ci``, ``macro_auc_ci``
        (``[low, high]`` or ``None``), ``ap``, ``eer``, ``pauc_0.1``, ``rbdc``,
        ``tbdc``, ``n_videos``, ``n_frames`` (frames scored, after
        ``skip_first``), ``macro_dropped`` and ``conventions``.

    Examples
    --------
    >>> r = evaluate([[0.1, 0.9, 0.8], [0.2, 0.3]], [[0, 1, 1], [0, 0]], video_ids=["v1", "v2"], bootstrap=0)
    >>> r["micro_auc"], r["macro_auc"], r["macro_dropped"], r["rbdc"]
    (1.0, 1.0, ['v2'], None)
    >>> r["conventions"]["single_class"], r["n_frames"]
    ('drop', 5)
    """
    raw_frames = sum(np.size(b) for b in prepare_scores(scores, labels)[1])
    s, y = prepare_scores(scores, labels, sigma=sigma, normalize=normalize, skip_first=skip_first)
    micro = frame_auc_details(s, y, average="micro")
    # the second micro AUC every leaderboard row carries: each video's scores min-max rescaled with its own
    # statistics (FFP/MNAD-style papers), the other conventions unchanged
    s_mm, _ = prepare_scores(scores, labels, sigma=sigma, normalize="minmax", skip_first=skip_first)
    micro_minmax = frame_auc_details(s_mm, y, average="micro")
    macro = frame_auc_details(s, y, average="macro", video_ids=video_ids, single_class=single_class)
    ci: dict[str, list[float] | None] = {"micro": None, "macro": None}
    if bootstrap:
        for avg in ci:
            lo, hi = bootstrap_ci(s, y, average=avg, n_boot=bootstrap, alpha=alpha, seed=seed,
                                  single_class=single_class)
            ci[avg] = [lo, hi]
    rbdc = tbdc = None
    has_regions = pred_regions is not None and gt_tracks is not None
    if has_regions:
        num_frames = raw_frames if num_frames is None else num_frames
        rbdc, tbdc = rbdc_tbdc(pred_regions, gt_tracks, num_frames, iou_threshold=iou_threshold,
                               track_fraction=track_fraction, max_fp_per_frame=max_fp_per_frame)
    conventions = {
        "sigma": None if sigma is None else float(sigma),
        "normalize": normalize,
        "micro_auc_minmax": "each video's scores min-max rescaled to [0, 1] after smoothing, then pooled",
        "skip_first": int(skip_first),
        "single_class": single_class,
        "pauc_max_fpr": PAUC_MAX_FPR,
        "iou_threshold": float(iou_threshold),
        "track_fraction": float(track_fraction),
        "max_fp_per_frame": float(max_fp_per_frame),
        "tracks_derived": bool(tracks_derived),
        "rbdc_num_frames": int(num_frames) if has_regions and num_frames is not None else None,
        "bootstrap_n": int(bootstrap),
        "bootstrap_seed": int(seed),
        "bootstrap_alpha": float(alpha),
    }
    return {
        "micro_auc": micro.value,
        "micro_auc_minmax": micro_minmax.value,
        "macro_auc": macro.value,
        "micro_auc_ci": ci["micro"],
        "macro_auc_ci": ci["macro"],
        "ap": average_precision(s, y),
        "eer": equal_error_rate(s, y),
        f"pauc_{PAUC_MAX_FPR}": partial_auc(s, y, max_fpr=PAUC_MAX_FPR),
        "rbdc": rbdc,
        "tbdc": tbdc,
        "n_videos": len(s),
        "n_frames": int(sum(b.size for b in y)),
        "macro_dropped": [_plain(v) for v in macro.dropped],
        "conventions": conventions,
    }
