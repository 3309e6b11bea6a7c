"""Object descriptors computed from scratch: optical-flow velocity, geometry, gradient histograms, crops.

>>> import numpy as np
>>> flow = np.zeros((20, 20, 2), np.float32); flow[..., 0] = 2.0  # everything moves 2 px right
>>> velocity_hist(flow, np.ones((20, 20), np.uint8), np.array([[0, 0, 9, 9]]), bins=4).round(2).tolist()
[[2.0, 0.0, 0.0, 0.0, 2.0, 0.0, 0.0, 0.0]]
>>> hog(np.tile(np.arange(32, dtype=np.float32), (32, 1)), cells=2, bins=4).shape
(16,)
"""

from __future__ import annotations

import cv2
import numpy as np


def farneback(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Dense optical flow (H, W, 2) from ``prev`` to ``cur`` (uint8 gray), OpenCV's Farneback."""
    return cv2.calcOpticalFlowFarneback(prev, cur, None, 0.5, 3, 15, 3, 5, 1.2, 0)


_DIS: dict = {}


def dis_flow(prev: np.ndarray, cur: np.ndarray) -> np.ndarray:
    """Dense optical flow (H, W, 2) from ``prev`` to ``cur`` (uint8 gray), OpenCV's DIS (medium preset)."""
    import threading

    key = threading.get_ident()
    if key not in _DIS:
        _DIS[key] = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
    return _DIS[key].calc(prev, cur, None)


def speed_stats(flow: np.ndarray, mask: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Per box: mean, median, 90th and 99th percentile of the flow magnitude over its foreground pixels
    (N, 4).

    >>> flow = np.zeros((20, 20, 2), np.float32); flow[..., 1] = 3.0
    >>> speed_stats(flow, np.ones((20, 20), np.uint8), np.array([[0, 0, 9, 9]])).tolist()
    [[3.0, 3.0, 3.0, 3.0]]
    """
    mag = np.hypot(flow[..., 0], flow[..., 1])
    out = np.zeros((len(boxes), 4), np.float32)
    for i, box in enumerate(boxes):
        ys, xs, m = _box_pixels(mask, box)
        mg = mag[ys, xs][m]
        out[i] = (mg.mean(), *np.percentile(mg, [50, 90, 99]))
    return out


def _box_pixels(mask: np.ndarray, box) -> tuple[slice, slice, np.ndarray]:
    x0, y0, x1, y1 = (int(v) for v in box)
    sl = (slice(y0, y1 + 1), slice(x0, x1 + 1))
    m = mask[sl] > 0
    if m.sum() < 4:  # no foreground recorded: use the whole box
        m = np.ones_like(m, bool)
    return sl[0], sl[1], m


def velocity_hist(flow: np.ndarray, mask: np.ndarray, boxes: np.ndarray, bins: int = 8) -> np.ndarray:
    """Per box: magnitude-weighted histogram of flow directions over its foreground pixels.

    Returns (N, bins + bins): the first ``bins`` values are the mean (over the
    box's foreground pixels) of the flow magnitude falling in each direction
    sector; the next ``bins`` the same for the 90th-percentile-magnitude pixels
    and above (the fastest part: a cyclist's legs and wheels, not their torso).
    """
    mag, ang = cv2.cartToPolar(flow[..., 0], flow[..., 1])
    sector = np.minimum((ang / (2 * np.pi) * bins).astype(np.int64), bins - 1)
    out = np.zeros((len(boxes), 2 * bins), np.float32)
    for i, box in enumerate(boxes):
        ys, xs, m = _box_pixels(mask, box)
        mg, sc = mag[ys, xs][m], sector[ys, xs][m]
        out[i, :bins] = np.bincount(sc, weights=mg, minlength=bins)[:bins] / max(len(mg), 1)
        fast = mg >= np.percentile(mg, 90)
        out[i, bins:] = (np.bincount(sc[fast], weights=mg[fast], minlength=bins)[:bins]
                         / max(int(fast.sum()), 1))
    return out


def geometry(boxes: np.ndarray, height: int) -> np.ndarray:
    """Per box: centre x, centre y, width, height, all divided by the frame height (N, 4)."""
    b = np.asarray(boxes, np.float32).reshape(-1, 4)
    w = b[:, 2] - b[:, 0] + 1
    h = b[:, 3] - b[:, 1] + 1
    return np.stack([b[:, 0] + w / 2, b[:, 1] + h / 2, w, h], 1) / float(height)


def crop(image: np.ndarray, box, size: int, margin: float = 0.0) -> np.ndarray:
    """The box (grown by ``margin`` of its size on each side), resized to ``size`` x ``size``."""
    H, W = image.shape[:2]
    x0, y0, x1, y1 = (float(v) for v in box)
    mx, my = margin * (x1 - x0 + 1), margin * (y1 - y0 + 1)
    x0, x1 = int(max(0, np.floor(x0 - mx))), int(min(W - 1, np.ceil(x1 + mx)))
    y0, y1 = int(max(0, np.floor(y0 - my))), int(min(H - 1, np.ceil(y1 + my)))
    patch = image[y0:y1 + 1, x0:x1 + 1]
    interp = cv2.INTER_AREA if patch.shape[0] > size or patch.shape[1] > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)


def hog(patch: np.ndarray, cells: int = 4, bins: int = 8) -> np.ndarray:
    """A small histogram of oriented gradients of a square patch: ``cells x cells`` cells, unsigned
    orientations in ``bins`` sectors, magnitude-weighted, the whole vector L2-normalised."""
    p = patch.astype(np.float32)
    gx = cv2.Sobel(p, cv2.CV_32F, 1, 0, ksize=1)
    gy = cv2.Sobel(p, cv2.CV_32F, 0, 1, ksize=1)
    mag, ang = cv2.cartToPolar(gx, gy)
    sector = np.minimum((np.mod(ang, np.pi) / np.pi * bins).astype(np.int64), bins - 1)
    size = p.shape[0]
    cell = (np.arange(size) * cells // size)
    cell_id = cell[:, None] * cells + cell[None, :]
    h = np.bincount((cell_id * bins + sector).ravel(), weights=mag.ravel(), minlength=cells * cells * bins)
    return (h / (np.linalg.norm(h) + 1e-6)).astype(np.float32)


def square_crop(image: np.ndarray, box, size: int, margin: float = 0.1) -> np.ndarray:
    """A square window centred on the box (side: its longer side grown by ``margin`` on each side),
    resized to ``size`` x ``size`` float32; the object keeps its shape, borders are replicated.

    >>> img = np.zeros((40, 40), np.float32); img[10:20, 15:18] = 1
    >>> p = square_crop(img, (15, 10, 17, 19), 8, margin=0.0)
    >>> p.shape, float(p[:, 0].max()), bool(p[:, 3:5].min() > 0.8)
    ((8, 8), 0.0, True)
    """
    x0, y0, x1, y1 = (float(v) for v in box)
    side = max(x1 - x0 + 1, y1 - y0 + 1) * (1 + 2 * margin)
    side = int(max(np.ceil(side), 2))
    centre = ((x0 + x1) / 2.0, (y0 + y1) / 2.0)
    patch = cv2.getRectSubPix(np.ascontiguousarray(image, np.float32), (side, side), centre)
    interp = cv2.INTER_AREA if side > size else cv2.INTER_LINEAR
    return cv2.resize(patch, (size, size), interpolation=interp)
