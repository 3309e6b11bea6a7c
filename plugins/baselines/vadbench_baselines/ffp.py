"""Future-frame prediction with a U-Net, after Liu, Luo, Lian and Gao, CVPR 2018, in a small CPU form.

"Future Frame Prediction for Anomaly Detection -- A New Baseline" predicts
frame ``t`` from frames ``t-4 .. t-1`` with a U-Net trained on normal videos
with intensity (L2), gradient, optical-flow and adversarial losses, and scores
frame ``t`` by the PSNR of its prediction, min-max normalised per video into a
regularity score. Here the anomaly score is the normalised *negative* PSNR
(``1 -`` the regularity).

What this CPU form keeps and changes (written from the paper's description):

* Kept: 4 input frames, next-frame U-Net (3 down/up levels, two 3x3
  convolutions per level, skip connections, tanh output), intensity loss
  (mean squared error) plus gradient loss (weights 1 and 1, as the paper's),
  PSNR score with per-video min-max normalisation.
* Left out: the optical-flow loss (it needs a pretrained FlowNet) and the
  adversarial loss with its patch discriminator (a GAN is not trainable in a
  few CPU minutes and the paper's own ablation credits it with the smallest
  gain).
* Changed: grayscale instead of RGB, 192x128 instead of 256x256, base width 8
  instead of 64 (8/16/32/64 channels), Adam with a cosine schedule.
* The first 4 frames of a video take frame 4's score.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from vadbench.losses import gradient_loss
from vadbench.window_model import WindowModel


def _double_conv(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """(B, frames, H, W) in [0, 1] -> next frame (B, H, W) in [0, 1]; H, W multiples of 8."""

    def __init__(self, frames: int = 4, width: int = 8):
        super().__init__()
        c = [width, 2 * width, 4 * width, 8 * width]
        self.inc = _double_conv(frames, c[0])
        self.downs = nn.ModuleList(_double_conv(c[i], c[i + 1]) for i in range(3))
        self.ups = nn.ModuleList(nn.ConvTranspose2d(c[i + 1], c[i], 2, 2) for i in reversed(range(3)))
        self.merges = nn.ModuleList(_double_conv(2 * c[i], c[i]) for i in reversed(range(3)))
        self.out = nn.Conv2d(c[0], 1, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = [self.inc(x)]
        for down in self.downs:
            skips.append(down(F.max_pool2d(skips[-1], 2)))
        h = skips.pop()
        for up, merge in zip(self.ups, self.merges, strict=True):
            h = merge(torch.cat([up(h), skips.pop()], 1))
        return (torch.tanh(self.out(h))[:, 0] + 1) / 2


class FutureFramePrediction(WindowModel):
    """Liu et al. 2018-style U-Net future-frame predictor (intensity + gradient losses), PSNR score."""

    family = "baseline"
    window = 5  # 4 inputs + the predicted frame

    def __init__(self, size=(192, 128), width: int = 8, epochs: int = 6, batch_size: int = 8,
                 lr: float = 1e-3, w_grad: float = 1.0, score: str = "frame", **kw):
        self.width, self.w_grad = width, w_grad
        super().__init__(size=size, epochs=epochs, batch_size=batch_size, lr=lr, score=score, width=width,
                         w_grad=w_grad, **kw)

    def build_net(self, train: bool = False) -> nn.Module:
        return UNet(self.window - 1, self.width)

    def loss(self, windows: torch.Tensor) -> torch.Tensor:
        pred, target = self.net(windows[:, :-1]), windows[:, -1]
        return F.mse_loss(pred, target) + self.w_grad * gradient_loss(pred, target)

    def error_maps(self, windows: torch.Tensor) -> torch.Tensor:
        return (self.net(windows[:, :-1]) - windows[:, -1]) ** 2

    def reduce(self, err: torch.Tensor) -> torch.Tensor:
        """``10 log10(MSE)``, i.e. the negative PSNR of the prediction (of the frame or its worst block)."""
        return 10 * torch.log10(super().reduce(err) + 1e-10)
