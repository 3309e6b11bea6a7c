"""Precomputed object detections: boxes of a detector's output, stored next to a dataset.

A detections folder holds, per split, ``training.csv`` / ``testing.csv`` and an
optional ``index.json``::

    frame_index,x1,y1,x2,y2
    0,220.922,121.263,230.784,148.719

One row per box. ``frame_index`` is 0-based in the split's frames **concatenated
in video order** (the split's videos in their order, frames in order within each
video); ``x1,y1,x2,y2`` are pixels of the original frame, top-left origin
(``x2`` >= ``x1``, ``y2`` >= ``y1``). ``index.json`` gives, per split
(``"training"``, ``"testing"``), ``n_frames``, ``n_boxes`` and ``videos``
(``{video id: frame count}``, or null where not recorded); when present it is
checked against the split. The real Ped2 and Avenue files are described in
``detections/SOURCE.md`` of the data folder; the synthetic dataset writes its own.

Where a dataset's detections are looked up (:func:`find_detections`): an explicit
folder, else ``<root>/detections/``, else ``<root>/../detections/<root name>/``
(so ``data/ucsd_ped2`` pairs with ``data/detections/ucsd_ped2``).
:func:`attach_detections` gives every :class:`~vadbench.data.Video` a lazy loader;
a split's CSV is read once, on the first ``video.detections()`` of that split.

Every row of the real Ped2 and Avenue files lies within the frame
(``0 <= x1``, ``x2 <= width``, likewise for y); a box may reach at most
:data:`EDGE_TOLERANCE` pixel beyond the frame on any side, anything farther is refused.

>>> import tempfile, pathlib
>>> path = pathlib.Path(tempfile.mkdtemp()) / "testing.csv"
>>> _ = path.write_text("frame_index,x1,y1,x2,y2\\n0,1,2,10,20\\n2,5,5,8,9\\n2,0,0,4,4\\n")
>>> boxes = read_detections(path, [("01", 2), ("02", 1)], (32, 24), {"n_frames": 3, "videos": None})
>>> boxes["01"].tolist(), boxes["02"].tolist()
([[0.0, 1.0, 2.0, 10.0, 20.0]], [[0.0, 5.0, 5.0, 8.0, 9.0], [0.0, 0.0, 0.0, 4.0, 4.0]])
>>> try:
...     read_detections(path, [("01", 5)], (32, 24), {"n_frames": 3})
... except DataError as e:
...     print(e.problem)
index.json gives n_frames=3 but the split's 1 video(s) hold 5 frames
"""

from __future__ import annotations

import json
import os
from functools import partial
from pathlib import Path
from typing import NoReturn

import numpy as np

from ..errors import DataError

__all__ = ["EDGE_TOLERANCE", "HEADER", "SPLIT_FILES", "attach_detections", "detection_counts",
           "find_detections", "read_detections", "read_index"]

HEADER = "frame_index,x1,y1,x2,y2"
#: How far (pixels) a box may reach beyond the frame's edges.
EDGE_TOLERANCE = 1.0
#: Split name -> file stem of its detections.
SPLIT_FILES = {"train": "training", "test": "testing"}


# -- reading -----------------------------------------------------------------------------------


def read_detections(csv_path: str | os.PathLike, videos: list[tuple[str, int]], frame_size: tuple[int, int],
                    index: dict | None = None) -> dict[str, np.ndarray]:
    """Read one split's boxes and map them onto its videos.

    Parameters
    ----------
    csv_path : path
        The split's ``training.csv`` or ``testing.csv``.
    videos : list of (video id, frame count)
        The split's videos in concatenation order.
    frame_size : (width, height)
        The original frame size; boxes must lie within it (see :data:`EDGE_TOLERANCE`).
    index : dict, optional
        The split's entry of ``index.json`` (``n_frames``, ``n_boxes``, ``videos``).

    Returns
    -------
    dict of str to ndarray of float32, shape (N, 5)
        Per video id, rows ``(frame_in_video, x1, y1, x2, y2)`` sorted by frame
        (the file's order within a frame); a video without boxes gets shape (0, 5).

    Raises
    ------
    DataError
        One line naming ``csv_path``: a wrong header, a malformed, non-finite,
        inverted or out-of-frame row, a frame index that is not an integer in
        ``[0, n_frames)`` (each with its line number), or disagreement with ``index``.
    """
    path = Path(csv_path)
    n_frames = check_index(path, index, videos)
    rows = _parse(path)
    if index is not None and index.get("n_boxes") is not None and int(index["n_boxes"]) != len(rows):
        raise DataError(path, f"holds {len(rows)} boxes but index.json gives n_boxes={index['n_boxes']}")
    _check_rows(path, rows, n_frames, frame_size)
    return _split_by_video(rows, videos)


def check_index(where: str | os.PathLike, index: dict | None, videos: list[tuple[str, int]],
                source: str = "index.json") -> int:
    """Check a split's ``index.json`` entry against its videos; return the split's frame count.

    Errors name ``where`` and say ``source`` (what ``index`` is) gives the wrong counts.
    """
    total = sum(int(n) for _, n in videos)
    if index is None:
        return total
    if not isinstance(index, dict):
        raise DataError(where, f"{source} must be an object, got {type(index).__name__}")
    if index.get("n_frames") is not None and int(index["n_frames"]) != total:
        raise DataError(where, f"{source} gives n_frames={index['n_frames']} but the split's "
                               f"{len(videos)} video(s) hold {total} frames")
    listed = index.get("videos")
    if listed is None:
        return total
    found = {vid: int(n) for vid, n in videos}
    for vid, n in found.items():
        if vid not in listed:
            raise DataError(where,
                            f"{source} lists no video {vid!r} (it lists {', '.join(listed) or 'none'})")
        if int(listed[vid]) != n:
            raise DataError(where, f"{source} gives video {vid!r} {listed[vid]} frames but it has {n}")
    extra = [vid for vid in listed if vid not in found]
    if extra:
        raise DataError(where, f"{source} lists video(s) {', '.join(extra)} that the split lacks")
    if list(listed) != list(found):
        raise DataError(where, f"{source} lists the videos in another order than the split "
                               f"({', '.join(listed)} vs {', '.join(found)})")
    return total


def read_index(folder: str | os.PathLike) -> dict | None:
    """``<folder>/index.json`` as a dict (None when absent); a DataError when it is not a JSON object."""
    path = Path(folder) / "index.json"
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as e:
        raise DataError(path, f"cannot be read as JSON ({e})") from None
    if not isinstance(data, dict):
        raise DataError(path, "must hold a JSON object keyed by split (training, testing)")
    return data


def _parse(path: Path) -> np.ndarray:
    """The rows of ``path`` as float64 (n, 5); row i is line i + 2 of the file."""
    try:
        lines = path.read_text().lstrip("\ufeff").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise DataError(path, f"cannot be read as text ({e})") from None
    while lines and not lines[-1].strip():
        lines.pop()
    header = lines[0].replace(" ", "").strip() if lines else ""
    if header != HEADER:
        raise DataError(path, f"line 1: header must be {HEADER!r}, got {header[:60]!r}")
    body = lines[1:]
    if not body:
        return np.zeros((0, 5))
    try:
        rows = np.loadtxt(body, delimiter=",", comments=None, dtype=np.float64, ndmin=2)
    except ValueError:
        rows = None
    if rows is None or rows.shape != (len(body), 5):
        _raise_first_bad_line(path, body)
    return rows


def _raise_first_bad_line(path: Path, body: list[str]) -> NoReturn:
    for number, line in enumerate(body, start=2):
        fields = line.split(",")
        if len(fields) != 5:
            raise DataError(path,
                            f"line {number}: expected 5 comma-separated fields ({HEADER}), got {len(fields)}")
        for value in fields:
            try:
                float(value)
            except ValueError:
                raise DataError(path, f"line {number}: {value.strip()!r} is not a number") from None
    raise DataError(path, "cannot be parsed as rows of 5 numbers")  # pragma: no cover


def _check_rows(path: Path, rows: np.ndarray, n_frames: int, frame_size: tuple[int, int]) -> None:
    width, height = (float(v) for v in frame_size)
    f, x1, y1, x2, y2 = rows.T
    tol = EDGE_TOLERANCE
    checks = (
        (~np.isfinite(rows).all(axis=1), "holds a non-finite value"),
        (f != np.floor(f), "frame_index is not an integer"),
        ((f < 0) | (f >= n_frames), f"frame_index is outside [0, {n_frames}) (the split's frames)"),
        ((x2 < x1) | (y2 < y1), "inverted box (x2 < x1 or y2 < y1)"),
        ((x1 < -tol) | (y1 < -tol) | (x2 > width + tol) | (y2 > height + tol),
         f"box lies outside the {width:g}x{height:g} frame (by more than {tol:g} px)"),
    )
    with np.errstate(invalid="ignore"):
        for bad, problem in checks:
            if bad.any():
                i = int(np.argmax(bad))
                row = ",".join(f"{v:g}" for v in rows[i])
                raise DataError(path, f"line {i + 2}: {problem}: {row}")


def _split_by_video(rows: np.ndarray, videos: list[tuple[str, int]]) -> dict[str, np.ndarray]:
    rows = rows[np.argsort(rows[:, 0], kind="stable")]
    counts = np.array([int(n) for _, n in videos], np.int64)
    firsts: np.ndarray = np.cumsum(counts) - counts  # each video's first frame in the concatenation
    bounds = np.asarray(np.r_[firsts, firsts[-1:] + counts[-1:]])  # each video's first frame, then the end
    cuts = np.searchsorted(rows[:, 0], bounds, side="left")
    out = {}
    for k, (vid, _) in enumerate(videos):
        part = rows[cuts[k]:cuts[k + 1]].astype(np.float32)
        part[:, 0] -= firsts[k]
        part.flags.writeable = False
        out[vid] = part
    return out


# -- finding and attaching ------------------------------------------------------------------


def _holds_files(folder: Path) -> bool:
    return any((folder / f"{stem}.csv").is_file() for stem in SPLIT_FILES.values())


def find_detections(dataset_root: str | os.PathLike | None,
                    explicit: str | os.PathLike | None = None) -> Path | None:
    """The folder holding ``training.csv``/``testing.csv`` for the dataset at ``dataset_root``.

    ``explicit`` (a folder) wins and must hold at least one of them; else the first
    of ``<root>/detections/`` and ``<root>/../detections/<root name>/`` that does;
    None when neither does.

    >>> find_detections("/nonexistent/ucsd_ped2") is None
    True
    """
    if explicit is not None:
        folder = Path(explicit).expanduser()
        if not folder.is_dir():
            raise DataError(folder, "detections folder does not exist")
        if not _holds_files(folder):
            raise DataError(folder, "detections folder holds neither training.csv nor testing.csv")
        return folder
    if dataset_root is None:
        return None
    root = Path(dataset_root).expanduser()
    for folder in (root / "detections", root.parent / "detections" / root.name):
        if folder.is_dir() and _holds_files(folder):
            return folder
    return None


class _SplitReader:
    """Reads one split's CSV on first call and keeps the per-video arrays."""

    def __init__(self, path: Path, videos: list[tuple[str, int]], first_video, index: dict | None):
        self.path, self.videos, self.first_video, self.index = path, videos, first_video, index
        self._boxes: dict[str, np.ndarray] | None = None

    def __call__(self) -> dict[str, np.ndarray]:
        if self._boxes is None:
            height, width = self.first_video.source.frame(0, gray=True).shape[:2]
            self._boxes = read_detections(self.path, self.videos, (width, height), self.index)
        return self._boxes


def _video_boxes(reader: _SplitReader, vid: str) -> np.ndarray:
    return reader()[vid]


def attach_detections(dataset, folder: str | os.PathLike):
    """Give every video of ``dataset`` a lazy loader of its boxes from ``folder``; return ``dataset``.

    ``training.csv`` goes with ``dataset.train``, ``testing.csv`` with
    ``dataset.test``; a split without its file has no detections. ``index.json``
    (when present) is checked against the split's frame counts now; the CSV
    files are read on first use. Sets ``dataset.detections`` to the folder.
    """
    folder = Path(folder)
    index = read_index(folder)
    for split_name, stem in SPLIT_FILES.items():
        split = getattr(dataset, split_name)
        path = folder / f"{stem}.csv"
        if not path.is_file() or not len(split):
            continue
        videos = [(v.id, v.n_frames) for v in split]
        entry = index.get(stem) if index is not None else None
        try:
            check_index(folder / "index.json", entry, videos, source=f"its {stem!r} entry")
        except DataError as e:
            raise DataError(e.path, f"{e.problem} (not this dataset's detections? detections='none' "
                                    "or --detections none loads it without)") from None
        reader = _SplitReader(path, videos, split.videos[0], entry)
        for video in split:
            video.detection_loader = partial(_video_boxes, reader, video.id)
    dataset.detections = str(folder)
    return dataset


def detection_counts(videos) -> dict | None:
    """``{"frames", "frames_with_boxes", "boxes", "boxes_per_frame"}`` of videos with detections (reads them).

    None when no video has detections.
    """
    videos = [v for v in videos if v.has_detections]
    if not videos:
        return None
    frames = sum(v.n_frames for v in videos)
    boxes = covered = 0
    for v in videos:
        rows = v.detections()
        boxes += len(rows)
        covered += len(np.unique(rows[:, 0]))
    return {"frames": frames, "frames_with_boxes": covered, "boxes": boxes,
            "boxes_per_frame": round(boxes / max(frames, 1), 3)}
