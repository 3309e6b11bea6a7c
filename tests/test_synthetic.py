"""The synthetic dataset generator: determinism, layout, ground truth, difficulty."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from vadbench.data import synthetic
from vadbench.data.synthetic import KINDS, ensure, frame_difference_scores, generate

TINY = {"n_train": 1, "n_test": 2, "n_frames": 30, "width": 96, "height": 64}
# big enough for every anomaly kind and a stable frame-difference AUC, small enough to be fast
SMALL = {"n_train": 2, "n_test": 5, "n_frames": 60, "width": 160, "height": 112}


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> Path:
    return generate(tmp_path_factory.mktemp("syn") / "small", seed=0, **SMALL)


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _read_gray(folder: Path) -> np.ndarray:
    return np.stack([cv2.imread(str(p), cv2.IMREAD_GRAYSCALE) for p in sorted(folder.glob("*.jpg"))])


def _tracks(path: Path) -> np.ndarray:
    text = path.read_text().strip()
    if not text:
        return np.zeros((0, 6), np.int64)
    return np.array([[int(v) for v in line.split(",")] for line in text.splitlines()], np.int64)


def test_same_seed_identical_other_seed_different(tmp_path):
    a = _files(generate(tmp_path / "a", seed=3, **TINY))
    b = _files(generate(tmp_path / "b", seed=3, **TINY))
    c = _files(generate(tmp_path / "c", seed=4, **TINY))
    assert a.keys() == b.keys() == c.keys()
    # masks, labels, tracks, description: byte-identical; frames: identical decoded pixels
    for name in a:
        if not name.endswith(".jpg"):
            assert a[name] == b[name], name
    for split, vid in (("training", "01"), ("testing", "01"), ("testing", "02")):
        fa = _read_gray(tmp_path / "a" / split / "frames" / vid)
        fb = _read_gray(tmp_path / "b" / split / "frames" / vid)
        fc = _read_gray(tmp_path / "c" / split / "frames" / vid)
        assert np.array_equal(fa, fb)
        assert not np.array_equal(fa, fc)
    assert a["labels/frame_labels.json"] != c["labels/frame_labels.json"]


def test_layout_and_counts(small):
    T = SMALL["n_frames"]
    assert (small / ".complete").is_file() and (small / "SYNTHETIC.md").is_file()
    assert sorted(p.name for p in (small / "training" / "frames").iterdir()) == ["01", "02"]
    test_ids = [f"{i:02d}" for i in range(1, SMALL["n_test"] + 1)]
    assert sorted(p.name for p in (small / "testing" / "frames").iterdir()) == test_ids
    names = [f"{i:03d}" for i in range(T)]
    for vid in ("01", "02"):
        assert [p.stem for p in sorted((small / "training" / "frames" / vid).iterdir())] == names
    labels = json.loads((small / "labels" / "frame_labels.json").read_text())
    assert sorted(labels) == test_ids
    for vid in test_ids:
        frames = sorted((small / "testing" / "frames" / vid).iterdir())
        masks = sorted((small / "testing" / "gt_masks" / vid).iterdir())
        assert [p.name for p in frames] == [n + ".jpg" for n in names]
        assert [p.name for p in masks] == [n + ".png" for n in names]
        assert (small / "testing" / "tracks" / f"{vid}.txt").is_file()
        assert len(labels[vid]) == T
    img = cv2.imread(str(small / "testing" / "frames" / "01" / "000.jpg"), cv2.IMREAD_UNCHANGED)
    assert img.shape[:2] == (SMALL["height"], SMALL["width"]) and img.dtype == np.uint8
    events = json.loads((small / "labels" / "events.json").read_text())
    assert {e["kind"] for evs in events.values() for e in evs} == set(KINDS)
    for evs in events.values():
        assert 1 <= len(evs) <= 2 and len({e["kind"] for e in evs}) == len(evs)


def test_masks_labels_and_tracks_agree(small):
    labels = json.loads((small / "labels" / "frame_labels.json").read_text())
    for vid, lab in labels.items():
        lab = np.array(lab)
        assert 0 < lab.sum() < len(lab), f"video {vid} must hold normal and anomalous frames"
        masks = np.stack([cv2.imread(str(p), cv2.IMREAD_UNCHANGED)
                          for p in sorted((small / "testing" / "gt_masks" / vid).glob("*.png"))])
        assert masks.dtype == np.uint8 and masks.ndim == 3
        assert set(np.unique(masks)) <= {0, 255}
        assert np.array_equal(masks.reshape(len(masks), -1).any(axis=1).astype(int), lab)
        rows = _tracks(small / "testing" / "tracks" / f"{vid}.txt")
        assert len(rows) and rows.shape[1] == 6
        # sorted by track then frame, ids contiguous from 0, one row per track and frame
        assert np.array_equal(rows[np.lexsort((rows[:, 1], rows[:, 0]))], rows)
        assert np.array_equal(np.unique(rows[:, 0]), np.arange(rows[:, 0].max() + 1))
        assert len(np.unique(rows[:, :2], axis=0)) == len(rows)
        assert np.array_equal(np.unique(rows[:, 1]), np.flatnonzero(lab))
        for t in np.flatnonzero(lab):
            ys, xs = np.nonzero(masks[t])
            r = rows[rows[:, 1] == t]
            assert (r[:, 2] <= r[:, 4]).all() and (r[:, 3] <= r[:, 5]).all()
            union = (r[:, 2].min(), r[:, 3].min(), r[:, 4].max(), r[:, 5].max())
            assert union == (xs.min(), ys.min(), xs.max(), ys.max())
            covered = np.zeros_like(masks[t], bool)
            for _, _, x0, y0, x1, y1 in r:
                covered[y0:y1 + 1, x0:x1 + 1] = True
            assert covered[masks[t] > 0].all()


def test_frame_difference_baseline_is_informative_but_not_perfect(small):
    labels = json.loads((small / "labels" / "frame_labels.json").read_text())
    scores = [frame_difference_scores(_read_gray(small / "testing" / "frames" / vid)) for vid in labels]
    auc = roc_auc_score(np.concatenate([labels[v] for v in labels]), np.concatenate(scores))
    assert 0.55 < auc < 0.97, auc


def test_ensure_caches_and_regenerates_incomplete(tmp_path):
    path = ensure(tmp_path, seed=2, **TINY)
    assert path.parent == tmp_path and path.name.startswith("synthetic-s2-")
    assert (path / ".complete").is_file()
    stamp = (path / ".complete").stat().st_mtime_ns
    assert ensure(tmp_path, seed=2, **TINY) == path
    assert (path / ".complete").stat().st_mtime_ns == stamp  # not regenerated
    assert ensure(tmp_path, seed=2, **{**TINY, "n_frames": 20}) != path
    assert synthetic.cache_name(0) == synthetic.cache_name(0, **synthetic.DEFAULTS)
    # a half-written folder (no marker) is never taken as done
    (path / ".complete").unlink()
    (path / "testing" / "gt_masks" / "01" / "000.png").unlink()
    assert ensure(tmp_path, seed=2, **TINY) == path
    assert (path / ".complete").is_file() and (path / "testing" / "gt_masks" / "01" / "000.png").is_file()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no temporary folders left


def test_generate_refuses_foreign_folder_and_bad_parameters(tmp_path):
    foreign = tmp_path / "mine"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("keep me")
    with pytest.raises(FileExistsError):
        generate(foreign, **TINY)
    assert (foreign / "notes.txt").read_text() == "keep me"
    with pytest.raises(TypeError):
        ensure(tmp_path, seed=0, n_videos=3)
    with pytest.raises(ValueError):
        generate(tmp_path / "x", n_frames=2)


def test_frame_difference_scores_shape():
    f = np.random.default_rng(0).integers(0, 255, (5, 40, 50), dtype=np.uint8)
    s = frame_difference_scores(f)
    assert s.shape == (5,) and s[0] == s[1] and (s >= 0).all()
