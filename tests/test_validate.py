"""The label-free check: pseudo-anomalies of training clips, and `vadbench validate` reading no test video."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest

from vadbench.data.frames import FrameSource
from vadbench.data.video import Split, Video
from vadbench.pseudo_anomalies import enlarged_object, make, skip_frames
from vadbench.validate import held_out_ids, pseudo_videos, report_table, validate


def _clip(n=80, h=48, w=64):
    """A clip whose frame t holds the value t, and one 8x16 box moving right a pixel every other frame."""
    frames = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None], h, 1).repeat(w, 2)
    rows = np.array([[t, 10 + t // 2, 20, 18 + t // 2, 36] for t in range(n)], np.float32)
    return frames, rows


def test_skip_frames_shows_every_stride_th_frame_with_its_boxes_on_the_labelled_segment():
    frames, rows = _clip()
    out, out_rows, labels = skip_frames(frames, rows, np.random.default_rng(1), length=12, stride=3)
    seg = np.flatnonzero(labels)
    assert len(seg) == 12 and np.all(np.diff(seg) == 1)
    shown = out[seg, 0, 0].astype(int)
    assert np.all(np.diff(shown) == 3) and shown[0] == seg[0]  # sped up from the segment's own start
    assert np.array_equal(out[labels == 0], frames[labels == 0])  # nothing else touched
    for t in seg:  # each shown frame keeps its boxes
        src = int(out[t, 0, 0])
        assert np.array_equal(out_rows[out_rows[:, 0] == t, 1:], rows[rows[:, 0] == src, 1:])
    assert len(out_rows) == len(rows) and np.all(np.diff(out_rows[:, 0]) >= 0)


def test_enlarged_object_pastes_a_larger_box_only_on_the_segment():
    frames, rows = _clip()
    frames = frames.copy()
    for t, x1, y1, x2, y2 in rows.astype(int):  # a bright object inside each box
        frames[t, y1:y2, x1:x2] = 255
    out, out_rows, labels = enlarged_object(frames, rows, np.random.default_rng(2), length=10, scale=2.0)
    seg = np.flatnonzero(labels)
    assert len(seg) == 10
    size = lambda r: (r[:, 3] - r[:, 1]) * (r[:, 4] - r[:, 2])  # noqa: E731
    on = np.isin(out_rows[:, 0], seg)
    assert np.all(size(out_rows[on]) > 2.5 * size(rows[on]))  # clipped at the top, still much larger
    assert np.array_equal(out_rows[~on], rows[~on]) and np.array_equal(out[labels == 0], frames[labels == 0])
    t = seg[0]
    x1, y1, x2, y2 = out_rows[out_rows[:, 0] == t, 1:].astype(int)[0]
    assert (out[t, y1:y2, x1:x2] == 255).mean() > 0.9  # the enlarged object fills its new box


def test_pseudo_anomalies_refuse_what_they_cannot_make():
    frames, rows = _clip(n=20)
    with pytest.raises(ValueError, match="too short"):
        skip_frames(frames, rows, np.random.default_rng(0), length=10, stride=10)
    with pytest.raises(ValueError, match="no object could be followed"):
        enlarged_object(frames, np.zeros((0, 5)), np.random.default_rng(0), length=5)
    with pytest.raises(ValueError, match="unknown pseudo-anomaly"):
        make("reversed", frames, rows, np.random.default_rng(0))


def test_held_out_videos_and_their_copies_carry_labels_and_boxes():
    frames, rows = _clip()
    videos = [Video(str(i), FrameSource.from_array(frames), detection_loader=lambda: rows) for i in range(3)]
    assert held_out_ids(Split("d", "train", videos)) == ["2"]
    copies = pseudo_videos(videos[2:], copies=2, seed=0)
    assert [v.id for v in copies] == ["2~skip_frames0", "2~skip_frames1",
                                      "2~enlarged_object0", "2~enlarged_object1"]
    assert all(v.labels.sum() > 0 and v.has_detections for v in copies)
    no_boxes = [Video("x", FrameSource.from_array(frames))]
    assert [v.meta["pseudo_anomaly"] for v in pseudo_videos(no_boxes, copies=1)] == ["skip_frames"]


class _Untouchable(Split):
    """A test split whose videos may not be read: validation must never open one."""

    def __iter__(self):
        raise AssertionError("validation read a test video")

    def __getitem__(self, key):
        raise AssertionError("validation read a test video")


def test_validate_ranks_configurations_on_training_videos_only(tmp_path):
    import vadbench

    ds = vadbench.create_dataset("synthetic", seed=0, cache_dir=tmp_path / "data", n_train=3, n_test=2,
                                 n_frames=80)
    ds = dataclasses.replace(ds, test=_Untouchable(ds.name, "test", list(ds.test.videos)))
    configs = [{"groups": ["velocity"]}, {"groups": ["velocity", "geometry"], "k": 3}]
    report = validate("teacher-kin-boxes", ds, configs, workdir=tmp_path / "work", copies=1, seed=0)
    train_ids = [v.id for v in ds.train]
    assert report["held_out"] == train_ids[-1:] and report["fit_videos"] == train_ids[:-1]
    assert report["kinds"] == ["skip_frames", "enlarged_object"] and report["n_videos"] == 2
    assert len(report["results"]) == 2 and report["best"] in (0, 1)
    for row in report["results"]:
        assert 0 <= row["micro"] <= 100 and set(row["by_kind"]) == {"skip_frames", "enlarged_object"}
    # sped-up walkers are what a velocity teacher sees: far above chance on a held-out video
    assert max(r["by_kind"]["skip_frames"]["micro"] for r in report["results"]) > 80
    table = report_table(report)
    assert table.count("(best)") == 1 and "skip_frames micro" in table


def test_a_misspelt_setting_in_the_grid_stops_validate_with_one_line_before_any_fit(tmp_path, capsys):
    from vadbench.cli import main

    code = main(["validate", "teacher-kin-boxes", "--dataset", "synthetic",
                 "--data-root", str(tmp_path / "data"), "--work", str(tmp_path / "work"),
                 "--grid", '[{"k": 3}, {"nope": 1}]'])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err
    assert "grid entry 2" in err and "'nope'" in err
    assert not (tmp_path / "work").exists() or not any((tmp_path / "work").rglob("*.pt"))
