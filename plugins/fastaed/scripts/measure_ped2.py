"""Fit Fast-AED students on Ped2 (teachers through the run context), report AUCs and speed.

    python plugins/fastaed/scripts/measure_ped2.py fastaed-s [fastaed-xs ...] \\
        [--data-root ../shared/data] [--results /tmp/fastaed/results] [--rounds 5] \\
        [--compare teacher-attr,fastano] [--json out.json]

For each student: fit through the harness's model cache (teachers are fitted
or reloaded by ``ctx.get_model``; fitted models are stored under
``--results/models``), score every Ped2 test video, and evaluate with the
harness (``vadbench.runner.evaluate_scores``: micro and macro AUC with the
dataset's sigma = 3, RBDC/TBDC from the 16x16 maps). The teachers' own AUCs are
evaluated the same way.

Speed, one interleaved session on this machine (torch threads as given by
``--threads``):

* **end-to-end**: ``model.score(video)`` over all 12 test videos (2010 JPEG
  frames, decoding included), frames / seconds; ``--rounds`` rounds, models
  interleaved (A B C A B C ...), median reported. Models that keep per-video
  results in memory (the teachers cache their maps) have those caches emptied
  before every round, and their on-disk object cache disabled, so every round
  runs the full path.
* **model-only**: ``model.forward(model.example_input(b))`` median over 20 calls
  after 3 warm-up calls, frames / seconds, for the batch size the student scores with.

Nothing here reads a test label before the students are fitted, and nothing
measured on the test set is fed back into any setting.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from vadbench.atomic import atomic_write_text
from vadbench.cli import count_at_least, json_of, output_file


def empty_caches(model) -> None:
    for attr in ("_scores", "_maps"):
        cache = getattr(model, attr, None)
        if isinstance(cache, dict):
            cache.clear()
    if hasattr(model, "_cache_dir"):
        model._cache_dir = None


def evaluate(model, dataset) -> dict:
    from vadbench.metrics.region import regions_from_maps
    from vadbench.model import as_scores
    from vadbench.runner import evaluate_scores

    scores, regions = {}, {}
    for v in dataset.test:
        r = as_scores(model.score(v), len(v), model.name)
        scores[v.id] = r.frame
        if r.regions is not None:
            regions[v.id] = np.asarray(r.regions, np.float64).reshape(-1, 6)
        elif r.maps is not None:
            h, w = v.source.frame(0, gray=True).shape
            regions[v.id] = regions_from_maps(np.asarray(r.maps), (h, w))
    m = evaluate_scores(dataset, scores, regions)
    return {k: m.get(k) for k in ("micro_auc", "macro_auc", "rbdc", "tbdc")}


def model_only_fps(model, batch: int, calls: int = 20) -> float:
    import torch

    x = model.example_input(batch)
    with torch.inference_mode():
        for _ in range(3):
            model.forward(x)
        times = []
        for _ in range(calls):
            t0 = time.perf_counter()
            model.forward(x)
            times.append(time.perf_counter() - t0)
    return batch / float(np.median(times))


def e2e_session(models: dict, videos, rounds: int) -> dict[str, list[float]]:
    frames = sum(len(v) for v in videos)
    out = {name: [] for name in models}
    for r in range(rounds):
        for name, model in models.items():
            empty_caches(model)
            t0 = time.perf_counter()
            for v in videos:
                model.score(v)
            out[name].append(frames / (time.perf_counter() - t0))
            print(f"  round {r + 1}/{rounds} {name}: {out[name][-1]:.1f} fps", flush=True)
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("models", nargs="+")
    ap.add_argument("--data-root", default=str(Path(__file__).resolve().parents[3].parent / "shared" / "data"))
    ap.add_argument("--results", default="/tmp/fastaed/results")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=count_at_least(1), default=2, help="torch threads of the session (all models)")
    ap.add_argument("--rounds", type=count_at_least(1), default=5)
    ap.add_argument("--compare", default="", help="comma-separated other models to time end-to-end alongside")
    ap.add_argument("--compare-fitted", action="store_true",
                    help="fit the compared models too (default: an untrained copy; speed does not depend on weights)")
    ap.add_argument("--no-speed", action="store_true")
    ap.add_argument("--config", type=json_of(dict), default={}, help="JSON overrides for every student")
    ap.add_argument("--json", type=output_file)
    args = ap.parse_args(argv)

    import cv2
    import torch

    import vadbench
    from vadbench.profile import machine_info
    from vadbench.results import ResultsStore
    from vadbench.runner import ModelCache, open_dataset, resolve_root

    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    dataset = open_dataset("ped2", {}, root=resolve_root("ped2", args.data_root))
    store = ResultsStore(args.results)
    cache = ModelCache(store, dataset, args.seed, "cpu", progress=lambda m: print(m, flush=True))
    overrides = args.config
    report: dict = {"machine": machine_info(), "threads": args.threads, "models": {}}
    students = {}
    for name in args.models:
        t0 = time.perf_counter()
        model, fit_s = cache.get(name, overrides)
        students[name] = model
        entry = {"config": model.config, "fit_seconds_this_call": round(fit_s, 1),
                 "train_seconds": getattr(model, "train_seconds", None),
                 "history": getattr(model, "history", {}),
                 "params": sum(p.numel() for p in model.net.parameters())}
        entry["test"] = evaluate(model, dataset)
        print(f"{name}: {json.dumps(entry['test'])} params {entry['params']} "
              f"train {entry['train_seconds']} s (this call {time.perf_counter() - t0:.1f} s)", flush=True)
        report["models"][name] = entry
        for tname in model.config["teachers"]:
            if tname not in report["models"]:
                teacher, tfit = cache.get(tname)
                report["models"][tname] = {"test": evaluate(teacher, dataset), "fit_seconds_this_call": tfit}
                print(f"{tname}: {json.dumps(report['models'][tname]['test'])}", flush=True)
    if not args.no_speed:
        timed = dict(students)
        for name in filter(None, args.compare.split(",")):
            timed[name] = cache.get(name)[0] if args.compare_fitted else vadbench.create_model(name)
            if not args.compare_fitted and hasattr(timed[name], "fit") and name.startswith("teacher"):
                timed[name] = cache.get(name)[0]  # a teacher needs its detector's background to run
        print("end-to-end session:", list(timed), flush=True)
        videos = list(dataset.test)
        for model in timed.values():  # warm-up: one video each
            empty_caches(model)
            model.score(videos[0])
        e2e = e2e_session(timed, videos, args.rounds)
        for name, model in timed.items():
            rec = report["models"].setdefault(name, {})
            rec["fps_e2e_rounds"] = [round(x, 1) for x in e2e[name]]
            rec["fps_e2e"] = float(np.median(e2e[name]))
            if name in students:
                b = int(model.config["infer_batch"])
                rec["fps_model"] = {str(b): model_only_fps(model, b), "1": model_only_fps(model, 1, calls=50)}
        for name in students:
            for other in timed:
                if other != name:
                    report["models"][name][f"e2e_ratio_vs_{other}"] = float(
                        np.median(np.divide(e2e[name], e2e[other])))
        for name in timed:
            print(f"{name}: e2e {report['models'][name]['fps_e2e']:.1f} fps "
                  f"{report['models'][name].get('fps_model', '')}", flush=True)
    if args.json:
        atomic_write_text(args.json, json.dumps(report, indent=1, default=str) + "\n")
    return report


if __name__ == "__main__":
    main(sys.argv[1:])
