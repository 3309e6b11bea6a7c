"""Self-supervised multi-task teacher on object-centric sequences (in the spirit of Georgescu et al.,
CVPR 2021).

Every detected object at frame ``t`` is cut out of the frames before it with the
*same* box (its square window, longer side plus a margin, as in the other
teachers) at ``crop`` x ``crop`` pixels: nine grayscale crops ``t - 8g, ..., t``
(``g`` = ``gap``). No tracker is needed, the box stays put and the object moves
inside it. One small network with a shared convolutional trunk learns three
proxy tasks on the normal training objects, with labels that come for free:

* **arrow of time**: is the five-frame sequence ``t - 4g .. t`` played forwards
  or backwards?
* **motion irregularity**: is a five-frame sequence consecutive, or does it skip
  frames (five increasing steps out of the nine, ending at ``t``, reaching further
  back than ``t - 4g``)? A skipped sequence looks like an object moving faster or
  jerkier than anyone in the training videos.
* **middle-box prediction**: the crop at ``t - 2g`` from the four around it.

An object the tasks fail on is unusual. Its three components are the
probability of the wrong arrow of time, the probability of an irregular motion,
and the mean absolute error of the middle crop, each divided by its mean over
the training objects. The object score is the mean of the ``components`` named
(then the track median of :class:`~vadbench_teachers.base.ObjectTeacher`). All
three tasks train the shared trunk, but by default only ``irregular`` scores:
on the label-free speed proxy (training videos only; its figures are in
``docs/experiments/teachers/results/ped2_teacher-ssl_proxy.json``) the arrow of
time and the middle crop are noisy on normal objects and drown the motion
signal (README.md, "teacher-ssl").

Deviations from SSMTL: no pretrained detector (background subtraction), no
knowledge-distillation task (it needs pretrained YOLO/ResNet features), one
joint 2D-convolutional network over the stacked crops instead of 3D CNN or ViT
backbones, and causal sequences (the past of ``t``), so that a frame can be
scored as soon as it arrives.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .base import ObjectTeacher
from .features import square_crop
from .networks import to_numpy, to_tensor, train_network
from .objects import Objects

SPAN = 9  # crops kept per object: t - 8g .. t
CONSECUTIVE = (4, 5, 6, 7, 8)  # positions of t - 4g .. t among them
MIDDLE = 2  # the position inside a five-frame sequence that is predicted
# every other increasing five-step sequence ending at t: the irregular ones
IRREGULAR = np.array([(*c, 8) for c in itertools.combinations(range(8), 4) if (*c, 8) != CONSECUTIVE])


class SequenceNet(nn.Module):
    """Shared conv trunk over 5 stacked crops; two logits (backwards, irregular) and the middle crop.

    >>> net = SequenceNet(crop=16)
    >>> x = torch.zeros(3, 5, 16, 16)
    >>> tuple(net.logits(x).shape), tuple(net.predict_middle(x).shape)
    ((3, 2), (3, 16, 16))
    """

    def __init__(self, crop: int = 24, width: int = 32, hidden: int = 128):
        super().__init__()
        if crop % 4:
            raise ValueError(f"crop must be a multiple of 4, got {crop}")
        self.trunk = nn.Sequential(
            nn.Conv2d(5, width, 3, 1, 1), nn.ReLU(inplace=True),
            nn.Conv2d(width, 2 * width, 4, 2, 1), nn.ReLU(inplace=True),
            nn.Conv2d(2 * width, 2 * width, 4, 2, 1), nn.ReLU(inplace=True))
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(2 * width * (crop // 4) ** 2, hidden),
                                  nn.ReLU(inplace=True), nn.Linear(hidden, 2))
        self.middle = nn.Sequential(nn.ConvTranspose2d(2 * width, width, 4, 2, 1), nn.ReLU(inplace=True),
                                    nn.ConvTranspose2d(width, 1, 4, 2, 1))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 5, c, c) -> (B, 2): logit of 'played backwards' and of 'irregular'."""
        return self.head(self.trunk(x))

    def predict_middle(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 5, c, c) with the middle crop zeroed -> (B, c, c) prediction of that crop."""
        return self.middle(self.trunk(x))[:, 0]


def _masked(x: torch.Tensor) -> torch.Tensor:
    out = x.clone()
    out[:, MIDDLE] = 0.0
    return out


class SequenceTeacher(ObjectTeacher):
    """Arrow of time, motion irregularity and middle-crop prediction on each object's crop sequence."""

    COMPONENTS = ("arrow", "irregular", "middle")

    def __init__(self, crop: int = 24, gap: int = 1, margin: float = 0.1, width: int = 32, hidden: int = 128,
                 epochs: int = 8, batch_size: int = 128, lr: float = 2e-3, train_stride: int = 2,
                 components: Sequence[str] = ("irregular",), **kw):
        unknown = set(components) - set(self.COMPONENTS)
        if unknown or not components:
            raise ValueError(f"components must be a non-empty subset of {self.COMPONENTS}, "
                             f"got {components!r}")
        super().__init__(crop=crop, gap=gap, margin=margin, width=width, hidden=hidden, epochs=epochs,
                         batch_size=batch_size, lr=lr, train_stride=train_stride, components=list(components),
                         **kw)
        self.components = tuple(components)
        self.crop, self.gap, self.margin = int(crop), int(gap), margin
        self.width, self.hidden = int(width), int(hidden)
        self.epochs, self.batch_size, self.lr = int(epochs), int(batch_size), lr
        self.context = (SPAN - 1) * self.gap
        self.net = SequenceNet(self.crop, self.width, self.hidden)
        self.norm = np.ones(3, np.float64)  # training means of the three components
        self.train_loss: list[float] = []

    def feature_config(self) -> dict:
        return {"crop": self.crop, "gap": self.gap, "margin": self.margin, "span": SPAN}

    def speedup(self, factor: int) -> SequenceTeacher:
        """A copy that sees motion ``factor`` times faster (validation proxy)."""
        other = copy.copy(self)
        other.gap = self.gap * int(factor)
        other.context = (SPAN - 1) * other.gap
        return other

    def describe(self, frames, boxes, masks) -> Objects:
        k, g = self.context, self.gap
        out = []
        for t, b in enumerate(boxes):
            past = frames[t:t + k + 1:g]  # t - 8g .. t
            for box in b:
                out.append(np.stack([square_crop(f, box, self.crop, self.margin) for f in past]))
        seqs = np.stack(out).astype(np.uint8) if out else np.zeros((0, SPAN, self.crop, self.crop), np.uint8)
        return {"seq": seqs}

    # -- learning -----------------------------------------------------------------------
    @staticmethod
    def _tensor(seq: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.asarray(seq, np.float32) / 127.5 - 1.0)

    def fit_objects(self, objects, ctx) -> None:
        seq = np.concatenate([o["seq"] for o in objects])
        if not len(seq):
            raise ValueError("no objects found in the training videos: the detector saw nothing move")
        x_all = self._tensor(seq)
        g = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self.net = SequenceNet(self.crop, self.width, self.hidden)
        irregular = torch.from_numpy(IRREGULAR)
        consecutive = torch.tensor(CONSECUTIVE)

        def batch_loss(xb):
            n = len(xb)
            flip = torch.rand(n, generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1), xb)
            fwd = xb[:, consecutive]
            pick = irregular[torch.randint(len(irregular), (n,), generator=g)]
            irr = torch.gather(xb, 1, pick[:, :, None, None].expand(-1, -1, *xb.shape[-2:]))
            logits = self.net.logits(torch.cat([fwd, fwd.flip(1), irr]))
            zeros, ones = torch.zeros(n), torch.ones(n)
            arrow = F.binary_cross_entropy_with_logits(logits[:2 * n, 0], torch.cat([zeros, ones]))
            motion = F.binary_cross_entropy_with_logits(torch.cat([logits[:n, 1], logits[2 * n:, 1]]),
                                                        torch.cat([zeros, ones]))
            middle = (self.net.predict_middle(_masked(fwd)) - fwd[:, MIDDLE]).abs().mean()
            return arrow + motion + middle

        self.train_loss = train_network(self.net, x_all, batch_loss, epochs=self.epochs,
                                        batch_size=self.batch_size, lr=self.lr, generator=g, ctx=ctx,
                                        name=self.name)
        self.norm = np.maximum(self._components(seq).mean(0), 1e-8)

    @torch.inference_mode()
    def _components(self, seq: np.ndarray) -> np.ndarray:
        """(N, 3) raw components: P(backwards), P(irregular), middle-crop mean absolute error."""
        self.net.eval()
        out = []
        for i in range(0, len(seq), 512):
            fwd = self._tensor(seq[i:i + 512])[:, list(CONSECUTIVE)]
            p = torch.sigmoid(self.net.logits(fwd))
            err = (self.net.predict_middle(_masked(fwd)) - fwd[:, MIDDLE]).abs().mean((1, 2))
            out.append(torch.cat([p, err[:, None]], 1))
        return torch.cat(out).numpy().astype(np.float64) if out else np.zeros((0, 3))

    def group_scores(self, objects: Objects) -> dict[str, np.ndarray]:
        """The three normalised components (N,) per object."""
        c = self._components(objects["seq"]) / self.norm
        return dict(zip(self.COMPONENTS, c.T, strict=True))

    def score_objects(self, objects: Objects) -> np.ndarray:
        c = self.group_scores(objects)
        return sum(c[k] for k in self.components) / len(self.components)

    def model_state(self) -> dict:
        return {"net": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
                "norm": to_tensor(self.norm)}

    def load_model_state(self, state: dict) -> None:
        self.net = SequenceNet(self.crop, self.width, self.hidden)
        self.net.load_state_dict(state["net"])
        self.net.eval()
        self.norm = to_numpy(state["norm"]).astype(np.float64)
