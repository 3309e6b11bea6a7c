"""FastAno as a vadbench model: train on normal clips with SRT/TMT, score by next-frame PSNR.

Two registered configurations share this class:

``fastano-paper``
    The published network (width 64, 360x240 input, 2,158,529 parameters); for
    speed and fidelity, profileable untrained, trainable (slowly) on a CPU.
``fastano``
    The same design at 192x128 and width 16, which trains on Ped2 on two CPU
    cores in about a quarter of an hour (see the package README for figures).

Scoring (``score="psnr"``, the paper's): each frame ``t >= 5`` is predicted from
frames ``t-5 .. t-1``; its anomaly score is the negative PSNR of the
prediction, ``10 log10(MSE)`` (frames in [0, 1]), raw: FastAno min-max
normalises each test video's scores with that video's own statistics, which is
an evaluation convention in vadbench (``normalize="minmax"`` in
:func:`vadbench.metrics.frame_auc`, the leaderboards' second micro AUC column),
applied to every model alike, not a model's business. Frames
0-4 have no prediction and take frame 5's score, so ``skip_first=5`` in the
metrics reproduces FastAno's dropping of them exactly. ``score="block"``
(a documented deviation) uses the largest mean squared error over
``block x block`` cells instead of the whole frame's.

Anomaly maps (for RBDC/TBDC) are the squared prediction errors averaged over
``map_cell x map_cell`` cells, not normalised.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from vadbench.losses import gradient_loss
from vadbench.window_model import WindowModel

from .net import FastAnoNet
from .transforms import random_transform

CONTEXT = FastAnoNet.clip  # input frames per prediction


class FastAno(WindowModel):
    """FastAno (Park et al., WACV 2022): 3D-conv next-frame prediction, SRT/TMT training, PSNR score.

    The windows, training loop, scoring and state are :class:`vadbench.window_model.WindowModel`'s;
    windows are ``(B, 1, 6, H, W)``: 5 input frames and the frame to score.

    Parameters
    ----------
    size : (int, int)
        Processing size (width, height), multiples of 8.
    width : int
        Channels of the first layer (64 in the paper); the others are 2x and 4x.
    norm : {"batch", "instance"}
        Normalisation layers (batch norm in training, as published).
    epochs, batch_size, lr : training schedule (Adam, cosine decay to 0 over all steps).
    max_steps : int, optional
        Stop after this many optimiser steps (``quick`` configurations).
    p_srt, p_tmt : float
        Probability that a training clip gets a spatial-rotation / temporal-mixing patch.
    w_grad : float
        Weight of the gradient loss next to the mean squared intensity error.
    score : {"psnr", "block"}
        Whole-frame PSNR (paper) or the largest block-wise error (deviation).
    block : int
        Cell side (processing pixels) of ``score="block"``.
    map_cell : int
        Cell side of the anomaly maps.
    threads : int, optional
        ``torch.set_num_threads`` during fit/score; None leaves it alone.
    impl, train_impl : {"3d", "2d"}
        How the network's 3D layers are computed at inference and in training
        (same function and parameters; see :mod:`vadbench_fastano.net`).
    """

    family = "competitor"
    window = CONTEXT + 1
    channel_axis = True
    score_kinds = ("psnr", "block")

    def __init__(self, size: tuple[int, int] = (360, 240), width: int = 64, norm: str = "batch",
                 epochs: int = 10, batch_size: int = 8, lr: float = 1e-3, max_steps: int | None = None,
                 p_srt: float = 0.25, p_tmt: float = 0.25, w_grad: float = 1.0, score: str = "psnr",
                 block: int = 16, map_cell: int = 8, score_batch: int = 16,
                 threads: int | None = None, device: str = "cpu", impl: str = "3d", train_impl: str = "2d"):
        self.width, self.norm = width, norm
        self.p_srt, self.p_tmt, self.w_grad = p_srt, p_tmt, w_grad
        self.impl, self.train_impl = impl, train_impl
        super().__init__(size=size, epochs=epochs, batch_size=batch_size, lr=lr, max_steps=max_steps,
                         score=score, block=block, map_cell=map_cell, score_batch=score_batch,
                         threads=threads, device=device, width=width, norm=norm, p_srt=p_srt, p_tmt=p_tmt,
                         w_grad=w_grad, impl=impl, train_impl=train_impl)

    def build_net(self, train: bool = False) -> FastAnoNet:
        return FastAnoNet(self.width, self.norm, self.train_impl if train else self.impl)

    # ------------------------------------------------------------------ training
    def fit(self, train, ctx) -> None:
        super().fit(train, ctx)
        self.net.impl = self.impl

    def batch_loss(self, items, videos, rng) -> torch.Tensor:
        """Loss of the training windows ``items``, each clip transformed (SRT/TMT) with draws from ``rng``."""
        return self.loss(*self._batch(items, videos, rng))

    def _batch(self, items, videos, rng) -> tuple[torch.Tensor, torch.Tensor]:
        xs, ys = [], []
        for vi, t in items:
            clip = videos[vi][t - CONTEXT:t].astype(np.float32) / 255.0
            clip, _ = random_transform(rng, clip, self.p_srt, self.p_tmt)
            xs.append(clip)
            ys.append(videos[vi][t].astype(np.float32) / 255.0)
        x = torch.from_numpy(np.stack(xs)[:, None]).to(self.device)
        return x, torch.from_numpy(np.stack(ys)).to(self.device)

    def loss(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Training loss of a batch: MSE of the predicted next frame plus ``w_grad`` x gradient loss."""
        pred = self.net.predict(x)
        return F.mse_loss(pred, y) + self.w_grad * gradient_loss(pred, y)

    # ------------------------------------------------------------------ inference
    def error_maps(self, windows: torch.Tensor) -> torch.Tensor:
        """Squared error maps (B, H, W) of the prediction of each window's last frame."""
        pred = self.net.predict(windows[:, :, :CONTEXT])
        return (pred - windows[:, 0, CONTEXT]) ** 2

    def reduce(self, err: torch.Tensor) -> torch.Tensor:
        """Frame scores of error maps: ``10 log10(MSE)`` (= -PSNR) of the frame or of its worst block."""
        return 10 * torch.log10(super().reduce(err) + 1e-10)
