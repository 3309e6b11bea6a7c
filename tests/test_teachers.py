"""The object-centric teachers (plugins/teachers) on small synthetic arrays: detector, maps, teachers,
state."""

from __future__ import annotations

import io

import numpy as np
import pytest

torch = pytest.importorskip("torch")
teachers = pytest.importorskip("vadbench_teachers")

from vadbench_teachers.ae import AutoencoderTeacher
from vadbench_teachers.attr import AttributeTeacher
from vadbench_teachers.base import smooth_along_tracks, with_context
from vadbench_teachers.detector import BackgroundDetector, merge_boxes
from vadbench_teachers.maps import box_maps, rasterize
from vadbench_teachers.ssl import IRREGULAR, SequenceTeacher
from vadbench_teachers.tracker import IoUTracker

from vadbench import RunContext
from vadbench.data.frames import FrameSource
from vadbench.data.video import Split, Video
from vadbench.maps import pool_maps
from vadbench.metrics import box_iou

H, W = 60, 96


def scene(rng: np.random.Generator, n: int) -> np.ndarray:
    """A static textured background with mild sensor noise, (n, H, W) float."""
    base = 110 + 25 * np.sin(np.arange(W) / 7.0)[None] * np.cos(np.arange(H) / 11.0)[:, None]
    return base[None] + rng.normal(0, 1.5, (n, H, W))


def walkers(seed: int, n: int = 40, speeds=(1.0, -1.0, 1.0), fast: float | None = None,
            fast_from: int = 0) -> np.ndarray:
    """Dark 5x10 'walkers' crossing the scene at about 1 px/frame; optionally a bright fast 8x8 mover."""
    rng = np.random.default_rng(seed)
    frames = scene(rng, n)
    rows = [12, 28, 44]
    starts = rng.uniform(10, W - 20, len(speeds))
    for t in range(n):
        for r, s, x0 in zip(rows, speeds, starts, strict=False):  # as many walkers as speeds (at most 3)
            x = round((x0 + s * t) % (W - 6))
            frames[t, r:r + 10, x:x + 5] = 40
        if fast is not None and t >= fast_from:
            x = round((4 + fast * (t - fast_from)) % (W - 9))
            frames[t, 4:12, x:x + 8] = 230
    return frames.clip(0, 255).astype(np.uint8)


def video(name: str, frames: np.ndarray) -> Video:
    return Video(name, FrameSource.from_array(frames, path=f"<array {name}>"))


def train_split(n_videos: int = 3) -> Split:
    return Split("toy", "train", [video(f"t{i}", walkers(i)) for i in range(n_videos)])


# -- detector -------------------------------------------------------------------------------
def test_detector_finds_a_moving_square_and_nothing_in_a_static_scene():
    rng = np.random.default_rng(0)
    frames = scene(rng, 30)
    for t in range(30):
        frames[t, 20:32, 5 + 2 * t:17 + 2 * t] = 220
    frames = frames.clip(0, 255).astype(np.uint8)
    det = BackgroundDetector()
    boxes = det.detect_video(frames)
    for t in (5, 15, 25):
        assert len(boxes[t]) == 1
        truth = np.array([[5 + 2 * t, 20, 16 + 2 * t, 31]])
        assert box_iou(boxes[t], truth)[0, 0] > 0.6
    static = scene(rng, 20).clip(0, 255).astype(np.uint8)
    assert sum(len(b) for b in det.detect_video(static)) == 0


def test_detector_fitted_background_and_state_round_trip():
    train = [walkers(i) for i in range(2)]
    det = BackgroundDetector().fit(train)
    assert len(det.scenes) == 1 and det.background.shape == (H, W)
    other = BackgroundDetector()
    other.load_state_dict(det.state_dict())
    frames = walkers(5)
    a, b = det.detect_video(frames), other.detect_video(frames)
    assert all(np.array_equal(x, y) for x, y in zip(a, b, strict=True))
    assert np.mean([len(x) for x in a]) >= 2.5  # the three walkers


def test_merge_boxes_joins_fragments_not_neighbours():
    assert merge_boxes(np.array([[0, 0, 9, 19], [1, 21, 8, 25]]), gap=2).tolist() == [[0, 0, 9, 25]]
    apart = np.array([[0, 0, 9, 19], [12, 0, 21, 19]])
    assert merge_boxes(apart, gap=2).tolist() == apart.tolist()


def test_tracker_and_track_smoothing():
    boxes = [np.array([[0 + t, 0, 9 + t, 9], [40, 40, 49, 49]]) for t in range(5)]
    ids = IoUTracker().track(boxes)
    assert [i.tolist() for i in ids] == [[0, 1]] * 5
    frame = np.repeat(np.arange(5), 2)
    flat = np.concatenate(boxes)
    scores = np.where(np.arange(10) == 4, 9.0, 1.0)  # a one-frame spike on track 0
    assert smooth_along_tracks(frame, flat, scores, 3).max() == 1.0
    assert with_context(np.arange(4), 2).tolist() == [2, 1, 0, 1, 2, 3]


# -- maps -----------------------------------------------------------------------------------------
def test_rasterize_max_paints_boxes_and_zero_elsewhere():
    m = rasterize(np.array([[1, 1, 3, 2], [2, 2, 5, 4]]), np.array([0.5, 2.0]), 6, 8)
    assert m.shape == (6, 8)
    assert m[1, 1] == 0.5 and m[2, 3] == 2.0 and m[4, 5] == 2.0  # max on overlap, inclusive edges
    assert m[0].sum() == 0 and m[5].sum() == 0 and m[:, 6:].sum() == 0
    assert (m > 0).sum() == 3 * 2 + 4 * 3 - 2  # union of the two boxes


def test_pooling_by_hand_and_box_maps_agree_with_rasterized_pooling():
    m = np.zeros((1, 8, 8), np.float32)
    m[0, 0, 0], m[0, 7, 7], m[0, 3, 4] = 1.0, 3.0, 2.0
    p = pool_maps(m, (1, 2, 4))
    assert p["1x1"][0].tolist() == [[3.0]]
    assert p["2x2"][0].tolist() == [[1.0, 2.0], [0.0, 3.0]]
    assert p["4x4"][0, 1, 2] == 2.0 and p["4x4"][0, 3, 3] == 3.0 and p["4x4"].sum() == 6.0
    rng = np.random.default_rng(1)
    for h, w in [(240, 360), (37, 53)]:
        boxes, scores = [], []
        for _ in range(4):
            n = rng.integers(0, 5)
            x0, y0 = rng.integers(0, w, n), rng.integers(0, h, n)
            b = np.stack([x0, y0, np.minimum(x0 + rng.integers(0, 40, n), w - 1),
                          np.minimum(y0 + rng.integers(0, 40, n), h - 1)], 1)
            boxes.append(b)
            scores.append(rng.uniform(0.1, 5, n))
        full = np.stack([rasterize(b, s, h, w) for b, s in zip(boxes, scores, strict=True)])
        ref = pool_maps(full, (1, 4, 16))
        for k in (1, 4, 16):
            assert np.allclose(box_maps(boxes, scores, (h, w), k), ref[f"{k}x{k}"])


# -- teachers -------------------------------------------------------------------------------------------
QUICK = {
    AttributeTeacher: {},
    AutoencoderTeacher: {"epochs": 8, "train_stride": 1, "batch_size": 32, "lr": 3e-3},
    SequenceTeacher: {"epochs": 8, "train_stride": 1, "batch_size": 32, "lr": 3e-3, "crop": 16},
}


@pytest.fixture(scope="module")
def fitted(tmp_path_factory):
    torch.set_num_threads(1)
    out = {}
    train = train_split()
    for cls, cfg in QUICK.items():
        model = cls(**cfg)
        model.name = cls.__name__
        model.fit(train, RunContext(cache_dir=tmp_path_factory.mktemp(cls.__name__)))
        out[cls] = model
    return out


@pytest.mark.parametrize("cls", list(QUICK), ids=lambda c: c.__name__)
def test_teacher_scores_a_fast_object_above_normal_walkers(fitted, cls):
    model = fitted[cls]
    test = video("fast", walkers(99, n=40, fast=6.0, fast_from=20))
    s = model.score(test)
    assert s.frame.shape == (40,) and np.isfinite(s.frame).all() and (s.frame >= 0).all()
    normal, anomalous = s.frame[2:20], s.frame[22:]
    assert np.median(anomalous) > normal.max(), (normal.round(2), anomalous.round(2))
    # the fast mover's own box carries the highest score of its frames
    reg = s.regions
    assert reg.shape[1] == 6
    late = reg[reg[:, 0] >= 22]
    top = late[np.argsort(-late[:, 5])][: len(np.unique(late[:, 0]))]
    assert np.mean(top[:, 2] <= 12) > 0.7  # y_min of the fast mover (rows 4..11)


@pytest.mark.parametrize("cls", list(QUICK), ids=lambda c: c.__name__)
def test_maps_regions_and_hot_path(fitted, cls):
    model = fitted[cls]
    v = video("plain", walkers(7, n=24))
    s = model.score(v)
    maps = model.multiscale_maps(v)
    assert set(maps) == {"1x1", "4x4", "16x16"}
    assert maps["16x16"].shape == (24, 16, 16) and maps["16x16"].dtype == np.float32
    assert np.array_equal(s.maps, maps["16x16"])
    assert np.allclose(maps["1x1"][:, 0, 0], s.frame)  # frame score = max object score = max of the map
    assert np.allclose(maps["4x4"].max((1, 2)), s.frame)
    empty = model.score(video("empty", scene(np.random.default_rng(3), 12).clip(0, 255).astype(np.uint8)))
    assert (empty.frame == 0).all() and len(empty.regions) == 0
    batch = model.example_input(4)
    assert batch.dtype == np.uint8 and len(batch) == 4 + model.context
    out = model.forward(batch)
    assert out.shape == (4,) and np.isfinite(out).all()
    # forward on a video's own frames, with that video's background, finds its objects
    frames = v.read(gray=True)
    model._bg = model.detector.background_for(frames)
    k = model.context
    fwd = model.forward(frames[10 - k:18])
    model._bg = None
    assert fwd.shape == (8,) and (fwd > 0).all()


@pytest.mark.parametrize("cls", list(QUICK), ids=lambda c: c.__name__)
def test_state_dict_round_trip_gives_identical_scores(fitted, cls):
    model = fitted[cls]
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    clone = cls(**QUICK[cls])
    clone.load_state_dict(state)
    v = video("fast2", walkers(11, n=30, fast=5.0, fast_from=10))
    a, b = model.score(v), clone.score(v)
    assert np.array_equal(a.frame, b.frame)
    assert np.array_equal(a.maps, b.maps)
    assert np.array_equal(a.regions, b.regions)


def test_plugin_registers_the_teachers():
    from vadbench_teachers import plugin

    names = {}

    class Reg:
        def register(self, name, factory, family="", **kw):
            names[name] = (factory, family, kw)

    plugin.vadbench_register_models(Reg())
    assert {"teacher-attr", "teacher-ae", "teacher-ssl"} <= set(names)
    assert all(family == "teacher" for _, family, _ in names.values())
    assert all("quick" in kw for _, _, kw in names.values())


def test_the_run_seed_drives_a_trained_teacher(fitted, tmp_path):
    """Seeds of a suite must differ: the autoencoder takes its seed from the run context."""
    cfg = dict(QUICK[AutoencoderTeacher], epochs=2)
    test = video("fast", walkers(99, n=24, fast=6.0, fast_from=12))
    scores = {}
    for seed in (0, 0, 1):
        model = AutoencoderTeacher(**cfg)
        model.fit(train_split(), RunContext(cache_dir=tmp_path / "cache", seed=seed))
        assert model.seed == seed
        scores.setdefault(seed, []).append(model.score(test).frame)
    np.testing.assert_array_equal(scores[0][0], scores[0][1])
    assert not np.allclose(scores[0][0], scores[1][0])


def test_sequence_teacher_learns_its_three_tasks(fitted):
    """Irregular sequences skip frames; the trained heads tell backwards and skipped motion apart."""
    assert len(IRREGULAR) == 69 and (IRREGULAR[:, -1] == 8).all() and (IRREGULAR[:, 0] < 4).all()
    assert (np.diff(IRREGULAR, axis=1) > 0).all()
    model = fitted[SequenceTeacher]
    seq = model.video_objects(video("walk", walkers(21, n=30)))["seq"]
    x = model._tensor(seq)
    fwd, skipped = x[:, [4, 5, 6, 7, 8]], x[:, [0, 2, 4, 6, 8]]
    with torch.inference_mode():
        p_fwd, p_back, p_skip = (torch.sigmoid(model.net.logits(s)) for s in (fwd, fwd.flip(1), skipped))
    assert p_back[:, 0].mean() > p_fwd[:, 0].mean() + 0.2
    assert p_skip[:, 1].mean() > p_fwd[:, 1].mean() + 0.2
    assert model._components(seq).shape == (len(seq), 3)


def test_log1p_frame_score_is_log1p_of_the_largest_object_score(fitted):
    model = fitted[AttributeTeacher]
    logged = AttributeTeacher(**QUICK[AttributeTeacher], frame_score="log1p")
    logged.load_state_dict(model.state_dict())
    v = video("fast3", walkers(13, n=24, fast=5.0, fast_from=8))
    plain, other = model.score(v), logged.score(v)
    assert np.allclose(other.frame, np.log1p(plain.frame)) and other.frame.max() > 0
    assert np.array_equal(other.maps, plain.maps) and np.array_equal(other.regions, plain.regions)
    batch = model.example_input(3)
    assert np.allclose(logged.forward(batch), np.log1p(model.forward(batch)))
    assert logged.config["frame_score"] == "log1p" and "frame_score" not in model.config
    with pytest.raises(ValueError, match="frame_score"):
        AttributeTeacher(frame_score="mean")


# -- teachers on the boxes of a detections file ------------------------------------------------


@pytest.mark.parametrize("name", ["teacher-attr-boxes", "teacher-kin-boxes", "teacher-kin-hog-boxes"])
def test_a_teacher_on_a_detections_file_scores_the_fast_object_above_its_walkers(tmp_path, name):
    """The synthetic dataset's detections file (every pedestrian and every anomalous object, boxed)
    feeds the teacher: its regions are the file's boxes, and the cyclist or runner outscores
    the walkers of its own video."""
    import json

    import vadbench

    ds = vadbench.create_dataset("synthetic", seed=0, cache_dir=tmp_path, n_train=3, n_test=3, n_frames=60)
    teacher = vadbench.create_model(name)
    teacher.fit(ds.train, RunContext(cache_dir=tmp_path, seed=0))
    events = json.loads((ds.root / "labels" / "events.json").read_text())
    fast_videos = [v for v in ds.test if any(e["kind"] in ("cyclist", "running") for e in events[v.id])]
    assert fast_videos, "the synthetic test split holds a cyclist or a runner"
    for v in fast_videos:
        scores = teacher.score(v)
        rows = v.detections()
        assert len(scores.regions) == len(rows)  # one scored region per box of the file, nothing found anew
        inclusive = np.c_[np.floor(rows[:, 1:3]), np.ceil(rows[:, 3:5]) - 1]
        assert np.array_equal(np.sort(scores.regions[:, 1:5], 0), np.sort(inclusive, 0))
        anomalous = np.zeros(len(scores.regions), bool)
        for _, t, *box in v.tracks:
            in_frame = np.flatnonzero(scores.regions[:, 0] == t)
            if len(in_frame):
                iou = box_iou(np.array([box]), scores.regions[in_frame, 1:5].astype(np.int64))[0]
                anomalous[in_frame[iou.argmax()]] = iou.max() > 0.5
        assert anomalous.sum() > 5
        fast, walk = scores.regions[anomalous, 5], scores.regions[~anomalous, 5]
        assert np.median(fast) > np.percentile(walk, 90), (np.median(fast), np.percentile(walk, 90))


def test_a_precomputed_teacher_without_a_detections_file_is_refused_in_one_line(tmp_path):
    teacher = AttributeTeacher(detector={"kind": "precomputed"})
    with pytest.raises(ValueError, match="has no detections file"):
        teacher.fit(train_split(1), RunContext(cache_dir=tmp_path, seed=0))
    with pytest.raises(ValueError, match="detector kind must be one of"):
        AttributeTeacher(detector={"kind": "yolo"})


def test_a_precomputed_teacher_hot_path_takes_frames_and_boxes_and_names_its_detection_stage():
    teacher = AttributeTeacher(detector={"kind": "precomputed"})
    frames, rows = teacher.example_input(3)
    assert frames.shape[0] == 3 + teacher.context and rows.shape[1] == 5 and set(rows[:, 0]) == {0, 1, 2}
    assert teacher.forward((frames, rows)).shape == (3,)
    assert list(teacher.profile_stages()) == ["detection (maskrcnn_resnet50_fpn, live, untrained weights)"]
    assert AttributeTeacher().profile_stages() == {}


@pytest.mark.parametrize("name", ["teacher-attr-boxes", "teacher-kin-boxes", "teacher-kin-hog-boxes"])
def test_teachers_on_boxes_run_on_the_avenue_layout_with_a_detections_folder(tmp_path, name):
    """The Avenue path: MJPG videos decoded by OpenCV, boxes mapped by the per-video frame counts of the
    videos found, the teacher fitted on them, the anomalous test frames ranked above the normal ones."""
    import shutil

    from conftest import write_avenue

    import vadbench
    from vadbench.metrics import frame_auc

    syn = vadbench.create_dataset("synthetic", seed=0, cache_dir=tmp_path / "cache", n_train=3, n_test=2,
                                  n_frames=60)
    masks = [v.masks().astype(np.uint8) for v in syn.test]
    root = write_avenue(tmp_path / "avenue", [v.read() for v in syn.train], [v.read() for v in syn.test],
                        masks, size=(240, 160))
    shutil.copytree(syn.root / "detections", root / "detections")
    ds = vadbench.create_dataset("avenue", root=root)
    assert ds.detections == str(root / "detections") and [v.id for v in ds.test] == ["01", "02"]
    for mine, theirs in zip(ds.test, syn.test, strict=True):
        assert np.array_equal(mine.detections(), theirs.detections())
    teacher = vadbench.create_model(name)
    teacher.fit(ds.train, RunContext(cache_dir=tmp_path, seed=0))
    scores = [teacher.score(v.unlabelled()).frame for v in ds.test]
    assert frame_auc(scores, [v.labels for v in ds.test], sigma=3) > 0.7  # chance is 0.5


def test_a_teacher_on_a_live_torchvision_detector_fits_scores_and_times_detection_in_its_hot_path(tmp_path):
    """The live path: an untrained SSDlite (weights cannot be fetched here) finds the boxes on every frame;
    the teacher fits and scores on them, and its hot path includes the detector (no stage to add)."""
    live = {"kind": "torchvision", "arch": "ssdlite320_mobilenet_v3_large", "weights": None, "score_thr": 0.0,
            "min_side": 2, "detections_per_img": 3}
    teacher = AttributeTeacher(detector=live)
    teacher.fit(Split("toy", "train", [video(f"t{i}", walkers(i, n=12)) for i in range(2)]),
                RunContext(cache_dir=tmp_path, seed=0))
    s = teacher.score(video("fast", walkers(9, n=12, fast=4.0)))
    assert s.frame.shape == (12,) and np.isfinite(s.frame).all() and len(s.regions)
    assert teacher.forward(teacher.example_input(2)).shape == (2,)
    assert teacher.profile_stages() == {}
    assert AttributeTeacher(detector=live).config["detector"]["arch"] == "ssdlite320_mobilenet_v3_large"


def test_kinematic_appearance_group_scores_an_unseen_shape_above_a_seen_one():
    import cv2
    from vadbench_teachers.kinematic import KinematicTeacher

    rng = np.random.default_rng(0)
    box = np.array([[15, 5, 35, 45]])

    def objects(shape, video):
        f = rng.integers(0, 20, (60, 60), dtype=np.uint8)
        if shape == "bar":  # a walker: a tall bar
            f[10:40, 21:29] = 200
        else:  # a wheel: a ring of the same extent
            cv2.circle(f, (25, 25), 9, 200, 2)
        o = KinematicTeacher(groups=["appearance"], crop=16).describe(np.stack([f, f]), [box], None)
        return {**o, "video": np.array([video])}

    teacher = KinematicTeacher(groups=["appearance"], crop=16)
    teacher.fit_objects([objects("bar", i) for i in range(8)], None)
    assert set(objects("bar", 0)) == {"velocity", "geometry", "appearance", "video"}
    ring, bar = (float(teacher.score_objects(objects(s, 0))[0]) for s in ("ring", "bar"))
    assert ring > 3 * bar


def test_a_teacher_refuses_a_setting_it_does_not_take():
    from vadbench_teachers.kinematic import KinematicTeacher

    with pytest.raises(TypeError, match="unexpected setting 'max_sped'"):
        KinematicTeacher(max_sped=4.0)
    with pytest.raises(TypeError, match="unexpected setting 'wieghts'"):
        AttributeTeacher(wieghts={"velocity": 2.0})
    plain = KinematicTeacher(groups=["velocity"])
    assert plain.config == KinematicTeacher(groups=["velocity"], crop=32).config  # no appearance, no crop
