"""Evaluation metrics of vadbench: frame-level AUC variants, curves, RBDC/TBDC.

Every convention is an explicit keyword argument and :func:`evaluate` records
all of them with the results.

>>> from vadbench.metrics import frame_auc
>>> frame_auc([[0.1, 0.8], [0.2, 0.9, 0.3]], [[0, 1], [0, 1, 0]])
1.0
"""

from .cell import evaluate_scores, region_source, video_regions
from .curves import average_precision, bootstrap_ci, equal_error_rate, partial_auc
from .evaluate import evaluate
from .frame import FrameAUC, frame_auc, frame_auc_details, minmax, prepare_scores, video_breakdown
from .region import box_iou, link_tracks, rbdc_tbdc, regions_from_maps, regions_from_masks

__all__ = [
    "FrameAUC",
    "average_precision",
    "bootstrap_ci",
    "box_iou",
    "equal_error_rate",
    "evaluate",
    "evaluate_scores",
    "frame_auc",
    "frame_auc_details",
    "link_tracks",
    "minmax",
    "partial_auc",
    "prepare_scores",
    "rbdc_tbdc",
    "region_source",
    "regions_from_maps",
    "regions_from_masks",
    "video_breakdown",
    "video_regions",
]
