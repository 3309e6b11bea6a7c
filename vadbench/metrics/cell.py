"""The evaluation of one cell: a model's outputs on a dataset's test videos, turned into every metric.

The runner collects each test video's :class:`~vadbench.model.Scores`;
:func:`video_regions` turns what a model returned into scored regions (its own, or
derived from its anomaly maps), :func:`evaluate_scores` lays the dataset's labels
and tracks beside them and calls :func:`~vadbench.metrics.evaluate.evaluate` with
the dataset's conventions (sigma, macro policy, ...).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .evaluate import evaluate
from .region import regions_from_maps

__all__ = ["evaluate_scores", "region_source", "video_regions"]


def video_regions(result: Any, video: Any) -> tuple[np.ndarray | None, str | None]:
    """The scored regions (rows ``frame, x0, y0, x1, y1, score``) of one video's
    :class:`~vadbench.model.Scores` and where they came from: ``"model"`` (returned by its ``score``),
    ``"maps"`` (derived from its anomaly maps at the video's frame size), or ``(None, None)`` when it
    returned neither.
    """
    if result.regions is not None:
        return np.asarray(result.regions, dtype=np.float64).reshape(-1, 6), "model"
    if result.maps is not None:
        h, w = video.source.frame(0, gray=True).shape
        return regions_from_maps(np.asarray(result.maps), (h, w)), "maps"
    return None, None


def region_source(sources: set[str]) -> str | None:
    """Where a cell's scored regions came from: ``"model"`` (returned by its ``score``), ``"maps"``
    (derived from its anomaly maps by :func:`~vadbench.metrics.region.regions_from_maps`), None (no regions).

    >>> [region_source(s) for s in ({"model"}, {"maps"}, set(), {"maps", "model"})]
    ['model', 'maps', None, 'model+maps']
    """
    return "+".join(sorted(sources, key=("model", "maps").index)) or None


def evaluate_scores(dataset: Any, scores: dict, regions: dict, *, seed: int = 0) -> dict:
    """Every metric of one cell with the dataset's conventions (sigma, macro policy, ...)."""
    videos = list(dataset.test)
    labels = [v.labels for v in videos]
    ids = [v.id for v in videos]
    pred_rows, gt_rows = None, None
    if regions and len(regions) == len(videos):
        pred_rows = np.concatenate([np.column_stack([np.full(len(regions[i]), k), regions[i]])
                                    for k, i in enumerate(ids)]) if ids else None
        gt: list[np.ndarray] = []
        for k, v in enumerate(videos):
            if v.tracks is None:  # a video without tracks: no region metric
                gt = []
                break
            t = np.asarray(v.tracks).reshape(-1, 6)
            gt.append(np.column_stack([np.full(len(t), k), t]))
        gt_rows = np.concatenate(gt) if gt else None
    tracks_derived = any(v.tracks_derived for v in videos)
    return evaluate([scores[i] for i in ids], labels, video_ids=ids, pred_regions=pred_rows,
                    gt_tracks=gt_rows, num_frames=sum(len(v) for v in videos),
                    tracks_derived=tracks_derived, seed=seed, **dataset.conventions)
