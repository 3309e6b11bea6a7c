"""A label-free validation of a teacher on the *training* videos: does it notice an object that moves faster?

The teacher is fitted on the odd-numbered training videos (01, 03, ...). On the
even-numbered ones, every detected object is described twice: as it is, and as
if it moved ``factor`` times faster (the teacher's ``speedup(factor)`` copy
measures its motion over ``factor`` frames instead of one). A proxy anomalous
frame is a real frame in which one random object is replaced by its fast
version; the proxy frame AUC compares the frames' maximum object scores with and
without the swap. The object AUC compares each object with its fast self.
For a teacher with groups of scores (``group_scores``), the frame AUC of every
combination of groups scored as their mean is reported too
(``frame_auc_<group>+<group>``).

No test video is read: this is where settings may be compared.

    python plugins/teachers/scripts/validate_speed_proxy.py teacher-attr [--factor 2] [--config '{...}']
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
import time
from pathlib import Path

import numpy as np

from vadbench.cli import count_at_least, json_of

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ped2 import DEFAULT_ROOT, load_ped2
from measure_ped2 import build


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    ap.add_argument("--factor", type=count_at_least(2), default=2)
    ap.add_argument("--threads", type=count_at_least(1), default=2)
    ap.add_argument("--cache", default="/tmp/vadbench-teachers-proxy")
    ap.add_argument("--config", type=json_of(dict), default={})
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
    model = build(args.model, seed=args.seed, **args.config)
    ctx = RunContext(cache_dir=Path(args.cache), seed=args.seed)
    t0 = time.perf_counter()
    model.fit(fit_videos, ctx)
    fit_s = time.perf_counter() - t0
    fast = model.speedup(args.factor)
    rng = np.random.default_rng(args.seed)
    obj_normal, obj_fast, picks = [], [], []
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
        # per frame: its objects and the one swapped for its fast version
        picks.append([(idx, rng.choice(idx)) for idx in (np.flatnonzero(a["frame"] == t)
                                                         for t in np.unique(a["frame"]))])

    def frame_auc(normal: list[np.ndarray], fast: list[np.ndarray]) -> float:
        """Frames' maximum object score, as they are against with one object swapped for its fast self."""
        plain, swapped = [], []
        for sa, sb, frames in zip(normal, fast, picks, strict=True):
            for idx, j in frames:
                plain.append(sa[idx].max())
                swapped.append(max(sa[idx[idx != j]].max(initial=0.0), sb[j]))
        y = np.r_[np.zeros(len(plain)), np.ones(len(swapped))]
        return round(roc_auc_score(y, np.r_[plain, swapped]), 4)

    out = {"model": args.model, "config": args.config, "factor": args.factor,
           "proxy_frame_auc": frame_auc(obj_normal, obj_fast),
           "proxy_object_auc": round(roc_auc_score(np.r_[np.zeros(sum(map(len, obj_normal))),
                                                          np.ones(sum(map(len, obj_fast)))],
                                                    np.r_[np.concatenate(obj_normal), np.concatenate(obj_fast)]), 4),
           "fit_seconds_half_train": round(fit_s, 1)}
    for g in (groups_a[0] if groups_a else {}):
        ga = np.concatenate([x[g] for x in groups_a])
        gb = np.concatenate([x[g] for x in groups_b])
        out[f"object_auc_{g}"] = round(roc_auc_score(np.r_[np.zeros(len(ga)), np.ones(len(gb))], np.r_[ga, gb]), 4)
    # every combination of groups scored as their mean: how a teacher's scoring groups can be chosen
    names = list(groups_a[0]) if groups_a else []
    for combo in (c for n in range(1, len(names) + 1) for c in itertools.combinations(names, n)):
        normal, fast_ = ([sum(x[g] for g in combo) / len(combo) for x in gs] for gs in (groups_a, groups_b))
        out[f"frame_auc_{'+'.join(combo)}"] = frame_auc(normal, fast_)
    print(json.dumps(out))
    return out


if __name__ == "__main__":
    main()
