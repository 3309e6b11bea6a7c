"""Scoring a video by windows of frames: what reconstruction and prediction models share.

Models such as Conv-AE, future-frame prediction or FastAno judge frame ``t`` by
the window of ``window`` frames that ends at it (the frames before ``t`` are the
input, ``t`` the target, or the whole window is reconstructed). Each window
gives a per-pixel error map of its last frame; :func:`score_windows` turns a
video into one raw score per frame and one pooled error map per frame.

>>> import numpy as np, torch
>>> frames = np.zeros((6, 16, 16), np.uint8); frames[4, :8, :8] = 255   # something appears at frame 4
>>> def errors(w):  # error of the last frame: change from the frame before
...     return (w[:, -1] - w[:, -2]) ** 2
>>> def reduce(err):
...     return err.flatten(1).mean(1)
>>> s, m = score_windows(frames, 2, errors, reduce, batch=4, map_cell=8)
>>> s.round(2).tolist(), m.shape
([0.0, 0.0, 0.0, 0.0, 0.25, 0.25], (6, 2, 2))
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F


def score_windows(frames: np.ndarray, window: int, errors: Callable[[torch.Tensor], torch.Tensor],
                  reduce: Callable[[torch.Tensor], torch.Tensor], *, batch: int, map_cell: int,
                  device="cpu", channel_axis: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Raw frame scores (T,) float64 and error maps pooled over ``map_cell`` cells (T, h, w) float32.

    ``frames`` are uint8 (T, H, W). Each window is the float tensor
    ``(B, window, H, W)`` in [0, 1] (``(B, 1, window, H, W)`` with
    ``channel_axis``); ``errors`` maps it to per-pixel errors (B, H, W) of its
    last frame and ``reduce`` those to one score per window. Frames before the
    first full window take the first scored frame's score and map; a video
    shorter than one window is padded in front with its first frame.
    """
    n = len(frames)
    if n < window:
        frames = np.concatenate([np.repeat(frames[:1], window - n, 0), frames])
    x = torch.from_numpy(frames).to(device)
    raw, maps = [], []
    with torch.inference_mode():
        for t0 in range(window - 1, len(frames), batch):
            w = torch.stack([x[t - window + 1:t + 1] for t in range(t0, min(t0 + batch, len(frames)))])
            w = (w[:, None] if channel_axis else w).float() / 255.0
            err = errors(w)
            raw.append(reduce(err).cpu())
            maps.append(F.avg_pool2d(err[:, None], map_cell, ceil_mode=True)[:, 0].cpu())
    s = torch.cat(raw).double().numpy()
    m = torch.cat(maps).numpy()
    pad = len(frames) - len(s)
    s = np.concatenate([np.repeat(s[:1], pad), s])[-n:]
    m = np.concatenate([np.repeat(m[:1], pad, 0), m])[-n:]
    return s, m.astype(np.float32)
