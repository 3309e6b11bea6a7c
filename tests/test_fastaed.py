"""The Fast-AED student (plugins/fastaed): shapes, parameter count, losses, persistence, frame order.

Tiny inputs and a stub teacher (an object with ``multiscale_maps``) keep the
whole file well under a minute on two CPU cores.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch
import torch.nn.functional as F

pytest.importorskip("vadbench_fastaed")

from vadbench_fastaed import FastAED
from vadbench_fastaed.frames import stack_input, triplet_index
from vadbench_fastaed.nets import MapDiscriminator, StudentNet, count_parameters, fold_batchnorm
from vadbench_fastaed.plugin import CONFIGS, PAPER

from vadbench import RunContext
from vadbench.data import FrameSource, Video
from vadbench.data.video import Split

TINY = {"size": (48, 32), "widths": (8, 16, 16), "stem_stride": 1, "depth": 1, "heads": 1, "dim_head": 8,
        "mlp_mult": 2, "head_hidden": 8, "batch_size": 8, "infer_batch": 8, "decode_threads": 1,
        "warmup_epochs": 0}


pytestmark = pytest.mark.usefixtures("one_torch_thread")


class StubTeacher:
    """A stand-in teacher: block-wise frame-difference maps, max-pooled to 1x1, 4x4 and 16x16."""

    def __init__(self, **config):
        self.config = dict(config)
        self.fitted_on: list[str] = []

    def fit(self, train, ctx):
        self.fitted_on = [v.id for v in train]

    def multiscale_maps(self, video):
        f = torch.from_numpy(video.read(gray=True).astype(np.float32))
        d = (f - torch.cat([f[:1], f[:-1]])).abs()[:, None] / 255.0
        return {f"{n}x{n}": F.adaptive_max_pool2d(d, n)[:, 0].numpy() for n in (1, 4, 16)}

    def state_dict(self):
        return {"fitted_on": list(self.fitted_on)}


def moving_square_video(vid: str, n: int = 24, h: int = 64, w: int = 96, speed: int = 2,
                        seed: int = 0) -> Video:
    rng = np.random.default_rng(seed)
    frames = np.full((n, h, w), 90, np.uint8) + rng.integers(0, 6, (n, h, w), dtype=np.uint8)
    for t in range(n):
        x = (5 + speed * t) % (w - 12)
        frames[t, 20:32, x:x + 10] = 220
    return Video(vid, FrameSource.from_array(frames))


def stub_ctx(tmp_path, teacher=None) -> RunContext:
    teacher = teacher or StubTeacher()
    return RunContext(cache_dir=tmp_path, seed=0, get_model=lambda name, **cfg: teacher)


def train_split(n_videos: int = 2) -> Split:
    return Split("toy", "train",
                 [moving_square_video(f"{i:02d}", speed=1 + i, seed=i) for i in range(n_videos)])


# --------------------------------------------------------------------------- architecture


@pytest.mark.parametrize("size", [(45, 30), (90, 60), (64, 36), (37, 53)])
@pytest.mark.parametrize("arch", ["native", "native-s2", "mbv3"])
def test_every_head_has_its_shape(size, arch):
    w, h = size
    if arch == "mbv3":
        net = StudentNet(in_ch=3, backbone="mobilenetv3_small_050", out_indices=(1, 2), depth=1, heads=1,
                         dim_head=8, head_hidden=8)
    else:
        net = StudentNet(in_ch=3, widths=(8, 16, 16), stem_stride=2 if arch == "native-s2" else 1, depth=1,
                         heads=1, dim_head=8, head_hidden=8)
    out = net.eval()(torch.zeros(2, 3, h, w))
    assert {k: tuple(v.shape) for k, v in out.items()} == {"1x1": (2, 1, 1), "4x4": (2, 4, 4),
                                                           "16x16": (2, 16, 16)}
    folded = fold_batchnorm(net)
    with torch.inference_mode():
        again = folded(torch.zeros(2, 3, h, w))
    for k in out:
        torch.testing.assert_close(again[k], out[k].detach(), rtol=1e-4, atol=1e-5)


def test_single_scale_student_has_one_head():
    net = StudentNet(in_ch=3, widths=(8, 16), scales=(16,), depth=0, head_hidden=8)
    assert list(net(torch.zeros(2, 3, 30, 45))) == ["16x16"]


def test_paper_configuration_has_the_authors_parameter_count():
    # 4,997,846 in the authors' code, of which 99 belong to the unused ``out_image`` conv
    model = FastAED(**PAPER)
    assert count_parameters(model.net) == 4_997_846 - 99
    x = model.example_input(1)
    assert tuple(x.shape) == (1, 9, 360, 640) and x.dtype == torch.uint8
    assert model.forward(x).shape == (1,)  # runs untrained
    assert sum(p.numel() for p in MapDiscriminator((1, 4, 16)).parameters()) == 959


def test_registered_cpu_students_run_untrained():
    for name in ("fastaed-s", "fastaed-xs", "fastaed-m", "fastaed-mbv3"):
        model = FastAED(**CONFIGS[name])
        assert model.forward(model.example_input(3)).shape == (3,)


# --------------------------------------------------------------------------- losses


def test_a_discriminator_step_lowers_its_loss_on_a_fixed_batch():
    torch.manual_seed(0)
    d = MapDiscriminator((1, 4, 16))
    real = {"1x1": torch.rand(16, 1, 1) + 1.0, "4x4": torch.rand(16, 4, 4) + 0.5,
            "16x16": torch.rand(16, 16, 16)}
    fake = {k: torch.zeros_like(v) for k, v in real.items()}
    opt = torch.optim.Adam(d.parameters(), lr=1e-2)

    def loss():
        r, f = d(real), d(fake)
        return (F.binary_cross_entropy_with_logits(r, torch.ones_like(r))
                + F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)))

    before = loss()
    opt.zero_grad()
    before.backward()
    opt.step()
    assert float(loss().detach()) < float(before.detach())
    # the fake term alone has a gradient for D (the authors' detached-output bug would give none)
    f = d({k: v.detach() for k, v in fake.items()})
    F.binary_cross_entropy_with_logits(f, torch.zeros_like(f)).backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in d.parameters())


@pytest.mark.parametrize("lam", [0.0, 0.1])
def test_a_few_distillation_steps_lower_the_regression_loss(tmp_path, lam):
    model = FastAED(**TINY, epochs=6, lr=3e-3, lam=lam, targets="direct")
    model.fit(train_split(), stub_ctx(tmp_path))
    kd = model.history["kd_loss"]
    assert len(kd) == 6 and kd[-1] < 0.7 * kd[0]
    if lam > 0:
        assert all(np.isfinite(model.history["d_loss"])) and model.history["d_loss"][0] > 0


def test_held_out_videos_give_fidelity_on_unseen_and_on_seen_clips_at_their_own_speed(tmp_path):
    model = FastAED(**TINY, epochs=2, targets="direct", val_every=2, speedups=(2,))
    model.fit(train_split(4), stub_ctx(tmp_path))
    h = model.history
    # videos 01 and 03 are held out: their 2 x 24 clips as they are (their sped-up copies are left out of
    # the measure), against as many clips at their own speed from videos 00 and 02, which it trained on
    assert h["val_samples"] == [48.0] and h["fit_samples"] == [48.0]
    assert all(np.isfinite(h[k][0]) for k in ("val_mse", "val_spearman", "fit_mse", "fit_spearman"))
    assert -1 <= h["val_spearman"][0] <= 1 and -1 <= h["fit_spearman"][0] <= 1


def test_phase_one_pretraining_lowers_the_reconstruction_loss(tmp_path):
    model = FastAED(**TINY, epochs=1, pretrain_epochs=4, pretrain_lr=3e-3, targets="direct")
    model.fit(train_split(), stub_ctx(tmp_path))
    rec = model.history["pretrain_loss"]
    assert len(rec) == 4 and rec[-1] < rec[0]


def test_crossfit_scores_each_video_with_a_teacher_that_never_saw_it(tmp_path):
    seen: list[list[str]] = []

    class Recorder(StubTeacher):
        def multiscale_maps(self, video):
            seen.append([video.id, *self.fitted_on])
            return super().multiscale_maps(video)

    model = FastAED(**TINY, epochs=1, folds=2, speedups=(2,))
    model.fit(train_split(3), stub_ctx(tmp_path, Recorder()))
    assert sorted(s[0] for s in seen) == ["00", "00@x2", "01", "01@x2", "02", "02@x2"]
    assert all(s[0].split("@")[0] not in s[1:] and len(s) > 1 for s in seen)


def test_sped_up_clips_take_every_fth_frame_with_the_same_triplet_rule(tmp_path):
    n, k, f = 20, 2, 3
    frames = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None], 32 * 48, 1).reshape(n, 32, 48)
    video = Video("ramp", FrameSource.from_array(frames))
    clip = FastAED.sped_up(video, f)
    assert clip.read(gray=True)[:, 0, 0].tolist() == list(range(0, n, f))
    model = FastAED(**TINY, offset=k, epochs=1, targets="direct", speedups=(f,))
    rows: list[np.ndarray] = []
    original = model._input
    model._input = lambda allf, idx3: (rows.append(stack_input(allf, idx3)[:, :, 0, 0].copy()),
                                       original(allf, idx3))[1]
    model.fit(Split("toy", "train", [video]), stub_ctx(tmp_path))
    seen = {tuple(int(v) for v in r) for r in np.concatenate(rows)}
    m = len(range(0, n, f))
    expected_clip = {tuple(int(v) * f for v in r) for r in triplet_index(m, k)}
    expected_plain = {tuple(int(v) for v in r) for r in triplet_index(n, k)}
    assert seen == expected_clip | expected_plain


def _square_with_boxes(n: int = 60) -> Video:
    """A 10x12 square moving right a pixel a frame, with its box in the detections."""
    frames = np.full((n, 64, 96), 90, np.uint8)
    rows = []
    for t in range(n):
        frames[t, 30:42, 10 + t:20 + t] = 220
        rows.append([t, 10 + t, 30, 20 + t, 42])
    boxes = np.array(rows, np.float32)
    return Video("sq", FrameSource.from_array(frames), detection_loader=lambda: boxes)


def test_enlarged_clips_paste_one_object_larger_and_the_teachers_score_them(tmp_path):
    video = _square_with_boxes()
    clip = FastAED.enlarged(video, np.random.default_rng(0))
    big = clip.read(gray=True) != video.read(gray=True)
    changed = np.flatnonzero(big.any((1, 2)))
    assert 0 < len(changed) <= 40 and clip.id == "sq@big0"
    heights = clip.detections()[:, 4] - clip.detections()[:, 2]
    assert heights[changed].min() >= 1.5 * 12 - 1 and np.delete(heights, changed).max() == 12
    assert FastAED.enlarged(Video("none", FrameSource.from_array(np.zeros((60, 8, 8), np.uint8))),
                            np.random.default_rng(0)) is None  # no detections: no copy
    # in training: the enlarged copy is one more clip whose targets are the teacher's maps of it
    scored: list[str] = []
    teacher = StubTeacher()
    maps_of = teacher.multiscale_maps
    teacher.multiscale_maps = lambda v: (scored.append(v.id), maps_of(v))[1]
    model = FastAED(**TINY, epochs=1, targets="direct", speedups=(), enlarged=1)
    model.fit(Split("toy", "train", [video]), stub_ctx(tmp_path, teacher))
    assert scored == ["sq", "sq@big0"] and "enlarged" in model.config
    assert "enlarged" not in FastAED(**TINY).config  # at its default: earlier configurations keep their hash


def test_motion_flow_is_a_teacher_whose_maps_follow_the_motion(tmp_path):
    """``motion-flow`` (no training) gives maps at the student's scales; a student distils from it."""
    import vadbench

    flow = vadbench.create_model("motion-flow", size=None)
    fast, slow = moving_square_video("fast", speed=6, seed=1), moving_square_video("slow", speed=1, seed=1)
    maps = flow.multiscale_maps(fast)
    assert {k: v.shape for k, v in maps.items()} == {"1x1": (24, 1, 1), "4x4": (24, 4, 4),
                                                     "16x16": (24, 16, 16)}
    np.testing.assert_allclose(maps["1x1"][:, 0, 0], maps["16x16"].max((1, 2)), rtol=1e-6)
    np.testing.assert_allclose(maps["4x4"].max((1, 2)), maps["16x16"].max((1, 2)), rtol=1e-6)
    assert np.median(maps["1x1"]) > 2 * np.median(flow.multiscale_maps(slow)["1x1"])
    rows = maps["16x16"][5].max(1)  # the square moves along rows 20-31 of 64: grid rows 5-7
    assert rows[5:8].max() > 5 * max(rows[:3].max(), rows[10:].max())

    model = FastAED(**TINY, epochs=1, teachers=["motion-flow"], targets="direct", speedups=(2,))
    model.fit(train_split(), RunContext(cache_dir=tmp_path, seed=0, get_model=lambda name, **cfg: flow))
    assert model.norm["motion-flow"] > 0
    assert np.isfinite(model.score(fast).frame).all()


# --------------------------------------------------------------------------- persistence and order


def test_training_is_repeatable_and_a_saved_student_reloads_to_identical_scores(tmp_path):
    split, test = train_split(), moving_square_video("t", speed=5, seed=9)
    model = FastAED(**TINY, epochs=2, targets="direct")
    model.fit(split, stub_ctx(tmp_path))
    first = model.score(test)
    assert first.frame.shape == (len(test),) and first.maps.shape == (len(test), 16, 16)

    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    reloaded = FastAED(**TINY, epochs=2, targets="direct")
    reloaded.load_state_dict(torch.load(buf, weights_only=True))
    again = reloaded.score(test)
    np.testing.assert_array_equal(first.frame, again.frame)
    np.testing.assert_array_equal(first.maps, again.maps)

    other = FastAED(**TINY, epochs=2, targets="direct")
    other.fit(split, stub_ctx(tmp_path))
    np.testing.assert_array_equal(first.frame, other.score(test).frame)


def test_frame_order_is_the_same_in_training_and_scoring(tmp_path):
    n, k = 12, 3
    frames = np.repeat(np.arange(n, dtype=np.uint8)[:, None, None] * 10, 32 * 48, 1).reshape(n, 32, 48)
    video = Video("ramp", FrameSource.from_array(frames))
    expected = np.clip(np.arange(n)[:, None] + np.array([-k, 0, k]), 0, n - 1) * 10
    assert (triplet_index(n, k) * 10 == expected).all()

    model = FastAED(**TINY, offset=k, epochs=1, targets="direct", speedups=())
    trained: list[np.ndarray] = []
    original = model._input

    def spy_input(allf, idx3):
        trained.append(stack_input(allf, idx3)[:, :, 0, 0].copy())
        return original(allf, idx3)

    model._input = spy_input
    model.fit(Split("toy", "train", [video]), stub_ctx(tmp_path))
    seen_train = np.concatenate(trained)
    assert {tuple(r) for r in seen_train} == {tuple(r) for r in expected}

    scored: list[np.ndarray] = []
    maps = model.maps

    def spy_maps(batch):
        scored.append(batch[:, :, 0, 0].numpy().copy())
        return maps(batch)

    model.maps = spy_maps
    model.score(video)
    np.testing.assert_array_equal(np.concatenate(scored), expected)


def test_colour_input_stacks_nine_channels_in_frame_order():
    frames = np.zeros((5, 4, 6, 3), np.uint8)
    for t in range(5):
        frames[t] = [t, 10 + t, 20 + t]  # B, G, R of frame t
    x = stack_input(frames, triplet_index(5, 1, np.array([2])))
    assert x.shape == (1, 9, 4, 6)
    assert x[0, :, 0, 0].tolist() == [1, 11, 21, 2, 12, 22, 3, 13, 23]


@pytest.mark.parametrize("extra", [{}, {"fine_heads": 8}, {"scales": (16,), "score": "max"}, {"color": True}])
def test_inference_network_matches_the_training_network(extra):
    from vadbench_fastaed.model import to_input

    model = FastAED(**{**TINY, **extra})
    model.net.eval()
    x = model.example_input(3)
    with torch.inference_mode():
        ref = model.net(to_input(x))
        out = model.maps(x)  # BN folded, input scale folded, heads fused, channels-last
    assert list(out) == list(ref) or set(out) == set(ref)
    for k in ref:
        torch.testing.assert_close(out[k], ref[k], rtol=1e-4, atol=1e-5)


def test_an_exported_fitted_student_gives_the_same_frame_scores_through_onnx_runtime(tmp_path):
    pytest.importorskip("onnxruntime", reason="ONNX export is an extra: pip install 'vadbench[onnx]'")
    from vadbench.export import OnnxHotPath, export_onnx

    test = moving_square_video("t", speed=5, seed=9)
    model = FastAED(**TINY, epochs=2, targets="direct")
    model.fit(train_split(), stub_ctx(tmp_path))
    expected = model.score(test).frame

    export_onnx(model, tmp_path / "student.onnx")
    buf, chunks = model.reader.stream(test)
    for _, done in chunks:
        done.result()
    batch = stack_input(buf, triplet_index(len(test), model.offset, np.arange(len(test))))
    got = OnnxHotPath(tmp_path / "student.onnx").run(batch)
    assert got.shape == expected.shape and np.ptp(expected) > 0
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
