"""``vadbench watch``: score a live source with a fitted model, as frames arrive.

The source is a video file, a folder of frames, a camera index (``0``) or a
stream address (``rtsp://...``), all read through OpenCV. Frames are scored in
chunks of ``chunk`` frames, each chunk preceded by the last ``context`` frames
of the one before so that models needing past frames (motion, frame stacks)
see them. Outputs: a per-frame CSV (frame, score, alert) and an annotated
video (anomaly map as a heat overlay, regions above the threshold boxed, a
running score strip with the threshold).

The alert threshold is calibrated on the *training* videos: the
``1 - false_alarm_rate`` quantile of the model's frame scores on normal data
(:func:`held_out_threshold`), each training video scored by a model fitted
without it, since a model scores the very frames it memorised lower than new
normal ones (a nearest-neighbour model scores each of them 0). No test label is
ever read.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Callable, Iterator
from dataclasses import is_dataclass, replace
from pathlib import Path
from typing import Any, cast

import cv2
import numpy as np

from .data.frames import FrameSource, list_images, read_image
from .data.video import Video
from .errors import DataError
from .model import as_scores

STRIP = 48  # height of the score strip under each frame, pixels


def open_source(source: str) -> Iterator[np.ndarray]:
    """BGR frames of a video file, a frame folder, a camera index or a stream URL."""
    path = Path(source)
    if path.is_dir():
        files = list_images(path)
        if not files:
            raise DataError(path, "frame folder holds no images")
        for f in files:
            yield read_image(f)
        return
    target: int | str = int(source) if source.isdigit() else source
    if isinstance(target, str) and "://" not in target and not path.is_file():
        raise DataError(path, "no such video file, frame folder, camera index or stream address")
    cap = cv2.VideoCapture(target)
    if not cap.isOpened():
        raise DataError(source, "cannot be opened by OpenCV as a video, camera or stream")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                break
            yield frame
    finally:
        cap.release()


def _frame_scores(model, videos, sigma: float | None) -> list[np.ndarray]:
    """Frame scores of each of ``videos``, each smoothed by a Gaussian of ``sigma`` frames if given."""
    from scipy.ndimage import gaussian_filter1d

    scores = [as_scores(model.score(v), len(v), f"model on training video {v.id}").frame for v in videos]
    if sigma:
        scores = [gaussian_filter1d(np.asarray(s, float), float(sigma)) for s in scores]
    return scores


def _check_rate(false_alarm_rate: float) -> float:
    rate = float(false_alarm_rate)
    if not 0.0 <= rate <= 1.0:
        raise ValueError(f"false_alarm_rate must be in [0, 1], got {false_alarm_rate!r}")
    return rate


def calibrate_threshold(model, train_split, false_alarm_rate: float = 0.01,
                        sigma: float | None = None) -> float:
    """The score exceeded by ``false_alarm_rate`` of the training (normal) frames, *in sample*.

    ``model`` is the one fitted on ``train_split`` itself, so a model that
    memorises its training data (a nearest-neighbour model) gives a threshold
    that is far too low: use :func:`held_out_threshold`. ``sigma`` smooths each
    training video's scores first, as a figure or metric that smooths does.
    """
    rate = _check_rate(false_alarm_rate)
    return float(np.quantile(np.concatenate(_frame_scores(model, train_split, sigma)), 1.0 - rate))


def _subset(split, videos: list):
    """``split`` (a :class:`~vadbench.data.video.Split` or a plain sequence) holding only ``videos``."""
    if is_dataclass(split) and hasattr(split, "videos"):
        return replace(cast("Any", split), videos=videos)  # a dataclass instance (a Split) in practice
    return list(videos)


def held_out_threshold(make_model: Callable[[], Any], train_split, false_alarm_rate: float, *,
                       folds: int = 2, sigma: float | None = None, ctx=None) -> tuple[float, dict]:
    """An alert threshold from training videos that the scoring model was not fitted on.

    The training videos are dealt into ``folds`` folds by index (video ``i`` in
    fold ``i % folds``; fewer folds when there are fewer videos). For each fold a
    fresh model (``make_model()``) is fitted, with ``fit(videos, ctx)``, on the
    other folds' videos and scores the fold's videos (frame scores, each video
    smoothed by a Gaussian of ``sigma`` frames if given, as the curves are). The
    threshold is the ``1 - false_alarm_rate`` quantile of all these held-out
    scores pooled: about ``false_alarm_rate`` of normal frames *new to the model*
    score above it. The fold models only set the threshold; the model that
    scores test videos stays the one fitted on all training videos.

    With a single training video there is nothing to hold out: the model is
    fitted on it and the quantile taken in sample, and ``info`` says so.

    Returns ``(threshold, info)``, ``info`` saying how it was calibrated:
    ``{"method": "held-out training videos", "folds": 2, "frames": N, "false_alarm_rate": r}``
    (``"method": "in-sample (one training video)"``, ``"folds": 1`` in the fallback).

    A model that memorises its training frames' mean intensities and scores the
    distance to the nearest one scores every training frame 0 in sample:

    >>> from vadbench.data.frames import FrameSource
    >>> from vadbench.data.video import Video
    >>> class Nearest:
    ...     def fit(self, train, ctx):
    ...         self.seen = np.concatenate([v.read(gray=True).mean((1, 2)) for v in train])
    ...     def score(self, video):
    ...         x = video.read(gray=True).mean((1, 2))
    ...         return np.abs(x[:, None] - self.seen[None, :]).min(1)
    >>> train = [Video(str(i), FrameSource.from_array(np.full((4, 2, 2), 10 * i, np.uint8)))
    ...          for i in range(4)]  # four videos of constant frames: 0, 10, 20, 30
    >>> inside = Nearest(); inside.fit(train, None)
    >>> calibrate_threshold(inside, train, 0.25)
    0.0

    Held out (videos 0 and 20 against 10 and 30, and back), every frame is 10 from the nearest seen:

    >>> held_out_threshold(Nearest, train, 0.25)
    (10.0, {'method': 'held-out training videos', 'folds': 2, 'frames': 16, 'false_alarm_rate': 0.25})
    >>> held_out_threshold(Nearest, train[:1], 0.25)[1]["method"]
    'in-sample (one training video)'
    """
    rate = _check_rate(false_alarm_rate)
    if int(folds) < 2:
        raise ValueError(f"folds must be at least 2, got {folds!r}")
    videos = list(train_split)
    if not videos:
        raise ValueError("held_out_threshold needs at least one training video")
    k = min(int(folds), len(videos))
    if k < 2:
        model = make_model()
        model.fit(train_split, ctx)
        scores = _frame_scores(model, videos, sigma)
        method = "in-sample (one training video)"
    else:
        scores = []
        for fold in range(k):
            held = [v for i, v in enumerate(videos) if i % k == fold]
            rest = [v for i, v in enumerate(videos) if i % k != fold]
            model = make_model()
            if ctx is not None and hasattr(ctx, "log"):
                who = f"{model.name}: " if isinstance(getattr(model, "name", None), str) else ""
                ctx.log(f"{who}alert threshold, fold {fold + 1}/{k}: fit on {len(rest)} training video(s), "
                        f"score the {len(held)} held out ({', '.join(str(v.id) for v in held)})")
            model.fit(_subset(train_split, rest), ctx)
            scores += _frame_scores(model, held, sigma)
            del model
        method = "held-out training videos"
    pooled = np.concatenate(scores)
    info = {"method": method, "folds": k, "frames": int(pooled.size), "false_alarm_rate": rate}
    return float(np.quantile(pooled, 1.0 - rate)), info


def describe_calibration(info: dict) -> str:
    """One line saying how a threshold of :func:`held_out_threshold` was calibrated.

    >>> describe_calibration({"method": "held-out training videos", "folds": 2, "frames": 90,
    ...                       "false_alarm_rate": 0.01})
    'alert threshold: 1% of held-out training frames above (2 folds)'
    >>> describe_calibration({"method": "in-sample (one training video)", "folds": 1, "frames": 40,
    ...                       "false_alarm_rate": 0.05})
    'alert threshold: 5% of training frames above (in sample: one training video)'
    """
    rate = f"{100 * info['false_alarm_rate']:.3g}%"
    if info["method"] == "held-out training videos":
        return f"alert threshold: {rate} of held-out training frames above ({info['folds']} folds)"
    return f"alert threshold: {rate} of training frames above (in sample: one training video)"


class _CachedFit:
    """A model stand-in whose ``fit`` is a cached fit; it scores with the fitted model."""

    def __init__(self, name: str, fit: Callable):
        self.name, self._fit, self.model = name, fit, None

    def fit(self, train, ctx) -> None:
        self.model = self._fit(train, ctx)

    def score(self, video):
        return self.model.score(video)


def cached_fold_models(store, dataset, name: str, config: dict | None = None, *, seed: int = 0,
                       device: str = "cpu") -> Callable[[], _CachedFit]:
    """A ``make_model`` for :func:`held_out_threshold` whose fits go through the fitted-model cache.

    Each fold's model is fitted by a :class:`~vadbench.fit_cache.ModelCache` of
    ``store`` (the same run context, seed and cache folders as the main fit) on
    a copy of ``dataset`` whose training split holds the fold's videos and whose
    fingerprint names them: the fold fits are stored beside the main fit under
    ``store/models`` and reloaded next time, and a student's teachers are fitted
    on the same videos, so nothing of the held-out videos reaches the student
    through them. A fit on the whole training split is the main fit itself.
    """
    from .data.video import Split
    from .fit_cache import ModelCache
    from .results import config_hash

    whole = [str(v.id) for v in dataset.train]

    def fit(train, ctx):
        videos = list(train)
        ids = [str(v.id) for v in videos]
        if ids == whole:
            data = dataset
        else:
            split = train if isinstance(train, Split) else _subset(dataset.train, videos)
            data = replace(dataset, train=split,
                           fingerprint=config_hash({"data": dataset.fingerprint, "train_videos": ids}))
        progress = getattr(ctx, "progress", None)
        return ModelCache(store, data, seed, device, progress=progress).get(name, config or {})[0]

    return lambda: _CachedFit(name, fit)


def _overlay(frame: np.ndarray, amap: np.ndarray | None, scale: float) -> np.ndarray:
    if amap is None or scale <= 0:
        return frame
    heat = cv2.resize(np.asarray(amap, np.float32), (frame.shape[1], frame.shape[0]),
                      interpolation=cv2.INTER_LINEAR)
    level = np.clip(heat / scale, 0, 1)
    colour = cv2.applyColorMap((level * 255).astype(np.uint8), cv2.COLORMAP_JET)
    alpha = (0.55 * level)[..., None]
    return (frame * (1 - alpha) + colour * alpha).astype(np.uint8)


def _strip(history: list[float], threshold: float, width: int, top: float) -> np.ndarray:
    strip = np.full((STRIP, width, 3), 30, np.uint8)
    top = max(top, threshold * 1.25, 1e-12)
    recent = history[-width:]
    if recent and recent[-1] >= threshold:
        strip[:] = (30, 30, 120)
    ty = int(STRIP - 1 - (STRIP - 2) * threshold / top)
    cv2.line(strip, (0, ty), (width - 1, ty), (0, 200, 255), 1)
    pts = [(width - len(recent) + i, int(STRIP - 1 - (STRIP - 2) * min(s, top) / top))
           for i, s in enumerate(recent)]
    if len(pts) > 1:
        cv2.polylines(strip, [np.array(pts, np.int32)], False, (255, 255, 255), 1)
    return strip


def watch(model, source: str, out_dir: str | Path, *, threshold: float, chunk: int = 64, context: int = 8,
          fps: float = 25.0, progress=None) -> dict:
    """Score ``source`` with the fitted ``model``; write the CSV and the annotated video into ``out_dir``."""
    from .metrics.region import regions_from_maps

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = Path(str(source).rstrip("/")).stem or "stream"
    csv_path, video_path = out_dir / f"{stem}_scores.csv", out_dir / f"{stem}_annotated.avi"
    csv_tmp, video_tmp = csv_path.with_suffix(".csv.part"), video_path.with_suffix(".part.avi")
    writer, history, top, n_alerts, done = None, [], 0.0, 0, 0
    map_scale = 0.0
    frames_iter = open_source(str(source))
    previous: list[np.ndarray] = []
    with open(csv_tmp, "w", newline="") as fh:
        table = csv.writer(fh)
        table.writerow(["frame", "score", "alert"])
        while True:
            new = [f for _, f in zip(range(chunk), frames_iter, strict=False)]
            if not new:
                break
            batch = previous + new
            video = Video(id=stem, source=FrameSource.from_array(np.stack(batch), path=str(source)))
            result = as_scores(model.score(video), len(batch), f"model on {source}")
            skip = len(previous)
            h, w = batch[0].shape[:2]
            maps = None if result.maps is None else np.asarray(result.maps)[skip:]
            regions = result.regions
            if regions is None and result.maps is not None:
                regions = regions_from_maps(np.asarray(result.maps), (h, w))
            if maps is not None:
                map_scale = max(map_scale, float(maps.max()))
            for i, frame in enumerate(new):
                score = float(result.frame[skip + i])
                alert = score >= threshold
                n_alerts += alert
                history.append(score)
                top = max(top, score)
                table.writerow([done, f"{score:.6g}", int(alert)])
                shown = _overlay(frame, None if maps is None else maps[i], map_scale)
                if regions is not None and alert:
                    for row in np.asarray(regions).reshape(-1, 6):
                        if int(row[0]) == skip + i and row[5] >= threshold:
                            cv2.rectangle(shown, (int(row[1]), int(row[2])), (int(row[3]), int(row[4])),
                                          (0, 0, 255), 1)
                cv2.putText(shown, f"{done} {score:.3g}{' ALERT' if alert else ''}", (4, 14),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
                canvas = np.vstack([shown, _strip(history, threshold, w, top)])
                if writer is None:
                    writer = cv2.VideoWriter(str(video_tmp), cv2.VideoWriter.fourcc(*"MJPG"), fps,
                                             (canvas.shape[1], canvas.shape[0]))
                writer.write(canvas)
                done += 1
            previous = batch[-context:] if context else []
            if progress:
                progress(f"{source}: {done} frames scored, {n_alerts} alerts")
    if writer is not None:
        writer.release()
    if done == 0:
        csv_tmp.unlink(missing_ok=True)
        raise DataError(source, "source gave no frames")
    os.replace(csv_tmp, csv_path)
    os.replace(video_tmp, video_path)
    return {"csv": csv_path, "video": video_path, "frames": done, "alerts": n_alerts, "threshold": threshold}
