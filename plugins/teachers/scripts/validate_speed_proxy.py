"""A label-free validation of a teacher on the *training* videos: does it notice an object that moves faster?

The teacher is fitted on the odd-numbered training videos (01, 03, ...). On the
even-numbered ones, every detected object is described twice: as it is, and as
if it moved ``factor`` times faster (the teacher's ``speedup(factor)`` copy
measures its motion over ``factor`` frames instead of one). A proxy anomalous
frame is a real frame in which one random object is replaced by its fast
version; the proxy frame AUC compares the frames' maximum object scores with and
without the swap. The object AUC compares each object with its fast self.

No test video is read: this is where settings may be compared.

    python plugins/teachers/scripts/validate_speed_proxy.py teacher-attr [--factor 2] [--config '{...}']
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ped2 import DEFAULT_ROOT, load_ped2
from measure_ped2 import build


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    ap.add_argument("--factor", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cache", default="/tmp/vadbench-teachers-proxy")
    ap.add_argument("--config", default="{}")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import cv2
    import torch
    from sklearn.metrics import roc_auc_score

    from vadbench import RunContext
    from vadbench.data.video import Split

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    train, _ = load_ped2(args.root)
    fit_videos = Split(train.dataset, "train", [v for i, v in enumerate(train) if i % 2 == 0])
    val_videos = [v for i, v in enumerate(train) if i % 2 == 1]
    model = build(args.model, seed=args.seed, **json.loads(args.config))
    ctx = RunContext(cache_dir=Path(args.cache), seed=args.seed)
    t0 = time.perf_counter()
    model.fit(fit_videos, ctx)
    fit_s = time.perf_counter() - t0
    fast = model.speedup(args.factor)
    rng = np.random.default_rng(args.seed)
    frame_normal, frame_fast, obj_normal, obj_fast = [], [], [], []
    groups_a, groups_b = [], []
    for v in val_videos:
        a = model.video_objects(v)
        b = fast.video_objects(v)
        assert np.array_equal(a["box"], b["box"]) and np.array_equal(a["frame"], b["frame"])
        sa, sb = model.score_objects(a), model.score_objects(b)
        if hasattr(model, "group_scores"):
            groups_a.append(model.group_scores(a))
            groups_b.append(model.group_scores(b))
        obj_normal.append(sa)
        obj_fast.append(sb)
        for t in np.unique(a["frame"]):
            idx = np.flatnonzero(a["frame"] == t)
            j = rng.choice(idx)
            frame_normal.append(sa[idx].max())
            frame_fast.append(max(sa[idx[idx != j]].max(initial=0.0), sb[j]))
    y = np.r_[np.zeros(len(frame_normal)), np.ones(len(frame_fast))]
    out = {"model": args.model, "config": json.loads(args.config), "factor": args.factor,
           "proxy_frame_auc": round(roc_auc_score(y, np.r_[frame_normal, frame_fast]), 4),
           "proxy_object_auc": round(roc_auc_score(np.r_[np.zeros(sum(map(len, obj_normal))),
                                                          np.ones(sum(map(len, obj_fast)))],
                                                    np.r_[np.concatenate(obj_normal), np.concatenate(obj_fast)]), 4),
           "fit_seconds_half_train": round(fit_s, 1)}
    for g in (groups_a[0] if groups_a else {}):
        ga = np.concatenate([x[g] for x in groups_a])
        gb = np.concatenate([x[g] for x in groups_b])
        out[f"object_auc_{g}"] = round(roc_auc_score(np.r_[np.zeros(len(ga)), np.ones(len(gb))], np.r_[ga, gb]), 4)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
