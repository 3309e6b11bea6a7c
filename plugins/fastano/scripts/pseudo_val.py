"""Choose a configuration without test labels: train on 13 Ped2 training videos, validate on pseudo-anomalies.

    python plugins/fastano/scripts/pseudo_val.py fastano [--config JSON] [--variants JSON-list] [--every-epoch]
        [--cache-dir DIR] [--compare teacher-attr,teacher-ae]

Fits ``MODEL`` (registered defaults overridden by ``--config``) on the training
videos other than 14, 15, 16, then scores sped-up-box copies of those three
(see ``_ped2data.py``) and prints micro/macro AUC, plain and smoothed
(sigma 3). ``--variants`` rescores the same fitted weights under other
scoring options (e.g. ``'[{"score": "block"}]'``). ``--every-epoch`` does this
after every epoch through the ``ctx.extra["on_epoch"]`` hook of the FastAno and window models.
A model that asks the run context for others (a student for its teachers) gets
them fitted on the same 13 videos and seed; ``--compare`` also scores the
validation videos with those models and reports the Spearman correlation of
``MODEL``'s frame scores with each (a student's fidelity to its teachers on
unseen videos). A student fitted with ``val_every`` also reports, under
``training_fidelity``, its fidelity on held-out training videos and on clips it
was trained on. ``--cache-dir`` keeps the models' on-disk caches (detections,
teacher targets) between runs. No test video is read.
"""

from __future__ import annotations

import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from vadbench.atomic import atomic_write_text

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _ped2data import aucs, in_memory, load_ped2, model_parser, pseudo_split


def main(argv=None) -> dict:
    ap = model_parser(__doc__)
    ap.add_argument("--every-epoch", action="store_true")
    ap.add_argument("--cache-dir", default=None, help="models' on-disk caches (default: a fresh temporary folder)")
    ap.add_argument("--compare", default="", help="comma-separated models to correlate MODEL's frame scores with")
    args = ap.parse_args(argv)

    import vadbench
    from vadbench import RunContext
    from vadbench.seeding import seed_everything

    torch.set_num_threads(args.threads)
    train, _ = load_ped2(args.root)
    fit_split, val = pseudo_split(in_memory(train))
    config = args.config
    variants = [{}] + args.variants
    labels = [v.labels for v in val]
    report = {"model": args.model, "config": config, "epochs": []}
    fitted: dict[str, object] = {}

    def get_model(name, **cfg):
        """Another registered model, fitted once on the same videos and seed."""
        key = json.dumps([name, cfg], sort_keys=True)
        if key not in fitted:
            seed_everything(args.seed)
            other = vadbench.create_model(name, **cfg)
            other.fit(fit_split, ctx)
            fitted[key] = other
        return fitted[key]

    compared: dict[str, list] = {}

    def fidelity(scores) -> dict:
        from scipy.stats import spearmanr

        out = {}
        for name in filter(None, args.compare.split(",")):
            if name not in compared:
                compared[name] = [get_model(name).score(v).frame for v in val]
            out[f"spearman_{name}"] = float(spearmanr(np.concatenate(scores), np.concatenate(compared[name]))[0])
        return out

    def evaluate(model, tag):
        rows = {}
        for var in variants:
            scorer = model
            if var:
                scorer = vadbench.create_model(args.model, **{**config, **var})
                scorer.load_state_dict(model.state_dict())
            scores = [scorer.score(v).frame for v in val]
            rows[json.dumps(var) if var else "default"] = {**aucs(scores, labels), **fidelity(scores)}
        for k, r in rows.items():
            print(f"[{tag}] {k}: " + " ".join(f"{m}={x:.2f}" for m, x in r.items()), flush=True)
        return rows

    seed_everything(args.seed)
    model = vadbench.create_model(args.model, **config)
    extra = {}
    if args.every_epoch:
        extra["on_epoch"] = lambda m, e: report["epochs"].append({"epoch": e, **evaluate(m, f"epoch {e}")})
    cache = Path(args.cache_dir) if args.cache_dir else Path(tempfile.mkdtemp(prefix="vadbench-pv-"))
    ctx = RunContext(cache_dir=cache, seed=args.seed, dataset="ped2", progress=lambda s: print(s, flush=True),
                     get_model=get_model, extra=extra)
    start, cpu = time.perf_counter(), time.process_time()
    model.fit(fit_split, ctx)
    report["train_seconds"] = time.perf_counter() - start
    report["train_cpu_seconds"] = time.process_time() - cpu
    print(f"trained in {report['train_seconds']:.0f}s wall, {report['train_cpu_seconds']:.0f}s CPU", flush=True)
    report["final"] = evaluate(model, "final")
    history = getattr(model, "history", None)
    if isinstance(history, dict):
        report["training_fidelity"] = {k: v for k, v in history.items() if k.startswith(("val_", "fit_"))}
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1) + "\n")
    return report


if __name__ == "__main__":
    main()
