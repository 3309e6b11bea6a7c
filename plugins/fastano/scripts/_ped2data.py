"""Ped2 for the measuring scripts, plus a validation split with pseudo-anomalies carved from training videos.

The pseudo-anomalous validation videos let a configuration (number of epochs,
frame-score reduction) be chosen with no test label in sight: three training
videos are held out (a fixed choice, ``14``, ``15``, ``16``), and in each of two
copies of each a 40-frame segment is sped up twice inside a 96x96
box (at 360x240) placed where the sped-up span moves most. Frames of the
segment are labelled anomalous; everything else normal. This imitates Ped2's
main anomaly (cyclists and skaters: objects moving several times faster than
walkers) without using any test video.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import numpy as np

from vadbench.cli import count_at_least, json_of, output_file

REPO = Path(__file__).resolve().parents[3]
DEFAULT_ROOT = Path(os.environ.get("VADBENCH_DATA", REPO.parent / "shared" / "data")) / "ucsd_ped2"
HELD_OUT = ("14", "15", "16")



def model_parser(doc: str) -> argparse.ArgumentParser:
    """The arguments every measuring script takes: a model, its config and variants, threads, seed, JSON out."""
    ap = argparse.ArgumentParser(description=doc.split("\n")[0])
    ap.add_argument("model")
    ap.add_argument("--root", default=str(DEFAULT_ROOT))
    ap.add_argument("--config", type=json_of(dict), default={}, help="JSON object of configuration overrides")
    ap.add_argument("--variants", type=json_of(list), default=[], help="JSON list of scoring variants to compare")
    ap.add_argument("--threads", type=count_at_least(1), default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", type=output_file, default=None, help="write the report here")
    return ap

def load_ped2(root=DEFAULT_ROOT):
    """(train Split, test Split) of UCSD Ped2, through vadbench's loader or straight from the folders."""
    import vadbench
    from vadbench.errors import VadbenchError

    try:
        ds = vadbench.create_dataset("ped2", root=str(root))
        return ds.train, ds.test
    except (VadbenchError, OSError, KeyError, ValueError) as exc:  # read the frame-folder layout directly
        print(f"vadbench ped2 loader failed ({exc}); reading folders", file=sys.stderr)
    from vadbench.data.frames import FrameSource
    from vadbench.data.video import Split, Video

    root = Path(root)
    labels = json.loads((root / "labels" / "frame_labels_ped2.json").read_text())
    train = [Video(d.name, FrameSource.from_folder(d)) for d in sorted((root / "training" / "frames").iterdir())]
    test = [Video(d.name, FrameSource.from_folder(d), labels=np.asarray(labels[d.name], np.uint8))
            for d in sorted((root / "testing" / "frames").iterdir())]
    return Split("ped2", "train", train, root), Split("ped2", "test", test, root)


def in_memory(split, name: str | None = None):
    """The split with every video decoded once (grayscale, native size) into memory."""
    from vadbench.data.frames import FrameSource
    from vadbench.data.video import Split, Video

    videos = [Video(v.id, FrameSource.from_array(v.read(gray=True), path=str(v.path)), labels=v.labels)
              for v in split]
    return Split(split.dataset, name or split.name, videos, split.root)


def speedup_anomaly(frames: np.ndarray, rng: np.random.Generator, length: int = 40, factor: int = 2,
                    box: int = 96) -> tuple[np.ndarray, np.ndarray]:
    """A copy of ``frames`` (T, H, W) with one sped-up box segment, and its frame labels."""
    n, h, w = frames.shape
    side = min(box, h, w)
    start = int(rng.integers(10, max(11, n - factor * length - 1)))
    src = np.minimum(start + factor * (np.arange(length)), n - 1)
    motion = np.abs(np.diff(frames[src].astype(np.float32), axis=0)).sum(0)
    # box with the most motion over the source span (integral image)
    ii = np.pad(motion, ((1, 0), (1, 0))).cumsum(0).cumsum(1)
    sums = ii[side:, side:] - ii[:-side, side:] - ii[side:, :-side] + ii[:-side, :-side]
    y, x = np.unravel_index(int(np.argmax(sums)), sums.shape)
    out = frames.copy()
    seg = np.arange(start, min(start + length, n))
    out[seg, y:y + side, x:x + side] = frames[src[:len(seg)], y:y + side, x:x + side]
    labels = np.zeros(n, np.uint8)
    labels[seg] = 1
    return out, labels


def pseudo_split(train, held_out=HELD_OUT, copies: int = 2, seed: int = 0):
    """(fit Split without ``held_out``, validation Split of pseudo-anomalous copies of ``held_out``)."""
    from vadbench.data.frames import FrameSource
    from vadbench.data.video import Split, Video

    rng = np.random.default_rng(seed)
    fit = [v for v in train if v.id not in held_out]
    val = []
    for v in train:
        if v.id not in held_out:
            continue
        frames = v.read(gray=True)
        for c in range(copies):
            out, labels = speedup_anomaly(frames, rng)
            val.append(Video(f"{v.id}_pa{c}", FrameSource.from_array(out), labels=labels))
    return Split(train.dataset, "train", fit, train.root), Split(train.dataset, "val", val, train.root)


def aucs(scores, labels) -> dict:
    """Micro and macro frame AUC (%), plain and with sigma=3 smoothing."""
    from vadbench.metrics import frame_auc

    out = {}
    for tag, sigma in (("", None), ("_s3", 3)):
        out["micro" + tag] = 100 * frame_auc(scores, labels, average="micro", sigma=sigma)
        out["macro" + tag] = 100 * frame_auc(scores, labels, average="macro", sigma=sigma, single_class="drop")
    return out
