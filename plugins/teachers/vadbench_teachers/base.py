"""What every object-centric teacher shares: objects per frame, scores per object, maps per frame.

A teacher is :class:`ObjectTeacher` plus three methods of its own:

``describe(frames, boxes, masks)``
    Per-object inputs (features, crops) of the boxes found in ``frames``.
``fit_objects(objects, ctx)``
    Learn from the training videos' objects.
``score_objects(objects)``
    One non-negative anomaly score per object (normalised with statistics of the
    training videos only, so that a typical training object scores about 1).

The shared part finds the objects, keeps the per-video objects cached on disk,
turns object scores into frame scores (the maximum object score, 0 for a frame
with no object), region predictions ``(frame, x0, y0, x1, y1, score)`` and
anomaly maps (max-painted boxes, adaptive max-pooled to ``scales``).

Where the boxes come from is the ``detector`` setting's ``kind`` (:data:`BOX_SOURCES`):

``bgsub`` (default, the key left out)
    :class:`~.detector.BackgroundDetector`, background subtraction fitted on the
    training videos; its other keys are that detector's settings.
``precomputed``
    the boxes of a detections file that the dataset carries
    (``video.detections()``, e.g. a COCO-pretrained Mask R-CNN's); the object's
    foreground is its whole box. ``profile_arch`` (default
    ``maskrcnn_resnet50_fpn``) names the live detector whose cost the profiler
    adds, since reading boxes from a file is not finding them.
``torchvision``
    a live torchvision detector (:class:`~.live_detector.TorchvisionDetector`,
    its settings as the other keys), run on every frame; the foreground is the
    whole box.

All work happens at the detector's processing size (width at most
``max_width``); boxes are scaled back to the video's resolution for regions and
maps. Frames before ``t - context`` are needed to describe frame ``t``; a
video's first frames borrow a mirrored context (frames ``context, ..., 1``).

The plain-array helpers about objects and their boxes live in :mod:`.objects`,
the torch ones the network teachers share in :mod:`.networks`; both are
re-exported here (``__all__``), where they used to be defined.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
import zipfile
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import torch

from vadbench import Model, Scores, drop_late_defaults
from vadbench.atomic import atomic_save_npz, load_npz
from vadbench.maps import DEFAULT_SCALES, scale_key
from vadbench.progress import progress

from .detector import BackgroundDetector, DetectorConfig, scale_boxes
from .maps import box_maps
from .networks import to_numpy, to_tensor, train_network
from .objects import (
    PER_VIDEO,
    Objects,
    box_masks,
    concat_objects,
    file_boxes,
    smooth_along_tracks,
    with_context,
)

FRAME_SCORES = ("max", "log1p")  # how a frame's largest object score becomes its score
BOX_SOURCES = ("bgsub", "precomputed", "torchvision")  # where a teacher's object boxes come from


def declared_settings(cls: type) -> set[str]:
    """The keyword parameters of every ``__init__`` along ``cls``'s MRO: the settings a teacher takes.

    A subclass hands its own settings to :class:`ObjectTeacher` through
    ``**config``; anything else that arrives there is a misspelt or retired
    setting, refused rather than silently recorded.
    """
    kinds = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)
    return {p.name for c in cls.__mro__ if "__init__" in vars(c)
            for p in inspect.signature(vars(c)["__init__"]).parameters.values() if p.kind in kinds} - {"self"}


class ObjectTeacher(Model):
    """Base class: detector, object cache, frame scores, regions and multi-scale maps."""

    family = "teacher"
    context = 1  # frames needed before the scored one

    def __init__(self, scales=DEFAULT_SCALES, detector: dict | None = None, chunk: int = 32,
                 train_stride: int = 1, track_window: int = 5, frame_score: str = "max", seed: int = 0,
                 **config: Any):
        if frame_score not in FRAME_SCORES:
            raise ValueError(f"frame_score must be one of {FRAME_SCORES}, not {frame_score!r}")
        unknown = sorted(set(config) - declared_settings(type(self)))
        if unknown:
            raise TypeError(f"{type(self).__name__} got an unexpected setting {unknown[0]!r}")
        super().__init__(**drop_late_defaults(
            {"scales": list(scales), "detector": dict(detector or {}), "chunk": chunk,
             "train_stride": train_stride, "track_window": track_window, "frame_score": frame_score,
             "seed": seed, **config},
            {"frame_score": "max"}))
        self.frame_score = frame_score
        self.track_window = int(track_window)
        self.scales = tuple(int(s) for s in scales)
        box_cfg = dict(detector or {})
        self.box_source = box_cfg.pop("kind", "bgsub")
        if self.box_source not in BOX_SOURCES:
            raise ValueError(f"detector kind must be one of {BOX_SOURCES}, not {self.box_source!r}")
        self.profile_arch = box_cfg.pop("profile_arch", "maskrcnn_resnet50_fpn")
        self.live = None
        if self.box_source == "torchvision":
            from .live_detector import TorchvisionDetector

            self.live, box_cfg = TorchvisionDetector(**box_cfg), {}
        elif self.box_source == "precomputed" and box_cfg:
            raise ValueError(f"a precomputed detector takes only profile_arch, not {sorted(box_cfg)}")
        # background subtraction finds the boxes of "bgsub"; for the others it only fixes the processing size
        self.detector = BackgroundDetector(**box_cfg)
        self._fitted = False
        self.boxes_per_frame: int | None = None  # 95th percentile of boxes per training frame (given boxes)
        self.chunk = chunk
        self.train_stride = train_stride
        self.seed = seed
        self.frame_shape: tuple[int, int] | None = None  # (H, W) of the training videos
        self._bg: np.ndarray | None = None  # background of the video being scored
        self._cache_dir: Path | None = None
        self._maps: dict[str, dict[str, np.ndarray]] = {}
        self.fit_seconds: float | None = None

    # -- to be provided by each teacher --------------------------------------------------
    def describe(self, frames: np.ndarray, boxes: list[np.ndarray], masks: np.ndarray) -> Objects:
        """Per-object inputs; ``frames`` (k+B, h, w) uint8 at processing size, ``boxes``/``masks`` of the
        last B."""
        raise NotImplementedError

    def fit_objects(self, objects: list[Objects], ctx) -> None:
        raise NotImplementedError

    def score_objects(self, objects: Objects) -> np.ndarray:
        raise NotImplementedError

    def feature_config(self) -> dict:
        """The settings ``describe`` depends on (part of the cache key)."""
        return {}

    def model_state(self) -> dict:
        return {}

    def load_model_state(self, state: dict) -> None:
        return None

    # -- objects -----------------------------------------------------------------------------
    def _proc(self, frames: np.ndarray) -> np.ndarray:
        frames = np.asarray(frames)
        if frames.ndim == 4:  # colour: take the gray levels
            frames = np.stack([cv2.cvtColor(f, cv2.COLOR_BGR2GRAY) for f in frames])
        pw, ph = self.detector.proc_size(frames.shape[1:3])
        if (frames.shape[2], frames.shape[1]) == (pw, ph):
            return frames
        return np.stack([cv2.resize(f, (pw, ph), interpolation=cv2.INTER_AREA) for f in frames])

    def objects_of_chunk(self, frames: np.ndarray, background: np.ndarray | None = None,
                         boxes: list[np.ndarray] | None = None) -> Objects:
        """Objects of the last ``len(frames) - context`` frames of a processing-size chunk.

        ``boxes`` (one array per described frame, processing size) are the objects
        when given (a detections file, a live detector); otherwise background
        subtraction finds them.
        """
        k = self.context
        if boxes is not None:
            masks = box_masks(boxes, frames.shape[1:3])
        else:
            bg = background if background is not None else (self._bg if self._bg is not None
                                                            else self.detector.background)
            if bg is None or bg.shape != tuple(self.detector.proc_size(frames.shape[1:3]))[::-1]:
                bg = self.detector.estimate_background(frames)  # unfitted, or another resolution
            boxes, masks = self.detect_proc(frames[k:], bg)
        objs = self.describe(frames, boxes, masks)
        objs["frame"] = np.concatenate([np.full(len(b), t, np.int64) for t, b in enumerate(boxes)] +
                                       [np.zeros(0, np.int64)])
        objs["box"] = np.concatenate([b.reshape(-1, 4) for b in boxes] + [np.zeros((0, 4), np.int64)])
        objs["shape"] = np.array(frames.shape[1:3], np.int64)
        return objs

    def detect_proc(self, frames: np.ndarray, background: np.ndarray):
        return self.detector.detect_proc(frames, background)

    def _key(self, video) -> str:
        det = self.detector.state_dict()
        h = hashlib.sha1()
        key = {"cls": type(self).__name__, "features": self.feature_config(), "detector": det["config"],
               "context": self.context, "video": str(video.path), "id": str(video.id), "n": len(video)}
        if self.box_source != "bgsub":
            key["boxes"] = self.box_source if self.live is None else self.live.config
        h.update(json.dumps(key, sort_keys=True, default=str).encode())
        for s in self.detector.scenes:
            h.update(np.round(s).astype(np.int16).tobytes())
        return h.hexdigest()[:20]

    def video_objects(self, video, frames: np.ndarray | None = None, stride: int = 1,
                      use_cache: bool = True) -> Objects:
        """Objects of every ``stride``-th frame of ``video``.

        With ``use_cache`` they are read from (or written to) the disk cache when a
        cache folder is known (from ``fit``'s run context); ``use_cache=False``
        always detects and describes afresh (and refreshes the cache).
        """
        path = None
        if self._cache_dir is not None and not str(video.path).startswith("<"):
            path = self._cache_dir / f"{type(self).__name__}-{self._key(video)}-s{stride}.npz"
            if use_cache and path.exists():
                try:
                    return load_npz(path)
                except (OSError, ValueError, EOFError, zipfile.BadZipFile):  # damaged: computed again below
                    pass
        if frames is None:
            frames = video.read(gray=True)
        proc = self._proc(frames)
        boxes = self.given_boxes(video, frames, proc)
        bg = self.detector.background_for(proc) if boxes is None else None
        ctxf = with_context(proc, self.context)
        parts = []
        keep = np.arange(0, len(proc), stride)
        for start in range(0, len(keep), self.chunk):
            idx = keep[start:start + self.chunk]
            if stride == 1:
                chunk = ctxf[idx[0]:idx[-1] + 1 + self.context]
                objs = self.objects_of_chunk(chunk, bg, None if boxes is None else boxes[idx[0]:idx[-1] + 1])
                objs["frame"] = objs["frame"] + idx[0]
            else:  # one short clip per kept frame
                sub = []
                for t in idx:
                    o = self.objects_of_chunk(ctxf[t:t + 1 + self.context], bg,
                                              None if boxes is None else boxes[t:t + 1])
                    o["frame"] = o["frame"] + t
                    sub.append(o)
                objs = concat_objects(sub)
            parts.append(objs)
        objs = concat_objects(parts)
        objs["shape"] = np.array(proc.shape[1:3], np.int64)
        objs["native"] = np.array(np.asarray(frames).shape[1:3], np.int64)
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            atomic_save_npz(path, objs)
        return objs

    def detected_boxes(self, frames: np.ndarray, native: tuple[int, int],
                       proc: tuple[int, int]) -> list[np.ndarray]:
        """Per frame of ``frames``, the live detector's boxes at the processing size ``proc``
        (width, height)."""
        found = self.live.detect(frames)
        rows = np.concatenate([np.c_[np.full(len(b), t, np.float32), b] for t, b in enumerate(found)]
                              + [np.zeros((0, 5), np.float32)])
        return file_boxes(rows, len(found), native, proc)

    def given_boxes(self, video, frames: np.ndarray, proc: np.ndarray) -> list[np.ndarray] | None:
        """Per frame, the boxes (processing size) of a detections file or a live detector; None for
        ``bgsub``."""
        if self.box_source == "bgsub":
            return None
        H, W = np.asarray(frames).shape[1:3]
        pw, ph = proc.shape[2], proc.shape[1]
        if self.box_source == "torchvision":
            colour = video.read() if np.asarray(frames).ndim == 3 else frames
            return self.detected_boxes(colour, (W, H), (pw, ph))
        rows = video.detections() if hasattr(video, "detections") else None
        if rows is None:
            raise ValueError(f"{self.name}: video {video.id} ({video.path}) has no detections file: a "
                             "teacher with detector kind 'precomputed' needs the dataset's detections "
                             "(see vadbench.data.detections)")
        return file_boxes(rows, len(proc), (W, H), (pw, ph))

    # -- the contract -------------------------------------------------------------------------
    def fit(self, train, ctx) -> None:
        t0 = time.perf_counter()
        self._cache_dir = Path(ctx.cache_dir) / "teachers" if getattr(ctx, "cache_dir", None) else None
        if getattr(ctx, "seed", None) is not None:  # the run's seed; ``seed`` serves only outside a run
            self.seed = int(ctx.seed)
        torch.manual_seed(self.seed)
        self._maps.clear()
        if self.box_source != "bgsub":  # the boxes are given: no background to learn
            self.frame_shape = tuple(int(x) for x in train[0].source.frame(0, gray=True).shape[:2])
        # pass 1: one median background per training video -> the scenes
        bgs = []
        for v in (progress(train, desc=f"{self.name}: backgrounds", unit="video")
                  if self.box_source == "bgsub" else []):
            idx = set(np.unique(np.linspace(0, len(v) - 1, min(len(v), self.detector.cfg.bg_samples))
                                .round().astype(int)).tolist())
            frames = np.stack([f for i, f in enumerate(v.frames(gray=True)) if i in idx])
            if self.frame_shape is None:
                self.frame_shape = tuple(int(x) for x in frames.shape[1:3])
            bgs.append(self.detector.estimate_background(self._proc(frames)))
        if bgs:
            self.detector.fit_backgrounds(bgs)
        # pass 2: the training objects
        objects = []
        for i, v in enumerate(progress(train, desc=f"{self.name}: training objects", unit="video")):
            o = self.video_objects(v, stride=self.train_stride)
            o["video"] = np.full(len(o["frame"]), i, np.int64)
            objects.append(o)
            if ctx is not None:
                ctx.log(f"{self.name}: {v.id}: {len(o['frame'])} objects")
        if self.box_source != "bgsub":
            counts = np.concatenate([np.bincount(o["frame"], minlength=len(v))[::self.train_stride]
                                     for o, v in zip(objects, train, strict=True)])
            self.boxes_per_frame = max(1, int(np.ceil(np.percentile(counts, 95))))
        self.fit_objects(objects, ctx)
        self._fitted = True
        self.fit_seconds = time.perf_counter() - t0

    def score(self, video) -> Scores:
        """Frame scores, 16x16 maps and scored boxes of ``video``: detection and description run afresh
        every call (so that timing ``score`` times the detector too); the maps are kept for
        :meth:`multiscale_maps`."""
        return self._scores_of(video, self.video_objects(video, use_cache=False))

    def _scores_of(self, video, objs: Objects) -> Scores:
        key = str(video.path) + "#" + str(video.id)
        n = len(video)
        s = self.object_scores(objs)
        frame = self.frame_scores(n, objs["frame"], s)
        H, W = (int(x) for x in objs["native"])
        ph, pw = (int(x) for x in objs["shape"])
        boxes = scale_boxes(objs["box"], (pw, ph), (W, H))
        per_frame_boxes = [boxes[objs["frame"] == t] for t in range(n)]
        per_frame_scores = [s[objs["frame"] == t] for t in range(n)]
        maps = {scale_key(k): box_maps(per_frame_boxes, per_frame_scores, (H, W), k) for k in self.scales}
        regions = np.concatenate([objs["frame"][:, None].astype(np.float64), boxes.astype(np.float64),
                                  s[:, None]], 1) if len(s) else np.zeros((0, 6))
        largest = scale_key(max(self.scales))
        self._maps[key] = maps
        return Scores(frame=frame, maps=maps[largest], regions=regions)

    def frame_scores(self, n: int, frame: np.ndarray, scores: np.ndarray) -> np.ndarray:
        """Score of each of ``n`` frames: its largest object score (0 without objects), then ``frame_score``.

        ``"max"`` keeps that score; ``"log1p"`` takes its ``log1p``, the units the
        students learn the maps in. It is monotone, so only the per-video temporal
        smoothing of the evaluation sees the difference: in log units one object
        scored 100 no longer outweighs the ten frames around it.
        """
        out = np.zeros(n)
        if len(frame):
            np.maximum.at(out, frame, scores)
        return np.log1p(out) if self.frame_score == "log1p" else out

    def object_scores(self, objs: Objects) -> np.ndarray:
        """Non-negative scores of the objects of one video or chunk, smoothed along tracks."""
        if not len(objs["frame"]) or not self.fitted:
            return np.zeros(len(objs["frame"]))
        s = np.maximum(np.asarray(self.score_objects(objs), np.float64), 0.0)
        return smooth_along_tracks(objs["frame"], objs["box"], s, self.track_window)

    @property
    def fitted(self) -> bool:
        return self._fitted or bool(self.detector.scenes)

    def multiscale_maps(self, video) -> dict[str, np.ndarray]:
        """``{"1x1": (T, 1, 1), "4x4": (T, 4, 4), "16x16": (T, 16, 16)}`` float32 (cached per video).

        Kept in memory per video (path and id) and built from the disk-cached
        objects when a cache folder is known: the student asks for the maps of
        every training and test video, each is computed once.
        """
        key = str(video.path) + "#" + str(video.id)
        if key not in self._maps:
            self._scores_of(video, self.video_objects(video))
        return self._maps[key]

    def example_input(self, batch_size: int = 1):
        """``batch_size + context`` consecutive uint8 frames: the scene with a few walking blobs.

        A teacher on a detections file gets ``(frames, boxes)``: the blobs' boxes
        play the file's part (the profiler adds the cost of finding them, see
        :meth:`profile_stages`).
        """
        h, w = self.frame_shape or (240, 360)
        rng = np.random.default_rng(0)
        if self.detector.background is not None:
            bg = cv2.resize(self.detector.background, (w, h)).astype(np.float32)
        else:
            bg = np.full((h, w), 120, np.float32)
        frames = np.repeat(bg[None], batch_size + self.context, 0)
        bh, bw = max(4, h // 12), max(3, w // 40)
        boxes: list[list] = [[] for _ in range(batch_size)]
        for j in range(4):
            x, y = rng.integers(0, w - bw - 8 * len(frames) // 4 - 1), rng.integers(0, h - bh)
            for t in range(len(frames)):
                xx = min(w - bw, x + 2 * t)
                frames[t, y:y + bh, xx:xx + bw] = 30 + 50 * j
                if t >= self.context:
                    boxes[t - self.context].append([t - self.context, xx, y, xx + bw, y + bh])
        frames += rng.normal(0, 2, frames.shape)
        frames = frames.clip(0, 255).astype(np.uint8)
        if self.box_source == "precomputed":
            return frames, np.asarray([r for rows in boxes for r in rows], np.float32)
        return frames

    def forward(self, batch) -> np.ndarray:
        """Per-frame scores (B,) of ``batch`` (B + context, H, W) uint8 consecutive frames: detection
        included.

        For a teacher on a detections file, ``batch`` is ``(frames, rows)`` with
        the rows ``(frame, x1, y1, x2, y2)`` of the B scored frames.
        """
        rows = None
        if isinstance(batch, tuple):
            batch, rows = batch
        frames = to_numpy(batch)
        proc = self._proc(frames)
        n = len(proc) - self.context
        native = (frames.shape[2], frames.shape[1])
        if rows is not None:
            boxes = file_boxes(rows, n, native, (proc.shape[2], proc.shape[1]))
        elif self.live is not None:
            boxes = self.detected_boxes(frames[self.context:], native, (proc.shape[2], proc.shape[1]))
        else:
            boxes = None
        objs = self.objects_of_chunk(proc, boxes=boxes)
        return self.frame_scores(n, objs["frame"], self.object_scores(objs))

    def profile_stages(self) -> dict:
        """Work this teacher's inputs need but its ``score`` does not do: finding boxes it reads from a file.

        ``{name: fn}`` where ``fn(frames)`` runs the stage on (T, H, W) uint8
        frames; the profiler times it on the same frames and adds its cost. For
        ``precomputed`` boxes it is the live detector ``profile_arch`` with
        untrained weights at torchvision's default input size, its detections
        capped at the 95th percentile of boxes per training frame of the file
        (an untrained head would otherwise fill all 100 slots and give Mask
        R-CNN's per-detection mask head five times the work it has here).
        """
        if self.box_source != "precomputed":
            return {}
        from .live_detector import TorchvisionDetector

        # an untrained network fills every one of its 100 detection slots, and Mask R-CNN's mask head works
        # per detection: the cap is the number of boxes the file holds in a busy training frame
        live = TorchvisionDetector(self.profile_arch, weights=None, score_thr=0.5,
                                   detections_per_img=self.boxes_per_frame or 100)
        return {f"detection ({self.profile_arch}, live, untrained weights)": live.detect}

    def state_dict(self) -> dict:
        return {"config": json.loads(json.dumps(self.config, default=list)),
                "frame_shape": list(self.frame_shape) if self.frame_shape else [],
                "detector": self.detector.state_dict(),
                "fitted": self.fitted,
                "boxes_per_frame": self.boxes_per_frame or 0,
                "model": self.model_state()}

    def load_state_dict(self, state: dict) -> None:
        self.detector.load_state_dict(state["detector"])
        fs = state.get("frame_shape") or []
        self.frame_shape = tuple(int(x) for x in fs) if len(fs) else None
        self.load_model_state(state["model"])
        self._fitted = bool(state.get("fitted", False))
        self.boxes_per_frame = int(state.get("boxes_per_frame", 0)) or None
        self._maps.clear()


__all__ = ["BOX_SOURCES", "FRAME_SCORES", "PER_VIDEO", "DetectorConfig", "ObjectTeacher", "Objects",
           "box_masks", "concat_objects", "file_boxes", "smooth_along_tracks", "to_numpy", "to_tensor",
           "train_network", "with_context"]
