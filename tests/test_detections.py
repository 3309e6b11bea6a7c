"""Precomputed object detections (vadbench.data.detections): the real Ped2 and Avenue box files,
malformed files (one-line errors naming the file), the synthetic dataset's own, and the CLI check."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from conftest import real_data

import vadbench
from vadbench.cli import main
from vadbench.data import detections as det
from vadbench.data.detections import attach_detections, find_detections, read_detections, read_index
from vadbench.errors import DataError
from vadbench.metrics import box_iou
from vadbench.runner import open_dataset, resolve_root

PED2_SIZE, AVENUE_SIZE = (360, 240), (640, 360)
SYN = {"n_train": 2, "n_test": 3, "n_frames": 40, "width": 160, "height": 112}


def _covers_every_frame(boxes: dict[str, np.ndarray], videos: list[tuple[str, int]]) -> bool:
    return all(np.array_equal(np.unique(boxes[vid][:, 0]), np.arange(n)) for vid, n in videos)


# -- the real files ------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def ped2():
    return vadbench.create_dataset("ped2", root=real_data("ucsd_ped2"))


@pytest.mark.realdata
def test_ped2_detections_are_found_next_to_the_dataset_and_read_lazily(ped2, monkeypatch):
    folder = real_data("detections", "ucsd_ped2")
    assert Path(ped2.detections) == folder and ped2.summary()["detections"] == str(folder)
    # --data-root ../shared/data: the run's root is data/ucsd_ped2, the auto lookup finds
    # data/detections/ucsd_ped2
    via_cli = open_dataset("ped2", {}, root=resolve_root("ped2", real_data()))
    assert Path(via_cli.detections) == folder
    calls = []
    real_read = det.read_detections
    monkeypatch.setattr(det, "read_detections", lambda *a, **k: calls.append(a[0]) or real_read(*a, **k))
    # loading read nothing
    assert all(v.has_detections for v in [*via_cli.train, *via_cli.test]) and calls == []
    via_cli.test["03"].detections()
    via_cli.test["05"].detections()
    assert calls == [folder / "testing.csv"]  # one read per split, on first use
    assert vadbench.create_dataset("ped2", root=real_data("ucsd_ped2"), detections="none").detections is None


@pytest.mark.realdata
def test_ped2_counts_and_per_video_mapping(ped2):
    index = read_index(real_data("detections", "ucsd_ped2"))
    summary = ped2.detection_summary()
    assert (summary["train_frames_with_boxes"], summary["train_boxes"]) == (2550, 29970)
    assert (summary["test_frames_with_boxes"], summary["test_boxes"]) == (2010, 33133)
    for split, stem in ((ped2.train, "training"), (ped2.test, "testing")):
        videos = [(v.id, v.n_frames) for v in split]
        assert dict(videos) == index[stem]["videos"]
        boxes = {v.id: v.detections() for v in split}
        assert _covers_every_frame(boxes, videos)  # every frame has at least one box
        assert all(b.dtype == np.float32 and b.shape[1] == 5 for b in boxes.values())
        # video k's rows are the CSV rows whose frame_index falls in its stretch of the concatenation
        raw = np.loadtxt(real_data("detections", "ucsd_ped2", f"{stem}.csv"), delimiter=",", skiprows=1)
        first = 0
        for vid, n in videos:
            mine = raw[(raw[:, 0] >= first) & (raw[:, 0] < first + n)]
            assert np.allclose(boxes[vid][:, 1:], mine[:, 1:], atol=1e-3)
            assert np.array_equal(boxes[vid][:, 0], mine[:, 0] - first)
            first += n


@pytest.mark.realdata
def test_ped2_with_another_datasets_detections_is_refused_in_one_line(tmp_path):
    with pytest.raises(DataError) as err:
        vadbench.create_dataset("ped2", root=real_data("ucsd_ped2"),
                                detections=real_data("detections", "avenue"))
    assert err.value.path.endswith("index.json") and "n_frames=15328" in str(err.value)
    assert "\n" not in str(err.value)


@pytest.mark.realdata
def test_avenue_box_files_map_onto_the_video_lengths():
    folder = real_data("detections", "avenue")
    index = read_index(folder)
    test_videos = list(index["testing"]["videos"].items())
    boxes = read_detections(folder / "testing.csv", test_videos, AVENUE_SIZE, index["testing"])
    assert len(boxes) == 21 and sum(len(b) for b in boxes.values()) == 96147
    assert sum(n for _, n in test_videos) == 15324 and _covers_every_frame(boxes, test_videos)
    assert boxes["08"][:, 0].max() == 35  # the 36-frame video
    # training: the lengths come from the videos (index.json has null); any split of 15,328 frames maps
    assert index["training"]["videos"] is None
    lengths = [958] * 15 + [15328 - 958 * 15]
    train_videos = [(f"{i + 1:02d}", n) for i, n in enumerate(lengths)]
    boxes = read_detections(folder / "training.csv", train_videos, AVENUE_SIZE, index["training"])
    assert sum(len(b) for b in boxes.values()) == 113751 and _covers_every_frame(boxes, train_videos)
    short = [*train_videos[:-1], ("16", lengths[-1] - 1)]
    with pytest.raises(DataError, match="n_frames=15328 but the split's 16 video"):
        read_detections(folder / "training.csv", short, AVENUE_SIZE, index["training"])
    # without index.json the frame indices themselves refuse a split that is too short
    with pytest.raises(DataError, match=r"line \d+: frame_index is outside \[0, 15327\)"):
        read_detections(folder / "training.csv", short, AVENUE_SIZE)


@pytest.mark.realdata
def test_ped2_cli_check_reports_the_detections(capsys):
    assert main(["datasets", "check", "ped2", "--root", str(real_data("ucsd_ped2")), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["detections"] == str(real_data("detections", "ucsd_ped2"))
    assert (summary["train_boxes"], summary["test_boxes"]) == (29970, 33133)
    assert summary["test_frames_with_boxes"] == 2010
    assert summary["test_boxes_per_frame"] == pytest.approx(16.484)


# -- malformed files -----------------------------------------------------------------------------

VIDEOS = [("01", 3), ("02", 2)]  # 5 frames
GOOD = "frame_index,x1,y1,x2,y2\n0,1,2,10,20\n4,0,0,32,24\n"
BAD = {
    "n_frames": (GOOD, {"n_frames": 6},
                 "index.json gives n_frames=6 but the split's 2 video(s) hold 5 frames"),
    "video_count": (GOOD, {"n_frames": 5, "videos": {"01": 2, "02": 3}}, "video '01' 2 frames but it has 3"),
    "video_missing": (GOOD, {"videos": {"01": 3, "03": 2}}, "lists no video '02'"),
    "n_boxes": (GOOD, {"n_boxes": 3}, "holds 2 boxes but index.json gives n_boxes=3"),
    "header": ("frame,x1,y1,x2,y2\n0,1,2,10,20\n", None, "line 1: header must be 'frame_index,x1,y1,x2,y2'"),
    "empty": ("", None, "line 1: header must be"),
    "fields": (GOOD + "1,2,3,4\n", None, "line 4: expected 5 comma-separated fields"),
    "blank_line": ("frame_index,x1,y1,x2,y2\n0,1,2,10,20\n\n1,1,2,3,4\n", None, "line 3: expected 5"),
    "not_a_number": (GOOD + "1,2,three,4,5\n", None, "line 4: 'three' is not a number"),
    "nan": (GOOD + "1,2,nan,4,5\n", None, "line 4: holds a non-finite value"),
    "inf": ("frame_index,x1,y1,x2,y2\n0,1,2,inf,20\n", None, "line 2: holds a non-finite value"),
    "inverted_x": (GOOD + "1,9,2,4,5\n", None, "line 4: inverted box"),
    "inverted_y": (GOOD + "1,2,9,4,5\n", None, "line 4: inverted box"),
    "right": (GOOD + "1,2,3,33.5,5\n", None, "line 4: box lies outside the 32x24 frame"),
    "bottom": (GOOD + "1,2,3,4,25.5\n", None, "line 4: box lies outside the 32x24 frame"),
    "negative": (GOOD + "1,-1.5,3,4,5\n", None, "line 4: box lies outside"),
    "index_high": (GOOD + "5,1,1,2,2\n", {"n_frames": 5}, "line 4: frame_index is outside [0, 5)"),
    "index_negative": (GOOD + "-1,1,1,2,2\n", None, "line 4: frame_index is outside [0, 5)"),
    "index_fraction": (GOOD + "1.5,1,1,2,2\n", None, "line 4: frame_index is not an integer"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_each_bad_file_is_one_line_naming_it(tmp_path, case):
    text, index, problem = BAD[case]
    path = tmp_path / "testing.csv"
    path.write_text(text)
    with pytest.raises(DataError) as err:
        read_detections(path, VIDEOS, (32, 24), index)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and problem in message and "\n" not in message


def test_boxes_up_to_one_pixel_beyond_the_frame_are_accepted(tmp_path):
    path = tmp_path / "training.csv"
    # spaces, CRLF, a trailing blank line
    path.write_text("frame_index, x1, y1, x2, y2\r\n0,-1,-1,33,25\r\n2,0,0,0,0\r\n\r\n")
    boxes = read_detections(path, VIDEOS, (32, 24), {"n_frames": 5, "n_boxes": 2, "videos": dict(VIDEOS)})
    assert boxes["01"].tolist() == [[0, -1, -1, 33, 25], [2, 0, 0, 0, 0]] and boxes["02"].shape == (0, 5)
    assert not boxes["01"].flags.writeable


def test_find_detections_lookup_order(tmp_path):
    root = tmp_path / "data" / "mine"
    root.mkdir(parents=True)
    assert find_detections(root, None) is None
    beside = tmp_path / "data" / "detections" / "mine"
    beside.mkdir(parents=True)
    assert find_detections(root, None) is None  # a folder without box files does not count
    (beside / "testing.csv").write_text(GOOD)
    assert find_detections(root, None) == beside
    (root / "detections").mkdir()
    (root / "detections" / "training.csv").write_text(GOOD)
    assert find_detections(root, None) == root / "detections"
    assert find_detections(root, beside) == beside
    with pytest.raises(DataError, match=r"holds neither training\.csv nor testing\.csv"):
        find_detections(root, tmp_path)
    with pytest.raises(DataError, match="detections folder does not exist"):
        find_detections(root, tmp_path / "nowhere")


def test_attach_detections_without_a_split_file_or_index(tmp_path):
    ds = vadbench.create_dataset("synthetic", seed=1, cache_dir=tmp_path, detections="none", **SYN)
    assert ds.detections is None and not ds.test[0].has_detections and ds.test[0].detections() is None
    assert ds.detection_summary() == {}
    folder = tmp_path / "boxes"
    folder.mkdir()
    (folder / "testing.csv").write_text("frame_index,x1,y1,x2,y2\n0,1,1,5,5\n119,1,1,5,5\n")
    attach_detections(ds, folder)
    assert ds.detections == str(folder) and not ds.train[0].has_detections
    assert ds.test["01"].detections().tolist() == [[0, 1, 1, 5, 5]]
    assert ds.test["03"].detections().tolist() == [[39, 1, 1, 5, 5]]
    assert set(ds.detection_summary()) == {"test_frames_with_boxes", "test_boxes", "test_boxes_per_frame"}


# -- the synthetic dataset's own -----------------------------------------------------------------


@pytest.fixture(scope="module")
def syn(tmp_path_factory):
    return vadbench.create_dataset("synthetic", seed=0, cache_dir=tmp_path_factory.mktemp("cache"), **SYN)


def _inclusive(rows: np.ndarray) -> np.ndarray:
    """Detection rows (pixel-edge x2, y2) as inclusive pixel boxes (x_min, y_min, x_max, y_max)."""
    return np.c_[rows[:, 1:3], rows[:, 3:5] - 1].astype(np.int64)


def test_synthetic_detections_cover_every_frame_within_the_frame(syn):
    root = Path(syn.detections)
    assert root == syn.root / "detections"
    index = read_index(root)
    for split, stem in ((syn.train, "training"), (syn.test, "testing")):
        assert index[stem]["videos"] == {v.id: SYN["n_frames"] for v in split}
        boxes = {v.id: v.detections() for v in split}
        assert _covers_every_frame(boxes, [(v.id, v.n_frames) for v in split])
        rows = np.concatenate(list(boxes.values()))
        assert len(rows) == index[stem]["n_boxes"]
        assert (rows[:, 1:3] >= 0).all()
        assert (rows[:, 3] <= SYN["width"]).all() and (rows[:, 4] <= SYN["height"]).all()
        assert (rows[:, 3] > rows[:, 1]).all() and (rows[:, 4] > rows[:, 2]).all()
        assert 2 < len(rows) / len(split) / SYN["n_frames"] < 12  # pedestrians in view, 3-8 at a time


def test_synthetic_anomalous_objects_are_detected_at_their_track_boxes(syn):
    ious = []
    for video in syn.test:
        rows = video.detections()
        for _, t, *box in video.tracks:
            ious.append(box_iou(np.array(box), _inclusive(rows[rows[:, 0] == t])).max())
    ious = np.array(ious)
    assert len(ious) > 20 and (ious > 0.5).mean() > 0.9, ious
    assert np.median(ious) == 1.0  # a perfect detector: the box of the object's visible pixels


def test_synthetic_cli_check_reports_the_detections(syn, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("VADBENCH_CACHE", str(tmp_path))
    assert main(["datasets", "check", "synthetic", "--root", str(syn.root)]) == 0
    out = capsys.readouterr().out
    lines = dict(line.split(None, 1) for line in out.splitlines())
    assert lines["detections"] == str(syn.root / "detections")
    n_test = SYN["n_test"] * SYN["n_frames"]
    assert int(lines["test_frames_with_boxes"]) == n_test and int(lines["train_boxes"]) > 0
    assert float(lines["test_boxes_per_frame"]) == pytest.approx(int(lines["test_boxes"]) / n_test, abs=1e-3)
    assert main(["datasets", "check", "synthetic", "--root", str(syn.root), "--detections", "none"]) == 0
    assert "boxes" not in capsys.readouterr().out
