"""CUHK Avenue (Lu, Shi, Jia, ICCV 2013).

Layout (``avenue-videos``)::

    training_videos/01.avi ... 16.avi
    testing_videos/01.avi ... 21.avi
    testing_label_mask/1_label.mat ...        pixel masks, variable volLabel
      (or ground_truth_demo/testing_label_mask/, as CUHK's ground_truth_demo.zip unpacks)
    avenue.mat or labels/avenue.mat           frame intervals, variable gt (ano_pred)

Two frame-label conventions are in use and they disagree on 441 of the 15324
test frames (15 videos):

``labels="masks"`` (the default)
    a frame is anomalous when its official pixel mask has any pixel set
    (anomalib, HF2-VAD). The default because the masks are the ground truth the
    dataset authors published, and the only one that also gives regions.
``labels="intervals"``
    the ``avenue.mat`` ranges of ano_pred / MNAD / PyAnomaly.

The choice is recorded in ``Dataset.label_source``; say which one was used when
reporting an AUC. Masks are read lazily where present (either convention),
tracks derived from them on first access (``tracks_derived=True``): Avenue has no
published tracks. Frame labels derived from masks are cached.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import DataError
from .cache import cached_array, file_stats
from .detect import LAYOUTS, check_root, detect_layout, fingerprint
from .frames import FrameSource, _natural_key
from .labels import (
    check_masks,
    derived_track_loader,
    intervals_to_labels,
    read_intervals,
    read_volume_masks,
    volume_mask_labels,
)
from .video import Dataset, Split, Video, check_labels

LABEL_CHOICES = ("masks", "intervals")


def load_avenue(root: str | os.PathLike, labels: str = "masks",
                cache_dir: str | os.PathLike | None = None) -> Dataset:
    """Load CUHK Avenue with frame labels from the pixel masks (default) or ``avenue.mat``.

    Parameters
    ----------
    root : path
        The folder holding ``training_videos/`` and ``testing_videos/``.
    labels : {"masks", "intervals"}
        The frame-label convention (see the module docstring).
    cache_dir : path, optional
        Cache root for frame labels derived from masks.
    """
    if labels not in LABEL_CHOICES:
        raise ValueError(f"labels must be one of {LABEL_CHOICES}, got {labels!r}")
    root = check_root(root)
    _, layout = detect_layout(root)
    if layout != "avenue-videos":
        raise DataError(root, f"holds the {layout} layout, not Avenue's ({LAYOUTS['avenue-videos']})")
    train = [Video(p.stem, FrameSource.from_video(p)) for p in _videos(root / "training_videos")]
    masks = _mask_folder(root)
    interval_file = _interval_file(root) if labels == "intervals" else None
    ranges = read_intervals(interval_file) if interval_file else []
    test = []
    for position, path in enumerate(_videos(root / "testing_videos")):
        source = FrameSource.from_video(path)
        vid = path.stem
        number = int(vid) if vid.isdigit() else position + 1
        mask = masks / f"{number}_label.mat"
        if interval_file is None:
            y = _mask_labels(mask, source, cache_dir)
        elif number > len(ranges):
            raise DataError(interval_file,
                            f"has {len(ranges)} entries but test video {vid} is number {number}")
        else:
            y = intervals_to_labels(ranges[number - 1], source.n_frames, interval_file)
        video = Video(vid, source, labels=y)
        if mask.is_file():
            video.mask_loader = partial(_load_masks, mask, source)
            video.track_loader = derived_track_loader(video.mask_loader)
            video.tracks_derived = True
        test.append(video)
    return Dataset(name="avenue", train=Split("avenue", "train", train, root),
                   test=Split("avenue", "test", test, root), root=root, layout=layout,
                   label_source=labels, fingerprint=fingerprint(root))


def _videos(folder: Path) -> list[Path]:
    if not folder.is_dir():
        raise DataError(folder, "folder does not exist")
    files = sorted((p for p in folder.iterdir() if p.suffix.lower() == ".avi" and not p.name.startswith(".")),
                   key=_natural_key)
    if not files:
        raise DataError(folder, "holds no .avi videos")
    return files


def _mask_folder(root: Path) -> Path:
    demo = root / "ground_truth_demo" / "testing_label_mask"
    masks = root / "testing_label_mask"
    return demo if demo.is_dir() and not masks.is_dir() else masks


def _interval_file(root: Path) -> Path:
    for path in (root / "avenue.mat", root / "labels" / "avenue.mat",
                 root / "ground_truth_demo" / "avenue.mat"):
        if path.is_file():
            return path
    raise DataError(root / "avenue.mat", "interval labels not found (also looked in labels/ and "
                                         "ground_truth_demo/); needed for labels='intervals'")


def _mask_labels(mask: Path, source: FrameSource, cache_dir) -> np.ndarray:
    if not mask.is_file():
        raise DataError(mask, "pixel masks not found (needed for labels='masks'; or use labels='intervals')")
    key = {"volume_masks": str(mask.resolve()), "files": file_stats([mask])}
    labels = cached_array("labels", key, partial(volume_mask_labels, mask), label=f"avenue_{mask.stem}",
                          cache_dir=cache_dir)
    return check_labels(np.array(labels, np.uint8), source.n_frames, mask)


def _load_masks(path: Path, source: FrameSource) -> np.ndarray:
    return check_masks(read_volume_masks(path), source.n_frames, source.frame(0, gray=True).shape, path)

