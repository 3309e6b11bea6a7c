"""The data model every loader produces: :class:`Video`, :class:`Split`, :class:`Dataset`.

A :class:`Video` knows where its frames are (a folder of images or a video file)
and reads them lazily with OpenCV. Test videos carry their ground truth: frame
labels (0 normal, 1 anomalous), optionally pixel masks, and regions/tracks
(boxes in inclusive pixel coordinates).

>>> import numpy as np
>>> v = Video("01", FrameSource.from_array(np.zeros((3, 4, 5), np.uint8)), labels=np.array([0, 1, 0]))
>>> len(v), v.read(gray=True).shape, v.read().shape, int(v.labels.sum())
(3, (3, 4, 5), (3, 4, 5, 3), 1)
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import DataError
from .detections import detection_counts
from .frames import FrameSource

Size = tuple[int, int]  # (width, height), as OpenCV takes it


@dataclass
class Video:
    """One video: lazily read frames plus whatever ground truth the dataset has.

    Attributes
    ----------
    id : str
        The video's name within its split (``"01"``, ``"01_0014"``); used as the
        key of its scores in result files.
    source : FrameSource
        Where the frames come from.
    labels : ndarray of uint8, shape (T,), or None
        Frame-level ground truth of a test video.
    mask_loader : callable or None
        ``mask_loader()`` returns the pixel masks as a bool array (T, H, W).
    tracks : ndarray of int64 rows ``(track_id, frame, x_min, y_min, x_max, y_max)`` or None
        Ground-truth anomalous regions linked into tracks. Given directly, or
        computed on first access by ``track_loader`` (loaders pass a loader so
        that loading a dataset reads no track file and derives nothing).
    tracks_derived : bool
        True when ``tracks`` were derived from the pixel masks rather than
        published annotations; results computed with them say so.
    track_loader : callable or None
        ``track_loader()`` returns the tracks; called once, on first access of ``tracks``.
    detection_loader : callable or None
        ``detection_loader()`` returns the precomputed object detections (see
        :meth:`detections` and :mod:`vadbench.data.detections`).
    """

    id: str
    source: FrameSource
    labels: np.ndarray | None = None
    mask_loader: Callable[[], np.ndarray] | None = None
    tracks: np.ndarray | None = field(default=None, repr=False)
    tracks_derived: bool = False
    meta: dict = field(default_factory=dict)
    track_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)
    detection_loader: Callable[[], np.ndarray] | None = field(default=None, repr=False, compare=False)

    def __len__(self) -> int:
        return self.source.n_frames

    @property
    def n_frames(self) -> int:
        return self.source.n_frames

    @property
    def path(self) -> Path:
        return self.source.path

    def frames(self, gray: bool = False, size: Size | None = None) -> Iterator[np.ndarray]:
        """Yield the frames one by one as uint8 arrays (H, W) if ``gray`` else (H, W, 3) BGR."""
        return self.source.iter(gray=gray, size=size)

    def read(self, gray: bool = False, size: Size | None = None) -> np.ndarray:
        """All frames as one uint8 array (T, H, W) or (T, H, W, 3)."""
        return self.source.read_all(gray=gray, size=size)

    def masks(self) -> np.ndarray | None:
        """Pixel masks (T, H, W) bool, or None where the dataset has none."""
        if self.mask_loader is None:
            return None
        return self.mask_loader()

    @property
    def has_masks(self) -> bool:
        return self.mask_loader is not None

    def detections(self) -> np.ndarray | None:
        """Precomputed object boxes, or None where the dataset has none.

        A read-only float32 array (N, 5) of rows ``(frame, x1, y1, x2, y2)``: the
        frame index within this video, then the box in pixels of the original
        frame; sorted by frame. The split's box file is read on the first call.

        >>> v = Video("01", FrameSource.from_array(np.zeros((2, 4, 4), np.uint8)),
        ...           detection_loader=lambda: np.array([[1, 0, 0, 2, 3]], np.float32))
        >>> v.has_detections, v.detections().tolist()
        (True, [[1.0, 0.0, 0.0, 2.0, 3.0]])
        """
        if self.detection_loader is None:
            return None
        return self.detection_loader()

    @property
    def has_detections(self) -> bool:
        """Whether :meth:`detections` gives boxes; reads nothing."""
        return self.detection_loader is not None

    @property
    def has_tracks(self) -> bool:
        """Whether ``tracks`` is (or will be, on first access) an array; reads nothing."""
        return _stored_tracks(self) is not None or self.track_loader is not None

    def unlabelled(self) -> Video:
        """This video as a model may see it: the same id, frames, ``meta`` and detections, no ground truth.

        Labels, masks and tracks are None (nothing is read or derived); the runner
        hands models this view of every test video.

        >>> v = Video("01", FrameSource.from_array(np.zeros((2, 4, 4), np.uint8)), labels=np.array([0, 1]),
        ...           mask_loader=lambda: np.ones((2, 4, 4), bool), tracks=np.zeros((1, 6), np.int64))
        >>> u = v.unlabelled()
        >>> (u.id, len(u), u.labels, u.masks(), u.tracks, u.has_tracks, u.source is v.source)
        ('01', 2, None, None, None, False, True)
        """
        return Video(self.id, self.source, meta=dict(self.meta), detection_loader=self.detection_loader)


# ``_tracks`` is an attribute of no field: the type checker does not see it, hence ``Any`` below
def _stored_tracks(self: Any) -> np.ndarray | None:
    return self._tracks


def _get_tracks(self: Any) -> np.ndarray | None:
    if self._tracks is None and self.track_loader is not None:
        self._tracks = self.track_loader()
        self.track_loader = None
    return self._tracks


def _set_tracks(self: Any, value: np.ndarray | None) -> None:
    self._tracks = value


# ``tracks`` stays a dataclass field (``Video(..., tracks=rows)`` works) but is backed by a
# property, so that tracks given as ``track_loader`` are read or derived on first access only.
Video.tracks = property(  # type: ignore[assignment]  # a field whose attribute is a property, on purpose
    _get_tracks, _set_tracks, doc="Ground-truth tracks (see the class docstring).")


@dataclass
class Split:
    """The train or test videos of a dataset."""

    dataset: str
    name: str  # "train" or "test"
    videos: list[Video]
    root: Path | None = None

    def __len__(self) -> int:
        return len(self.videos)

    def __iter__(self) -> Iterator[Video]:
        return iter(self.videos)

    def __getitem__(self, key: int | str) -> Video:
        if isinstance(key, str):
            for v in self.videos:
                if v.id == key:
                    return v
            raise KeyError(key)
        return self.videos[key]

    @property
    def n_frames(self) -> int:
        return sum(len(v) for v in self.videos)

    def labels(self) -> list[np.ndarray]:
        """Frame labels of every video, in order (raises if a video has none)."""
        out = []
        for v in self.videos:
            if v.labels is None:
                raise ValueError(f"video {v.id} of {self.dataset}/{self.name} has no frame labels")
            out.append(v.labels)
        return out


@dataclass
class Dataset:
    """A benchmark: its splits plus the evaluation conventions the literature uses on it.

    ``conventions`` holds the defaults of :func:`vadbench.metrics.evaluate` for
    this dataset (e.g. ``{"sigma": 3}``) and ``label_source`` says which ground
    truth the frame labels come from (e.g. ``"masks"`` or ``"intervals"``); both
    are recorded with every result. ``detections`` is the folder of the attached
    precomputed object detections (:mod:`vadbench.data.detections`), or None.
    """

    name: str
    train: Split
    test: Split
    root: Path | None = None
    layout: str = ""
    label_source: str = ""
    conventions: dict = field(default_factory=dict)
    fingerprint: str = ""
    detections: str | None = None

    def summary(self) -> dict:
        """Counts a user checks a benchmark folder against (cheap: reads no box file)."""
        test = self.test
        anomalous = sum(int(np.asarray(v.labels).sum()) for v in test if v.labels is not None)
        return {
            "dataset": self.name,
            "root": str(self.root) if self.root else None,
            "layout": self.layout,
            "label_source": self.label_source,
            "train_videos": len(self.train),
            "test_videos": len(test),
            "train_frames": self.train.n_frames,
            "test_frames": test.n_frames,
            "anomalous_test_frames": anomalous,
            "test_videos_with_masks": sum(v.has_masks for v in test),
            "test_videos_with_tracks": sum(v.has_tracks for v in test),
            "tracks_derived": any(v.tracks_derived for v in test),
            "detections": self.detections,
        }

    def detection_summary(self) -> dict:
        """Per split, frames with at least one box, boxes and mean boxes per frame (reads the box files).

        Keys ``<split>_frames_with_boxes``, ``<split>_boxes``, ``<split>_boxes_per_frame``
        (over all the split's frames); a split without detections is left out, so
        ``{}`` when the dataset has none.
        """
        out = {}
        for split in (self.train, self.test):
            counts = detection_counts(split.videos)
            if counts is not None:
                out.update({f"{split.name}_frames_with_boxes": counts["frames_with_boxes"],
                            f"{split.name}_boxes": counts["boxes"],
                            f"{split.name}_boxes_per_frame": counts["boxes_per_frame"]})
        return out


def check_labels(labels: np.ndarray, n_frames: int, where: str | Path) -> np.ndarray:
    """Validate one video's frame labels against its frame count; return them as uint8."""
    labels = np.asarray(labels).reshape(-1)
    if len(labels) != n_frames:
        raise DataError(where, f"has {len(labels)} frame labels for {n_frames} frames")
    if labels.size and not np.isin(labels, (0, 1)).all():
        raise DataError(where, "frame labels must be 0 or 1")
    return labels.astype(np.uint8)


def concat_ids(videos: Sequence[Video]) -> list[str]:
    return [v.id for v in videos]
