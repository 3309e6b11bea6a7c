"""``vadbench watch``: score a live source with a fitted model, as frames arrive.

The source is a video file, a folder of frames, a camera index (``0``) or a
stream address (``rtsp://...``), all read through OpenCV. Frames are scored in
chunks of ``chunk`` frames, each chunk preceded by the last ``context`` frames
of the one before so that models needing past frames (motion, frame stacks)
see them. Outputs: a per-frame CSV (frame, score, alert) and an annotated
video (anomaly map as a heat overlay, regions above the threshold boxed, a
running score strip with the threshold).

The alert threshold is calibrated on the *training* videos: the
``1 - false_alarm_rate`` quantile of the model's frame scores on normal data.
No test label is ever read.
"""

from __future__ import annotations

import csv
import os
from collections.abc import Iterator
from pathlib import Path

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


def calibrate_threshold(model, train_split, false_alarm_rate: float = 0.01, sigma: float | None = None) -> float:
    """The score exceeded by ``false_alarm_rate`` of the training (normal) frames.

    ``sigma`` smooths each training video's scores first, as a figure or metric that smooths does.
    """
    from scipy.ndimage import gaussian_filter1d

    scores = [as_scores(model.score(v), len(v), f"model on training video {v.id}").frame for v in train_split]
    if sigma:
        scores = [gaussian_filter1d(s, float(sigma)) for s in scores]
    return float(np.quantile(np.concatenate(scores), 1.0 - false_alarm_rate))


def _overlay(frame: np.ndarray, amap: np.ndarray | None, scale: float) -> np.ndarray:
    if amap is None or scale <= 0:
        return frame
    heat = cv2.resize(np.asarray(amap, np.float32), (frame.shape[1], frame.shape[0]), interpolation=cv2.INTER_LINEAR)
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
    pts = [(width - len(recent) + i, int(STRIP - 1 - (STRIP - 2) * min(s, top) / top)) for i, s in enumerate(recent)]
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
            new = [f for _, f in zip(range(chunk), frames_iter)]
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
                            cv2.rectangle(shown, (int(row[1]), int(row[2])), (int(row[3]), int(row[4])), (0, 0, 255), 1)
                cv2.putText(shown, f"{done} {score:.3g}{' ALERT' if alert else ''}", (4, 14),
                            cv2.FONT_HERSHEY_SIMPLEX, 0.4, (255, 255, 255), 1)
                canvas = np.vstack([shown, _strip(history, threshold, w, top)])
                if writer is None:
                    writer = cv2.VideoWriter(str(video_tmp), cv2.VideoWriter_fourcc(*"MJPG"), fps,
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
