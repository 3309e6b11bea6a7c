"""Parsers of the ground-truth files of the VAD benchmarks, and the derived ground truth.

Frame labels are uint8 arrays (1 = anomalous frame), pixel masks bool arrays
(T, H, W), tracks int64 rows ``(track_id, frame, x_min, y_min, x_max, y_max)``
(inclusive pixel boxes). Every parse error is a :class:`~vadbench.errors.DataError`
naming the file.

Formats read here:

* UCSD ``.m`` files: lines ``TestVideoFile{end+1}.gt_frame = [61:180];`` (also
  several ranges, ``[5:90, 140:200]``), one per test video; 1-based inclusive.
* Interval ``.mat`` files (``ped2.mat``, ``ped1.mat``, ``avenue.mat`` of
  ano_pred): variable ``gt``, a 1xN cell of 2xK ``[start; end]``, 1-based inclusive.
* Avenue pixel masks ``<n>_label.mat``: variable ``volLabel``, a 1xT cell of HxW uint8.
* Folders of mask images, one per frame (UCSD ``TestNNN_gt/*.bmp``, ``gt_masks/NN/*.png``).
* ShanghaiTech ``test_frame_mask/<vid>.npy`` (T,) and ``test_pixel_mask/<vid>.npy`` (T, H, W).
* Per-video JSON frame labels ``{"01": [0, 1, ...], ...}``.
* Region track text files, one ``track_id,frame_idx,x_min,y_min,x_max,y_max`` per line.

Derived ground truth (documented; results computed with derived tracks say so):

* frame labels from masks: a frame is anomalous when its mask has any pixel set;
* regions: connected components of a frame's mask (their bounding boxes);
* tracks: regions linked across frames (:func:`vadbench.metrics.region.link_tracks`).

>>> intervals_to_labels([[2, 3], [5, 5]], 6)
array([0, 1, 1, 0, 1, 0], dtype=uint8)
>>> labels_from_masks(np.array([[[0, 0]], [[0, 255]]]))
array([0, 1], dtype=uint8)
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import combinations
from pathlib import Path

import numpy as np

from ..errors import DataError
from .frames import list_images, read_image
from .video import check_labels

PathLike = str | os.PathLike

# ---------------------------------------------------------------------------------------------
# frame intervals: UCSD .m and ano_pred .mat


_M_ENTRY = re.compile(r"^TestVideoFile\s*\{\s*end\s*\+\s*1\s*\}\s*\.\s*gt_frame\s*=\s*\[(.*)\]\s*;?$")
_M_RANGE = re.compile(r"^(\d+)\s*(?::\s*(\d+))?$")


def read_ucsd_m(path: PathLike) -> list[np.ndarray]:
    """Per-video ranges of a UCSD ``.m`` file: one int64 array (K, 2) of 1-based inclusive
    ``[start, end]``."""
    path = Path(path)
    try:
        text = path.read_text(encoding="latin-1")
    except OSError as exc:
        raise DataError(path, f"cannot be read ({exc.strerror or exc})") from None
    videos = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("%", 1)[0].strip()
        if not line or re.fullmatch(r"TestVideoFile\s*=\s*\{\s*\}\s*;?", line):
            continue
        m = _M_ENTRY.match(line)
        if not m:
            raise DataError(path, f"line {lineno}: expected 'TestVideoFile{{end+1}}.gt_frame = [a:b, ...];', "
                                  f"got {raw.strip()!r}")
        ranges = []
        for part in filter(None, (p.strip() for p in m.group(1).split(","))):
            r = _M_RANGE.match(part)
            if not r:
                raise DataError(path, f"line {lineno}: {part!r} is not a range a:b")
            ranges.append((int(r.group(1)), int(r.group(2) or r.group(1))))
        videos.append(np.array(ranges, dtype=np.int64).reshape(-1, 2))
    if not videos:
        raise DataError(path, "holds no 'TestVideoFile{end+1}.gt_frame = [...]' lines")
    return videos


def _loadmat(path: Path, variable: str) -> np.ndarray:
    import scipy.io

    if not path.is_file():
        raise DataError(path, "file does not exist")
    try:
        data = scipy.io.loadmat(str(path), variable_names=[variable])
    except Exception as exc:  # noqa: BLE001 - scipy raises ValueError, MatReadError, NotImplementedError, ...
        raise DataError(path, f"cannot be read as a MATLAB .mat file ({type(exc).__name__}: {exc})") from None
    if variable not in data:
        raise DataError(path, f"has no variable {variable!r}")
    value = data[variable]
    if not (isinstance(value, np.ndarray) and value.dtype == object):
        raise DataError(path, f"variable {variable!r} is not a cell array")
    return value.reshape(-1)


def read_interval_mat(path: PathLike) -> list[np.ndarray]:
    """Per-video ranges of an ano_pred interval ``.mat`` (variable ``gt``): int64 (K, 2), 1-based
    inclusive."""
    path = Path(path)
    videos = []
    for i, cell in enumerate(_loadmat(path, "gt")):
        cell = np.asarray(cell)
        if cell.size == 0:
            videos.append(np.zeros((0, 2), np.int64))
            continue
        if cell.ndim != 2 or cell.shape[0] != 2 or not np.issubdtype(cell.dtype, np.number):
            raise DataError(path, f"gt{{{i + 1}}} has shape {cell.shape}; expected 2xK numbers [start; end]")
        videos.append(cell.T.astype(np.int64))
    return videos


def read_intervals(path: PathLike) -> list[np.ndarray]:
    """Per-video 1-based inclusive ranges of a ``.m`` or ``.mat`` interval file."""
    path = Path(path)
    if path.suffix.lower() == ".m":
        return read_ucsd_m(path)
    if path.suffix.lower() == ".mat":
        return read_interval_mat(path)
    raise DataError(path, "is neither a UCSD .m file nor an interval .mat file")


def intervals_to_labels(ranges, n_frames: int, where: PathLike = "<intervals>") -> np.ndarray:
    """Frame labels of one video from its 1-based inclusive ``[start, end]`` ranges.

    A range outside ``1..n_frames`` raises :class:`DataError` naming ``where``.
    """
    labels = np.zeros(n_frames, np.uint8)
    for start, end in np.asarray(ranges, dtype=np.int64).reshape(-1, 2):
        if not 1 <= start <= end:
            raise DataError(where, f"range {start}:{end} is not a 1-based range start <= end")
        if end > n_frames:
            raise DataError(where, f"range {start}:{end} goes past the video's {n_frames} frames")
        labels[start - 1:end] = 1
    return labels


def interval_labels(path: PathLike, n_frames: Sequence[int]) -> list[np.ndarray]:
    """Frame labels of every video of an interval file, given each video's frame count.

    >>> import tempfile, pathlib
    >>> m = pathlib.Path(tempfile.mkdtemp()) / "UCSDped2.m"
    >>> _ = m.write_text("TestVideoFile = {};\\nTestVideoFile{end+1}.gt_frame = [2:3, 5:5];\\n")
    >>> interval_labels(m, [6])
    [array([0, 1, 1, 0, 1, 0], dtype=uint8)]
    """
    ranges = read_intervals(path)
    if len(ranges) != len(n_frames):
        raise DataError(path, f"has {len(ranges)} entries for {len(n_frames)} videos")
    return [intervals_to_labels(r, n, path) for r, n in zip(ranges, n_frames, strict=True)]


# ---------------------------------------------------------------------------------------------
# pixel masks


def labels_from_masks(masks) -> np.ndarray:
    """Frame labels from pixel masks (T, H, W): 1 where a frame's mask has any pixel set."""
    masks = np.asarray(masks)
    return masks.reshape(len(masks), -1).any(axis=1).astype(np.uint8)


def read_mask_folder(folder: PathLike) -> np.ndarray:
    """A folder of mask images, one per frame in natural order, as bool (T, H, W) (pixel > 0)."""
    files = mask_files(folder)
    masks = [read_image(f, gray=True) > 0 for f in files]
    shapes = {m.shape for m in masks}
    if len(shapes) > 1:
        raise DataError(folder, f"masks differ in size: {sorted(shapes)}")
    return np.stack(masks)


def mask_files(folder: PathLike) -> list[Path]:
    """The mask images of ``folder``; a :class:`DataError` if there are none."""
    folder = Path(folder)
    if not folder.is_dir():
        raise DataError(folder, "mask folder does not exist")
    files = list_images(folder)
    if not files:
        raise DataError(folder, "mask folder holds no images")
    return files


def mask_folder_labels(folder: PathLike) -> np.ndarray:
    """Frame labels of a mask-image folder, reading one mask at a time."""
    return np.array([read_image(f, gray=True).any() for f in mask_files(folder)], np.uint8)


def _volume_cells(path: Path) -> Iterator[np.ndarray]:
    for t, cell in enumerate(_loadmat(path, "volLabel")):
        cell = np.asarray(cell)
        if cell.ndim != 2:
            raise DataError(path, f"volLabel{{{t + 1}}} has shape {cell.shape}; expected an HxW mask")
        yield cell


def read_volume_masks(path: PathLike) -> np.ndarray:
    """Avenue pixel masks ``<n>_label.mat`` (variable ``volLabel``) as bool (T, H, W)."""
    path = Path(path)
    cells = [c != 0 for c in _volume_cells(path)]
    if not cells:
        raise DataError(path, "volLabel holds no masks")
    shapes = {c.shape for c in cells}
    if len(shapes) > 1:
        raise DataError(path, f"masks differ in size: {sorted(shapes)}")
    return np.stack(cells)


def volume_mask_labels(path: PathLike) -> np.ndarray:
    """Frame labels of an Avenue ``<n>_label.mat``, without stacking the masks."""
    path = Path(path)
    labels = np.array([c.any() for c in _volume_cells(path)], np.uint8)
    if not labels.size:
        raise DataError(path, "volLabel holds no masks")
    return labels


def check_masks(masks: np.ndarray, n_frames: int, frame_shape: tuple[int, int],
                where: PathLike) -> np.ndarray:
    """``masks`` as bool (T, H, W) after checking them against the video's frame count and size."""
    masks = np.asarray(masks)
    if masks.ndim != 3:
        raise DataError(where, f"masks have shape {masks.shape}; expected (frames, height, width)")
    if len(masks) != n_frames:
        raise DataError(where, f"has {len(masks)} masks for {n_frames} frames")
    if tuple(masks.shape[1:]) != tuple(frame_shape[:2]):
        raise DataError(where, f"masks are {masks.shape[1]}x{masks.shape[2]} (HxW) but the frames are "
                               f"{frame_shape[0]}x{frame_shape[1]}")
    return masks if masks.dtype == bool else masks != 0


# ---------------------------------------------------------------------------------------------
# .npy (ShanghaiTech) and JSON frame labels


def _load_npy(path: Path, mmap: bool = False) -> np.ndarray:
    if not path.is_file():
        raise DataError(path, "file does not exist")
    try:
        return np.load(path, allow_pickle=False, mmap_mode="r" if mmap else None)
    except (OSError, ValueError, EOFError) as exc:
        raise DataError(path, f"cannot be read as a .npy array ({exc})") from None


def read_npy_labels(path: PathLike) -> np.ndarray:
    """ShanghaiTech ``test_frame_mask/<vid>.npy``: 1-D 0/1 frame labels, as uint8."""
    path = Path(path)
    labels = _load_npy(path)
    if labels.ndim != 1:
        raise DataError(path, f"frame labels have shape {labels.shape}; expected (frames,)")
    return check_labels(labels, len(labels), path)


def read_npy_masks(path: PathLike, mmap: bool = False) -> np.ndarray:
    """ShanghaiTech ``test_pixel_mask/<vid>.npy`` (T, H, W); bool, or the raw memory map if ``mmap``."""
    path = Path(path)
    masks = _load_npy(path, mmap=mmap)
    if masks.ndim != 3:
        raise DataError(path, f"pixel masks have shape {masks.shape}; expected (frames, height, width)")
    return masks if mmap else masks != 0


def read_label_json(path: PathLike) -> dict[str, np.ndarray]:
    """Per-video frame labels from JSON ``{"01": [0, 1, ...], ...}``, as uint8 arrays."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(path, f"cannot be read as JSON ({exc})") from None
    if not isinstance(data, dict):
        raise DataError(path, "expected a JSON object {video id: [0/1 per frame]}")
    out = {}
    for vid, values in data.items():
        try:
            labels = np.asarray(values, dtype=np.int64).reshape(-1)
        except (TypeError, ValueError):
            raise DataError(path, f"labels of video {vid!r} are not a list of 0/1") from None
        out[str(vid)] = check_labels(labels, len(labels), path)
    return out


# ---------------------------------------------------------------------------------------------
# tracks


def read_tracks(path: PathLike, missing_ok: bool = False) -> np.ndarray:
    """Region tracks of one video: lines ``track_id,frame_idx,x_min,y_min,x_max,y_max`` -> int64 (N, 6).

    Blank lines, ``#`` comments and a header line are skipped; frame indices are
    kept as written. With ``missing_ok`` a missing file means no tracks (0 rows).
    """
    path = Path(path)
    if missing_ok and not path.exists():
        return np.zeros((0, 6), np.int64)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataError(path, f"cannot be read ({exc})") from None
    rows = []
    for lineno, raw in enumerate(text.splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line or (lineno == 1 and line[0].isalpha()):
            continue
        parts = [p for p in re.split(r"[,\s]+", line) if p]
        try:
            values = [float(p) for p in parts]
        except ValueError:
            values = []
        if len(values) != 6 or not all(math.isfinite(v) and v == int(v) for v in values):
            raise DataError(path, f"line {lineno}: expected 6 integers track_id,frame_idx,x_min,y_min,"
                                  f"x_max,y_max, got {raw.strip()!r}")
        row = [int(v) for v in values]
        if row[1] < 0 or row[4] < row[2] or row[5] < row[3]:
            raise DataError(path, f"line {lineno}: frame < 0 or a box with max < min: {raw.strip()!r}")
        rows.append(row)
    return np.array(rows, dtype=np.int64).reshape(-1, 6)


def tracks_from_masks(masks) -> np.ndarray:
    """Derived tracks: connected components of each mask, linked across frames (int64 (N, 6))."""
    from ..metrics.region import link_tracks, regions_from_masks

    regions = regions_from_masks(np.asarray(masks, dtype=bool))
    return np.asarray(link_tracks(regions), dtype=np.int64).reshape(-1, 6)


def derived_track_loader(mask_loader: Callable[[], np.ndarray]) -> Callable[[], np.ndarray]:
    """A ``Video.track_loader`` deriving tracks from ``mask_loader()`` when first called."""
    return lambda: tracks_from_masks(mask_loader())


# ---------------------------------------------------------------------------------------------
# several label sources of one dataset


@dataclass
class LabelSource:
    """Frame labels of (some of) a dataset's test videos from one kind of ground truth.

    ``kind`` is ``"masks"``, ``"intervals"`` or ``"frame-labels"``; ``path`` the
    file read, or per video (``files``) the file or folder each video's labels come from.
    """

    kind: str
    path: Path
    labels: dict[str, np.ndarray]
    files: dict[str, Path] = field(default_factory=dict)

    def file(self, vid: str) -> Path:
        return self.files.get(vid, self.path)

    def check(self, n_frames: dict[str, int]) -> LabelSource:
        """Check every video's labels against its frame count (a DataError naming the file)."""
        for vid, labels in self.labels.items():
            self.labels[vid] = check_labels(labels, n_frames[vid], self.file(vid))
        return self


def cross_check(sources: Sequence[LabelSource]) -> None:
    """Raise a :class:`DataError` naming both files where two sources label a video differently."""
    for a, b in combinations(sources, 2):
        for vid in sorted(a.labels.keys() & b.labels.keys()):
            x, y = a.labels[vid], b.labels[vid]
            if len(x) != len(y):
                raise DataError(a.file(vid), f"gives {len(x)} frame labels for test video {vid} but "
                                             f"{b.file(vid)} gives {len(y)}")
            diff = np.flatnonzero(x != y)
            if diff.size:
                raise DataError(a.file(vid),
                                f"disagrees with {b.file(vid)} on {diff.size} of {len(x)} frames "
                                f"of test video {vid} (first at frame index {diff[0]})")
