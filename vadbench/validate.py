"""The label-free check: choose a model's settings on pseudo-anomalies of held-out training videos.

No test video is read. The training videos are split in two: the model is
fitted on the first part (with every model it asks the run context for, a
student's teachers included, fitted on the same part), and scores copies of the
held-out videos into which :mod:`vadbench.pseudo_anomalies` put one known
anomalous segment each. Frame AUCs on those copies (micro and macro, with the
dataset's smoothing) rank candidate configurations::

    vadbench validate teacher-kin-boxes --dataset ped2 --data-root ../shared/data \\
        --grid '[{"k": 1}, {"k": 5}]' --json validation.json

The chosen configuration is the one with the best pooled micro AUC; a model
registered with it says so beside its settings, and its design is frozen
before its test videos are scored.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from pathlib import Path

import numpy as np

from .data.frames import FrameSource
from .data.video import Split, Video
from .errors import SettingsError
from .metrics import frame_auc
from .model import as_scores
from .pseudo_anomalies import KINDS, make
from .results import ResultsStore, config_hash


def held_out_ids(train: Split, fraction: float = 0.2) -> list[str]:
    """The last ``fraction`` of the training videos (at least one, leaving at least one to fit on).

    >>> from vadbench.data.frames import FrameSource
    >>> videos = [Video(str(i), FrameSource.from_array(np.zeros((2, 4, 4)))) for i in range(7)]
    >>> split = Split("d", "train", videos)
    >>> held_out_ids(split)
    ['5', '6']
    """
    n = len(train)
    if n < 2:
        raise ValueError(f"{train.dataset}: validation needs at least two training videos, not {n}")
    k = min(n - 1, max(1, math.ceil(fraction * n)))
    return [v.id for v in train.videos[n - k:]]


def pseudo_videos(videos: list[Video], kinds=KINDS, copies: int = 2, seed: int = 0,
                  options: dict | None = None) -> list[Video]:
    """``copies`` pseudo-anomalous copies of each video per kind, with frame labels and detections.

    A kind that needs detections (``enlarged_object``) is skipped for videos without them.
    """
    rng = np.random.default_rng(seed)
    out = []
    for v in videos:
        frames = v.read()
        rows = v.detections() if v.has_detections else None
        for kind in kinds:
            if kind == "enlarged_object" and rows is None:
                continue
            for c in range(copies):
                f, r, labels = make(kind, frames, np.zeros((0, 5)) if rows is None else rows, rng,
                                    **(options or {}).get(kind, {}))
                loader = None if rows is None else (lambda r=r: r)
                out.append(Video(f"{v.id}~{kind}{c}", FrameSource.from_array(f, path=f"<{v.id} {kind} {c}>"),
                                 labels=labels, meta={**v.meta, "pseudo_anomaly": kind},
                                 detection_loader=loader))
    return out


def validation_dataset(dataset, held_out: list[str], **pseudo):
    """``dataset`` with train = its training videos minus ``held_out`` and test = pseudo-anomalous copies."""
    missing = sorted(set(held_out) - {v.id for v in dataset.train})
    if missing:
        raise ValueError(f"{dataset.name}: no training video {', '.join(missing)} to hold out")
    fit = [v for v in dataset.train if v.id not in held_out]
    val = pseudo_videos([v for v in dataset.train if v.id in held_out], **pseudo)
    fingerprint = f"{dataset.fingerprint}|validate:{config_hash({'held_out': held_out, **pseudo})}"
    return dataclasses.replace(dataset, train=Split(dataset.name, "train", fit, dataset.train.root),
                               test=Split(dataset.name, "validation", val, dataset.train.root),
                               fingerprint=fingerprint)


def aucs(scores: list[np.ndarray], labels: list[np.ndarray], sigma: float | None) -> dict:
    """Micro and macro frame AUC (%) of per-video scores, smoothed with ``sigma``."""
    return {"micro": 100 * frame_auc(scores, labels, average="micro", sigma=sigma),
            "macro": 100 * frame_auc(scores, labels, average="macro", sigma=sigma, single_class="drop")}


def check_settings(name: str, configs: list[dict]) -> None:
    """Build ``name`` under each configuration, so that a misspelt setting stops the grid before any fit.

    >>> check_settings("motion-diff", [{"nope": 1}])
    Traceback (most recent call last):
    ...
    vadbench.errors.SettingsError: motion-diff: grid entry 1 {"nope": 1}: ...
    """
    from . import create_model

    for i, config in enumerate(configs):
        try:
            create_model(name, **config)
        except (TypeError, ValueError) as exc:
            entry = json.dumps(config, sort_keys=True)
            raise SettingsError(f"{name}: grid entry {i + 1} {entry}: {exc}") from exc


def validate(name: str, dataset, configs: list[dict], *, workdir: str | Path,
             held_out: list[str] | None = None, kinds=KINDS, copies: int = 2, seed: int = 0,
             device: str = "cpu", progress=None) -> dict:
    """Fit ``name`` under each of ``configs`` on part of the training videos; rank them on pseudo-anomalies.

    Returns a report: the split, and per configuration its AUCs pooled over
    every copy and per kind of pseudo-anomaly, its fit seconds, and ``best``
    (the index of the highest pooled micro AUC). ``workdir`` holds the fitted
    models (a results store of its own, never the benchmark's).
    """
    from .fit_cache import ModelCache

    say = progress or (lambda m: None)
    check_settings(name, configs)
    held_out = list(held_out or held_out_ids(dataset.train))
    vdata = validation_dataset(dataset, held_out, kinds=tuple(kinds), copies=copies, seed=seed)
    sigma = dataset.conventions.get("sigma")
    store = ResultsStore(Path(workdir))
    labels = [v.labels for v in vdata.test]
    kind_of = [v.meta["pseudo_anomaly"] for v in vdata.test]
    results = []
    for i, config in enumerate(configs):
        say(f"{name} {i + 1}/{len(configs)} {config}: fit on {len(vdata.train)} training videos")
        start = time.perf_counter()
        model, _ = ModelCache(store, vdata, seed, device, progress=progress).get(name, config)
        fit_seconds = time.perf_counter() - start
        scores = [as_scores(model.score(v.unlabelled()), len(v), f"model {name} on {v.id}").frame
                  for v in vdata.test]
        row = {"config": config, **aucs(scores, labels, sigma), "fit_seconds": round(fit_seconds, 1),
               "by_kind": {k: aucs([s for s, kk in zip(scores, kind_of, strict=True) if kk == k],
                                   [y for y, kk in zip(labels, kind_of, strict=True) if kk == k], sigma)
                           for k in dict.fromkeys(kind_of)}}
        say(f"{name} {config}: micro {row['micro']:.1f}, macro {row['macro']:.1f}")
        results.append(row)
    best = int(np.argmax([r["micro"] for r in results]))
    return {"model": name, "dataset": dataset.name, "fingerprint": dataset.fingerprint, "held_out": held_out,
            "fit_videos": [v.id for v in vdata.train], "kinds": list(dict.fromkeys(kind_of)),
            "copies": copies, "seed": seed, "sigma": sigma, "n_videos": len(vdata.test), "results": results,
            "best": best}


def report_table(report: dict) -> str:
    """The report as a Markdown table, best configuration marked."""
    kinds = report["kinds"]
    head = ["config", "micro", "macro", *(f"{k} micro" for k in kinds), "fit (s)"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, r in enumerate(report["results"]):
        mark = " (best)" if i == report["best"] else ""
        cells = [f"`{r['config']}`{mark}", f"{r['micro']:.1f}", f"{r['macro']:.1f}",
                 *(f"{r['by_kind'][k]['micro']:.1f}" for k in kinds), f"{r['fit_seconds']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
