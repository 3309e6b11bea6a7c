"""Objects without pretrained weights: background subtraction for static cameras.

The three benchmarks (Ped2, Avenue, ShanghaiTech) film every scene with a fixed
camera, so a moving or out-of-place object is a region that differs from the
scene's background. :class:`BackgroundDetector` finds such regions in five steps,
all at a processing width of at most ``max_width`` pixels (boxes are scaled back
to the video's resolution):

1. **Background**: the per-pixel temporal median of up to ``bg_samples`` frames
   spread evenly over the video being processed (a static camera's median frame
   is its empty scene as long as nothing stands still for more than half of the
   video). Before a video is seen, the median of the training backgrounds serves.
2. **Foreground**: ``|blur(frame) - blur(background)| > thr`` where ``thr`` is the
   larger of ``min_thr`` and ``noise_k`` times the robust noise level (MAD) of that
   difference; optionally gated by the difference to the frame ``gate`` steps
   earlier (only moving pixels survive).
3. **Clean-up**: morphological opening (speckle) then closing (holes, limbs).
4. **Connected components**, dropped when smaller than ``min_area`` (a fraction of
   the frame) or thinner than ``min_side`` pixels, or larger than ``max_area``.
5. **Box merging**: boxes that overlap after growing by ``merge_gap`` pixels are
   merged (a pedestrian split into head and legs becomes one box) until no pair
   overlaps.

Boxes are ``(x_min, y_min, x_max, y_max)`` integer pixel coordinates, inclusive.

>>> import numpy as np
>>> frames = np.full((20, 60, 80), 100, np.uint8)
>>> for t in range(20):
...     frames[t, 20:30, 2 + 3 * t: 12 + 3 * t] = 200
>>> det = BackgroundDetector(min_area=0.001)
>>> boxes = det.detect_video(frames)
>>> boxes[5].tolist()
[[16, 19, 27, 30]]
>>> [len(b) for b in det.detect_video(np.full((5, 60, 80), 100, np.uint8))]
[0, 0, 0, 0, 0]
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import cv2
import numpy as np


@dataclass
class DetectorConfig:
    """Settings of :class:`BackgroundDetector` (fixed a priori, see the README)."""

    max_width: int = 360
    bg_samples: int = 60
    blur: int = 5
    min_thr: float = 15.0
    noise_k: float = 8.0
    gate: int = 0
    gate_thr: float = 8.0
    open_k: int = 3
    close_k: int = 5
    min_area: float = 0.0005
    max_area: float = 0.5
    min_side: int = 4
    merge_gap: int = 2
    scene_thr: float = 12.0
    repair_thr: float = 8.0
    fragment: float = 0.35
    merge_grow: float = 1.3


class BackgroundDetector:
    """Median-background subtraction, morphology, connected components and box merging."""

    def __init__(self, **config):
        self.cfg = DetectorConfig(**config)
        self.background: np.ndarray | None = None  # processing-resolution float32, fitted on training
        self.scenes: list[np.ndarray] = []  # one empty background per training scene

    # -- configuration and state ------------------------------------------------
    @property
    def config(self) -> dict:
        return asdict(self.cfg)

    def state_dict(self) -> dict:
        import torch

        state = {"config": self.config}
        if self.background is not None:
            state["background"] = torch.from_numpy(np.ascontiguousarray(self.background))
        state["scenes"] = [torch.from_numpy(np.ascontiguousarray(s)) for s in self.scenes]
        return state

    def load_state_dict(self, state: dict) -> None:
        self.cfg = DetectorConfig(**state["config"])
        bg = state.get("background")
        self.background = None if bg is None else np.asarray(bg.numpy() if hasattr(bg, "numpy") else bg,
                                                             dtype=np.float32)
        self.scenes = [np.asarray(s.numpy() if hasattr(s, "numpy") else s, dtype=np.float32)
                       for s in state.get("scenes", [])]

    # -- geometry -----------------------------------------------------------------
    def proc_size(self, shape: tuple[int, int]) -> tuple[int, int]:
        """Processing (width, height) for frames of ``shape`` (H, W)."""
        h, w = shape
        if w <= self.cfg.max_width:
            return w, h
        s = self.cfg.max_width / w
        return self.cfg.max_width, max(1, round(h * s))

    def _prep(self, frames: np.ndarray) -> np.ndarray:
        """Resize to the processing size and blur: float32 (T, h, w)."""
        frames = np.asarray(frames)
        if frames.ndim == 2:
            frames = frames[None]
        pw, ph = self.proc_size(frames.shape[1:3])
        out = np.empty((len(frames), ph, pw), np.float32)
        k = self.cfg.blur
        for i, f in enumerate(frames):
            if f.shape != (ph, pw):
                f = cv2.resize(f, (pw, ph), interpolation=cv2.INTER_AREA)
            f = f.astype(np.float32)
            out[i] = cv2.GaussianBlur(f, (k, k), 0) if k > 1 else f
        return out

    # -- background ------------------------------------------------------------------
    def estimate_background(self, frames: np.ndarray) -> np.ndarray:
        """Per-pixel median of up to ``bg_samples`` evenly spread frames (processing size, blurred)."""
        frames = np.asarray(frames)
        n = len(frames)
        idx = np.unique(np.linspace(0, n - 1, min(n, self.cfg.bg_samples)).round().astype(int))
        return np.median(self._prep(frames[idx]), axis=0).astype(np.float32)

    def fit(self, videos) -> BackgroundDetector:
        """Learn the scenes' empty backgrounds from training videos (arrays (T, H, W)).

        Each training video's median frame is assigned to a *scene*: the first known
        scene it matches within ``scene_thr`` gray levels (mean absolute difference
        after a gain/offset correction), or a new one. A scene's background is the
        median of its videos' backgrounds, cleaner than any single video's median
        where people crowd the same spots.
        """
        return self.fit_backgrounds([self.estimate_background(v) for v in videos])

    def fit_backgrounds(self, backgrounds) -> BackgroundDetector:
        """:meth:`fit` from the training videos' median frames (:meth:`estimate_background`)."""
        groups: list[list[np.ndarray]] = []
        for b in backgrounds:
            for g in groups:
                if g[0].shape == b.shape and np.abs(_match_gain(g[0], b) - b).mean() < self.cfg.scene_thr:
                    g.append(b)
                    break
            else:
                groups.append([b])
        self.scenes = [np.median(np.stack(g), axis=0).astype(np.float32) for g in groups]
        self.background = self.scenes[0] if self.scenes else None
        return self

    def background_for(self, frames: np.ndarray) -> np.ndarray:
        """The background of one whole video (processing size).

        The video's own median frame, repaired where it departs by more than
        ``repair_thr`` gray levels from the closest training scene (gain/offset
        corrected): there the median was polluted by objects that linger.
        """
        vb = self.estimate_background(frames)
        best, best_err = None, np.inf
        for scene in getattr(self, "scenes", []):
            if scene.shape != vb.shape:
                continue
            cb = _match_gain(scene, vb)
            err = float(np.abs(cb - vb).mean())
            if err < best_err:
                best, best_err = cb, err
        if best is None or best_err > self.cfg.scene_thr:
            return vb
        return np.where(np.abs(vb - best) > self.cfg.repair_thr, best, vb).astype(np.float32)

    # -- detection ----------------------------------------------------------------------
    def foreground(self, frames: np.ndarray, background: np.ndarray | None = None,
                   prev: np.ndarray | None = None) -> np.ndarray:
        """Binary foreground masks (T, h, w) uint8 at the processing size.

        ``prev`` (T, H, W), the frames ``gate`` steps earlier, enables frame-difference gating.
        """
        cur = self._prep(frames)
        bg = self.background if background is None else background
        if bg is None:
            raise RuntimeError("BackgroundDetector has no background: call fit() or pass one")
        diff = np.abs(cur - bg[None])
        masks = np.empty(cur.shape, np.uint8)
        ko = (cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (self.cfg.open_k,) * 2)
              if self.cfg.open_k > 1 else None)
        kc = (cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (self.cfg.close_k,) * 2)
              if self.cfg.close_k > 1 else None)
        gate = None
        if prev is not None and self.cfg.gate:
            gate = np.abs(cur - self._prep(prev)) > self.cfg.gate_thr
        for i, d in enumerate(diff):
            noise = 1.4826 * float(np.median(d))
            thr = max(self.cfg.min_thr, self.cfg.noise_k * noise)
            m = d > thr
            if gate is not None:
                g = cv2.dilate(gate[i].astype(np.uint8), np.ones((9, 9), np.uint8)) > 0
                m &= g
            m = m.astype(np.uint8)
            if ko is not None:
                m = cv2.morphologyEx(m, cv2.MORPH_OPEN, ko)
            if kc is not None:
                m = cv2.morphologyEx(m, cv2.MORPH_CLOSE, kc)
            masks[i] = m
        return masks

    def boxes_from_mask(self, mask: np.ndarray) -> np.ndarray:
        """Filtered, merged boxes (N, 4) of one binary mask, at the processing size."""
        h, w = mask.shape
        n, _, stats, _ = cv2.connectedComponentsWithStats(mask, connectivity=8)
        if n <= 1:
            return np.zeros((0, 4), np.int64)
        x, y, bw, bh, area = (stats[1:, i] for i in range(5))
        keep = ((area >= self.cfg.min_area * h * w) & (area <= self.cfg.max_area * h * w)
                & (np.minimum(bw, bh) >= self.cfg.min_side))
        boxes = np.stack([x, y, x + bw - 1, y + bh - 1], 1)[keep]
        return merge_boxes(boxes, self.cfg.merge_gap, self.cfg.fragment, self.cfg.merge_grow)

    def detect_proc(self, frames: np.ndarray, background: np.ndarray | None = None,
                    prev: np.ndarray | None = None) -> tuple[list[np.ndarray], np.ndarray]:
        """Boxes and foreground masks of each frame, both at the processing size."""
        masks = self.foreground(frames, background, prev)
        return [self.boxes_from_mask(m) for m in masks], masks

    def detect(self, frames: np.ndarray, background: np.ndarray | None = None,
               prev: np.ndarray | None = None) -> list[np.ndarray]:
        """Boxes of each frame in ``frames`` (T, H, W) uint8, in the frames' own pixel coordinates."""
        frames = np.asarray(frames)
        if frames.ndim == 2:
            frames = frames[None]
        H, W = frames.shape[1:3]
        boxes, _ = self.detect_proc(frames, background, prev)
        return [scale_boxes(b, self.proc_size((H, W)), (W, H)) for b in boxes]

    def detect_video(self, frames: np.ndarray, background: np.ndarray | None = None) -> list[np.ndarray]:
        """Boxes of every frame of a whole video (T, H, W); the background is the video's own median."""
        frames = np.asarray(frames)
        if background is None:
            background = self.background_for(frames)
        prev = None
        if self.cfg.gate and len(frames) > 1:
            prev = frames[gate_partners(len(frames), self.cfg.gate)]
        return self.detect(frames, background, prev)


def scale_boxes(boxes: np.ndarray, src: tuple[int, int], dst: tuple[int, int]) -> np.ndarray:
    """Inclusive boxes from an image of size ``src`` (w, h) to one of size ``dst`` (w, h).

    >>> scale_boxes(np.array([[0, 0, 9, 4]]), (10, 5), (20, 10)).tolist()
    [[0, 0, 19, 9]]
    """
    b = np.asarray(boxes, np.float64).reshape(-1, 4)
    if tuple(src) == tuple(dst) or not len(b):
        return b.astype(np.int64)
    sx, sy = dst[0] / src[0], dst[1] / src[1]
    out = np.stack([b[:, 0] * sx, b[:, 1] * sy, (b[:, 2] + 1) * sx - 1, (b[:, 3] + 1) * sy - 1], 1).round()
    out[:, [0, 2]] = out[:, [0, 2]].clip(0, dst[0] - 1)
    out[:, [1, 3]] = out[:, [1, 3]].clip(0, dst[1] - 1)
    return out.astype(np.int64)


def _match_gain(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """``a * src + b`` fitted to ``dst`` by least squares on the 70% best-agreeing pixels."""
    r = np.abs(src - dst).ravel()
    sel = r <= np.percentile(r, 70)
    x, y = src.ravel()[sel].astype(np.float64), dst.ravel()[sel].astype(np.float64)
    vx = x.var()
    a = ((x - x.mean()) * (y - y.mean())).mean() / vx if vx > 1e-6 else 1.0
    b = y.mean() - a * x.mean()
    return (a * src + b).astype(np.float32)


def gate_partners(n: int, gap: int) -> np.ndarray:
    """Index of the frame ``gap`` steps earlier (later for the first ``gap`` frames).

    >>> gate_partners(5, 2).tolist()
    [2, 3, 0, 1, 2]
    """
    idx = np.arange(n) - gap
    early = idx < 0
    idx[early] = np.minimum(np.arange(n)[early] + gap, n - 1)
    return idx


def merge_boxes(boxes: np.ndarray, gap: int = 0, fragment: float = 0.35, grow: float = 1.6) -> np.ndarray:
    """Merge fragments of one object into one box; repeat until nothing changes.

    Two boxes whose rectangles, grown by ``gap`` pixels, touch are merged when the
    smaller one is a fragment (area at most ``fragment`` times the larger one) or
    when it lies mostly (more than half) inside the larger one; two touching
    boxes of similar size (two people side by side) stay apart, and so do pairs
    whose union would exceed ``grow`` times the larger box (no chains of merges
    across a crowd).

    >>> merge_boxes(np.array([[0, 0, 9, 9], [11, 0, 12, 4], [20, 20, 22, 22]]), gap=1).tolist()
    [[0, 0, 12, 9], [20, 20, 22, 22]]
    >>> merge_boxes(np.array([[0, 0, 9, 19], [1, 21, 8, 26]]), gap=1).tolist()
    [[0, 0, 9, 26]]
    >>> merge_boxes(np.array([[0, 0, 9, 9], [11, 0, 20, 9]]), gap=1).tolist()
    [[0, 0, 9, 9], [11, 0, 20, 9]]
    """
    boxes = [list(map(int, b)) for b in np.asarray(boxes).reshape(-1, 4)]

    def area(b):
        return (b[2] - b[0] + 1) * (b[3] - b[1] + 1)

    def should_merge(a, b):
        if not (a[0] - gap <= b[2] + gap and b[0] - gap <= a[2] + gap
                and a[1] - gap <= b[3] + gap and b[1] - gap <= a[3] + gap):
            return False
        small, large = (a, b) if area(a) <= area(b) else (b, a)
        union = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
        if area(union) > grow * area(large):
            return False
        if area(small) <= fragment * area(large):
            return True
        iw = min(a[2], b[2]) - max(a[0], b[0]) + 1
        ih = min(a[3], b[3]) - max(a[1], b[1]) + 1
        return max(iw, 0) * max(ih, 0) > 0.5 * area(small)

    changed = True
    while changed and len(boxes) > 1:
        changed = False
        out: list[list[int]] = []
        while boxes:
            a = boxes.pop()
            i = 0
            while i < len(boxes):
                b = boxes[i]
                if should_merge(a, b):
                    a = [min(a[0], b[0]), min(a[1], b[1]), max(a[2], b[2]), max(a[3], b[3])]
                    boxes.pop(i)
                    changed = True
                    i = 0
                else:
                    i += 1
            out.append(a)
        boxes = out
    return np.array(sorted(boxes), np.int64).reshape(-1, 4)
