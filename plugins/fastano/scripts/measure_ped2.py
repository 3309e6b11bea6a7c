"""Train a registered model on Ped2's training videos, score the test videos, report AUCs, regions and times.

    python plugins/fastano/scripts/measure_ped2.py MODEL [--config JSON] [--variants JSON-list]
        [--threads 2] [--json out.json] [--scores out.npz]

The model is built with its registered defaults (``--config`` overrides them)
and fitted once on all 16 training videos with seed 0. Reported per scoring
variant (``--variants`` rescores the same fitted weights, e.g.
``'[{"score": "block"}]'``): micro and macro frame AUC (%) of the model's
frame scores as returned (FastAno, Conv-AE and FFP normalise per video
themselves), plain and smoothed with ``gaussian_filter1d(sigma=3)`` per
video; and RBDC/TBDC (%) from the anomaly maps (``regions_from_maps``)
against tracks derived from the pixel masks, with the dataset's conventions
(sigma 3). Times: training wall and process-CPU seconds, scoring wall seconds.
Nothing measured here feeds back into the model.
"""

from __future__ import annotations

import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vadbench.atomic import atomic_write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ped2data import aucs, model_parser


def main(argv=None) -> dict:
    ap = model_parser(__doc__)
    ap.add_argument("--scores", default=None, help="write per-frame scores (one array per test video) here")
    args = ap.parse_args(argv)

    import vadbench
    from vadbench import RunContext
    from vadbench.metrics.region import regions_from_maps
    from vadbench.runner import evaluate_scores
    from vadbench.seeding import seed_everything

    torch.set_num_threads(args.threads)
    dataset = vadbench.create_dataset("ped2", root=args.root)
    config = args.config
    seed_everything(args.seed)
    model = vadbench.create_model(args.model, **config)
    ctx = RunContext(cache_dir=Path(tempfile.mkdtemp(prefix="vadbench-m-")), seed=args.seed, dataset="ped2",
                     progress=lambda s: print(s, flush=True))
    load = os.getloadavg()
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(dataset.train, ctx)
    report = {"model": args.model, "config": getattr(model, "config", config), "seed": args.seed,
              "train_seconds": time.perf_counter() - start, "train_cpu_seconds": time.process_time() - cpu,
              "loadavg_before_fit": load, "loadavg_after_fit": os.getloadavg(), "threads": args.threads,
              "machine": platform.processor() or platform.machine(), "variants": {}}
    print(f"trained in {report['train_seconds']:.0f}s wall, {report['train_cpu_seconds']:.0f}s CPU "
          f"(load {load[0]:.1f} -> {report['loadavg_after_fit'][0]:.1f})", flush=True)
    params = sum(p.numel() for p in getattr(model, "net", torch.nn.Linear(1, 1)).parameters()) \
        if hasattr(model, "net") else None
    report["params"] = params

    labels = [v.labels for v in dataset.test]
    all_scores = {}
    for var in [{}] + args.variants:
        scorer = model
        if var:
            scorer = vadbench.create_model(args.model, **{**config, **var})
            scorer.load_state_dict(model.state_dict())
        start = time.perf_counter()
        results = [scorer.score(v) for v in dataset.test]
        seconds = time.perf_counter() - start
        scores = {v.id: r.frame for v, r in zip(dataset.test, results)}
        regions = {}
        for v, r in zip(dataset.test, results):
            if r.maps is not None:
                h, w = v.source.frame(0, gray=True).shape
                regions[v.id] = regions_from_maps(np.asarray(r.maps), (h, w))
        row = aucs([r.frame for r in results], labels)
        ev = evaluate_scores(dataset, scores, regions, seed=args.seed)
        row.update(rbdc=None if ev.get("rbdc") is None else 100 * ev["rbdc"],
                   tbdc=None if ev.get("tbdc") is None else 100 * ev["tbdc"],
                   score_seconds=seconds, score_fps=sum(len(v) for v in dataset.test) / seconds)
        key = json.dumps(var) if var else "default"
        report["variants"][key] = row
        all_scores[key] = scores
        print(f"{key}: " + " ".join(f"{k}={v:.2f}" for k, v in row.items() if v is not None), flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    if args.scores:
        np.savez(args.scores, **{f"{k}|{vid}": s for k, sc in all_scores.items() for vid, s in sc.items()})
    return report


if __name__ == "__main__":
    main()
