"""Bad input gives a DataError whose one-line message names the file or folder at fault."""

from __future__ import annotations

import json
import pickle

import cv2
import numpy as np
import pytest
import scipy.io

from vadbench.data import FrameSource, builtin, detect_layout, load_avenue, load_shanghaitech, load_ucsd
from vadbench.data.labels import read_interval_mat, read_npy_labels, read_tracks, read_ucsd_m
from vadbench.errors import DataError

H, W = 12, 16


def frames_folder(folder, n: int) -> None:
    folder.mkdir(parents=True)
    for k in range(n):
        cv2.imwrite(str(folder / f"{k:03d}.jpg"), np.full((H, W, 3), 20 * k, np.uint8))


def make_ucsd(root, test=(4, 3), masks=True, m_file="[2:2]", size=(H, W)):
    """A tiny frame-folder Ped2: frame 1 (0-based) of every test video is anomalous."""
    frames_folder(root / "training" / "frames" / "01", 3)
    for i, n in enumerate(test, 1):
        frames_folder(root / "testing" / "frames" / f"{i:02d}", n)
        if masks:
            folder = root / "testing" / "gt_masks" / f"{i:02d}"
            folder.mkdir(parents=True)
            for k in range(n):
                cv2.imwrite(str(folder / f"{k:03d}.png"), np.full(size, 255 * (k == 1), np.uint8))
    if m_file:
        (root / "labels").mkdir()
        lines = "".join(f"TestVideoFile{{end+1}}.gt_frame = {m_file};\n" for _ in test)
        (root / "labels" / "UCSDped2.m").write_text("TestVideoFile = {};\n" + lines)
    return root


def raises(path, fn, *args, **kwargs) -> DataError:
    """Call ``fn``; it must raise a DataError whose message names ``path``."""
    with pytest.raises(DataError) as err:
        fn(*args, **kwargs)
    assert str(path) in str(err.value), str(err.value)
    assert "\n" not in str(err.value)
    return err.value


@pytest.fixture
def cache(tmp_path):
    return tmp_path / "cache"


def test_the_small_dataset_itself_loads(tmp_path, cache):
    ds = load_ucsd(make_ucsd(tmp_path / "ped2"), cache_dir=cache)
    assert ds.summary()["anomalous_test_frames"] == 2 and ds.label_source == "masks"


def test_missing_root(tmp_path, monkeypatch):
    err = raises(tmp_path / "nowhere", load_ucsd, tmp_path / "nowhere")
    assert "does not exist" in str(err)
    raises(tmp_path / "nowhere", load_avenue, tmp_path / "nowhere")
    monkeypatch.delenv("VADBENCH_DATA", raising=False)
    with pytest.raises(DataError, match="no dataset folder given"):
        builtin.ped2()


def test_unknown_layout(tmp_path):
    (tmp_path / "videos").mkdir()
    err = raises(tmp_path, detect_layout, tmp_path)
    assert "looked for" in str(err) and "training/frames" in str(err) and "UCSDped2" in str(err)
    ucsd = make_ucsd(tmp_path / "ped2")
    raises(ucsd, load_avenue, ucsd)
    raises(ucsd, load_shanghaitech, ucsd)
    raises(ucsd, load_ucsd, ucsd, name="ped1")  # its label file says ped2


def test_empty_video_folder(tmp_path, cache):
    root = make_ucsd(tmp_path / "ped2")
    (root / "training" / "frames" / "02").mkdir()
    raises(root / "training" / "frames" / "02", load_ucsd, root, cache_dir=cache)


def test_corrupt_jpeg_is_named_when_read(tmp_path, cache):
    root = make_ucsd(tmp_path / "ped2")
    bad = root / "testing" / "frames" / "01" / "002.jpg"
    bad.write_bytes(b"\xff\xd8 not really a jpeg")
    video = load_ucsd(root, cache_dir=cache).test["01"]  # loading counts files, decodes nothing
    raises(bad, video.read)
    raises(bad, lambda: list(video.frames(gray=True)))


def test_truncated_jpeg_is_named_when_read(tmp_path, cache):
    """A JPEG cut in half decodes to grey with only a libjpeg warning: its missing end marker refuses it."""
    root = make_ucsd(tmp_path / "ped2")
    bad = root / "testing" / "frames" / "01" / "002.jpg"
    data = bad.read_bytes()
    assert data.endswith(b"\xff\xd9") and cv2.imread(str(bad)) is not None
    scan = data.index(b"\xff\xda")  # cut in the middle of the compressed image data, after the headers
    bad.write_bytes(data[: scan + (len(data) - scan) // 2])
    assert cv2.imread(str(bad)) is not None  # what OpenCV alone accepts (grey-filled, a libjpeg warning)
    video = load_ucsd(root, cache_dir=cache).test["01"]
    err = raises(bad, video.read)
    assert str(err) == f"{bad}: truncated JPEG: no end-of-image marker"
    padded = root / "testing" / "frames" / "01" / "001.jpg"  # zero padding after the marker is fine
    padded.write_bytes(padded.read_bytes() + b"\x00" * 5000)
    video.source.frame(1)


def test_truncated_and_unreadable_avi(tmp_path):
    path = tmp_path / "01.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (64, 48))
    for t in range(20):
        writer.write(np.random.default_rng(t).integers(0, 255, (48, 64, 3), dtype=np.uint8))
    writer.release()
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    err = raises(path, FrameSource.from_video(path).read_all)
    assert "truncated" in str(err)
    path.write_bytes(data[:500])
    raises(path, FrameSource.from_video, path)


def test_labels_longer_or_shorter_than_frames(tmp_path, cache):
    root = make_ucsd(tmp_path / "a", masks=False, m_file="[2:9]")
    err = raises(root / "labels" / "UCSDped2.m", load_ucsd, root, cache_dir=cache)
    assert "past" in str(err)
    root = make_ucsd(tmp_path / "b", masks=False, m_file=None)
    (root / "labels").mkdir()
    (root / "labels" / "frame_labels.json").write_text(json.dumps({"01": [0, 1, 0], "02": [0, 1, 0]}))
    err = raises(root / "labels" / "frame_labels.json", load_ucsd, root, cache_dir=cache)
    assert "3 frame labels for 4 frames" in str(err)
    (root / "labels" / "frame_labels.json").write_text(json.dumps({"01": [0, 1, 0, 0, 0], "02": [0, 1, 0]}))
    raises(root / "labels" / "frame_labels.json", load_ucsd, root, cache_dir=cache)


def test_no_frame_labels_at_all(tmp_path, cache):
    root = make_ucsd(tmp_path / "ped2", masks=False, m_file=None)
    err = raises(root, load_ucsd, root, cache_dir=cache)
    assert "no complete frame labels" in str(err)


def test_mask_count_and_size(tmp_path, cache):
    root = make_ucsd(tmp_path / "a")
    (root / "testing" / "gt_masks" / "02" / "002.png").unlink()
    err = raises(root / "testing" / "gt_masks" / "02", load_ucsd, root, cache_dir=cache)
    assert "2 masks for the 3 frames" in str(err)
    root = make_ucsd(tmp_path / "b", size=(6, 8))
    video = load_ucsd(root, cache_dir=cache).test["01"]  # sizes are checked when masks are read
    err = raises(root / "testing" / "gt_masks" / "01", video.masks)
    assert "6x8" in str(err) and "12x16" in str(err)


def test_label_sources_that_disagree_name_both_files(tmp_path, cache):
    root = make_ucsd(tmp_path / "ped2", m_file="[3:3]")
    err = raises(root / "testing" / "gt_masks" / "01", load_ucsd, root, cache_dir=cache)
    assert str(root / "labels" / "UCSDped2.m") in str(err)


def test_malformed_label_files(tmp_path):
    m = tmp_path / "UCSDped2.m"
    m.write_text("TestVideoFile = {};\nTestVideoFile{end+1}.gt_frame = [61-180];\n")
    assert "line 2" in str(raises(m, read_ucsd_m, m))
    mat = tmp_path / "ped2.mat"
    mat.write_bytes(b"MATLAB 5.0 MAT-file" + b"\0" * 20)
    raises(mat, read_interval_mat, mat)
    scipy.io.savemat(mat, {"labels": np.zeros(3)})
    assert "no variable 'gt'" in str(raises(mat, read_interval_mat, mat))
    npy = tmp_path / "01_0014.npy"
    np.save(npy, np.array([{"a": 1}], dtype=object), allow_pickle=True)  # a pickle is never loaded
    raises(npy, read_npy_labels, npy)
    npy.write_bytes(pickle.dumps([0, 1]))
    raises(npy, read_npy_labels, npy)
    tracks = tmp_path / "01_0014.txt"
    tracks.write_text("0,154,10,20,30,40\n0,155,10,20\n")
    assert "line 2" in str(raises(tracks, read_tracks, tracks))
    tracks.write_text("0,154,30,20,10,40\n")
    raises(tracks, read_tracks, tracks)


def test_avenue_bad_masks_and_missing_intervals(tmp_path, cache):
    root = tmp_path / "avenue"
    for split in ("training_videos", "testing_videos"):
        (root / split).mkdir(parents=True)
        writer = cv2.VideoWriter(str(root / split / "01.avi"), cv2.VideoWriter_fourcc(*"MJPG"), 25, (W, H))
        for t in range(4):
            writer.write(np.full((H, W, 3), 40 * t, np.uint8))
        writer.release()
    masks = root / "testing_label_mask"
    raises(masks / "1_label.mat", load_avenue, root, cache_dir=cache)  # no masks for labels="masks"
    raises(root / "avenue.mat", load_avenue, root, labels="intervals")
    masks.mkdir()
    vol = np.empty((1, 3), dtype=object)
    for t in range(3):
        vol[0, t] = np.zeros((H, W), np.uint8)
    scipy.io.savemat(masks / "1_label.mat", {"volLabel": vol})
    message = str(raises(masks / "1_label.mat", load_avenue, root, cache_dir=cache))
    assert "3 frame labels for 4 frames" in message
    vol = np.empty((1, 4), dtype=object)
    for t in range(4):
        vol[0, t] = np.zeros((H + 1, W), np.uint8)
    scipy.io.savemat(masks / "1_label.mat", {"volLabel": vol})
    video = load_avenue(root, cache_dir=cache).test["01"]
    raises(masks / "1_label.mat", video.masks)


def test_shanghaitech_bad_labels_and_masks(tmp_path):
    root = tmp_path / "shanghaitech"
    (root / "training" / "videos").mkdir(parents=True)
    for sub in ("test_frame_mask", "test_pixel_mask"):
        (root / "testing" / sub).mkdir(parents=True)
    frames_folder(root / "testing" / "frames" / "01_0014", 4)
    raises(root / "training" / "videos", load_shanghaitech, root)
    (root / "training" / "videos").rmdir()
    frames_folder(root / "training" / "frames" / "01_001", 2)  # the frame-folder form is accepted too
    labels = root / "testing" / "test_frame_mask" / "01_0014.npy"
    raises(labels, load_shanghaitech, root)  # missing
    np.save(labels, np.array([0, 1, 1], np.uint8))
    raises(labels, load_shanghaitech, root)  # 3 labels for 4 frames
    np.save(labels, np.array([0, 1, 1, 0], np.uint8))
    pixel = root / "testing" / "test_pixel_mask" / "01_0014.npy"
    np.save(pixel, np.zeros((5, H, W), np.uint8))
    assert "5 masks for 4 frames" in str(raises(pixel, load_shanghaitech, root))
    np.save(pixel, np.zeros((4, H, W + 2), np.uint8))
    raises(pixel, load_shanghaitech(root).test["01_0014"].masks)
    raises(tmp_path / "no_tracks", load_shanghaitech, root, tracks=tmp_path / "no_tracks")
