"""What the learned frame-window baselines share: windows of grayscale frames, a training loop, scoring.

A :class:`WindowModel` sees windows of ``window`` consecutive grayscale frames
at ``size`` (values in [0, 1], shape ``(B, window, H, W)``) and turns each
window into an error map of its *last* frame (reconstruction or prediction
error). Frame ``t`` is scored by the window ``t - window + 1 .. t``; the first
``window - 1`` frames of a video have no full window and take the first scored
frame's value (``skip_first=window - 1`` in the metrics drops them exactly).
Scores are raw errors: a per-video min-max normalisation, as these baselines'
papers apply, is an evaluation convention (``normalize="minmax"`` in
:func:`vadbench.metrics.frame_auc`), applied to every model alike.

Subclasses give ``build_net()``, ``loss(windows)`` and ``error_maps(windows)``.
Training: Adam, learning rate decayed to 0 on a cosine over all steps, windows
drawn in a random order per epoch from a generator seeded with ``ctx.seed``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vadbench import Model, Scores
from vadbench.training import start_fit, train_epochs
from vadbench.windows import score_windows


class WindowModel(Model):
    """Base of the window-based learned baselines (see the module docstring)."""

    family = "baseline"
    window = 5

    def __init__(self, *, size=(192, 128), epochs: int = 10, batch_size: int = 8, lr: float = 1e-3,
                 max_steps: int | None = None, score: str = "frame", block: int = 16,
                 map_cell: int = 8, score_batch: int = 32, threads: int | None = None, device: str = "cpu",
                 **extra: Any):
        size = (int(size[0]), int(size[1]))
        if size[0] % 8 or size[1] % 8:
            raise ValueError(f"size {size}: width and height must be multiples of 8")
        if score not in ("frame", "block"):
            raise ValueError(f"score must be 'frame' or 'block', not {score!r}")
        super().__init__(size=list(size), epochs=epochs, batch_size=batch_size, lr=lr, max_steps=max_steps,
                         score=score, block=block, map_cell=map_cell,
                         score_batch=score_batch, threads=threads, device=device, **extra)
        self.size, self.epochs, self.batch_size, self.lr, self.max_steps = size, epochs, batch_size, lr, max_steps
        self.score_kind, self.block, self.map_cell = score, block, map_cell
        self.score_batch, self.threads, self.device = score_batch, threads, torch.device(device)
        self.history: list[float] = []
        self.net = self.build_net().to(self.device).eval()

    # -- to be given by subclasses ------------------------------------------
    def build_net(self) -> torch.nn.Module:  # pragma: no cover - interface
        raise NotImplementedError

    def loss(self, windows: torch.Tensor) -> torch.Tensor:  # pragma: no cover - interface
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

    def fit(self, train, ctx) -> None:
        rng, self.device = start_fit(ctx, threads=self.threads, device=self.device)
        self.net = self.build_net().to(self.device)
        videos = [self._read(v) for v in train]
        k = self.window
        clips = [(vi, t) for vi, f in enumerate(videos) for t in range(k - 1, len(f))]
        if not clips:
            raise ValueError(f"{self.name}: no training video has {k} frames")

        def loss_of(idx):
            batch = np.stack([videos[vi][t - k + 1:t + 1] for vi, t in (clips[i] for i in idx)])
            return self.loss(torch.from_numpy(batch).to(self.device).float() / 255.0)

        on_epoch = (getattr(ctx, "extra", None) or {}).get("on_epoch")

        def after_epoch(epoch):  # development hook (validation curves); the runner never sets it
            if on_epoch is not None:
                self.net.eval()
                on_epoch(self, epoch)
                self.net.train()

        self.net.train()
        self.history = train_epochs(self.net.parameters(), loss_of, n_items=len(clips), epochs=self.epochs,
                                    batch_size=self.batch_size, lr=self.lr, rng=rng, max_steps=self.max_steps,
                                    log=ctx.log, name=self.name, after_epoch=after_epoch)
        self.net.eval()

    # -- inference ------------------------------------------------------------
    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """Windows of ``window`` frames ending at the frames to score, (B, window, H, W) in [0, 1]."""
        w, h = self.size
        g = torch.Generator().manual_seed(0)
        return torch.rand(batch_size, self.window, h, w, generator=g).to(self.device)

    def forward(self, windows: torch.Tensor) -> torch.Tensor:
        """The hot path: the raw (un-normalised) anomaly score of each window's last frame."""
        with torch.inference_mode():
            return self.reduce(self.error_maps(windows))

    def score(self, video) -> Scores:
        if self.threads:
            torch.set_num_threads(self.threads)
        self.net.eval()
        s, m = score_windows(self._read(video), self.window, self.error_maps, self.reduce, batch=self.score_batch,
                             map_cell=self.map_cell, device=self.device)
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
