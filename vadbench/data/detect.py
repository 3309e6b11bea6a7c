"""Which dataset layout a folder holds, and a cheap fingerprint of its files.

Layouts recognised (checked in this order):

``ucsd-original``
    The UCSD tarball: ``UCSDped1/`` or ``UCSDped2/`` holding ``Train/`` and
    ``Test/``, or such a ``UCSDpedN`` folder itself.
``shanghaitech``
    ``testing/frames/`` with ``testing/test_frame_mask/``, and ``training/videos/``
    (or ``training/frames/``).
``frame-folders``
    ``training/frames/<video>/`` and ``testing/frames/<video>/`` (ano_pred, MNAD,
    HF2-VAD; vadbench's synthetic dataset).
``avenue-videos``
    ``training_videos/*.avi`` and ``testing_videos/*.avi`` (CUHK Avenue).

>>> import tempfile, pathlib
>>> root = pathlib.Path(tempfile.mkdtemp())
>>> for d in ("training/frames/01", "testing/frames/01", "labels"):
...     (root / d).mkdir(parents=True)
>>> (root / "labels" / "ped2.mat").touch()
>>> detect_layout(root)
('ped2', 'frame-folders')
"""

from __future__ import annotations

import hashlib
import os
import re
from pathlib import Path

from ..errors import DataError

LAYOUTS = {
    "ucsd-original": "UCSDped1/ or UCSDped2/ with Train/ and Test/ (or a UCSDpedN folder itself)",
    "shanghaitech": "training/videos/ (or training/frames/), testing/frames/ and testing/test_frame_mask/",
    "frame-folders": "training/frames/ and testing/frames/",
    "avenue-videos": "training_videos/ and testing_videos/",
}

_UCSD_DIR = re.compile(r"^UCSDped(\d+)$", re.IGNORECASE)


def check_root(root: str | os.PathLike) -> Path:
    """``root`` as a Path; a :class:`DataError` if it is not an existing folder."""
    path = Path(root).expanduser()
    if not path.exists():
        raise DataError(path, "dataset folder does not exist")
    if not path.is_dir():
        raise DataError(path, "is not a folder (a dataset root is a folder)")
    return path


def ucsd_dirs(root: Path) -> dict[str, Path]:
    """The ``UCSDpedN`` folders at ``root`` (or ``root`` itself), by dataset name (``"ped2"``)."""
    found = {}
    m = _UCSD_DIR.match(root.name)
    if m and (root / "Test").is_dir():
        found[f"ped{m.group(1)}"] = root
    for child in sorted(root.iterdir()):
        m = _UCSD_DIR.match(child.name)
        if m and (child / "Test").is_dir():
            found[f"ped{m.group(1)}"] = child
    if not found and (root / "Train").is_dir() and (root / "Test").is_dir():
        found[""] = root  # a UCSDpedN folder under another name
    return found


def _frame_folder_name(root: Path) -> str | None:
    for folder in (root, root / "labels"):
        for name in ("ped2", "ped1", "avenue"):
            if (folder / f"{name}.mat").is_file() or (folder / f"UCSD{name}.m").is_file():
                return name
    return None


def detect_layout(root: str | os.PathLike) -> tuple[str | None, str]:
    """``(dataset_name, layout)`` of the dataset folder ``root``.

    ``dataset_name`` is the name the files reveal (``"ped2"``, ``"ped1"``,
    ``"avenue"``, ``"shanghaitech"``) or None when they do not say (e.g. a
    frame-folder dataset without label files). For the UCSD tarball holding
    both ``UCSDped1`` and ``UCSDped2`` it is None too: the caller picks.
    A missing folder or an unknown layout raises :class:`DataError`, the latter
    listing what was looked for.
    """
    root = check_root(root)
    ucsd = ucsd_dirs(root)
    if ucsd:
        names = [name for name in ucsd if name]
        return (names[0] if len(names) == 1 else None), "ucsd-original"
    testing = root / "testing"
    if (testing / "frames").is_dir() and (testing / "test_frame_mask").is_dir():
        return "shanghaitech", "shanghaitech"
    if (root / "training" / "frames").is_dir() and (testing / "frames").is_dir():
        return _frame_folder_name(root), "frame-folders"
    if (root / "training_videos").is_dir() and (root / "testing_videos").is_dir():
        return "avenue", "avenue-videos"
    looked = "; ".join(f"{k}: {v}" for k, v in LAYOUTS.items())
    raise DataError(root, f"holds no known dataset layout (looked for {looked})")


#: Top-level folders of a dataset folder that :func:`fingerprint` leaves out: precomputed
#: detections, attached separately and recorded as ``Dataset.detections`` (the real datasets
#: keep them outside the dataset folder, the synthetic one inside).
FINGERPRINT_SKIPS = ("detections",)


def fingerprint(root: str | os.PathLike) -> str:
    """A short hash of every file's relative path and size under ``root`` (reads no data).

    Two folders with the same fingerprint hold the same file listing; it keys
    cached models so that a model fitted on one copy of a dataset is not reused
    on a different one. A top-level ``detections/`` folder is left out
    (:data:`FINGERPRINT_SKIPS`): adding detections to a dataset (as synthetic
    generator version 2 did) keeps the fingerprint of its frames and ground truth.
    """
    root = Path(root)
    entries = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel = os.path.relpath(dirpath, root)
        if rel == ".":
            dirnames[:] = [d for d in dirnames if d not in FINGERPRINT_SKIPS]
        for name in sorted(filenames):
            try:
                size = os.stat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
            entries.append(f"{rel}/{name}\t{size}")
    return hashlib.sha1("\n".join(entries).encode()).hexdigest()[:12]
