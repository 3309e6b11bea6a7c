"""A base class for models that judge frame ``t`` by the window of frames ending at it.

Reconstruction and prediction models (Conv-AE, future-frame prediction, FastAno)
see windows of ``window`` consecutive grayscale frames at ``size`` (values in
[0, 1]) and turn each window into an error map of its *last* frame. What they
share is here, once: the configuration's common part, the training windows of
every training video, the training loop (:func:`vadbench.training.train_epochs`),
the hot path, scoring (:func:`vadbench.windows.score_windows`) and the state.

Frame ``t`` is scored by the window ``t - window + 1 .. t``; the first
``window - 1`` frames of a video have no full window and take the first scored
frame's value (``skip_first=window - 1`` in the metrics drops them exactly).
Scores are raw errors: a per-video min-max normalisation is an evaluation
convention (``normalize="minmax"`` in :func:`vadbench.metrics.frame_auc`),
applied to every model alike.

A subclass gives ``build_net(train)``, ``error_maps(windows)`` and either
``loss(windows)`` or its own ``batch_loss(items, videos, rng)``; it may
override ``reduce`` (e.g. to ``10 log10`` of the mean squared error, the
negative PSNR). Windows are ``(B, window, H, W)``, or ``(B, 1, window, H, W)``
when the class sets ``channel_axis = True`` (3D convolutions).

Training: Adam, the learning rate decayed to 0 on a cosine over all steps,
windows drawn in a random order per epoch from a generator seeded with
``ctx.seed``; a progress bar (:func:`vadbench.progress.progress`) counts the
epochs.

>>> import torch
>>> class Last(WindowModel):
...     window = 2
...     def build_net(self, train=False):
...         return torch.nn.Identity()
...     def error_maps(self, w):
...         return (w[:, -1] - w[:, -2]) ** 2
>>> m = Last(size=(16, 8))
>>> tuple(m.example_input(3).shape), tuple(m.forward(m.example_input(3)).shape)
((3, 2, 8, 16), (3,))
>>> sorted(m.config)[:4]
['batch_size', 'block', 'device', 'epochs']
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from .model import Model, Scores
from .progress import progress
from .training import start_fit, train_epochs
from .windows import score_windows

__all__ = ["WindowModel"]


class WindowModel(Model):
    """Base of the window-based learned models (see the module docstring).

    Parameters
    ----------
    size : (int, int)
        Processing size (width, height), multiples of 8.
    epochs, batch_size, lr : training schedule (Adam, cosine decay to 0 over all steps).
    max_steps : int, optional
        Stop after this many optimiser steps (``quick`` configurations).
    score : str
        One of the class's ``score_kinds``: the whole frame's error (the first) or ``"block"``,
        the largest mean error over ``block x block`` cells.
    block : int
        Cell side (processing pixels) of ``score="block"``.
    map_cell : int
        Cell side of the anomaly maps.
    score_batch : int
        Windows per forward pass while scoring.
    threads : int, optional
        ``torch.set_num_threads`` during fit/score; None leaves it alone.
    device : str
        Where the network runs (the run context's device wins in ``fit``).
    **extra
        The subclass's own settings, recorded in ``config`` after the common ones.
    """

    family = "baseline"
    window = 5
    channel_axis = False  # windows as (B, 1, window, H, W) for 3D convolutions
    score_kinds = ("frame", "block")  # whole-frame error first

    def __init__(self, *, size=(192, 128), epochs: int = 10, batch_size: int = 8, lr: float = 1e-3,
                 max_steps: int | None = None, score: str = "frame", block: int = 16, map_cell: int = 8,
                 score_batch: int = 32, threads: int | None = None, device: str = "cpu", **extra: Any):
        size = (int(size[0]), int(size[1]))
        if size[0] % 8 or size[1] % 8:
            raise ValueError(f"size {size}: width and height must be multiples of 8")
        if score not in self.score_kinds:
            raise ValueError(f"score must be {' or '.join(repr(k) for k in self.score_kinds)}, not {score!r}")
        super().__init__(size=list(size), epochs=epochs, batch_size=batch_size, lr=lr, max_steps=max_steps,
                         score=score, block=block, map_cell=map_cell, score_batch=score_batch,
                         threads=threads, device=device, **extra)
        self.size, self.epochs, self.batch_size, self.lr = size, epochs, batch_size, lr
        self.max_steps = max_steps
        self.score_kind, self.block, self.map_cell = score, block, map_cell
        self.score_batch, self.threads, self.device = score_batch, threads, torch.device(device)
        self.history: list[float] = []
        self.net = self.build_net().to(self.device).eval()

    # -- given by subclasses --------------------------------------------------
    def build_net(self, train: bool = False) -> torch.nn.Module:  # pragma: no cover - interface
        """A freshly initialised network (``train``: the form ``fit`` trains, if it differs)."""
        raise NotImplementedError

    def loss(self, windows: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        """Training loss of a batch of windows (used by the default :meth:`batch_loss`)."""
        raise NotImplementedError

    def error_maps(self, windows: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
        """Per-pixel error (B, H, W) of each window's last frame."""
        raise NotImplementedError

    def reduce(self, err: torch.Tensor) -> torch.Tensor:
        """Frame score of error maps: mean squared error of the frame, or of its worst block."""
        if self.score_kind == "block":
            return F.avg_pool2d(err[:, None], self.block, ceil_mode=True).flatten(1).amax(1)
        return err.flatten(1).mean(1)

    # -- training -------------------------------------------------------------
    def _read(self, video) -> np.ndarray:
        return video.read(gray=True, size=self.size)

    def batch_loss(self, items: list[tuple[int, int]], videos: list[np.ndarray],
                   rng: np.random.Generator) -> torch.Tensor:
        """Loss of the training windows ``items`` (video index, last frame) of the decoded ``videos``.

        By default: the windows as float in [0, 1] through :meth:`loss`. A subclass that
        augments its windows draws from ``rng`` here.
        """
        k = self.window
        batch = np.stack([videos[vi][t - k + 1:t + 1] for vi, t in items])
        return self.loss(torch.from_numpy(batch).to(self.device).float() / 255.0)

    def fit(self, train, ctx) -> None:
        rng, self.device = start_fit(ctx, threads=self.threads, device=self.device)
        self.net = self.build_net(train=True).to(self.device)
        videos = [self._read(v) for v in train]
        k = self.window
        clips = [(vi, t) for vi, f in enumerate(videos) for t in range(k - 1, len(f))]
        if not clips:
            raise ValueError(f"{self.name}: no training video has {k} frames")

        def loss_of(idx):
            return self.batch_loss([clips[i] for i in idx], videos, rng)

        bar = _EpochBar(self._epochs_run(len(clips)), desc=f"{self.name}: train")
        self.net.train()
        try:
            self.history = train_epochs(self.net.parameters(), loss_of, n_items=len(clips),
                                        epochs=self.epochs, batch_size=self.batch_size, lr=self.lr, rng=rng,
                                        max_steps=self.max_steps, log=ctx.log, name=self.name,
                                        after_epoch=bar.tick)
        finally:
            bar.close()
        self.net.eval()

    def _epochs_run(self, n_items: int) -> int:
        """How many epochs :func:`~vadbench.training.train_epochs` runs (fewer with ``max_steps``)."""
        per_epoch = math.ceil(n_items / self.batch_size)
        steps = self.epochs * per_epoch
        if self.max_steps is not None:
            steps = min(steps, int(self.max_steps))
        return math.ceil(steps / per_epoch)

    # -- inference ------------------------------------------------------------
    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """Windows of ``window`` frames ending at the frames to score, in [0, 1]: (B, window, H, W),
        or (B, 1, window, H, W) with ``channel_axis``."""
        w, h = self.size
        g = torch.Generator().manual_seed(0)
        shape = (batch_size, 1, self.window, h, w) if self.channel_axis else (batch_size, self.window, h, w)
        return torch.rand(*shape, generator=g).to(self.device)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """The hot path: the raw (un-normalised) anomaly score of each window's last frame."""
        with torch.inference_mode():
            return self.reduce(self.error_maps(windows))

    def score(self, video) -> Scores:
        if self.threads:
            torch.set_num_threads(self.threads)
        self.net.eval()
        s, m = score_windows(self._read(video), self.window, self.error_maps, self.reduce,
                             batch=self.score_batch, map_cell=self.map_cell, device=self.device,
                             channel_axis=self.channel_axis)
        return Scores(frame=s, maps=m)

    # -- state ----------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        state = {f"net.{k}": v.detach().cpu() for k, v in self.net.state_dict().items()}
        state["history"] = [float(h) for h in self.history]
        return state

    def load_state_dict(self, state: dict) -> None:
        self.net.load_state_dict({k[4:]: v for k, v in state.items() if k.startswith("net.")})
        self.net.to(self.device).eval()
        self.history = [float(h) for h in state.get("history", [])]

    def num_params(self) -> int:
        return sum(p.numel() for p in self.net.parameters())


class _EpochBar:
    """A progress bar over ``total`` epochs, advanced from a loop that someone else drives.

    :func:`vadbench.progress.progress` counts an item done when the next one is
    asked for; here the next one is asked for after each epoch (``tick``).
    ``close`` ends the bar (it says "stopped early" if fewer epochs ran).

    >>> import io
    >>> log = io.StringIO()
    >>> bar = _EpochBar(2, desc="m", stream=log)
    >>> bar.tick(1); bar.tick(2); bar.close()
    >>> lines = [line[11:].split(" in ")[0] for line in log.getvalue().splitlines()]
    >>> lines[0], lines[-1]
    ('m: 0/2 epoch', 'm: 2/2 epoch (100%)')
    """

    def __init__(self, total: int, *, desc: str, unit: str = "epoch", stream=None):
        self._it = iter(progress(range(total), total=total, desc=desc, unit=unit, stream=stream))
        next(self._it, None)  # the bar starts: epoch 1 under way

    def tick(self, epoch: int | None = None) -> None:
        next(self._it, None)

    def close(self) -> None:
        self._it.close()  # type: ignore[attr-defined]  # a generator
