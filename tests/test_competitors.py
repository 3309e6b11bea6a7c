"""The competitor plugins: FastAno (``fastano``, ``fastano-paper``) and the learned baselines.

Everything here runs on tiny synthetic arrays in seconds; no real data, no real training.
"""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

import vadbench
from vadbench import RunContext
from vadbench.data.frames import FrameSource
from vadbench.data.video import Split, Video

fastano = pytest.importorskip("vadbench_fastano")
baselines = pytest.importorskip("vadbench_baselines")

from vadbench_baselines.conv_ae import ConvAE
from vadbench_baselines.ffp import FutureFramePrediction
from vadbench_baselines.sparse import SparseCombination, cuboid_features
from vadbench_fastano import FastAno, FastAnoNet
from vadbench_fastano.net import conv3d_2d, conv_transpose3d_2d
from vadbench_fastano.transforms import patch_box, random_transform, spatial_rotation, temporal_mixing

W, H = 48, 32  # tiny processing size (multiples of 8)

# the new models and tiny configurations of them (seconds on one core)
TINY = {
    "fastano": {"size": (W, H), "width": 4, "epochs": 1, "batch_size": 4, "max_steps": 3},
    "fastano-paper": {"size": (W, H), "epochs": 1, "batch_size": 2, "max_steps": 1},
    "conv-ae": {"size": (W, H), "width": 8, "epochs": 1, "batch_size": 4, "max_steps": 3},
    "ffp-unet": {"size": (W, H), "width": 4, "epochs": 1, "batch_size": 4, "max_steps": 3},
    "sparse-combination": {"size": (W, H), "scales": (1, 2), "cell": 8, "pca_dim": 8, "basis": 3,
                           "max_combos": 4},
}


def moving_square(n: int = 16, speed: int = 2, seed: int = 0, h: int = H, w: int = W) -> np.ndarray:
    rng = np.random.default_rng(seed)
    frames = (60 + 10 * rng.random((n, h, w))).astype(np.uint8)
    for t in range(n):
        x = (speed * t) % (w - 8)
        frames[t, 10:18, x:x + 8] = 200
    return frames


def video(name: str = "v", **kw) -> Video:
    return Video(name, FrameSource.from_array(moving_square(**kw)))


def train_split() -> Split:
    return Split("tiny", "train", [video("a", seed=1), video("b", seed=2)])


def ctx(tmp_path, seed: int = 0) -> RunContext:
    return RunContext(cache_dir=tmp_path, seed=seed)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


# --------------------------------------------------------------------------- registry


def test_new_models_are_registered_with_their_families():
    names = vadbench.list_models()
    for name in TINY:
        assert name in names
    assert vadbench.create_model("fastano").family == "competitor"
    assert vadbench.create_model("fastano-paper").family == "competitor"
    for name in ("conv-ae", "ffp-unet", "sparse-combination"):
        assert vadbench.create_model(name, **TINY[name]).family == "baseline"


# --------------------------------------------------------------------------- FastAno network


def test_fastano_paper_parameter_count_and_shapes():
    model = vadbench.create_model("fastano-paper")
    n = sum(p.numel() for p in model.net.parameters())
    print(f"fastano-paper parameters: {n:,}")
    assert n == 2_158_529  # the published network with batch norm (2,157,377 with instance norm)
    assert abs(n - 2.16e6) / 2.16e6 < 0.01
    assert sum(p.numel() for p in FastAnoNet(64, "instance").parameters()) == 2_157_377
    # untrained, profileable: example_input / forward work without fit
    batch = model.example_input(1)
    assert tuple(batch.shape) == (1, 1, 6, 240, 360)
    out = model.forward(batch)
    assert out.shape == (1,) and torch.isfinite(out).all()
    with torch.no_grad():
        pred = model.net(batch[:, :, :5])
    assert tuple(pred.shape) == (1, 1, 1, 240, 360)


def test_fastano_net_intermediate_shapes():
    net = FastAnoNet(4).eval()
    x = torch.rand(2, 1, 5, 32, 48)
    e1 = net.enc1(x)
    e2 = net.enc2(e1)
    e3 = net.enc3(e2)
    assert tuple(e1.shape) == (2, 4, 3, 16, 24)
    assert tuple(e2.shape) == (2, 8, 2, 8, 12)
    assert tuple(e3.shape) == (2, 16, 1, 4, 6)
    assert tuple(net(x).shape) == (2, 1, 1, 32, 48)
    with pytest.raises(ValueError):
        net(torch.rand(1, 1, 5, 30, 48))


@pytest.mark.parametrize("layer", [
    torch.nn.Conv3d(3, 4, 3, 2, 1),
    torch.nn.Conv3d(2, 3, (3, 3, 3), (1, 2, 2), (1, 1, 1)),
])
def test_conv3d_as_2d_is_the_same_function(layer):
    torch.manual_seed(0)
    x = torch.randn(2, layer.in_channels, 5, 8, 12)
    assert torch.allclose(conv3d_2d(x, layer), layer(x), atol=1e-5)


@pytest.mark.parametrize("layer,t", [
    (torch.nn.ConvTranspose3d(4, 3, 2, 2), 1),
    (torch.nn.ConvTranspose3d(4, 3, (3, 4, 4), 2, 1), 2),
    (torch.nn.ConvTranspose3d(4, 1, (1, 2, 2), (1, 2, 2), (1, 0, 0)), 3),
])
def test_conv_transpose3d_as_2d_is_the_same_function(layer, t):
    torch.manual_seed(0)
    x = torch.randn(2, layer.in_channels, t, 4, 6)
    assert torch.allclose(conv_transpose3d_2d(x, layer), layer(x), atol=1e-5)


def test_fastano_2d_and_3d_implementations_agree_with_gradients():
    torch.manual_seed(0)
    a, b = FastAnoNet(4, impl="3d"), FastAnoNet(4, impl="2d")
    b.load_state_dict(a.state_dict())
    x = torch.rand(2, 1, 5, 16, 24)
    ya, yb = a(x), b(x)
    assert torch.allclose(ya, yb, atol=1e-5)
    ya.sum().backward()
    yb.sum().backward()
    for (n, pa), pb in zip(a.named_parameters(), b.parameters(), strict=True):
        assert torch.allclose(pa.grad, pb.grad, atol=1e-4, rtol=1e-3), n


# --------------------------------------------------------------------------- SRT / TMT


def test_spatial_rotation_changes_only_the_patch():
    clip = np.random.default_rng(0).random((5, 16, 24)).astype(np.float32)
    box = (3, 2, 6)
    out = spatial_rotation(clip, box, k=1)
    inside = np.zeros(clip.shape[1:], bool)
    inside[2:8, 3:9] = True
    assert np.array_equal(out[:, ~inside], clip[:, ~inside])
    assert not np.array_equal(out[:, inside], clip[:, inside])
    assert np.array_equal(out[:, 2:8, 3:9], np.rot90(clip[:, 2:8, 3:9], 1, axes=(1, 2)))
    assert np.array_equal(clip, np.random.default_rng(0).random((5, 16, 24)).astype(np.float32))  # input kept


def test_temporal_mixing_changes_only_the_patch():
    clip = np.random.default_rng(1).random((5, 16, 24)).astype(np.float32)
    box = (10, 4, 8)
    order = np.array([4, 3, 2, 1, 0])
    out = temporal_mixing(clip, box, order)
    inside = np.zeros(clip.shape[1:], bool)
    inside[4:12, 10:18] = True
    assert np.array_equal(out[:, ~inside], clip[:, ~inside])
    for i, j in enumerate(order):
        assert np.array_equal(out[i, 4:12, 10:18], clip[j, 4:12, 10:18])


def test_patch_box_follows_the_published_placement():
    rng = np.random.default_rng(0)
    for _ in range(200):
        x, y, side = patch_box(rng, 240, 360)
        assert side == 90 and 0 <= x < 270 and 30 <= y < 120
    x, y, side = patch_box(rng, 32, 48)
    assert side == 12 and x + side <= 48 and y + side <= 32


def test_random_transform_kinds_and_untouched_clip():
    rng = np.random.default_rng(0)
    clip = np.random.default_rng(2).random((5, 32, 48)).astype(np.float32)
    kinds = set()
    for _ in range(50):
        out, kind = random_transform(rng, clip, 0.3, 0.3)
        kinds.add(kind)
        if kind == "":
            assert out is clip
        else:
            changed = (out != clip).any(0)
            ys, xs = np.nonzero(changed)
            if len(ys):  # everything changed lies in one square of side 12
                assert ys.max() - ys.min() < 12 and xs.max() - xs.min() < 12
    assert kinds == {"", "srt", "tmt"}


# --------------------------------------------------------------------------- training


def _batch_loss_drops(model, x, y=None, steps=12) -> tuple[float, float]:
    opt = torch.optim.Adam(model.net.parameters(), lr=3e-3)
    model.net.train()
    losses = []
    for _ in range(steps):
        loss = model.loss(x, y) if y is not None else model.loss(x)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(float(loss.detach()))
    return losses[0], losses[-1]


def test_fastano_steps_lower_the_loss():
    torch.manual_seed(0)
    model = FastAno(size=(W, H), width=4)
    frames = torch.from_numpy(moving_square(6)).float() / 255
    x = frames[:5][None, None].repeat(2, 1, 1, 1, 1)
    y = frames[5][None].repeat(2, 1, 1)
    first, last = _batch_loss_drops(model, x, y)
    assert last < 0.8 * first


@pytest.mark.parametrize("cls,kw", [(ConvAE, {"width": 8}), (FutureFramePrediction, {"width": 4})])
def test_window_baselines_steps_lower_the_loss(cls, kw):
    torch.manual_seed(0)
    model = cls(size=(W, H), **kw)
    frames = torch.from_numpy(moving_square(12)).float() / 255
    x = torch.stack([frames[:model.window], frames[2:2 + model.window]])
    first, last = _batch_loss_drops(model, x)
    assert last < 0.9 * first


def test_fit_is_deterministic_for_a_seed(tmp_path):
    a = vadbench.create_model("fastano", **TINY["fastano"])
    b = vadbench.create_model("fastano", **TINY["fastano"])
    a.fit(train_split(), ctx(tmp_path, seed=3))
    b.fit(train_split(), ctx(tmp_path, seed=3))
    for k, v in a.state_dict().items():
        if isinstance(v, torch.Tensor):
            assert torch.equal(v, b.state_dict()[k]), k


# --------------------------------------------------------------------------- contract


@pytest.mark.parametrize("name", sorted(TINY))
def test_fit_score_round_trip(name, tmp_path):
    model = vadbench.create_model(name, **TINY[name])
    model.fit(train_split(), ctx(tmp_path))
    test = video("t", n=11, speed=5, seed=9)
    scores = model.score(test)
    assert scores.frame.shape == (11,)
    assert np.isfinite(scores.frame).all()
    if scores.maps is not None:
        assert scores.maps.shape[0] == 11 and np.isfinite(scores.maps).all()

    # state_dict holds only tensors and plain values, survives torch.load(weights_only=True)
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    buf.seek(0)
    state = torch.load(buf, weights_only=True)
    again = vadbench.create_model(name, **TINY[name])
    again.load_state_dict(state)
    np.testing.assert_array_equal(again.score(test).frame, scores.frame)

    # the profiled hot path: one finite score per example
    out = model.forward(model.example_input(2))
    out = out.numpy() if isinstance(out, torch.Tensor) else np.asarray(out)
    assert out.shape == (2,) and np.isfinite(out).all()


@pytest.mark.parametrize("name", sorted(TINY))
def test_short_video_gets_one_score_per_frame(name, tmp_path):
    model = vadbench.create_model(name, **TINY[name])
    model.fit(train_split(), ctx(tmp_path))
    for n in (1, 3):
        s = model.score(video("short", n=n)).frame
        assert s.shape == (n,) and np.isfinite(s).all()


def test_fastano_scores_are_raw_negative_psnr_and_padded(tmp_path):
    """No per-video normalisation inside the model: that is an evaluation convention, for every row alike."""
    model = vadbench.create_model("fastano", **TINY["fastano"])
    model.fit(train_split(), ctx(tmp_path))
    s = model.score(video("t", n=14, speed=3)).frame
    assert np.all(s[:5] == s[5])  # frames 0-4 have no prediction: frame 5's score
    assert (s < 0).all() and s.max() > s.min()  # 10 log10(MSE) of frames in [0, 1]: a negative PSNR
    assert "normalize" not in model.config


def test_sparse_features_layout():
    frames = np.zeros((1, 5, 16, 16), np.float32)
    frames[0, 4, 0:8, 0:8] = 1.0  # a change in the last frame, top-left cell only
    f = cuboid_features(frames, 8)
    assert f.shape == (1, 2, 2, 3 * 4 * 8 * 8)
    temporal = f[..., 2 * 4 * 64:]
    assert np.abs(temporal[0, 0, 0]).sum() == 64
    assert np.abs(temporal[0, 1, 1]).sum() == 0


def test_sparse_combination_flags_unusual_motion(tmp_path):
    model = SparseCombination(**TINY["sparse-combination"])
    model.fit(Split("tiny", "train", [video(str(i), n=20, seed=i) for i in range(3)]), ctx(tmp_path))
    normal = model.score(video("n", n=12, seed=7)).frame[4:].mean()
    fast = model.score(video("f", n=12, speed=9, seed=7)).frame[4:].mean()
    assert fast > normal
