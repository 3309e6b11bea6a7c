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

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vadbench import Model, Scores
from vadbench.losses import gradient_loss
from vadbench.training import start_fit, train_epochs
from vadbench.windows import score_windows

from .net import FastAnoNet
from .transforms import random_transform

CONTEXT = FastAnoNet.clip  # input frames per prediction


class FastAno(Model):
    """FastAno (Park et al., WACV 2022): 3D-conv next-frame prediction, SRT/TMT training, PSNR score.

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

    def __init__(self, size: tuple[int, int] = (360, 240), width: int = 64, norm: str = "batch",
                 epochs: int = 10, batch_size: int = 8, lr: float = 1e-3, max_steps: int | None = None,
                 p_srt: float = 0.25, p_tmt: float = 0.25, w_grad: float = 1.0, score: str = "psnr",
                 block: int = 16, map_cell: int = 8, score_batch: int = 16,
                 threads: int | None = None, device: str = "cpu", impl: str = "3d", train_impl: str = "2d"):
        size = (int(size[0]), int(size[1]))
        if size[0] % 8 or size[1] % 8:
            raise ValueError(f"size {size}: width and height must be multiples of 8")
        if score not in ("psnr", "block"):
            raise ValueError(f"score must be 'psnr' or 'block', not {score!r}")
        super().__init__(size=list(size), width=width, norm=norm, epochs=epochs, batch_size=batch_size, lr=lr,
                         max_steps=max_steps, p_srt=p_srt, p_tmt=p_tmt, w_grad=w_grad, score=score,
                         block=block, map_cell=map_cell, score_batch=score_batch,
                         threads=threads, device=device, impl=impl, train_impl=train_impl)
        self.size, self.width, self.norm = size, width, norm
        self.epochs, self.batch_size, self.lr, self.max_steps = epochs, batch_size, lr, max_steps
        self.p_srt, self.p_tmt, self.w_grad = p_srt, p_tmt, w_grad
        self.score_kind, self.block, self.map_cell = score, block, map_cell
        self.score_batch, self.threads, self.device = score_batch, threads, torch.device(device)
        self.impl, self.train_impl = impl, train_impl
        self.net = FastAnoNet(width, norm, impl).to(self.device).eval()
        self.history: list[float] = []

    # ------------------------------------------------------------------ training
    def _read(self, video) -> np.ndarray:
        return video.read(gray=True, size=self.size)

    def fit(self, train, ctx) -> None:
        rng, self.device = start_fit(ctx, threads=self.threads, device=self.device)
        self.net = FastAnoNet(self.width, self.norm, self.train_impl).to(self.device)

        videos = [self._read(v) for v in train]
        clips = [(vi, t) for vi, f in enumerate(videos) for t in range(CONTEXT, len(f))]
        if not clips:
            raise ValueError(f"fastano: no training video has more than {CONTEXT} frames")

        def loss_of(idx):
            return self.loss(*self._batch([clips[i] for i in idx], videos, rng))

        on_epoch = (getattr(ctx, "extra", None) or {}).get("on_epoch")

        def after_epoch(epoch):  # development hook (validation curves); never used by the runner
            if on_epoch is not None:
                self.net.eval(), setattr(self.net, "impl", self.impl)
                on_epoch(self, epoch)
                self.net.train(), setattr(self.net, "impl", self.train_impl)

        self.net.train()
        self.history = train_epochs(self.net.parameters(), loss_of, n_items=len(clips), epochs=self.epochs,
                                    batch_size=self.batch_size, lr=self.lr, rng=rng, max_steps=self.max_steps,
                                    log=ctx.log, name="fastano", after_epoch=after_epoch)
        self.net.impl = self.impl
        self.net.eval()

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
    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """Windows of 6 frames (5 inputs + the frame to score), (B, 1, 6, H, W) in [0, 1]."""
        w, h = self.size
        g = torch.Generator().manual_seed(0)
        return torch.rand(batch_size, 1, CONTEXT + 1, h, w, generator=g).to(self.device)

    def errors(self, windows: torch.Tensor) -> torch.Tensor:
        """Squared error maps (B, H, W) of the prediction of each window's last frame."""
        pred = self.net.predict(windows[:, :, :CONTEXT])
        return (pred - windows[:, 0, CONTEXT]) ** 2

    def reduce(self, err: torch.Tensor) -> torch.Tensor:
        """Frame scores of error maps: ``10 log10(MSE)`` (= -PSNR) of the frame or of its worst block."""
        if self.score_kind == "block":
            mse = F.avg_pool2d(err[:, None], self.block, ceil_mode=True).flatten(1).amax(1)
        else:
            mse = err.flatten(1).mean(1)
        return 10 * torch.log10(mse + 1e-10)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """The hot path: un-normalised anomaly score (-PSNR) of each window's last frame."""
        with torch.inference_mode():
            return self.reduce(self.errors(windows))

    def score(self, video) -> Scores:
        if self.threads:
            torch.set_num_threads(self.threads)
        self.net.eval()
        s, m = score_windows(self._read(video), CONTEXT + 1, self.errors, self.reduce, batch=self.score_batch,
                             map_cell=self.map_cell, device=self.device, channel_axis=True)
        return Scores(frame=s, maps=m)

    # ------------------------------------------------------------------ state
    def state_dict(self) -> dict[str, Any]:
        state = {f"net.{k}": v.detach().cpu() for k, v in self.net.state_dict().items()}
        state["history"] = [float(h) for h in self.history]
        return state

    def load_state_dict(self, state: dict) -> None:
        net = {k[4:]: v for k, v in state.items() if k.startswith("net.")}
        self.net.load_state_dict(net)
        self.net.to(self.device).eval()
        self.history = [float(h) for h in state.get("history", [])]

    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())
