"""Attribute teacher: velocity, geometry and appearance of each object, scored by kNN density.

In the spirit of Reiss and Hoshen's attribute-based representations: each
object is described by a few groups of interpretable attributes, and its
anomaly score is its distance to the nearest training objects in each group.

Groups (all from scratch, nothing pretrained):

``velocity``
    Dense optical flow (OpenCV DIS, medium preset) from frame ``t - 1`` to ``t``
    over the object's foreground pixels: the mean and the 90th percentile of the
    flow magnitude (pixels per frame at the processing size).
``geometry``
    Box width and height over the frame height.

Neither group holds the object's position: with it, a walker in a corner of
the scene where few training objects passed scores as high as a cyclist (rare
places are not anomalies), and a perspective correction fitted on the training
boxes proved too noisy (people walk in a narrow band of depths, and groups of
walkers merged into one box bias the fit).
``appearance`` (patch level)
    The object's square window (its longer side plus 10%, so the shape is kept)
    resized to 32x32 and cut into a 4x4 grid of 8x8 patches; each patch with at
    least ``min_fg`` foreground is described by a histogram of oriented
    gradients (2x2 cells, 8 unsigned orientations). A patch scores its kNN
    distance to the training patches, the object its worst patch: a wheel
    stands out even when the detector merged the cyclist with the walkers
    beside them.

Velocity and geometry dimensions are standardised with the training objects'
mean and standard deviation and, with ``one_sided`` (default), raised to at
least the training median: only *faster* or *larger* than usual can be
anomalous (a still object, e.g. a false detection on a stain, or a small
fragment is not). A group's score is the mean distance to the ``k``
nearest training objects, divided by the mean of the same distance for
training objects measured against the *other* half of the
training videos (videos are split in two folds by index, so an object's
near-duplicates in neighbouring frames of its own video are never its
neighbours). The object score is the weighted mean of its group scores.
"""

from __future__ import annotations

import copy

import numpy as np
from sklearn.neighbors import NearestNeighbors

from .base import ObjectTeacher
from .features import dis_flow, geometry, hog, speed_stats, square_crop
from .networks import to_numpy, to_tensor
from .objects import Objects, knn_distance

GROUPS = ("velocity", "geometry", "appearance")
PATCH_GROUPS = ("appearance",)
STANDARDISED = ("velocity", "geometry")


class AttributeTeacher(ObjectTeacher):
    """Velocity, geometry and appearance attributes of each object, kNN distance to training objects."""

    context = 1

    def __init__(self, k: int = 5, weights: dict | None = None, crop_size: int = 32,
                 max_bank: int = 60000, min_fg: float = 0.25, one_sided: bool = True, flow_gap: int = 1,
                 **kw):
        weights = {g: 1.0 for g in GROUPS} | dict(weights or {})
        super().__init__(k=k, weights=weights, crop_size=crop_size, max_bank=max_bank, min_fg=min_fg,
                         one_sided=one_sided, flow_gap=flow_gap, **kw)
        self.min_fg, self.one_sided = min_fg, bool(one_sided)
        self.floor: dict[str, np.ndarray] = {}
        self.k, self.weights, self.crop_size, self.max_bank = k, weights, crop_size, max_bank
        self.flow_gap = self.context = int(flow_gap)
        self.banks: dict[str, np.ndarray] = {}
        self.scale: dict[str, float] = {}
        self.mean: dict[str, np.ndarray] = {}
        self.std: dict[str, np.ndarray] = {}
        self._nn: dict[str, NearestNeighbors] = {}

    def feature_config(self) -> dict:
        return {"crop_size": self.crop_size, "flow": "dis-medium", "flow_gap": self.flow_gap,
                "patches": "4x4 grid of square window, hog 2x2x8", "speed": "mean,p50,p90,p99"}

    def describe(self, frames, boxes, masks) -> Objects:
        k = self.context
        spd, geo, app, fg = [], [], [], []
        c, g = self.crop_size, self.crop_size // 4
        for t, b in enumerate(boxes):
            if not len(b):
                continue
            cur = frames[t + k]
            flow = dis_flow(frames[t], cur)  # frame t - flow_gap to frame t
            spd.append(speed_stats(flow, masks[t], b))
            geo.append(geometry(b, cur.shape[0]))
            m = masks[t].astype(np.float32)
            for box in b:
                win = square_crop(cur, box, c)
                mw = square_crop(m, box, c)
                app.append(np.stack([hog(win[i:i + g, j:j + g], cells=2, bins=8)
                                     for i in range(0, c, g) for j in range(0, c, g)]))
                fg.append(mw.reshape(4, g, 4, g).mean((1, 3)).ravel())
        if not spd:
            return {"speed": np.zeros((0, 4), np.float32), "geometry": np.zeros((0, 4), np.float32),
                    "patches": np.zeros((0, 16, 32), np.float16), "patch_fg": np.zeros((0, 16), np.float16)}
        return {"speed": np.concatenate(spd), "geometry": np.concatenate(geo),
                "patches": np.stack(app).astype(np.float16), "patch_fg": np.stack(fg).astype(np.float16)}

    def speedup(self, factor: int) -> AttributeTeacher:
        """A copy that describes objects as if they moved ``factor`` times faster (validation proxy)."""
        other = copy.copy(self)
        other.flow_gap = other.context = self.flow_gap * int(factor)
        return other

    # -- learning -----------------------------------------------------------------------
    def attributes(self, objects: Objects, standardise: bool = True) -> dict[str, np.ndarray]:
        """The per-object descriptors arranged in the three attribute groups."""
        geo = objects["geometry"].astype(np.float32)
        out = {"velocity": objects["speed"][:, [0, 2]].astype(np.float32),
               "geometry": geo[:, 2:4],
               "appearance": objects["patches"].astype(np.float32)}
        if standardise:
            for g in STANDARDISED:
                out[g] = (out[g] - self.mean[g]) / self.std[g]
                if self.one_sided:  # only more than usual counts: slower or smaller is folded onto the median
                    out[g] = np.maximum(out[g], self.floor[g])
        return out

    def fit_objects(self, objects, ctx) -> None:
        rng = np.random.default_rng(self.seed)
        raw = [self.attributes(o, standardise=False) for o in objects]
        allobj = {g: np.concatenate([a[g] for a in raw]) for g in GROUPS}
        video = np.concatenate([o["video"] for o in objects])
        n = len(video)
        if n == 0:
            raise ValueError("no objects found in the training videos: the detector saw nothing move")
        for g in STANDARDISED:
            self.mean[g] = allobj[g].mean(0).astype(np.float32)
            self.std[g] = np.maximum(allobj[g].std(0), 1e-6).astype(np.float32)
            allobj[g] = (allobj[g] - self.mean[g]) / self.std[g]
            self.floor[g] = np.median(allobj[g], 0).astype(np.float32)
            if self.one_sided:
                allobj[g] = np.maximum(allobj[g], self.floor[g])
        keep = np.sort(rng.choice(n, self.max_bank, replace=False)) if n > self.max_bank else np.arange(n)
        fold = video[keep] % 2
        self.banks, self.scale, self._nn = {}, {}, {}
        fg = np.concatenate([o["patch_fg"] for o in objects]).astype(np.float32)[keep]
        for g in GROUPS:
            x = allobj[g][keep].astype(np.float32)
            if g in PATCH_GROUPS:  # bank of valid patches; object distance = its worst patch
                valid = self._valid(fg)
                pv = np.broadcast_to(fold[:, None], valid.shape)[valid]
                bank = x[valid]
                if len(bank) > self.max_bank:
                    sel = np.sort(rng.choice(len(bank), self.max_bank, replace=False))
                    bank, pv = bank[sel], pv[sel]
                self.banks[g] = bank
                if pv.min() != pv.max():
                    d = np.concatenate([self._patch_knn(x[fold == a], valid[fold == a], bank[pv != a])
                                        for a in (0, 1)])
                else:
                    d = self._patch_knn(x, valid, bank, skip_self=True)
            else:
                self.banks[g] = x
                if fold.min() != fold.max():  # two folds: distances across them
                    d = np.concatenate([knn_distance(x[fold == a], x[fold != a], self.k) for a in (0, 1)])
                else:  # one training video: leave out the object itself
                    d = knn_distance(x, x, self.k, skip_self=True)
            self.scale[g] = float(max(d.mean(), 1e-6))

    def _valid(self, fg: np.ndarray) -> np.ndarray:
        """Patches with enough foreground; an object with none keeps all of its patches."""
        valid = fg >= self.min_fg
        valid[~valid.any(1)] = True
        return valid

    def _patch_knn(self, patches, valid, bank, skip_self=False, nn=None) -> np.ndarray:
        """Per object, the largest kNN distance of its valid patches (N,)."""
        if not len(patches):
            return np.zeros(0)
        q = patches[valid]
        d = knn_distance(q, bank, self.k, skip_self) if nn is None else nn.kneighbors(q)[0].mean(1)
        out = np.full(valid.shape, -np.inf)
        out[valid] = d
        return out.max(1)

    def group_scores(self, objects: Objects) -> dict[str, np.ndarray]:
        """Each group's normalised kNN distance (N,) per object."""
        attrs = self.attributes(objects)
        out = {}
        for g in GROUPS:
            if g not in self._nn:
                self._nn[g] = NearestNeighbors(n_neighbors=min(self.k, len(self.banks[g]))).fit(self.banks[g])
            if g in PATCH_GROUPS:
                valid = self._valid(np.asarray(objects["patch_fg"], np.float32))
                out[g] = self._patch_knn(attrs[g], valid, None, nn=self._nn[g]) / self.scale[g]
            else:
                d, _ = self._nn[g].kneighbors(attrs[g])
                out[g] = d.mean(1) / self.scale[g]
        return out

    def score_objects(self, objects: Objects) -> np.ndarray:
        gs = self.group_scores(objects)
        total = sum(self.weights[g] for g in GROUPS)
        return sum(self.weights[g] * gs[g] for g in GROUPS) / total

    def model_state(self) -> dict:
        return {"banks": {g: to_tensor(v) for g, v in self.banks.items()},
                "scale": {g: float(v) for g, v in self.scale.items()},
                "mean": {g: to_tensor(v) for g, v in self.mean.items()},
                "std": {g: to_tensor(v) for g, v in self.std.items()},
                "floor": {g: to_tensor(v) for g, v in self.floor.items()}}

    def load_model_state(self, state: dict) -> None:
        self.banks = {g: to_numpy(v).astype(np.float32) for g, v in state["banks"].items()}
        self.scale = {g: float(v) for g, v in state["scale"].items()}
        self.mean = {g: to_numpy(v).astype(np.float32) for g, v in state["mean"].items()}
        self.std = {g: to_numpy(v).astype(np.float32) for g, v in state["std"].items()}
        self.floor = {g: to_numpy(v).astype(np.float32) for g, v in state["floor"].items()}
        self._nn = {}
