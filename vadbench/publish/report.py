"""Per-video figures: score against frame, ground truth shaded, optional alert thresholds.

Scores of different models live on different scales, often with long tails
that would flatten a min-max scaled curve. Each model's curve is therefore
drawn as the pooled rank of each (smoothed) score among all of that model's
test frames: 0.9 means the frame outranks 90% of them. That is exactly what
micro AUC compares, and the map is monotone per model, so a threshold is drawn
through the same map.

:func:`curves_figure` draws them from a results store (``vadbench curves``).
"""

from __future__ import annotations

import io
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ..atomic import atomic_write_bytes
from ..data.load import open_recorded
from ..errors import VadbenchError
from ..model import RunContext
from ..results import ResultsStore
from ..watch import cached_fold_models, describe_calibration, held_out_threshold


def _spans(labels: np.ndarray) -> list[tuple[int, int]]:
    """Runs of 1 in ``labels`` as (first, last) frame pairs.

    >>> _spans(np.array([0, 1, 1, 0, 1]))
    [(1, 2), (4, 4)]
    """
    padded = np.concatenate([[0], np.asarray(labels, int), [0]])
    edges = np.flatnonzero(np.diff(padded))
    return [(int(a), int(b) - 1) for a, b in zip(edges[::2], edges[1::2], strict=True)]


def pooled_rank(pool: np.ndarray):
    """A function: score -> its mid-rank among ``pool`` as a fraction (0 below all, 1 above all).

    >>> rank = pooled_rank(np.array([1.0, 2.0, 3.0, 100.0]))
    >>> rank(np.array([0.5, 2.0, 50.0, 200.0])).tolist()
    [0.0, 0.375, 0.75, 1.0]
    """
    ordered = np.sort(np.asarray(pool, float).ravel())
    n = max(len(ordered), 1)

    def rank(x):
        x = np.asarray(x, float)
        return (np.searchsorted(ordered, x, "left") + np.searchsorted(ordered, x, "right")) / (2 * n)

    return rank


def plot_video_curves(series: Mapping[str, Mapping[str, np.ndarray]], labels: Mapping[str, np.ndarray],
                      out_base: str | Path, *, videos: Sequence[str] | None = None, title: str = "",
                      thresholds: Mapping[str, float] | None = None,
                      sigma: float | None = None) -> list[Path]:
    """Draw one panel per video with every model's curve; write ``out_base``.png and .svg.

    ``series`` maps model -> video id -> per-frame scores; ``labels`` maps video id
    -> frame labels. ``sigma`` smooths the curves as the metric does.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from scipy.ndimage import gaussian_filter1d

    videos = list(videos or sorted(labels))
    fig, axes = plt.subplots(len(videos), 1, figsize=(10, 1.9 * len(videos) + 0.6), squeeze=False)
    for model, per_video in series.items():
        smooth = {v: (gaussian_filter1d(np.asarray(s, float), sigma) if sigma else np.asarray(s, float))
                  for v, s in per_video.items()}
        rank = pooled_rank(np.concatenate(list(smooth.values())))
        for ax, vid in zip(axes[:, 0], videos, strict=True):
            line, = ax.plot(rank(smooth[vid]), lw=1.2, label=model)
            if thresholds and model in thresholds:
                ax.axhline(float(rank(thresholds[model])), color=line.get_color(), ls="--", lw=0.8)
    for ax, vid in zip(axes[:, 0], videos, strict=True):
        for a, b in _spans(labels[vid]):
            ax.axvspan(a - 0.5, b + 0.5, color="#f4a6a6", alpha=0.35, lw=0)
        ax.set_xlim(0, len(labels[vid]) - 1)
        ax.set_ylim(-0.05, 1.05)
        ax.set_ylabel(f"video {vid}")
    axes[0, 0].legend(loc="upper left", fontsize=8, ncol=min(4, len(series)))
    axes[-1, 0].set_xlabel("frame (ground-truth anomalous frames shaded; each score as its rank among the "
                           "model's test frames)")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.35 / fig.get_figheight()))  # room for the title above the legend
    paths = []
    for ext in ("png", "svg"):
        buf = io.BytesIO()
        fig.savefig(buf, format=ext, dpi=130)
        path = Path(f"{out_base}.{ext}")
        atomic_write_bytes(path, buf.getvalue())
        paths.append(path)
    plt.close(fig)
    return paths


def curves_figure(store: ResultsStore, dataset: str, models: Sequence[str], out_base: str | Path, *,
                  videos: Sequence[str] | None = None, false_alarm_rate: float | None = None,
                  threshold_folds: int = 2, progress: Callable[[str], Any] | None = None) -> list[Path]:
    """:func:`plot_video_curves` of ``models`` on ``dataset`` from their stored scores (first seed of each).

    With ``false_alarm_rate`` each model's alert threshold is drawn: the score that fraction of
    held-out training frames exceed, each scored by a model fitted on the other of ``threshold_folds``
    folds of the training videos (:func:`vadbench.watch.held_out_threshold`; no test label is used).
    ``progress`` is told each threshold. Returns the written ``.png`` and ``.svg``.
    """
    records = sorted(store.records(dataset=dataset, status="ok"), key=lambda r: r["seed"])
    series, data = {}, None
    for name in models:
        record = next((r for r in records if r["model"]["name"] == name), None)
        if record is None:
            raise VadbenchError(f"{store.root}: no finished {name} cell on {dataset}")
        series[name] = store.load_scores(record)
        if data is None:
            data = open_recorded(record, store.root / "cache")
    if data is None:
        raise VadbenchError(f"{store.root}: no model named to draw on {dataset}")
    labels = {v.id: v.labels for v in data.test}
    sigma = data.conventions.get("sigma")
    say = progress or (lambda message: None)
    thresholds, calibration = {}, []
    if false_alarm_rate is not None:  # on training videos each fold's model did not see; no test label
        for name in series:
            record = next(r for r in records if r["model"]["name"] == name)
            config = record["model"].get("config") or {}
            ctx = RunContext(cache_dir=store.root / "cache", seed=record["seed"], device="cpu",
                             dataset=data.name, progress=progress)
            make = cached_fold_models(store, data, name, config, seed=record["seed"])
            thresholds[name], info = held_out_threshold(make, data.train, false_alarm_rate,
                                                        folds=threshold_folds, sigma=sigma, ctx=ctx)
            calibration.append(describe_calibration(info))
            say(f"{name}: threshold {thresholds[name]:.6g} ({calibration[-1]}, {info['frames']} frames)")
    title = f"{dataset}: per-frame scores ({', '.join(series)})"
    if calibration:  # the dashed lines: how their thresholds were set
        title += "\ndashed: " + "; ".join(dict.fromkeys(calibration))
    return plot_video_curves(series, labels, Path(out_base), videos=videos, sigma=sigma,
                             thresholds=thresholds, title=title)
