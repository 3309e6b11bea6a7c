"""Sparse combination learning, after Lu, Shi and Jia, "Abnormal Event Detection at 150 FPS in MATLAB",
ICCV 2013.

The method describes every spatio-temporal cuboid of a video by its 3D
gradients, learns from normal videos a small set of *combinations* (each a
low-dimensional basis ``S_i``) such that every training feature is
reconstructed well by at least one of them, and scores a test cuboid ``x`` by
``min_i ||x - S_i S_i^+ x||^2``: the least-squares reconstruction error in the
combination that fits it best. Testing is a handful of small matrix products
per cuboid, which is what makes it fast.

This implementation (written from the paper's description; no code reused):

* Frames are grayscale at three scales, ``size`` (180x120 by default), 1/3 and
  1/6 of it; each is cut into 10x10-pixel cells; the cuboid of cell ``c`` at
  frame ``t`` covers frames ``t-4 .. t``. Its feature is the concatenation of
  the horizontal, vertical and temporal differences inside it (3 x 4 x 10 x 10
  = 1200 values), divided by a global scale fixed on the training features,
  reduced by PCA to ``pca_dim`` (100) dimensions; one model per scale.
* Learning (a greedy simplification of the paper's alternating optimisation):
  a combination is the top ``basis`` (20) right singular vectors of the
  features it covers; it starts from all features not yet covered, is refined
  ``refine`` times on the features it reconstructs with error below
  ``lam``, and those features are then removed; repeat until fewer than
  ``min_left`` of them remain or ``max_combos`` combinations exist. ``lam``
  is the ``lam_quantile`` quantile of the errors of the first combination.
  Training cuboids with almost no motion are mostly left out (a random
  ``static_keep`` fraction stays) and training cuboids are taken every
  ``train_stride`` frames.
* Frame score: the largest cuboid error over cells and scales, each scale's
  errors divided by the 99th percentile of its training features' errors.
  No per-video normalisation (the paper has none); the first 4 frames take
  frame 4's score.
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from threadpoolctl import threadpool_limits

from vadbench import Model, Scores

DEPTH = 5  # frames per cuboid


def cuboid_features(frames: np.ndarray, cell: int) -> np.ndarray:
    """Gradient features of the cuboids ending at the last frame of each window.

    Parameters
    ----------
    frames : ndarray, shape (B, DEPTH, H, W), float
        Windows of ``DEPTH`` frames; H and W are cropped to multiples of ``cell``.

    Returns
    -------
    ndarray, shape (B, H // cell, W // cell, 3 * (DEPTH - 1) * cell * cell)
    """
    b, d, h, w = frames.shape
    h, w = (h // cell) * cell, (w // cell) * cell
    f = frames[:, :, :h, :w]
    gt = f[:, 1:] - f[:, :-1]
    gx = np.zeros_like(gt)
    gy = np.zeros_like(gt)
    gx[..., :, 1:] = f[:, 1:, :, 1:] - f[:, 1:, :, :-1]
    gy[..., 1:, :] = f[:, 1:, 1:, :] - f[:, 1:, :-1, :]
    g = np.stack([gx, gy, gt], 1)  # (B, 3, D-1, h, w)
    g = g.reshape(b, 3, d - 1, h // cell, cell, w // cell, cell)
    return g.transpose(0, 3, 5, 1, 2, 4, 6).reshape(b, h // cell, w // cell, -1)


def top_directions(x: np.ndarray, k: int) -> np.ndarray:
    """The ``k`` leading right singular vectors of ``x`` (n, d) as columns (d, k), from ``x.T @ x``."""
    _vals, vecs = np.linalg.eigh((x.T @ x).astype(np.float64))
    return vecs[:, ::-1][:, :k].astype(np.float32)


def learn_combinations(x: np.ndarray, basis: int, lam_quantile: float, refine: int, min_left: float,
                       max_combos: int) -> tuple[list[np.ndarray], float]:
    """Greedy sparse-combination learning on features ``x`` (n, d); returns the bases (d, s) and ``lam``."""
    combos: list[np.ndarray] = []
    remaining = x
    lam = None
    n0 = len(x)
    while len(remaining) > max(min_left * n0, basis) and len(combos) < max_combos:
        sub = remaining
        for _ in range(refine + 1):
            s = top_directions(sub, basis)  # (d, s) orthonormal
            err = (remaining ** 2).sum(1) - ((remaining @ s) ** 2).sum(1)
            if lam is None:
                lam = float(np.quantile(err, lam_quantile))
            covered = err < lam
            if covered.sum() < basis:
                break
            sub = remaining[covered]
        if covered.sum() == 0:
            break
        combos.append(s.astype(np.float32))
        remaining = remaining[~covered]
    return combos, float(lam if lam is not None else 0.0)


class SparseCombination(Model):
    """Lu et al. 2013-style sparse combination learning on 3D-gradient cuboids; fast CPU scoring."""

    family = "baseline"

    def __init__(self, size=(180, 120), scales=(1, 3, 6), cell: int = 10, pca_dim: int = 100, basis: int = 20,
                 lam_quantile: float = 0.5, refine: int = 2, min_left: float = 0.01, max_combos: int = 40,
                 train_stride: int = 2, static_keep: float = 0.05, motion_thr: float = 2.0,
                 max_train: int = 60000, score_batch: int = 64):
        super().__init__(size=list(size), scales=list(scales), cell=cell, pca_dim=pca_dim, basis=basis,
                         lam_quantile=lam_quantile, refine=refine, min_left=min_left, max_combos=max_combos,
                         train_stride=train_stride, static_keep=static_keep, motion_thr=motion_thr,
                         max_train=max_train, score_batch=score_batch)
        self.size, self.scales, self.cell = (int(size[0]), int(size[1])), [int(s) for s in scales], cell
        self.pca_dim, self.basis, self.lam_quantile, self.refine = pca_dim, basis, lam_quantile, refine
        self.min_left, self.max_combos, self.train_stride = min_left, max_combos, train_stride
        self.static_keep, self.motion_thr, self.max_train = static_keep, motion_thr, max_train
        self.score_batch = score_batch
        self.models: list[dict[str, Any]] = []  # one per scale: scale, mean, pca, combos, norm

    # -- features ---------------------------------------------------------------
    def _scaled(self, windows: np.ndarray, k: int) -> np.ndarray:
        if k == 1:
            return windows
        w, h = max(self.cell, self.size[0] // k), max(self.cell, self.size[1] // k)
        b, d = windows.shape[:2]
        flat = windows.reshape(b * d, *windows.shape[2:])
        out = np.stack([cv2.resize(f, (w, h), interpolation=cv2.INTER_AREA) for f in flat])
        return out.reshape(b, d, h, w)

    def _features(self, windows: np.ndarray) -> list[np.ndarray]:
        """Per scale: raw features (B, gh, gw, F) of float32 windows (B, DEPTH, H, W) in [0, 255]."""
        return [cuboid_features(self._scaled(windows, k), self.cell) for k in self.scales]

    def _windows(self, frames: np.ndarray, ends) -> np.ndarray:
        return np.stack([frames[t - DEPTH + 1:t + 1] for t in ends]).astype(np.float32)

    # -- training ---------------------------------------------------------------
    def fit(self, train, ctx) -> None:
        # one BLAS thread: OpenBLAS's spinning worker threads are many times slower on a shared CPU
        with threadpool_limits(1):
            self._fit(train, ctx)

    def _fit(self, train, ctx) -> None:
        rng = np.random.default_rng(int(getattr(ctx, "seed", 0)))
        per_scale: list[list[np.ndarray]] = [[] for _ in self.scales]
        for video in train:
            frames = video.read(gray=True, size=self.size)
            ends = list(range(DEPTH - 1, len(frames), self.train_stride))
            for i in range(0, len(ends), self.score_batch):
                feats = self._features(self._windows(frames, ends[i:i + self.score_batch]))
                for s, f in enumerate(feats):
                    f = f.reshape(-1, f.shape[-1])
                    d = f.shape[-1] // 3
                    motion = np.abs(f[:, 2 * d:]).mean(1)  # mean |temporal difference|
                    keep = (motion > self.motion_thr) | (rng.random(len(f)) < self.static_keep)
                    per_scale[s].append(f[keep])
        self.models = []
        for s, k in enumerate(self.scales):
            x = np.concatenate(per_scale[s]) if per_scale[s] else np.zeros((0, 1), np.float32)
            if len(x) > self.max_train:
                x = x[rng.choice(len(x), self.max_train, replace=False)]
            if len(x) < 2:
                raise ValueError(f"sparse-combination: too few training cuboids at scale 1/{k}")
            scale = float(np.sqrt((x ** 2).sum(1)).mean()) or 1.0
            x = x / scale
            mean = x.mean(0)
            dim = int(min(self.pca_dim, x.shape[1], len(x) - 1))
            pca = top_directions(x - mean, dim)
            z = (x - mean) @ pca
            combos, lam = learn_combinations(z, min(self.basis, dim), self.lam_quantile, self.refine,
                                             self.min_left, self.max_combos)
            model = {"scale": k, "feat_scale": scale, "mean": mean.astype(np.float32), "pca": pca,
                     "combos": combos, "lam": lam}
            err = self._errors(model, z) + np.maximum((((x - mean) ** 2).sum(1) - (z ** 2).sum(1)), 0.0)
            model["norm"] = float(np.quantile(err, 0.99)) or 1.0
            self.models.append(model)
            ctx.log(f"sparse-combination: scale 1/{k}: {len(x)} cuboids, {len(combos)} combinations")

    @staticmethod
    def _errors(model: dict, z: np.ndarray) -> np.ndarray:
        """min over combinations of the least-squares reconstruction error of PCA features z (n, dim)."""
        sq = (z ** 2).sum(1)
        best = sq.copy()
        for s in model["combos"]:
            best = np.minimum(best, sq - ((z @ s) ** 2).sum(1))
        return np.maximum(best, 0.0)

    # -- inference --------------------------------------------------------------
    def example_input(self, batch_size: int = 1) -> np.ndarray:
        """Windows of 5 frames ending at the frames to score, (B, 5, H, W) float32 in [0, 255]."""
        w, h = self.size
        rng = np.random.default_rng(0)
        return rng.integers(0, 255, (batch_size, DEPTH, h, w)).astype(np.float32)

    def frame_maps(self, windows: np.ndarray) -> list[np.ndarray]:
        """Normalised cuboid errors per scale, each (B, gh, gw)."""
        out = []
        for model, f in zip(self.models, self._features(windows), strict=False):
            b, gh, gw, d = f.shape
            x = f.reshape(-1, d) / model["feat_scale"] - model["mean"]
            z = x @ model["pca"]
            err = self._errors(model, z) + np.maximum((x ** 2).sum(1) - (z ** 2).sum(1), 0.0)
            out.append((err / model["norm"]).reshape(b, gh, gw))
        return out

    def forward(self, windows: np.ndarray) -> np.ndarray:
        """The hot path: the anomaly score of each window's last frame (largest normalised cuboid error)."""
        return np.max([m.reshape(len(m), -1).max(1) for m in self.frame_maps(windows)], 0)

    def score(self, video) -> Scores:
        with threadpool_limits(1):
            return self._score(video)

    def _score(self, video) -> Scores:
        frames = video.read(gray=True, size=self.size)
        n = len(frames)
        if n < DEPTH:
            frames = np.concatenate([np.repeat(frames[:1], DEPTH - n, 0), frames])
        raw, maps = [], []
        for t0 in range(DEPTH - 1, len(frames), self.score_batch):
            windows = self._windows(frames, range(t0, min(t0 + self.score_batch, len(frames))))
            per_scale = self.frame_maps(windows)
            raw.append(np.max([m.reshape(len(m), -1).max(1) for m in per_scale], 0))
            maps.append(per_scale[0])  # the finest scale's cells (10x10 pixels at ``size``)
        s = np.concatenate(raw).astype(np.float64)
        m = np.concatenate(maps)
        pad = len(frames) - len(s)
        s = np.concatenate([np.repeat(s[:1], pad), s])[-n:]
        m = np.concatenate([np.repeat(m[:1], pad, 0), m])[-n:]
        return Scores(frame=s, maps=m.astype(np.float32))

    # -- state ------------------------------------------------------------------
    def state_dict(self) -> dict:
        import torch

        state: dict[str, Any] = {"n_scales": len(self.models)}
        for i, m in enumerate(self.models):
            state[f"s{i}.scale"] = int(m["scale"])
            state[f"s{i}.feat_scale"] = float(m["feat_scale"])
            state[f"s{i}.lam"] = float(m["lam"])
            state[f"s{i}.norm"] = float(m["norm"])
            state[f"s{i}.mean"] = torch.from_numpy(np.ascontiguousarray(m["mean"]))
            state[f"s{i}.pca"] = torch.from_numpy(np.ascontiguousarray(m["pca"]))
            state[f"s{i}.combos"] = torch.from_numpy(np.stack(m["combos"])) if m["combos"] else \
                torch.zeros(0, m["pca"].shape[1], 1)
        return state

    def load_state_dict(self, state: dict) -> None:
        self.models = []
        for i in range(int(state["n_scales"])):
            combos = state[f"s{i}.combos"].numpy()
            self.models.append({
                "scale": int(state[f"s{i}.scale"]), "feat_scale": float(state[f"s{i}.feat_scale"]),
                "lam": float(state[f"s{i}.lam"]), "norm": float(state[f"s{i}.norm"]),
                "mean": state[f"s{i}.mean"].numpy(), "pca": state[f"s{i}.pca"].numpy(),
                "combos": [c for c in combos]})
