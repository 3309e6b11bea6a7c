"""Frame input of the student: one decoder for training and testing, and the frame-triplet order.

* :func:`triplet_index` is the *only* place that decides which frames make the
  input of frame ``t``: ``[t-k, t, t+k]`` clamped to the video (the first
  frames repeat frame 0, the last frames repeat frame ``T-1``). Training and
  scoring both call it, so the channel order cannot differ between them (the
  authors' code used ``[t, t-3, t+3]`` in training and ``[t-3, t, t+3]`` in
  Avenue testing).
* :class:`FrameReader` decodes a video's frames once, at the student's input
  size. JPEG frames are decoded with OpenCV's ``IMREAD_REDUCED_*`` flags,
  which scale the DCT by 1/2, 1/4 or 1/8 inside libjpeg-turbo (much cheaper
  than a full decode followed by a resize); the largest reduction that still
  covers the target size is used, then an ``INTER_AREA`` resize to the exact
  size if needed. Other image formats and video files are decoded fully and
  resized with ``INTER_AREA``. Decoding runs in a small thread pool (OpenCV
  releases the GIL) and :meth:`FrameReader.stream` hands out the frames
  chunk by chunk, so inference on one chunk overlaps the decoding of the next.

>>> triplet_index(5, 2).tolist()
[[0, 0, 2], [0, 1, 3], [0, 2, 4], [1, 3, 4], [2, 4, 4]]
"""

from __future__ import annotations

import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import cv2
import numpy as np

JPEG = (".jpg", ".jpeg")
_REDUCED = {
    True: {1: cv2.IMREAD_GRAYSCALE, 2: cv2.IMREAD_REDUCED_GRAYSCALE_2, 4: cv2.IMREAD_REDUCED_GRAYSCALE_4,
           8: cv2.IMREAD_REDUCED_GRAYSCALE_8},
    False: {1: cv2.IMREAD_COLOR, 2: cv2.IMREAD_REDUCED_COLOR_2, 4: cv2.IMREAD_REDUCED_COLOR_4,
            8: cv2.IMREAD_REDUCED_COLOR_8},
}


def triplet_index(n_frames: int, k: int, frames: np.ndarray | None = None) -> np.ndarray:
    """Indices ``(len(frames), 3)`` of the input frames ``[t-k, t, t+k]`` of each frame ``t``, clamped."""
    t = np.arange(n_frames) if frames is None else np.asarray(frames)
    return np.clip(np.stack([t - k, t, t + k], 1), 0, max(n_frames - 1, 0))


def stack_input(frames: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """Input batch (B, C, H, W) uint8 from decoded frames (T, H, W[, 3]) and triplet indices (B, 3).

    Grayscale gives C = 3 (frames t-k, t, t+k); colour gives C = 9 (the BGR
    channels of t-k, then of t, then of t+k).
    """
    x = frames[idx]  # (B, 3, H, W) or (B, 3, H, W, 3)
    if x.ndim == 5:
        b, _, h, w, _ = x.shape
        x = x.transpose(0, 1, 4, 2, 3).reshape(b, 9, h, w)
    return np.ascontiguousarray(x)


def reduction_for(native_wh: tuple[int, int], size_wh: tuple[int, int]) -> int:
    """Largest JPEG DCT reduction (1, 2, 4, 8) whose decoded frame still covers ``size_wh``.

    >>> reduction_for((360, 240), (90, 60)), reduction_for((360, 240), (120, 80))
    (4, 2)
    >>> reduction_for((640, 360), (640, 360))
    1
    """
    w, h = native_wh
    tw, th = size_wh
    for r in (8, 4, 2):
        if -(-w // r) >= tw and -(-h // r) >= th:
            return r
    return 1


def image_size(path: Path) -> tuple[int, int]:
    """(width, height) of an image file, from its header where Pillow can read it."""
    try:
        from PIL import Image

        with Image.open(path) as im:
            return im.size
    except Exception:  # noqa: BLE001 - fall back to a full decode
        img = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
        if img is None:
            raise ValueError(f"cannot decode {path}") from None
        return img.shape[1], img.shape[0]


class FrameReader:
    """Decodes videos at a fixed size (grayscale or BGR) with a thread pool; see the module notes."""

    def __init__(self, size: tuple[int, int], gray: bool = True, threads: int = 2, chunk: int = 32,
                 reduced: bool = True):
        self.size = (int(size[0]), int(size[1]))
        self.gray = gray
        self.threads = max(1, int(threads))
        self.chunk = max(1, int(chunk))
        self.reduced = reduced
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()

    def __getstate__(self):
        state = dict(self.__dict__)
        state["_pool"], state["_lock"] = None, None
        return state

    def __setstate__(self, state):
        self.__dict__.update(state)
        self._lock = threading.Lock()

    @property
    def pool(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="fastaed-decode")
            return self._pool

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False)
            self._pool = None

    def shape(self, n: int) -> tuple[int, ...]:
        w, h = self.size
        return (n, h, w) if self.gray else (n, h, w, 3)

    # -- decoding one file ---------------------------------------------------------------
    def _plan(self, files: list[Path]) -> int:
        """The ``imread`` flag for this video's files."""
        r = 1
        if self.reduced and files and files[0].suffix.lower() in JPEG:
            r = reduction_for(image_size(files[0]), self.size)
        return _REDUCED[self.gray][r]

    def _fit(self, img: np.ndarray) -> np.ndarray:
        if img.ndim == 3 and self.gray:
            img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        elif img.ndim == 2 and not self.gray:
            img = cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
        if (img.shape[1], img.shape[0]) != self.size:
            img = cv2.resize(img, self.size, interpolation=cv2.INTER_AREA)
        return img

    def _decode_into(self, out: np.ndarray, files: list[Path], start: int, stop: int, flag: int) -> None:
        for i in range(start, stop):
            img = cv2.imread(str(files[i]), flag)
            if img is None:
                raise ValueError(f"cannot decode frame {files[i]}")
            out[i] = self._fit(img)

    # -- whole videos ----------------------------------------------------------------------
    def stream(self, video) -> tuple[np.ndarray, list[tuple[int, Future]]]:
        """Start decoding ``video``; returns the frame buffer and ``(stop, future)`` per chunk, in order.

        Frames ``[0, stop)`` are in the buffer once the chunk's future (and all
        earlier ones) are done.
        """
        n = len(video)
        out = np.empty(self.shape(n), np.uint8)
        files = getattr(video.source, "files", None)
        if files:
            flag = self._plan(files)
            futs = []
            for s in range(0, n, self.chunk):
                e = min(n, s + self.chunk)
                futs.append((e, self.pool.submit(self._decode_into, out, files, s, e, flag)))
            return out, futs

        def sequential():  # video file or array: one decoder, in order
            for i, img in enumerate(video.frames(gray=self.gray)):
                out[i] = self._fit(img)

        return out, [(n, self.pool.submit(sequential))]

    def read(self, video) -> np.ndarray:
        """All frames of ``video`` (T, H, W) or (T, H, W, 3) uint8."""
        out, futs = self.stream(video)
        for _, f in futs:
            f.result()
        return out
