"""UCSD Ped1 and Ped2 (and the synthetic dataset, written in the Ped2 frame-folder layout).

Two layouts are detected automatically (:mod:`vadbench.data.detect`):

``ucsd-original`` (the UCSD tarball; ``root`` is the tarball folder or ``UCSDpedN`` itself)::

    UCSDped2/Train/Train001/001.tif ...
    UCSDped2/Test/Test001/001.tif ...
    UCSDped2/Test/Test001_gt/001.bmp ...      pixel masks (Ped1: for 10 of 36 videos)
    UCSDped2/Test/UCSDped2.m                  frame intervals, 1-based inclusive

``frame-folders`` (ano_pred, MNAD, HF2-VAD; vadbench's synthetic dataset)::

    training/frames/01/000.jpg ...
    testing/frames/01/000.jpg ...
    testing/gt_masks/01/000.png ...           optional pixel masks
    testing/tracks/01.txt                     optional region tracks
    ped2.mat or labels/ped2.mat               optional intervals (variable gt)
    labels/UCSDped2.m                         optional intervals
    labels/frame_labels.json                  optional {"01": [0, 1, ...]}

Video ids are two-digit numbers in both layouts (``Test004`` -> ``"04"``), so that
results do not depend on the layout. Entry k of a ``.m``/``.mat`` file labels
video number k.

Frame labels: with ``labels="auto"`` they come from the pixel masks when every
test video has masks, else from the interval files (``.m``, ``.mat``), else from
the JSON labels. Every source present is read and cross-checked; a
disagreement raises a :class:`DataError` naming both files. The source used is
recorded in ``Dataset.label_source``. Frame labels derived from masks are cached
(see :mod:`vadbench.data.cache`).

Masks are read lazily (``video.masks()``) and checked then against the frame
count and size. Tracks are the published ``testing/tracks/<id>.txt`` files when
there is such a folder, else derived from the masks on first access
(``tracks_derived=True``).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import DataError
from .cache import cached_array, file_stats
from .detect import LAYOUTS, check_root, detect_layout, fingerprint, ucsd_dirs
from .frames import FrameSource, _natural_key
from .labels import (
    LabelSource,
    check_masks,
    cross_check,
    derived_track_loader,
    intervals_to_labels,
    mask_files,
    mask_folder_labels,
    read_intervals,
    read_label_json,
    read_mask_folder,
    read_tracks,
)
from .video import Dataset, Split, Video

LABEL_CHOICES = ("auto", "masks", "intervals", "frame-labels")


@dataclass
class _Files:
    """Where a UCSD-style dataset's parts are, whatever the layout."""

    folder: Path
    layout: str
    train: list[tuple[str, Path]]
    test: list[tuple[str, Path]]
    masks: dict[str, Path] = field(default_factory=dict)
    intervals: list[Path] = field(default_factory=list)
    frame_labels: list[Path] = field(default_factory=list)
    tracks: Path | None = None


def load_ucsd(root: str | os.PathLike, name: str = "ped2", labels: str = "auto",
              cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load UCSD Ped2 or Ped1 (``name="ped1"``) from either layout.

    Parameters
    ----------
    root : path
        The dataset folder (or, for the original layout, the folder holding ``UCSDpedN``).
    name : str
        ``"ped2"``, ``"ped1"`` (or ``"synthetic"``): picks ``UCSDpedN`` and the label file names.
    labels : {"auto", "masks", "intervals", "frame-labels"}
        Which ground truth gives the frame labels (see the module docstring).
    cache_dir : path, optional
        Cache root for frame labels derived from masks (default :func:`~vadbench.data.cache.cache_root`).
    """
    if labels not in LABEL_CHOICES:
        raise ValueError(f"labels must be one of {LABEL_CHOICES}, got {labels!r}")
    root = check_root(root)
    detected, layout = detect_layout(root)
    if layout == "ucsd-original":
        files = _original_files(root, name)
    elif layout == "frame-folders":
        if detected in ("ped1", "ped2") and name in ("ped1", "ped2") and detected != name:
            raise DataError(root, f"holds {detected} label files; load it as {detected!r}, not {name!r}")
        files = _frame_folder_files(root, name)
    else:
        raise DataError(root, f"holds the {layout} layout ({LAYOUTS[layout]}), not a UCSD layout")
    return _build(name, files, labels, cache_dir)


# -- the two layouts -------------------------------------------------------------------------


def _numbered(folder: Path, prefix: str) -> list[tuple[str, Path]]:
    if not folder.is_dir():
        raise DataError(folder, "folder does not exist")
    pattern = re.compile(rf"^{prefix}(\d+)$", re.IGNORECASE)
    found = sorted((int(m.group(1)), p) for p in folder.iterdir()
                   if p.is_dir() and (m := pattern.match(p.name)))
    if not found:
        raise DataError(folder, f"holds no {prefix}NNN video folders")
    return [(f"{n:02d}", p) for n, p in found]


def _original_files(root: Path, name: str) -> _Files:
    dirs = ucsd_dirs(root)
    folder = dirs.get(name) or dirs.get("")
    if folder is None:
        found = ", ".join(f"UCSD{k}" for k in dirs) or "none"
        raise DataError(root, f"holds no UCSD{name} folder with Train/ and Test/ (found: {found})")
    test = _numbered(folder / "Test", "Test")
    masks = {}
    for vid, path in test:
        gt = path.with_name(path.name + "_gt")
        if gt.is_dir():
            masks[vid] = gt
    m_file = folder / "Test" / f"UCSD{name}.m"
    return _Files(folder, "ucsd-original", _numbered(folder / "Train", "Train"), test, masks,
                  intervals=[m_file] if m_file.is_file() else [])


def _subfolders(folder: Path) -> list[tuple[str, Path]]:
    if not folder.is_dir():
        raise DataError(folder, "folder does not exist")
    found = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=_natural_key)
    if not found:
        raise DataError(folder, "holds no video folders")
    return [(p.name, p) for p in found]


def _frame_folder_files(root: Path, name: str) -> _Files:
    test = _subfolders(root / "testing" / "frames")
    mask_root = root / "testing" / "gt_masks"
    masks = {vid: mask_root / vid for vid, _ in test if (mask_root / vid).is_dir()}
    labels = root / "labels"
    intervals = [p for p in (labels / f"UCSD{name}.m", root / f"UCSD{name}.m", labels / f"{name}.mat",
                             root / f"{name}.mat") if p.is_file()]
    frame_labels = [p for p in (labels / "frame_labels.json", labels / f"frame_labels_{name}.json")
                    if p.is_file()]
    tracks = root / "testing" / "tracks"
    return _Files(root, "frame-folders", _subfolders(root / "training" / "frames"), test, masks,
                  intervals, frame_labels, tracks if tracks.is_dir() else None)


# -- label sources ---------------------------------------------------------------------------


def _mask_source(files: _Files, n_frames: dict[str, int], cache_dir) -> LabelSource | None:
    if not files.masks:
        return None
    labels = {}
    for vid, folder in files.masks.items():
        paths = mask_files(folder)
        if len(paths) != n_frames[vid]:
            raise DataError(folder,
                            f"holds {len(paths)} masks for the {n_frames[vid]} frames of test video {vid}")
        key = {"mask_folder": str(folder.resolve()), "files": file_stats(paths)}
        labels[vid] = np.array(cached_array("labels", key, partial(mask_folder_labels, folder),
                                            label=f"masks_{vid}", cache_dir=cache_dir), np.uint8)
    first = next(iter(files.masks.values()))
    return LabelSource("masks", first.parent, labels, dict(files.masks)).check(n_frames)


def _interval_source(path: Path, test: list[tuple[str, Path]], n_frames: dict[str, int]) -> LabelSource:
    ranges = read_intervals(path)
    labels = {}
    for position, (vid, _) in enumerate(test):
        number = int(vid) if vid.isdigit() else position + 1
        if number > len(ranges):
            raise DataError(path, f"has {len(ranges)} entries but test video {vid} is number {number}")
        labels[vid] = intervals_to_labels(ranges[number - 1], n_frames[vid], path)
    return LabelSource("intervals", path, labels)


def _json_source(path: Path, n_frames: dict[str, int]) -> LabelSource:
    data = read_label_json(path)
    missing = [vid for vid in n_frames if vid not in data]
    if missing:
        raise DataError(path, f"has no labels for test video(s) {', '.join(missing)}")
    return LabelSource("frame-labels", path, {vid: data[vid] for vid in n_frames}).check(n_frames)


def _label_sources(files: _Files, n_frames: dict[str, int], cache_dir) -> list[LabelSource]:
    sources = [_mask_source(files, n_frames, cache_dir)]
    sources += [_interval_source(p, files.test, n_frames) for p in files.intervals]
    sources += [_json_source(p, n_frames) for p in files.frame_labels]
    return [s for s in sources if s is not None]


def _choose_labels(sources: list[LabelSource], labels: str, test_ids: list[str], where: Path) -> LabelSource:
    """The label source to use: ``labels`` is a kind, or ``"auto"`` (complete masks, intervals, JSON)."""
    complete = [s for s in sources if set(test_ids) <= s.labels.keys()]
    order = ("masks", "intervals", "frame-labels") if labels == "auto" else (labels,)
    for kind in order:
        for source in complete:
            if source.kind == kind:
                return source
    partial_masks = [s for s in sources if s.kind == "masks"]
    if labels == "masks" and partial_masks:
        missing = sorted(set(test_ids) - partial_masks[0].labels.keys())
        raise DataError(where, f"test video(s) {', '.join(missing)} have no pixel masks; use labels='auto'")
    found = ", ".join(sorted({s.kind for s in complete})) or "none"
    raise DataError(where, f"no complete frame labels of kind {' or '.join(order)} "
                           f"(found: {found}; masks, .m/.mat intervals, labels/frame_labels.json)")


# -- building the dataset --------------------------------------------------------------------


def _load_masks(folder: Path, source: FrameSource) -> np.ndarray:
    masks = read_mask_folder(folder)
    return check_masks(masks, source.n_frames, source.frame(0, gray=True).shape, folder)


def _build(name: str, files: _Files, labels: str, cache_dir) -> Dataset:
    train = [Video(vid, FrameSource.from_folder(path)) for vid, path in files.train]
    sources = {vid: FrameSource.from_folder(path) for vid, path in files.test}
    n_frames = {vid: s.n_frames for vid, s in sources.items()}
    found = _label_sources(files, n_frames, cache_dir)
    cross_check(found)
    chosen = _choose_labels(found, labels, list(sources), files.folder)
    if files.tracks is not None and not any((files.tracks / f"{vid}.txt").is_file() for vid in sources):
        raise DataError(files.tracks,
                        f"holds no track file <video>.txt for any test video ({', '.join(sources)})")
    test = []
    for vid, source in sources.items():
        video = Video(vid, source, labels=chosen.labels[vid])
        if vid in files.masks:
            video.mask_loader = partial(_load_masks, files.masks[vid], source)
        if files.tracks is not None:
            video.track_loader = partial(read_tracks, files.tracks / f"{vid}.txt", missing_ok=True)
        elif video.mask_loader is not None:  # video.has_masks
            video.track_loader = derived_track_loader(video.mask_loader)
            video.tracks_derived = True
        test.append(video)
    return Dataset(name=name, train=Split(name, "train", train, files.folder),
                   test=Split(name, "test", test, files.folder), root=files.folder, layout=files.layout,
                   label_source=chosen.kind, fingerprint=fingerprint(files.folder))
