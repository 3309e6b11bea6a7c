"""Kinematic teacher: how fast each object's pixels move, how large its box is and (optionally) what it
looks like, scored by kNN.

Each object (a box of the dataset's detections) is described by up to three groups:

``velocity``
    The distribution of dense optical-flow magnitudes (OpenCV DIS, medium preset,
    frame ``t - 1`` to ``t``) over the box's pixels: the fraction of its pixels in
    each of ``bins`` equal bins of ``[0, max_speed)`` pixels per frame at the
    processing size, plus one bin for everything faster. A box is mostly
    background and a walker's legs move faster than its torso, so the whole
    distribution, not a mean, carries the object's motion.
``geometry``
    The box's width and height over the frame height.
``appearance``
    A histogram of oriented gradients of the object's grayscale square window
    (its longer side plus 10%, resized to ``crop`` x ``crop``; 4x4 cells, 8
    unsigned orientations, L2-normalised): its shape, whatever its size.

A group's score is the mean distance to its ``k`` nearest training objects,
divided by the mean of that distance for training objects measured against the
other half of the training videos (split by index); the object's score is the
mean of its groups' scores, and the frame's its highest object's.

Every setting of the registered ``teacher-kin-boxes`` (velocity and geometry)
and ``teacher-kin-hog-boxes`` (the three groups) was chosen by ``vadbench
validate`` on pseudo-anomalies of held-out Ped2 training videos, before any test
video was scored with it (``docs/experiments/teachers`` gives the grids and the
figures).
"""

from __future__ import annotations

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .base import ObjectTeacher
from .features import dis_flow, hog, square_crop
from .networks import to_numpy, to_tensor
from .objects import Objects, knn_distance

GROUPS = ("velocity", "geometry", "appearance")


def speed_histogram(flow: np.ndarray, boxes: np.ndarray, bins: int, max_speed: float) -> np.ndarray:
    """Per inclusive box, the fractions of its pixels in each flow-magnitude bin (N, bins + 1).

    >>> flow = np.zeros((10, 10, 2), np.float32); flow[:, 5:, 0] = 3.0
    >>> speed_histogram(flow, np.array([[0, 0, 9, 9]]), bins=2, max_speed=4.0).tolist()
    [[0.5, 0.5, 0.0]]
    """
    mag = np.hypot(flow[..., 0], flow[..., 1])
    edges = np.r_[np.linspace(0.0, max_speed, bins + 1), np.inf]
    out = np.zeros((len(boxes), bins + 1), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(np.asarray(boxes, np.int64).reshape(-1, 4)):
        values = mag[y0:y1 + 1, x0:x1 + 1].ravel()
        out[i] = np.histogram(values, edges)[0] / max(len(values), 1)
    return out


class KinematicTeacher(ObjectTeacher):
    """Flow-magnitude distribution, box size and (optionally) gradient histogram of each object, kNN
    distance to the training objects."""

    def __init__(self, k: int = 1, groups=GROUPS[:2], bins: int = 8, max_speed: float = 8.0,
                 max_bank: int = 60000, crop: int = 32, **kw):
        unknown = sorted(set(groups) - set(GROUPS))
        if unknown or not groups:
            raise ValueError(f"groups must be a non-empty subset of {GROUPS}, not {list(groups)}")
        if crop % 4 or crop < 8:
            raise ValueError(f"crop must be a multiple of 4, at least 8, not {crop}")
        extra = {"crop": crop} if "appearance" in groups else {}  # the others keep their hashes
        super().__init__(k=k, groups=list(groups), bins=bins, max_speed=max_speed, max_bank=max_bank, **extra,
                         **kw)
        self.k, self.groups, self.bins, self.max_speed = int(k), tuple(groups), int(bins), float(max_speed)
        self.crop = int(crop)
        self.max_bank = int(max_bank)
        self.banks: dict[str, np.ndarray] = {}
        self.scale: dict[str, float] = {}
        self._nn: dict[str, NearestNeighbors] = {}

    def feature_config(self) -> dict:
        extra = {"crop": self.crop} if "appearance" in self.groups else {}
        return {"flow": "dis-medium", "bins": self.bins, "max_speed": self.max_speed, **extra}

    def describe(self, frames, boxes, masks) -> Objects:
        # velocity and geometry always (the object cache is shared by configurations without appearance)
        dims = {"velocity": self.bins + 1, "geometry": 2}
        if "appearance" in self.groups:
            dims["appearance"] = 4 * 4 * 8  # HOG: 4x4 cells, 8 orientations
        out: dict[str, list[np.ndarray]] = {g: [] for g in dims}
        for t, b in enumerate(boxes):
            if not len(b):
                continue
            cur = frames[t + self.context]
            out["velocity"].append(speed_histogram(dis_flow(frames[t], cur), b, self.bins, self.max_speed))
            b = np.asarray(b, np.float32).reshape(-1, 4)
            size = np.stack([b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1], 1)
            out["geometry"].append(size / float(cur.shape[0]))
            if "appearance" in out:
                out["appearance"].append(np.stack([hog(square_crop(cur, box, self.crop), cells=4, bins=8)
                                                   for box in b]))
        return {g: np.concatenate(v).astype(np.float32) if v else np.zeros((0, dims[g]), np.float32)
                for g, v in out.items()}

    def fit_objects(self, objects, ctx) -> None:
        video = np.concatenate([o["video"] for o in objects])
        if not len(video):
            raise ValueError("no objects in the training videos' detections")
        rng = np.random.default_rng(self.seed)
        keep = np.sort(rng.choice(len(video), self.max_bank, replace=False)) if len(video) > self.max_bank \
            else np.arange(len(video))
        fold = video[keep] % 2
        self.banks, self.scale, self._nn = {}, {}, {}
        for g in self.groups:
            x = np.concatenate([o[g] for o in objects]).astype(np.float32)[keep]
            self.banks[g] = x
            if fold.min() != fold.max():  # each half of the videos measured against the other
                d = np.concatenate([knn_distance(x[fold == a], x[fold != a], self.k) for a in (0, 1)])
            else:  # one training video: leave each object itself out of its neighbours
                d = knn_distance(x, x, self.k, skip_self=True)
            self.scale[g] = float(max(d.mean(), 1e-6))

    def score_objects(self, objects: Objects) -> np.ndarray:
        total = np.zeros(len(objects[self.groups[0]]))
        for g in self.groups:
            if g not in self._nn:
                self._nn[g] = NearestNeighbors(n_neighbors=min(self.k, len(self.banks[g]))).fit(self.banks[g])
            if len(total):
                total += self._nn[g].kneighbors(np.asarray(objects[g], np.float32))[0].mean(1) / self.scale[g]
        return total / len(self.groups)

    def model_state(self) -> dict:
        return {"banks": {g: to_tensor(v) for g, v in self.banks.items()}, "scale": dict(self.scale)}

    def load_model_state(self, state: dict) -> None:
        self.banks = {g: to_numpy(v).astype(np.float32) for g, v in state["banks"].items()}
        self.scale = {g: float(v) for g, v in state["scale"].items()}
        self._nn = {}
