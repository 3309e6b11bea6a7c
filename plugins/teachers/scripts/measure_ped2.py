"""Train a teacher on Ped2's normal training videos, score the test videos, report AUCs and times.

    python plugins/teachers/scripts/measure_ped2.py teacher-attr [--threads 2] [--cache /tmp/x] [--json out.json]

Frame scores are smoothed per video with ``gaussian_filter1d(sigma=3)`` (the
dataset's convention) before micro AUC (all frames pooled) and macro AUC (mean
of per-video AUCs). RBDC/TBDC use the teacher's scored boxes against tracks
linked from the connected components of the pixel masks. Nothing here feeds a
choice back into the model: the teacher's settings are its registered defaults.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from vadbench.atomic import atomic_write_text
from vadbench.cli import count_at_least, json_of, output_file

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ped2 import DEFAULT_ROOT, load_ped2


def build(name: str, **config):
    try:
        import vadbench

        return vadbench.create_model(name, **config)
    except Exception:  # noqa: BLE001 - registry not usable yet: build straight from the plugin
        from vadbench_teachers.plugin import MODELS

        cls, _quick = MODELS[name]
        model = cls(**config)
        model.name = name
        return model


def frame_aucs(scores, labels, sigma=3.0):
    from scipy.ndimage import gaussian_filter1d
    from sklearn.metrics import roc_auc_score

    try:
        from vadbench.metrics import frame_auc

        return (frame_auc(scores, labels, average="micro", sigma=sigma),
                frame_auc(scores, labels, average="macro", sigma=sigma, single_class="drop"))
    except ImportError:
        sm = [gaussian_filter1d(np.asarray(s, float), sigma) for s in scores]
        micro = roc_auc_score(np.concatenate(labels), np.concatenate(sm))
        per = [roc_auc_score(y, s) for s, y in zip(sm, labels) if 0 < y.sum() < len(y)]
        return micro, float(np.mean(per))


def region_metrics(test, results):
    from vadbench.metrics import link_tracks, rbdc_tbdc, regions_from_masks

    preds, gts = [], []
    for i, (v, r) in enumerate(zip(test, results)):
        if r.regions is not None and len(r.regions):
            preds.append(np.concatenate([np.full((len(r.regions), 1), i), r.regions], 1))
        tracks = link_tracks(regions_from_masks(v.masks()))
        if len(tracks):
            gts.append(np.concatenate([np.full((len(tracks), 1), i), tracks], 1))
    return rbdc_tbdc(np.concatenate(preds), np.concatenate(gts), num_frames=sum(len(v) for v in test))


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    ap.add_argument("--threads", type=count_at_least(1), default=2)
    ap.add_argument("--cache", default=None, help="cache folder (default: a fresh temporary one, so times are cold)")
    ap.add_argument("--config", type=json_of(dict), default={}, help="JSON overrides of the model's configuration")
    ap.add_argument("--json", type=output_file, default=None)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)

    import cv2
    import torch

    from vadbench import RunContext

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(args.threads)
    train, test = load_ped2(args.root)
    model = build(args.model, seed=args.seed, **args.config)
    cache = Path(args.cache) if args.cache else Path(tempfile.mkdtemp(prefix="vadbench-teachers-"))
    ctx = RunContext(cache_dir=cache, seed=args.seed, progress=lambda m: print(m, file=sys.stderr))
    t0 = time.perf_counter()
    model.fit(train, ctx)
    fit_s = time.perf_counter() - t0
    t0 = time.perf_counter()
    results = [model.score(v) for v in test]
    score_s = time.perf_counter() - t0
    labels = [np.asarray(v.labels) for v in test]
    scores = [r.frame for r in results]
    micro, macro = frame_aucs(scores, labels, 3.0)
    micro0, macro0 = frame_aucs(scores, labels, 0.0)
    out = {"model": args.model, "config": model.config, "micro_auc_sigma3": round(micro, 4),
           "macro_auc_sigma3": round(macro, 4), "micro_auc_raw": round(micro0, 4),
           "macro_auc_raw": round(macro0, 4), "fit_seconds": round(fit_s, 1),
           "score_seconds_test": round(score_s, 1), "test_frames": int(sum(len(s) for s in scores)),
           "threads": args.threads}
    try:
        rbdc, tbdc = region_metrics(test, results)
        out |= {"rbdc": round(rbdc, 4), "tbdc": round(tbdc, 4)}
    except Exception as e:  # noqa: BLE001 - region metrics not available in this checkout
        out["rbdc_error"] = repr(e)
    print(json.dumps(out, indent=1, default=str))
    if args.json:
        atomic_write_text(args.json, json.dumps(out, indent=1, default=str) + "\n")
    return out


if __name__ == "__main__":
    main()
