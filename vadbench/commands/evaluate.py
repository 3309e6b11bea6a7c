"""``vadbench eval``: every stored record's metrics recomputed from its per-frame scores, or a per-video
table."""

from __future__ import annotations

import fnmatch
from argparse import Namespace
from typing import Any

from ..errors import VadbenchError


def cmd_eval(args: Namespace) -> int:
    """Recompute every record's metrics from its stored scores and the dataset's labels."""
    from ..atomic import atomic_write_json
    from ..data.load import open_recorded
    from ..metrics.cell import evaluate_scores
    from ..results import ResultsStore

    store = ResultsStore(args.results)
    worst = 0.0
    records = store.records(status="ok")
    if args.per_video:
        records = [r for r in records if fnmatch.fnmatch(r["cell"], args.per_video)]
        if not records:
            raise VadbenchError(f"{store.root}: no finished cell matches {args.per_video!r}")
    for record in records:
        dataset = open_recorded(record, store.root / "cache")
        scores = store.load_scores(record)
        if args.per_video:
            print(breakdown_table(record["cell"], dataset, scores))
            continue
        regions = store.load_regions(record) if hasattr(store, "load_regions") else {}
        metrics = evaluate_scores(dataset, scores, regions or {}, seed=record["seed"])
        differs = 0.0
        for key in ("micro_auc", "macro_auc", "rbdc", "tbdc"):
            a, b = record["metrics"].get(key), metrics.get(key)
            if a is not None and b is not None:
                differs = max(differs, abs(a - b))
        worst = max(worst, differs)
        added = sorted(set(metrics) - set(record["metrics"]))
        if args.add_missing and added and differs < 1e-9:  # metrics defined after the cell ran, nothing else
            conventions = {**metrics["conventions"], **record["metrics"].get("conventions", {})}
            atomic_write_json(store.record_path(record["cell"]),
                              {**record,
                               "metrics": {**metrics, **record["metrics"], "conventions": conventions}})
            print(f"{record['cell']}: added {', '.join(added)}")
        print(f"{record['cell']:60s} micro {metrics['micro_auc']:.4f} (stored "
              f"{record['metrics']['micro_auc']:.4f})")
    if args.per_video:
        return 0
    print(f"largest difference from stored metrics: {worst:.2e}")
    return 0 if worst < 1e-9 else 1


def breakdown_table(cell: str, dataset: Any, scores: dict) -> str:
    """Markdown table of :func:`vadbench.metrics.video_breakdown` for one cell, with the dataset's
    conventions."""
    from ..metrics import video_breakdown

    conv = {k: dataset.conventions[k] for k in ("sigma", "normalize", "skip_first")
            if k in dataset.conventions}
    videos = list(dataset.test)
    rows = video_breakdown([scores[v.id] for v in videos], [v.labels for v in videos],
                           video_ids=[v.id for v in videos], **conv)

    def fmt(x: float | None, spec: str) -> str:
        return "-" if x is None else format(x, spec)

    lines = [f"{cell} ({', '.join(f'{k}={v}' for k, v in conv.items())})", "",
             "| video | frames | anomalous | AUC alone | median normal | median anomalous "
             "| micro AUC without it |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    lines += [f"| {r['video']} | {r['frames']} | {r['anomalous']:.0%} | {fmt(r['auc'], '.3f')} | "
              f"{fmt(r['normal_median'], '.3g')} | {fmt(r['anomalous_median'], '.3g')} | "
              f"{fmt(r['micro_without'], '.4f')} |" for r in rows]
    return "\n".join(lines) + "\n"
