"""Reading frames with OpenCV: folders of images and video files.

>>> import numpy as np
>>> src = FrameSource.from_array(np.arange(24, dtype=np.uint8).reshape(2, 3, 4))
>>> src.n_frames, src.read_all(gray=True, size=(2, 3)).shape
(2, (2, 3, 2))
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import cv2
import numpy as np

from ..errors import DataError

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".tif", ".tiff", ".bmp")
VIDEO_EXTENSIONS = (".avi", ".mp4", ".mkv", ".mov", ".m4v")


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Image files of ``folder`` in natural (numeric-aware) order.

    Hidden files (``._001.tif`` resource forks left by macOS archivers) are skipped.
    """
    folder = Path(folder)
    files = [p for p in folder.iterdir()
             if p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".") and p.is_file()]
    return sorted(files, key=_natural_key)


def _natural_key(p: Path):
    import re

    return [int(t) if t.isdigit() else t for t in re.split(r"(\d+)", p.name)]


def _convert(img: np.ndarray, gray: bool, size) -> np.ndarray:
    if img.ndim == 2:
        img = img if gray else cv2.cvtColor(img, cv2.COLOR_GRAY2BGR)
    elif gray:
        img = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
    if size is not None and (img.shape[1], img.shape[0]) != tuple(size):
        img = cv2.resize(img, tuple(size), interpolation=cv2.INTER_AREA)
    return img


#: What a whole file of each format ends with (after any zero or whitespace padding).
_END_MARKERS = {".jpg": (b"\xff\xd9", "truncated JPEG: no end-of-image marker"),
                ".jpeg": (b"\xff\xd9", "truncated JPEG: no end-of-image marker"),
                ".png": (b"IEND\xaeB`\x82", "truncated PNG: no IEND chunk")}
_PADDING = b"\x00 \t\r\n"
_TAIL = 4096  # bytes read from the end of a file to find its end marker


def check_complete(path: str | os.PathLike) -> None:
    r"""Raise a one-line :class:`DataError` if a JPEG or PNG file lacks its end marker (it was cut short).

    OpenCV decodes a JPEG cut in half to a grey-filled image with only a
    libjpeg warning on stderr; its missing end-of-image marker (``FF D9``, the
    last two bytes once trailing zero or whitespace padding is stripped) gives
    it away without a second decode. PNG files must end with their ``IEND``
    chunk. Other formats are not checked here (they fail to decode instead).

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "003.jpg"
    >>> _ = p.write_bytes(b"\xff\xd8 ... \xff\xd9\x00\x00"); check_complete(p)  # padded, complete
    >>> _ = p.write_bytes(b"\xff\xd8 ... cut here")
    >>> check_complete(p)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vadbench.errors.DataError: /.../003.jpg: truncated JPEG: no end-of-image marker
    """
    end = _END_MARKERS.get(os.path.splitext(str(path))[1].lower())
    if end is None:
        return
    marker, problem = end
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            f.seek(max(0, size - _TAIL))
            tail = f.read().rstrip(_PADDING)
            if not tail and size > _TAIL:  # more padding than the tail holds (rare): strip the whole file
                f.seek(0)
                tail = f.read().rstrip(_PADDING)
    except OSError:
        return  # missing or unreadable: cv2.imread reports it
    if not tail.endswith(marker):
        raise DataError(path, problem)


def read_image(path: str | os.PathLike, gray: bool = False, size=None) -> np.ndarray:
    """Decode one image file; a clear :class:`DataError` if it cannot be decoded or is truncated.

    A JPEG or PNG that decodes but lacks its end marker (:func:`check_complete`) is refused.
    """
    img = cv2.imread(str(path), cv2.IMREAD_GRAYSCALE if gray else cv2.IMREAD_COLOR)
    if img is None:
        raise DataError(path, "cannot be decoded as an image (missing, empty or corrupt)")
    check_complete(path)
    return _convert(img, gray, size)


class FrameSource:
    """Where one video's frames live: an image folder, a video file, or an array (tests)."""

    def __init__(self, path: Path, files: list[Path] | None = None, n_frames: int | None = None,
                 array: np.ndarray | None = None):
        self.path = Path(path)
        self.files = files
        self._array = array
        if files is not None:
            self.n_frames = len(files)
        elif array is not None:
            self.n_frames = len(array)
        else:
            self.n_frames = int(n_frames or 0)

    # -- constructors -------------------------------------------------------
    @classmethod
    def from_folder(cls, folder: str | os.PathLike) -> FrameSource:
        folder = Path(folder)
        if not folder.is_dir():
            raise DataError(folder, "frame folder does not exist")
        files = list_images(folder)
        if not files:
            raise DataError(folder, f"frame folder holds no images ({', '.join(IMAGE_EXTENSIONS)})")
        return cls(folder, files=files)

    @classmethod
    def from_video(cls, path: str | os.PathLike) -> FrameSource:
        path = Path(path)
        if not path.is_file():
            raise DataError(path, "video file does not exist")
        cap = cv2.VideoCapture(str(path))
        try:
            if not cap.isOpened():
                raise DataError(path, "cannot be opened as a video")
            n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT))
        finally:
            cap.release()
        if n <= 0:
            n = sum(1 for _ in _iter_capture(path))
        if n <= 0:
            raise DataError(path, "video holds no decodable frames")
        return cls(path, n_frames=n)

    @classmethod
    def from_array(cls, frames: np.ndarray, path: str = "<array>") -> FrameSource:
        return cls(Path(path), array=np.asarray(frames))

    # -- reading ------------------------------------------------------------
    @property
    def kind(self) -> str:
        return "folder" if self.files is not None else ("array" if self._array is not None else "video")

    def iter(self, gray: bool = False, size=None) -> Iterator[np.ndarray]:
        if self.files is not None:
            for f in self.files:
                yield read_image(f, gray, size)
        elif self._array is not None:
            for img in self._array:
                yield _convert(img, gray, size)
        else:
            count = 0
            for img in _iter_capture(self.path):
                if count >= self.n_frames:
                    break
                count += 1
                yield _convert(img, gray, size)
            if count < self.n_frames:
                raise DataError(self.path, f"video is truncated: decoded {count} of {self.n_frames} frames")

    def read_all(self, gray: bool = False, size=None) -> np.ndarray:
        frames = list(self.iter(gray=gray, size=size))
        shapes = {f.shape for f in frames}
        if len(shapes) > 1:
            raise DataError(self.path, f"frames differ in size: {sorted(shapes)}")
        return np.stack(frames)

    def frame(self, index: int, gray: bool = False, size=None) -> np.ndarray:
        if not 0 <= index < self.n_frames:
            raise IndexError(index)
        if self.files is not None:
            return read_image(self.files[index], gray, size)
        if self._array is not None:
            return _convert(self._array[index], gray, size)
        for i, img in enumerate(self.iter(gray=gray, size=size)):
            if i == index:
                return img
        raise DataError(self.path, f"frame {index} cannot be decoded")


def _iter_capture(path: Path) -> Iterator[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    try:
        while True:
            ok, img = cap.read()
            if not ok:
                break
            yield img
    finally:
        cap.release()
