"""ShanghaiTech Campus, pooled protocol: all 107 test videos of the 13 scenes as one test set.

Layout (``shanghaitech``)::

    training/videos/01_001.avi ...            (or training/frames/<video>/*.jpg)
    testing/frames/01_0014/000.jpg ...
    testing/test_frame_mask/01_0014.npy       frame labels (T,), 0/1
    testing/test_pixel_mask/01_0014.npy       optional pixel masks (T, H, W)

Region tracks are not part of the release; pass ``tracks=<folder>`` holding
``<video>.txt`` files in the ``track_id,frame_idx,x_min,y_min,x_max,y_max``
format (e.g. the annotations of Georgescu et al., TPAMI 2021). Without them,
tracks are derived from the pixel masks where present (``tracks_derived=True``).
Frame labels always come from ``test_frame_mask`` (``label_source="frame_mask"``);
pixel masks are checked against the frame count when the dataset is loaded (from
the ``.npy`` header) and against the frame size when read.
"""

from __future__ import annotations

import os
from functools import partial
from pathlib import Path

import numpy as np

from ..errors import DataError
from .detect import LAYOUTS, check_root, detect_layout, fingerprint
from .frames import VIDEO_EXTENSIONS, FrameSource, _natural_key
from .labels import check_masks, derived_track_loader, read_npy_labels, read_npy_masks, read_tracks
from .video import Dataset, Split, Video, check_labels


def load_shanghaitech(root: str | os.PathLike, tracks: str | os.PathLike | None = None) -> Dataset:
    """Load ShanghaiTech Campus (pooled: one test set of all test videos).

    Parameters
    ----------
    root : path
        The folder holding ``training/`` and ``testing/``.
    tracks : path, optional
        A folder of published region tracks, one ``<video>.txt`` per test video
        (a missing file means the video has no anomalous track).
    """
    root = check_root(root)
    _, layout = detect_layout(root)
    if layout != "shanghaitech":
        raise DataError(root, f"holds the {layout} layout, not ShanghaiTech's ({LAYOUTS['shanghaitech']})")
    track_dir = _track_dir(tracks)
    train = _train_videos(root)
    testing = root / "testing"
    test = []
    for folder in _subfolders(testing / "frames"):
        vid = folder.name
        source = FrameSource.from_folder(folder)
        label_file = testing / "test_frame_mask" / f"{vid}.npy"
        video = Video(vid, source,
                      labels=check_labels(read_npy_labels(label_file), source.n_frames, label_file))
        mask_file = testing / "test_pixel_mask" / f"{vid}.npy"
        if mask_file.is_file():
            _check_mask_count(mask_file, source.n_frames)
            video.mask_loader = partial(_load_masks, mask_file, source)
        if track_dir is not None:
            video.track_loader = partial(read_tracks, track_dir / f"{vid}.txt", missing_ok=True)
        elif video.mask_loader is not None:  # video.has_masks
            video.track_loader = derived_track_loader(video.mask_loader)
            video.tracks_derived = True
        test.append(video)
    if track_dir is not None and not any((track_dir / f"{v.id}.txt").is_file() for v in test):
        raise DataError(track_dir, "holds no track file <video>.txt for any test video")
    return Dataset(name="shanghaitech", train=Split("shanghaitech", "train", train, root),
                   test=Split("shanghaitech", "test", test, root), root=root, layout=layout,
                   label_source="frame_mask", fingerprint=fingerprint(root))


def _subfolders(folder: Path) -> list[Path]:
    found = sorted((p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")),
                   key=_natural_key)
    if not found:
        raise DataError(folder, "holds no video folders")
    return found


def _train_videos(root: Path) -> list[Video]:
    videos = root / "training" / "videos"
    if videos.is_dir():
        files = sorted((p for p in videos.iterdir() if p.suffix.lower() in VIDEO_EXTENSIONS
                        and not p.name.startswith(".")), key=_natural_key)
        if not files:
            raise DataError(videos, f"holds no videos ({', '.join(VIDEO_EXTENSIONS)})")
        return [Video(p.stem, FrameSource.from_video(p)) for p in files]
    frames = root / "training" / "frames"
    if frames.is_dir():
        return [Video(p.name, FrameSource.from_folder(p)) for p in _subfolders(frames)]
    raise DataError(videos, "training videos not found (nor training/frames/)")


def _track_dir(tracks) -> Path | None:
    if tracks is None:
        return None
    path = Path(tracks).expanduser()
    if not path.is_dir():
        raise DataError(path, "tracks folder does not exist")
    return path


def _check_mask_count(path: Path, n_frames: int) -> None:
    """Check a pixel-mask ``.npy`` against the frame count from its header only."""
    masks = read_npy_masks(path, mmap=True)
    if len(masks) != n_frames:
        raise DataError(path, f"has {len(masks)} masks for {n_frames} frames")


def _load_masks(path: Path, source: FrameSource) -> np.ndarray:
    return check_masks(read_npy_masks(path), source.n_frames, source.frame(0, gray=True).shape, path)

