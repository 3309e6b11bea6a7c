"""Motion floors: how far plain motion energy goes, the bar every learned model must clear.

``motion-diff`` scores frame t by the largest mean absolute difference between
frames t-1 and t over square blocks; ``motion-flow`` by the largest mean
Farneback optical-flow magnitude over blocks. Neither learns anything from the
training videos. The first frame of a video has no predecessor and takes the
second frame's score.

>>> import numpy as np
>>> from vadbench.data import FrameSource, Video
>>> frames = np.zeros((4, 32, 32), np.uint8); frames[2, :8, :8] = 255
>>> FrameDifference(block=8).score(Video("a", FrameSource.from_array(frames))).frame.round(1).tolist()
[0.0, 0.0, 255.0, 255.0]
"""

from __future__ import annotations

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from vadbench import Model, Scores
from vadbench.maps import DEFAULT_SCALES, pool_maps


class FrameDifference(Model):
    """Max over blocks of the mean absolute difference of consecutive grayscale frames."""

    family = "baseline"
    trainable = False

    def __init__(self, block: int = 16, size: tuple[int, int] | None = None, batch_size: int = 64):
        super().__init__(block=block, size=size, batch_size=batch_size)
        self.block, self.size, self.batch_size = block, size, batch_size

    def fit(self, train, ctx) -> None:
        self._shape = None  # nothing to learn: the floor uses no training data

    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        w, h = self.size or (360, 240)
        return torch.rand(batch_size, 2, h, w) * 255

    def blocks(self, pairs: torch.Tensor) -> torch.Tensor:
        """Block-wise motion energy (B, H/block, W/block) of a batch of frame pairs (B, 2, H, W)."""
        diff = (pairs[:, 1] - pairs[:, 0]).abs().unsqueeze(1)
        return F.avg_pool2d(diff, self.block, ceil_mode=True)[:, 0]

    def forward(self, pairs: torch.Tensor) -> torch.Tensor:
        """Scores of a batch of frame pairs (B, 2, H, W): one value per pair."""
        return self.blocks(pairs).flatten(1).amax(1)

    def score(self, video) -> Scores:
        frames = torch.from_numpy(video.read(gray=True, size=self.size)).float()
        if len(frames) < 2:
            return Scores(frame=np.zeros(len(frames)))
        out = []
        with torch.inference_mode():
            for start in range(1, len(frames), self.batch_size):
                stop = min(start + self.batch_size, len(frames))
                pairs = torch.stack([frames[start - 1:stop - 1], frames[start:stop]], 1)
                out.append(self.blocks(pairs))
        return _with_first_frame(torch.cat(out).numpy())


class FlowMagnitude(Model):
    """Max over blocks of the mean dense optical-flow magnitude (Farneback) between consecutive frames."""

    family = "baseline"
    trainable = False

    def __init__(self, block: int = 16, size: tuple[int, int] | None = (180, 120)):
        super().__init__(block=block, size=size)
        self.block, self.size = block, size

    def fit(self, train, ctx) -> None:
        return None

    def example_input(self, batch_size: int = 1) -> np.ndarray:
        w, h = self.size or (360, 240)
        rng = np.random.default_rng(0)
        return rng.integers(0, 255, (batch_size, 2, h, w), dtype=np.uint8)

    @staticmethod
    def magnitude(a: np.ndarray, b: np.ndarray) -> np.ndarray:
        """Dense Farneback flow magnitude (H, W) float32, in pixels, from grayscale frame ``a`` to ``b``."""
        flow = cv2.calcOpticalFlowFarneback(a, b, None, 0.5, 2, 9, 2, 5, 1.1, 0)
        return np.hypot(flow[..., 0], flow[..., 1])

    def blocks(self, pairs: np.ndarray) -> np.ndarray:
        """Block-wise mean flow magnitude (B, H/block, W/block) of frame pairs (B, 2, H, W) uint8."""
        k = self.block
        out = []
        for a, b in pairs:
            mag = self.magnitude(a, b)
            h, w = (mag.shape[0] // k) * k, (mag.shape[1] // k) * k
            out.append(mag[:h, :w].reshape(h // k, k, w // k, k).mean((1, 3)))
        return np.stack(out)

    def multiscale_maps(self, video, scales: tuple[int, ...] = DEFAULT_SCALES) -> dict[str, np.ndarray]:
        """Flow-magnitude maps ``{"1x1": (T, 1, 1), "4x4": (T, 4, 4), "16x16": (T, 16, 16)}`` float32.

        The finest map is the magnitude field area-averaged onto an n x n grid of
        the frame; each coarser map is the max-pooling of the finest, as with the
        teachers' maps, so ``motion-flow`` can be named as a student's teacher
        (a velocity target that needs no training). Frame 0 copies frame 1.

        >>> from vadbench.data import FrameSource, Video
        >>> frames = np.zeros((3, 64, 64), np.uint8); frames[:, 20:40, 10:30] = 200
        >>> frames[2] = np.roll(frames[1], 4, axis=1)
        >>> m = FlowMagnitude(size=None).multiscale_maps(Video("a", FrameSource.from_array(frames)))
        >>> {k: v.shape for k, v in m.items()}
        {'1x1': (3, 1, 1), '4x4': (3, 4, 4), '16x16': (3, 16, 16)}
        >>> bool(m["1x1"][2, 0, 0] > 1.0 > m["1x1"][1, 0, 0])
        True
        >>> bool(np.allclose(m["1x1"][:, 0, 0], m["4x4"].max((1, 2))))
        True
        """
        frames = video.read(gray=True, size=self.size)
        finest = max(scales)
        fine = np.zeros((len(frames), finest, finest), np.float32)
        for t in range(1, len(frames)):
            fine[t] = cv2.resize(self.magnitude(frames[t - 1], frames[t]), (finest, finest),
                                 interpolation=cv2.INTER_AREA)
        if len(frames) > 1:
            fine[0] = fine[1]
        return pool_maps(fine, sorted(scales))

    def forward(self, pairs: np.ndarray) -> np.ndarray:
        return self.blocks(pairs).reshape(len(pairs), -1).max(1)

    def score(self, video) -> Scores:
        frames = video.read(gray=True, size=self.size)
        if len(frames) < 2:
            return Scores(frame=np.zeros(len(frames)))
        return _with_first_frame(self.blocks(np.stack([frames[:-1], frames[1:]], 1)))


def _with_first_frame(blocks: np.ndarray) -> Scores:
    """Scores and maps of frames 1..T-1 from their block energies; frame 0 copies frame 1."""
    maps = np.concatenate([blocks[:1], blocks]).astype(np.float32)
    return Scores(frame=maps.reshape(len(maps), -1).max(1).astype(np.float64), maps=maps)
