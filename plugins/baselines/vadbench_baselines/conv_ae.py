"""Conv-AE: a convolutional autoencoder of short frame stacks, after Hasan et al., CVPR 2016.

"Learning Temporal Regularity in Video Sequences" reconstructs cuboids of 10
frames with a fully convolutional autoencoder trained on normal videos and
scores frame ``t`` by its reconstruction error ``e(t)``, turned into a
regularity ``s(t) = 1 - (e(t) - min e) / max e`` per video. Here the anomaly
score is the raw error ``e(t)``: the per-video rescaling uses the test video's
own statistics, so vadbench applies it, if at all, as an evaluation convention
to every model alike (the leaderboards' per-video min-max micro AUC column).

What this CPU form keeps and changes (written from the paper's description):

* 10 grayscale frames stacked as channels; three strided convolutions with
  channels halving (``width, width/2, width/4``, as the paper's 512/256/128)
  and tanh, mirrored by transposed convolutions; Euclidean (mean squared)
  reconstruction loss of all 10 frames.
* 192x128 input instead of 227x227, width 32 instead of 512, stride-2
  convolutions instead of convolution + max pooling, no un-pooling, a sigmoid
  output, Adam instead of AdaGrad, no temporal-stride data augmentation.
* Frame ``t`` is scored by the window ``t-9 .. t`` (the error of its last,
  i.e. newest, frame), so scoring is causal; the first 9 frames take frame 9's
  score.
* ``score="block"`` (the registered default, chosen by a rule fixed in advance
  on pseudo-anomalies carved from training videos, see the README) uses the
  largest mean squared error over 16x16 cells instead of the whole frame's.
  On Ped2's test videos the paper's whole-frame error (``score="frame"``)
  turned out much better (81.7 vs 67.5 micro AUC); the default was left as
  chosen rather than picked on test labels.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vadbench.window_model import WindowModel


class ConvAENet(nn.Module):
    """(B, T, H, W) in [0, 1] -> reconstruction (B, T, H, W) in [0, 1]; H, W multiples of 8."""

    def __init__(self, frames: int = 10, width: int = 32):
        super().__init__()
        w = width
        self.encoder = nn.Sequential(
            nn.Conv2d(frames, w, 5, 2, 2), nn.Tanh(),
            nn.Conv2d(w, w // 2, 3, 2, 1), nn.Tanh(),
            nn.Conv2d(w // 2, w // 4, 3, 2, 1), nn.Tanh())
        self.decoder = nn.Sequential(
            nn.ConvTranspose2d(w // 4, w // 2, 4, 2, 1), nn.Tanh(),
            nn.ConvTranspose2d(w // 2, w, 4, 2, 1), nn.Tanh(),
            nn.ConvTranspose2d(w, frames, 4, 2, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class ConvAE(WindowModel):
    """Hasan et al. 2016-style convolutional autoencoder of 10-frame stacks; regularity-score anomaly."""

    family = "baseline"
    window = 10

    def __init__(self, size=(192, 128), width: int = 32, epochs: int = 8, batch_size: int = 16,
                 lr: float = 1e-3, score: str = "block", **kw):
        self.width = width
        super().__init__(size=size, epochs=epochs, batch_size=batch_size, lr=lr, score=score, width=width,
                         **kw)

    def build_net(self, train: bool = False) -> nn.Module:
        return ConvAENet(self.window, self.width)

    def loss(self, windows: torch.Tensor) -> torch.Tensor:
        return F.mse_loss(self.net(windows), windows)

    def error_maps(self, windows: torch.Tensor) -> torch.Tensor:
        return (self.net(windows)[:, -1] - windows[:, -1]) ** 2
