"""Object-centric autoencoder teacher: reconstruction error of appearance and motion crops.

In the spirit of Ionescu et al. (CVPR 2019, "Object-centric auto-encoders and
dummy anomalies"): every detected object is cut out of the frame as a square
window (its longer side plus a margin, so that shapes are kept), resized to
``crop`` x ``crop`` pixels, in three channels:

* appearance: the grayscale window at ``t``;
* motion: the two components of the dense optical flow (OpenCV DIS) from
  ``t - gap`` to ``t`` over the same window, in pixels per frame divided by
  ``flow_scale``. Flow is *not* rescaled with the window: a cyclist moves more
  pixels per frame than a walker whatever their size (frame differences in a
  size-normalised window would not tell them apart: a displacement relative to
  the object's size looks the same at any speed).

A small convolutional autoencoder (trained from scratch on the training
objects, random horizontal flips, which negate the horizontal flow) reconstructs the three channels through a
``latent``-dimensional bottleneck. An object has three anomaly components:

* ``appearance``: the reconstruction error of the appearance channel;
* ``motion``: the reconstruction error of the two motion channels;
* ``latent``: the mean distance of its code to the ``k`` nearest codes of the
  training objects (where Ionescu et al. cluster the codes and train
  one-versus-rest classifiers, a kNN density plays that part here).

Each component is divided by its mean over the training objects (the latent
one measured across two folds of the training videos, so that an object's
near-duplicates in its own video are not its neighbours); the object score is
the mean of the three.
"""

from __future__ import annotations

import copy
import itertools

import numpy as np
import torch
from sklearn.neighbors import NearestNeighbors
from torch import nn

from .base import ObjectTeacher
from .features import dis_flow, square_crop
from .networks import to_numpy, to_tensor, train_network
from .objects import Objects, knn_distance


class CropAE(nn.Module):
    """Conv encoder (stride-2 stages down to 4x4) + linear bottleneck + mirrored decoder."""

    def __init__(self, channels: int = 3, crop: int = 16, width: int = 16, latent: int = 32):
        super().__init__()
        stages = max(1, round(np.log2(crop / 4)))
        chans = [width * min(2 ** i, 4) for i in range(stages + 1)]
        enc = [nn.Conv2d(channels, chans[0], 3, 1, 1), nn.ReLU(inplace=True)]
        for a, b in itertools.pairwise(chans):
            enc += [nn.Conv2d(a, b, 4, 2, 1), nn.ReLU(inplace=True)]
        s = crop // 2 ** stages
        self.encoder = nn.Sequential(*enc, nn.Flatten(), nn.Linear(chans[-1] * s * s, latent))
        dec = [nn.Linear(latent, chans[-1] * s * s), nn.ReLU(inplace=True),
               nn.Unflatten(1, (chans[-1], s, s))]
        for a, b in itertools.pairwise(chans[::-1]):
            dec += [nn.ConvTranspose2d(a, b, 4, 2, 1), nn.ReLU(inplace=True)]
        self.decoder = nn.Sequential(*dec, nn.Conv2d(chans[0], channels, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.decoder(self.encoder(x))


class AutoencoderTeacher(ObjectTeacher):
    """Conv autoencoder on each object's appearance and motion crops: reconstruction errors + latent kNN."""

    COMPONENTS = ("appearance", "motion", "latent")

    def __init__(self, crop: int = 16, gap: int = 1, margin: float = 0.1, width: int = 16, latent: int = 32,
                 epochs: int = 10, batch_size: int = 64, lr: float = 2e-3, flow_scale: float = 2.0,
                 k: int = 5, max_bank: int = 60000, train_stride: int = 2, **kw):
        super().__init__(crop=crop, gap=gap, margin=margin, width=width, latent=latent, epochs=epochs,
                         batch_size=batch_size, lr=lr, flow_scale=flow_scale, k=k, max_bank=max_bank,
                         train_stride=train_stride, **kw)
        self.crop, self.gap, self.margin = crop, int(gap), margin
        self.width, self.latent = width, latent
        self.epochs, self.batch_size, self.lr, self.flow_scale = epochs, batch_size, lr, flow_scale
        self.k, self.max_bank = k, max_bank
        self.context = self.gap
        self.net = CropAE(3, crop, width, latent)
        self.norm = np.ones(3, np.float64)  # training means of the three components
        self.bank = np.zeros((0, latent), np.float32)
        self.train_loss: list[float] = []
        self._nn = None

    def feature_config(self) -> dict:
        return {"crop": self.crop, "gap": self.gap, "margin": self.margin, "flow_scale": self.flow_scale,
                "flow": "dis-medium"}

    def speedup(self, factor: int) -> AutoencoderTeacher:
        """A copy that sees motion ``factor`` times faster (validation proxy)."""
        other = copy.copy(self)
        other.gap = other.context = self.gap * int(factor)
        return other

    def describe(self, frames, boxes, masks) -> Objects:
        k = self.context
        out = []
        for t, b in enumerate(boxes):
            if not len(b):
                continue
            cur = frames[t + k]
            flow = dis_flow(frames[t], cur) / self.flow_scale  # from t - gap to t
            chans = (cur.astype(np.float32) / 127.5 - 1.0, flow[..., 0], flow[..., 1])
            for box in b:
                out.append(np.stack([square_crop(img, box, self.crop, self.margin) for img in chans]))
        crops = np.stack(out).clip(-8, 8).astype(np.float16) if out else \
            np.zeros((0, 3, self.crop, self.crop), np.float16)
        return {"crops": crops}

    # -- learning -----------------------------------------------------------------------
    def fit_objects(self, objects, ctx) -> None:
        x = torch.from_numpy(np.concatenate([o["crops"] for o in objects]).astype(np.float32))
        video = np.concatenate([o["video"] for o in objects])
        if not len(x):
            raise ValueError("no objects found in the training videos: the detector saw nothing move")
        g = torch.Generator().manual_seed(self.seed)
        torch.manual_seed(self.seed)
        self.net = CropAE(3, self.crop, self.width, self.latent)
        # a mirrored crop's horizontal flow changes sign
        sign = torch.tensor([1.0, -1.0, 1.0])[None, :, None, None]

        def batch_loss(xb):
            flip = torch.rand(len(xb), generator=g) < 0.5
            xb = torch.where(flip[:, None, None, None], xb.flip(-1) * sign, xb)
            return ((self.net(xb) - xb) ** 2).mean()

        self.train_loss = train_network(self.net, x, batch_loss, epochs=self.epochs,
                                        batch_size=self.batch_size, lr=self.lr, generator=g, ctx=ctx,
                                        name=self.name)
        err, z = self._run(x)
        rng = np.random.default_rng(self.seed)
        keep = np.sort(rng.choice(len(z), self.max_bank, replace=False)) if len(z) > self.max_bank \
            else np.arange(len(z))
        self.bank = z[keep]
        fold = video[keep] % 2
        if fold.min() != fold.max():
            d = np.concatenate([knn_distance(self.bank[fold == a], self.bank[fold != a], self.k)
                                for a in (0, 1)])
        else:
            d = knn_distance(self.bank, self.bank, self.k, skip_self=True)
        self.norm = np.maximum(np.r_[err.mean(0), d.mean()], 1e-8)
        self._nn = None

    @torch.inference_mode()
    def _run(self, x: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
        """(N, 2) mean squared errors (appearance, motion) and (N, latent) codes."""
        self.net.eval()
        errs, codes = [], []
        for i in range(0, len(x), 512):
            xb = x[i:i + 512]
            z = self.net.encoder(xb)
            e = (self.net.decoder(z) - xb) ** 2
            errs.append(torch.stack([e[:, :1].mean((1, 2, 3)), e[:, 1:].mean((1, 2, 3))], 1))
            codes.append(z)
        if not errs:
            return np.zeros((0, 2)), np.zeros((0, self.latent), np.float32)
        return torch.cat(errs).numpy().astype(np.float64), torch.cat(codes).numpy().astype(np.float32)

    def group_scores(self, objects: Objects) -> dict[str, np.ndarray]:
        """The three normalised components (N,) per object."""
        err, z = self._run(torch.from_numpy(np.asarray(objects["crops"], np.float32)))
        if self._nn is None:
            self._nn = NearestNeighbors(n_neighbors=min(self.k, len(self.bank))).fit(self.bank)
        d = self._nn.kneighbors(z)[0].mean(1) if len(z) else np.zeros(0)
        return {"appearance": err[:, 0] / self.norm[0], "motion": err[:, 1] / self.norm[1],
                "latent": d / self.norm[2]}

    def score_objects(self, objects: Objects) -> np.ndarray:
        c = self.group_scores(objects)
        return sum(c[k] for k in self.COMPONENTS) / len(self.COMPONENTS)

    def model_state(self) -> dict:
        return {"net": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
                "norm": to_tensor(self.norm), "bank": to_tensor(self.bank)}

    def load_model_state(self, state: dict) -> None:
        self.net = CropAE(3, self.crop, self.width, self.latent)
        self.net.load_state_dict(state["net"])
        self.net.eval()
        self.norm = to_numpy(state["norm"]).astype(np.float64)
        self.bank = to_numpy(state["bank"]).astype(np.float32)
        self._nn = None
