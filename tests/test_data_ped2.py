"""UCSD Ped2 on the real data (../shared/data/ucsd_ped2, or $VADBENCH_DATA/ucsd_ped2).

Frames are counted, not decoded (a few are decoded); the pixel masks are decoded
once per session to derive frame labels.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import cv2
import numpy as np
import pytest

from vadbench.data import FrameSource, Video, cached_frames, detect_layout, load_ucsd
from vadbench.data.builtin import ped2, synthetic
from vadbench.data.labels import interval_labels, read_label_json
from vadbench.errors import DataError

DATA = Path(os.environ.get("VADBENCH_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))


def real_data(name: str) -> Path:
    """``$VADBENCH_DATA/<name>`` (default ../shared/data); skips, saying why, when absent."""
    if not (DATA / name).is_dir():
        pytest.skip(f"real data not found at {DATA / name} (set VADBENCH_DATA to the folder holding {name}/)")
    return DATA / name

TRAIN_FRAMES = [120, 150, 150, 180, 180, 150, 150, 120, 180, 180, 180, 180, 180, 150, 150, 150]
TEST_FRAMES = [180, 180, 150, 180, 150, 180, 180, 180, 120, 150, 180, 180]
ANOMALOUS = [120, 86, 146, 150, 129, 159, 135, 180, 120, 150, 180, 93]


@pytest.fixture(scope="module")
def cache(tmp_path_factory):
    return tmp_path_factory.mktemp("cache")


@pytest.fixture(scope="module")
def root():
    return real_data("ucsd_ped2")


@pytest.fixture(scope="module")
def ds(root, cache):
    return ped2(root, cache_dir=cache)


def test_ped2_known_counts(ds):
    s = ds.summary()
    assert (s["train_videos"], s["test_videos"]) == (16, 12)
    assert (s["train_frames"], s["test_frames"]) == (2550, 2010)
    assert s["anomalous_test_frames"] == 1648
    assert s["layout"] == "frame-folders" and s["label_source"] == "masks"
    assert s["test_videos_with_masks"] == 12 and s["tracks_derived"]
    assert [len(v) for v in ds.train] == TRAIN_FRAMES
    assert [len(v) for v in ds.test] == TEST_FRAMES
    assert [int(v.labels.sum()) for v in ds.test] == ANOMALOUS
    assert [v.id for v in ds.test] == [f"{i:02d}" for i in range(1, 13)]
    assert ds.conventions == {"sigma": 3, "single_class": "drop"}
    assert len(ds.fingerprint) == 12


def test_ped2_every_label_source_agrees(root, ds, cache):
    masks = [v.labels for v in ds.test]
    for labels in ("intervals", "frame-labels"):
        other = load_ucsd(root, labels=labels, cache_dir=cache)
        assert other.label_source == labels
        assert all((a == b.labels).all() for a, b in zip(masks, other.test, strict=True))
    for name in ("UCSDped2.m", "ped2.mat"):
        from_intervals = interval_labels(root / "labels" / name, TEST_FRAMES)
        assert all((a == b).all() for a, b in zip(masks, from_intervals, strict=True))
    js = read_label_json(root / "labels" / "frame_labels_ped2.json")
    npy = np.load(root / "labels" / "frame_labels_ped2.npy", allow_pickle=False)
    assert (np.concatenate([js[v.id] for v in ds.test]) == np.concatenate(masks)).all()
    assert (npy.reshape(-1) == np.concatenate(masks)).all()


def test_ped2_frames_masks_and_derived_tracks(ds):
    video = ds.test["04"]
    assert video.frames(gray=True).__next__().shape == (240, 360)
    assert video.source.frame(179).shape == (240, 360, 3)
    masks = video.masks()
    assert masks.shape == (180, 240, 360) and masks.dtype == bool
    assert (masks.reshape(180, -1).any(1) == video.labels.astype(bool)).all()
    tracks = video.tracks  # derived on first access
    assert tracks.dtype == np.int64 and tracks.shape[1] == 6
    assert set(np.unique(tracks[:, 1])) == set(np.flatnonzero(video.labels))


def test_cached_frames_reuse_and_invalidate(ds, cache, tmp_path):
    video = ds.test["09"]
    first = cached_frames(video, gray=True, size=(90, 60), cache_dir=cache)
    again = cached_frames(video, gray=True, size=(90, 60), cache_dir=cache)
    assert first.shape == (120, 60, 90) and isinstance(again, np.memmap)
    assert (np.asarray(again) == first).all()
    assert len(list((cache / "frames").glob("*.npy"))) == 1
    colour = cached_frames(video, gray=False, size=(90, 60), cache_dir=cache)
    assert colour.shape == (120, 60, 90, 3) and len(list((cache / "frames").glob("*.npy"))) == 2
    # a changed frame file is a different key: decoded again, not served stale
    folder = tmp_path / "09"
    folder.mkdir()
    for f in video.source.files[:3]:
        shutil.copy(f, folder)
    small = Video("09", FrameSource.from_folder(folder))
    before = cached_frames(small, gray=True, cache_dir=tmp_path / "c")
    cv2.imwrite(str(small.source.files[0]), np.zeros((240, 360), np.uint8))
    after = cached_frames(small, gray=True, cache_dir=tmp_path / "c")
    assert before[0].any() and not after[0].any()
    assert len(list((tmp_path / "c" / "frames").glob("*.npy"))) == 2


def test_mismatching_label_sources_name_both_files(root, cache, tmp_path):
    copy = tmp_path / "ped2"
    (copy / "testing").mkdir(parents=True)
    (copy / "labels").mkdir()
    (copy / "training").symlink_to(root / "training")
    (copy / "testing" / "frames").symlink_to(root / "testing" / "frames")
    (copy / "testing" / "gt_masks").symlink_to(root / "testing" / "gt_masks")
    text = (root / "labels" / "UCSDped2.m").read_text().replace("[95:180]", "[96:180]")
    (copy / "labels" / "UCSDped2.m").write_text(text)
    with pytest.raises(DataError) as err:
        load_ucsd(copy, cache_dir=cache)
    assert "UCSDped2.m" in str(err.value) and "gt_masks" in str(err.value)
    assert "test video 02" in str(err.value)


def _write_original_layout(root, out):
    """A few Ped2 videos rebuilt as the UCSD tarball has them: .tif frames, .bmp masks, the .m file."""
    ucsd = out / "UCSDped2"
    for src_name, dst in (("training/frames/01", "Train/Train001"), ("testing/frames/01", "Test/Test001"),
                          ("testing/frames/09", "Test/Test009")):
        (ucsd / dst).mkdir(parents=True)
        for k, f in enumerate(sorted((root / src_name).glob("*.jpg"))):
            cv2.imwrite(str(ucsd / dst / f"{k + 1:03d}.tif"), cv2.imread(str(f), cv2.IMREAD_GRAYSCALE))
    for vid, name in (("01", "{:03d}.bmp"), ("09", "frame{:03d}.bmp")):  # Test009 names masks frameKKK.bmp
        gt = ucsd / "Test" / f"Test0{vid}_gt"
        gt.mkdir()
        for k, f in enumerate(sorted((root / "testing" / "gt_masks" / vid).glob("*.png"))):
            cv2.imwrite(str(gt / name.format(k + 1)), cv2.imread(str(f), cv2.IMREAD_GRAYSCALE))
    shutil.copy(root / "labels" / "UCSDped2.m", ucsd / "Test" / "UCSDped2.m")
    (ucsd / "Test" / "._001.tif").write_bytes(b"macOS resource fork")  # skipped, as hidden files are
    return ucsd


def test_original_ucsd_layout_gives_the_same_counts(root, ds, cache, tmp_path):
    ucsd = _write_original_layout(root, tmp_path)
    for where in (tmp_path, ucsd):
        assert detect_layout(where) == ("ped2", "ucsd-original")
        copy = load_ucsd(where, cache_dir=cache)
        assert copy.layout == "ucsd-original" and copy.label_source == "masks"
        assert [(v.id, len(v)) for v in copy.train] == [("01", 120)]
        assert [(v.id, len(v), int(v.labels.sum())) for v in copy.test] == [
            (v.id, len(v), int(v.labels.sum())) for v in (ds.test["01"], ds.test["09"])]
        assert (copy.test["09"].labels == ds.test["09"].labels).all()
    via_intervals = load_ucsd(ucsd, labels="intervals", cache_dir=cache)
    assert [int(v.labels.sum()) for v in via_intervals.test] == [120, 120]
    tif = copy.test["01"].source.frame(5, gray=True)
    assert (tif == ds.test["01"].source.frame(5, gray=True)).all()
    assert copy.test["09"].masks().shape == (120, 240, 360)


def test_synthetic_factory_reads_the_generated_ped2_layout(tmp_path):
    small = {"n_train": 1, "n_test": 2, "n_frames": 12, "width": 48, "height": 32}
    ds = synthetic(seed=0, cache_dir=tmp_path, **small)
    assert (ds.name, ds.layout, ds.label_source) == ("synthetic", "frame-folders", "masks")
    s = ds.summary()
    assert (s["train_videos"], s["test_videos"], s["test_frames"]) == (1, 2, 24)
    assert s["test_videos_with_tracks"] == 2 and not s["tracks_derived"]  # published testing/tracks/*.txt
    assert ds.test[0].tracks.shape[1] == 6 and ds.conventions["sigma"] == 3
    assert synthetic(seed=0, cache_dir=tmp_path, **small).fingerprint == ds.fingerprint
    assert synthetic(root=ds.root, cache_dir=tmp_path).summary() == s
