"""Recall of the background-subtraction detector on the ground-truth anomalous regions of Ped2.

A ground-truth region is a connected component (8-connectivity, at least 20 pixels)
of a test frame's pixel mask. It is *found* when some detected box in that frame
has IoU >= 0.1 with the region's bounding box, or covers at least half of the
region's pixels. Both criteria are also reported on their own.

    python plugins/teachers/scripts/detector_recall.py [--root DATA/ucsd_ped2]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

from vadbench.atomic import atomic_write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ped2 import DEFAULT_ROOT, load_ped2
from vadbench_teachers.detector import BackgroundDetector, box_iou

from vadbench.cli import output_file


def gt_regions(mask: np.ndarray, min_pixels: int = 20):
    n, lab, stats, _ = cv2.connectedComponentsWithStats(mask.astype(np.uint8), connectivity=8)
    out = []
    for i in range(1, n):
        x, y, w, h, a = stats[i]
        if a >= min_pixels:
            out.append((np.array([x, y, x + w - 1, y + h - 1]), lab == i))
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    ap.add_argument("--json", type=output_file, default=None, help="write the figures here")
    args = ap.parse_args(argv)
    train, test = load_ped2(args.root)
    det = BackgroundDetector()
    t0 = time.perf_counter()
    det.fit([v.read(gray=True) for v in train])
    n_gt = n_iou = n_cov = n_any = 0
    n_boxes = n_frames = 0
    per_video = {}
    for v in test:
        frames = v.read(gray=True)
        boxes = det.detect_video(frames)
        masks = v.masks()
        found = total = 0
        for t, (b, m) in enumerate(zip(boxes, masks)):
            n_boxes += len(b)
            n_frames += 1
            for gbox, gmask in gt_regions(m):
                total += 1
                iou = box_iou(b, gbox[None])[:, 0] if len(b) else np.zeros(0)
                cov = np.array([gmask[y0:y1 + 1, x0:x1 + 1].sum() / gmask.sum() for x0, y0, x1, y1 in b])
                hit_iou = bool(len(b) and iou.max() >= 0.1)
                hit_cov = bool(len(b) and cov.max() >= 0.5)
                n_iou += hit_iou
                n_cov += hit_cov
                n_any += hit_iou or hit_cov
                found += hit_iou or hit_cov
        n_gt += total
        per_video[v.id] = round(found / max(total, 1), 4)
    res = {
        "gt_regions": n_gt,
        "recall": round(n_any / n_gt, 4),
        "recall_iou>=0.1": round(n_iou / n_gt, 4),
        "recall_cover>=0.5": round(n_cov / n_gt, 4),
        "boxes_per_test_frame": round(n_boxes / n_frames, 2),
        "per_video_recall": per_video,
        "seconds": round(time.perf_counter() - t0, 1),
        "detector": det.config,
    }
    print(json.dumps(res, indent=1))
    if args.json:
        atomic_write_text(args.json, json.dumps(res, indent=1) + "\n")
    return res


if __name__ == "__main__":
    main()
