"""Ped2 for the measuring scripts: through vadbench's loader when it is there, else straight from disk."""

from __future__ import annotations

import json
import os
from pathlib import Path

import cv2
import numpy as np

DEFAULT_ROOT = Path(os.environ.get("VADBENCH_DATA", Path(__file__).resolve().parents[3].parent / "shared" / "data")) \
    / "ucsd_ped2"


def load_ped2(root: str | os.PathLike = DEFAULT_ROOT):
    """(train Split, test Split) of UCSD Ped2; test videos carry labels and masks."""
    try:
        import vadbench

        ds = vadbench.create_dataset("ped2", root=str(root))
        return ds.train, ds.test
    except Exception:  # noqa: BLE001, S110 - the harness loader is missing or broken: read the layout directly
        pass
    from vadbench.data.frames import FrameSource, list_images
    from vadbench.data.video import Split, Video

    root = Path(root)
    labels = json.loads((root / "labels" / "frame_labels_ped2.json").read_text())
    train = [Video(d.name, FrameSource.from_folder(d)) for d in sorted((root / "training" / "frames").iterdir())]
    test = []
    for d in sorted((root / "testing" / "frames").iterdir()):
        mdir = root / "testing" / "gt_masks" / d.name

        def masks(mdir=mdir):
            return np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) > 0 for p in list_images(mdir)])

        test.append(Video(d.name, FrameSource.from_folder(d), labels=np.asarray(labels[d.name], np.uint8),
                          mask_loader=masks))
    return Split("ped2", "train", train, root), Split("ped2", "test", test, root)
