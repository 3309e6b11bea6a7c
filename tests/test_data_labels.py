"""Ground-truth files: the real label files of Avenue, ShanghaiTech and Ped1, and small
Avenue / ShanghaiTech folders written here in the real formats (.avi, .mat, .npy)."""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io
from conftest import cell, write_avenue, write_avi, write_shanghaitech

from vadbench.data import FrameSource, load_avenue, load_shanghaitech, load_ucsd
from vadbench.data.builtin import avenue as avenue_factory
from vadbench.data.labels import (
    interval_labels,
    mask_folder_labels,
    read_interval_mat,
    read_npy_labels,
    read_tracks,
    read_volume_masks,
    volume_mask_labels,
)

DATA = Path(os.environ.get("VADBENCH_DATA", Path(__file__).resolve().parents[1].parent / "shared" / "data"))

AVENUE_FRAMES = [1439, 1211, 923, 947, 1007, 1283, 605, 36, 1175, 841, 472, 1271, 549, 507, 1001, 740, 426,
                 294, 248, 273, 76]
PED1_MASKED = ["003", "004", "014", "018", "019", "021", "022", "023", "024", "032"]


def real_labels(name: str) -> Path:
    """``$VADBENCH_DATA/labels/<name>`` (default ../shared/data); skips, saying why, when absent."""
    path = DATA / "labels" / name
    if not path.is_dir():
        pytest.skip(f"real label files not found at {path} (set VADBENCH_DATA to the folder holding labels/)")
    return path


# -- real label files ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def avenue_mask_labels():
    root = real_labels("avenue")
    return [volume_mask_labels(root / "testing_label_mask" / f"{n}_label.mat") for n in range(1, 22)]


def test_avenue_pixel_masks_give_the_known_counts(avenue_mask_labels):
    labels = np.concatenate(avenue_mask_labels)
    assert len(avenue_mask_labels) == 21
    assert [len(y) for y in avenue_mask_labels] == AVENUE_FRAMES
    assert (len(labels), int(labels.sum())) == (15324, 3712)
    derived = np.load(real_labels("avenue") / "frame_labels_avenue_from_masks.npy", allow_pickle=False)
    assert (derived == labels).all()


def test_avenue_conventions_disagree_on_441_frames(avenue_mask_labels):
    # MNAD's npy (the avenue.mat convention) is no vadbench input; it only cross-checks here.
    mnad = np.load(real_labels("avenue") / "frame_labels_avenue_mnad.npy", allow_pickle=False).reshape(-1)
    masks = np.concatenate(avenue_mask_labels)
    assert int(mnad.sum()) == 3867
    assert int((mnad != masks).sum()) == 441
    bounds = np.cumsum([0, *AVENUE_FRAMES])
    differing = [i + 1 for i in range(21) if (mnad[bounds[i]:bounds[i + 1]] != avenue_mask_labels[i]).any()]
    assert differing == [1, 2, 6, 7, 8, 9, 10, 11, 12, 13, 14, 16, 17, 18, 19]


def test_avenue_masks_read_as_volume():
    masks = read_volume_masks(real_labels("avenue") / "testing_label_mask" / "8_label.mat")
    assert masks.shape == (36, 360, 640) and masks.dtype == bool
    assert masks.reshape(36, -1).any(1).all()  # test video 8 is anomalous in every frame


def test_shanghaitech_frame_masks_give_the_known_counts():
    root = real_labels("shanghaitech")
    files = sorted((root / "test_frame_mask").glob("*.npy"))
    labels = [read_npy_labels(f) for f in files]
    pooled = np.concatenate(labels)
    assert (len(files), len(pooled), int(pooled.sum())) == (107, 40791, 17326)
    scenes = {}
    for f in files:
        scenes[f.stem[:2]] = scenes.get(f.stem[:2], 0) + 1
    assert scenes == {"01": 34, "02": 3, "03": 10, "04": 9, "05": 8, "06": 6, "07": 8, "08": 12, "09": 1,
                      "10": 5, "11": 1, "12": 10}
    mnad = np.load(root / "frame_labels_shanghai_mnad.npy", allow_pickle=False)
    assert (mnad.reshape(-1) == pooled).all()


def test_ped1_m_file_and_its_masks_agree():
    root = real_labels("ucsd_ped1")
    labels = interval_labels(root / "UCSDped1.m", [200] * 36)
    pooled = np.concatenate(labels)
    assert (len(labels), len(pooled), int(pooled.sum())) == (36, 7200, 4045)
    assert (np.load(root / "frame_labels_ped1_from_m.npy", allow_pickle=False).reshape(-1) == pooled).all()
    folders = sorted(p.name for p in (root / "gt_masks").iterdir())
    assert folders == [f"Test{n}_gt" for n in PED1_MASKED]
    for n in PED1_MASKED:
        assert (mask_folder_labels(root / "gt_masks" / f"Test{n}_gt") == labels[int(n) - 1]).all(), n


def test_ped1_loads_in_the_original_layout(tmp_path):
    """Real .m file and masks, frames stood in for by links to one image (Ped1's frames are not here)."""
    labels_root = real_labels("ucsd_ped1")
    ucsd = tmp_path / "UCSDped1"
    frame = tmp_path / "frame.tif"
    cv2.imwrite(str(frame), np.zeros((158, 238), np.uint8))
    for split, count in (("Train", 2), ("Test", 36)):
        for n in range(1, count + 1):
            folder = ucsd / split / f"{split}{n:03d}"
            folder.mkdir(parents=True)
            for k in range(1, 201):
                (folder / f"{k:03d}.tif").symlink_to(frame)
    for n in PED1_MASKED:
        (ucsd / "Test" / f"Test{n}_gt").symlink_to(labels_root / "gt_masks" / f"Test{n}_gt")
    (ucsd / "Test" / "UCSDped1.m").symlink_to(labels_root / "UCSDped1.m")
    ds = load_ucsd(tmp_path, name="ped1", cache_dir=tmp_path / "cache")
    s = ds.summary()
    assert (s["test_videos"], s["test_frames"], s["anomalous_test_frames"]) == (36, 7200, 4045)
    assert s["label_source"] == "intervals"  # masks cover 10 of 36 videos; they were cross-checked
    assert s["test_videos_with_masks"] == 10 and s["test_videos_with_tracks"] == 10
    assert ds.test["03"].masks().shape == (200, 158, 238)


# -- Avenue in its real formats, written here --------------------------------------------------


def volume(n_frames: int, anomalous, size=(24, 32)) -> np.ndarray:
    masks = np.zeros((n_frames, *size), np.uint8)
    masks[sorted(anomalous), 5:9, 10:20] = 1
    return masks


def make_avenue(root: Path, gt_dir: str = "") -> Path:
    """Two short uniform videos per split; the interval file deliberately disagrees with the masks."""
    return write_avenue(root, train=[[20 * t + 10 for t in range(n)] for n in (5, 4)],
                        test=[[20 * t + 10 for t in range(n)] for n in (8, 6)],
                        masks=[volume(8, {2, 3, 4}), volume(6, set())],
                        intervals=[[(2, 4)], [(6, 6)]], gt_dir=gt_dir)


def test_avi_reading(tmp_path):
    path = tmp_path / "01.avi"
    write_avi(path, [10, 60, 110, 160, 210])
    source = FrameSource.from_video(path)
    assert source.n_frames == 5
    frames = source.read_all()
    assert frames.shape == (5, 24, 32, 3) and frames.dtype == np.uint8
    assert np.allclose(frames.reshape(5, -1).mean(1), [10, 60, 110, 160, 210], atol=3)
    assert source.read_all(gray=True, size=(16, 12)).shape == (5, 12, 16)
    assert abs(float(source.frame(3, gray=True).mean()) - 160) < 3


def test_avenue_mat_parsing(tmp_path):
    path = tmp_path / "avenue.mat"
    scipy.io.savemat(path, {"gt": cell([np.array([[2, 7], [4, 8]], np.uint8), np.zeros((0, 0)),
                                        np.array([[1], [3]])])})
    ranges = read_interval_mat(path)
    assert [r.tolist() for r in ranges] == [[[2, 4], [7, 8]], [], [[1, 3]]]
    labels = interval_labels(path, [9, 3, 3])
    assert [y.tolist() for y in labels] == [[0, 1, 1, 1, 0, 0, 1, 1, 0], [0, 0, 0], [1, 1, 1]]


@pytest.mark.parametrize("gt_dir", ["", "ground_truth_demo"])
def test_small_avenue_root_end_to_end(tmp_path, gt_dir):
    root = make_avenue(tmp_path / "avenue", gt_dir)
    ds = avenue_factory(root, cache_dir=tmp_path / "cache")
    s = ds.summary()
    assert (s["train_videos"], s["test_videos"], s["train_frames"], s["test_frames"]) == (2, 2, 9, 14)
    assert ds.label_source == "masks" and ds.conventions["sigma"] == 3
    assert ds.test["01"].labels.tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    assert ds.test["01"].masks().shape == (8, 24, 32)
    tracks = ds.test["01"].tracks
    assert ds.test["01"].tracks_derived and tracks[:, 1].tolist() == [2, 3, 4]
    assert tracks[0, 2:].tolist() == [10, 5, 19, 8]  # inclusive x_min, y_min, x_max, y_max
    by_intervals = load_avenue(root, labels="intervals")
    assert by_intervals.label_source == "intervals"
    assert by_intervals.test["01"].labels.tolist() == [0, 1, 1, 1, 0, 0, 0, 0]
    assert by_intervals.test["02"].labels.tolist() == [0, 0, 0, 0, 0, 1]


# -- ShanghaiTech in its real formats, written here --------------------------------------------


def make_shanghaitech(root: Path) -> Path:
    labels = {"01_0014": [0, 0, 1, 1, 0], "01_0015": [0, 1, 0, 0]}
    pixel = np.zeros((5, 24, 32), np.uint8)
    pixel[2:4, 3:6, 7:12] = 1
    write_shanghaitech(root, train={name: [50, 100, 150] for name in ("01_001", "02_001")},
                       test={vid: [40 * k for k in range(len(y))] for vid, y in labels.items()},
                       labels=labels, masks={"01_0014": pixel})
    tracks = root / "tracks"
    tracks.mkdir()
    (tracks / "01_0014.txt").write_text("0,2,7,3,11,5\n0,3,7,3,11,5\n")
    return root


def test_small_shanghaitech_root_end_to_end(tmp_path):
    root = make_shanghaitech(tmp_path / "shanghaitech")
    ds = load_shanghaitech(root, tracks=root / "tracks")
    s = ds.summary()
    assert (s["train_videos"], s["test_videos"], s["train_frames"], s["test_frames"]) == (2, 2, 6, 9)
    assert s["anomalous_test_frames"] == 3 and ds.label_source == "frame_mask"
    assert [v.id for v in ds.test] == ["01_0014", "01_0015"]
    assert ds.test["01_0014"].tracks.tolist() == [[0, 2, 7, 3, 11, 5], [0, 3, 7, 3, 11, 5]]
    assert ds.test["01_0015"].tracks.shape == (0, 6) and not ds.test["01_0014"].tracks_derived
    assert ds.test["01_0014"].masks().sum() == 30 and not ds.test["01_0015"].has_masks
    derived = load_shanghaitech(root)
    assert derived.test["01_0014"].tracks_derived
    assert derived.test["01_0014"].tracks[:, 1:].tolist() == [[2, 7, 3, 11, 5], [3, 7, 3, 11, 5]]
    assert not derived.test["01_0015"].has_tracks


def test_track_file_format(tmp_path):
    path = tmp_path / "01_0014.txt"
    path.write_text("track_id,frame_idx,x_min,y_min,x_max,y_max\n3,154,10,20,30,40\n\n3,155,11,20,31,40\n")
    assert read_tracks(path).tolist() == [[3, 154, 10, 20, 30, 40], [3, 155, 11, 20, 31, 40]]
    assert read_tracks(path).dtype == np.int64
