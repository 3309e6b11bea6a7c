"""Disk caches (the core's fitted-model cache, the Fast-AED student's teacher-target cache) are written
atomically through :mod:`vadbench.atomic` and a damaged file is computed again, never raised.

Tiny in-memory videos, a stub teacher and a toy model keep the file to a few seconds.
"""

from __future__ import annotations

import threading
import types

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from conftest import extra_models

import vadbench
import vadbench.atomic
from vadbench import RunContext
from vadbench.data import FrameSource, Video
from vadbench.data.video import Split
from vadbench.results import ResultsStore
from vadbench.runner import ModelCache

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _video(vid: str, folder, n: int = 12, seed: int = 0) -> Video:
    """A small noisy clip with a moving square; ``folder`` gives it an on-disk-like path (caches skip
    ``<array>``)."""
    rng = np.random.default_rng(seed)
    frames = (80 + rng.integers(0, 40, (n, 32, 48))).astype(np.uint8)
    for t in range(n):
        frames[t, 8:18, 2 + 2 * t:12 + 2 * t] = 230
    return Video(vid, FrameSource.from_array(frames, path=str(folder / vid)))


def _damage(path, how: str) -> None:
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2] if how == "truncated" else b"\x00garbage" * 7)


def _spy_atomic_writes(monkeypatch) -> list:
    """Record every path written through vadbench.atomic (every atomic writer goes through
    ``atomic_open``)."""
    written = []
    real = vadbench.atomic.atomic_open

    def spy(path):
        written.append(str(path))
        return real(path)

    monkeypatch.setattr(vadbench.atomic, "atomic_open", spy)
    return written


def _no_temporary_files(folder) -> bool:
    return not [p for p in folder.rglob("*") if p.name.endswith(".tmp") or ".tmp." in p.name]


# --------------------------------------------------------------------------- Fast-AED teacher targets

fastaed = pytest.importorskip("vadbench_fastaed")

TINY_STUDENT = {"size": (48, 32), "widths": (8, 16, 16), "stem_stride": 1, "depth": 1, "heads": 1,
                "dim_head": 8, "mlp_mult": 2, "head_hidden": 8, "batch_size": 8, "infer_batch": 8,
                "decode_threads": 1, "warmup_epochs": 0}


class StubTeacher:
    """Block-wise frame differences at 1x1, 4x4 and 16x16; counts its calls; ``gate`` lines up two threads."""

    def __init__(self, **config):
        self.config = dict(config)
        self.fitted_on: list[str] = []
        self.calls = 0
        self.gate: threading.Barrier | None = None

    def fit(self, train, ctx):
        self.fitted_on = [v.id for v in train]

    def multiscale_maps(self, video):
        self.calls += 1
        f = torch.from_numpy(video.read(gray=True).astype(np.float32))
        d = (f - torch.cat([f[:1], f[:-1]])).abs()[:, None] / 255.0
        if self.gate is not None:
            self.gate.wait(timeout=30)
        return {f"{n}x{n}": F.adaptive_max_pool2d(d, n)[:, 0].numpy() for n in (1, 4, 16)}

    def state_dict(self):
        return {"fitted_on": list(self.fitted_on)}


def _ctx(tmp_path) -> RunContext:
    return RunContext(cache_dir=tmp_path / "cache", seed=0, dataset="toy")


def _same(a: list[dict], b: list[dict]) -> None:
    assert len(a) == len(b)
    for x, y in zip(a, b, strict=True):
        assert sorted(x) == sorted(y)
        for k in x:
            assert x[k].dtype == y[k].dtype
            np.testing.assert_array_equal(x[k], y[k])


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_fastaed_target_file_is_computed_again(tmp_path, monkeypatch, how):
    videos = [_video(f"{i:02d}", tmp_path, seed=i) for i in range(2)]
    model, teacher, ctx = fastaed.FastAED(**TINY_STUDENT), StubTeacher(), _ctx(tmp_path)
    written = _spy_atomic_writes(monkeypatch)
    fresh = model.teacher_maps("stub", teacher, videos, ctx)
    files = sorted((tmp_path / "cache" / "fastaed" / "targets").glob("*.npz"))
    assert len(files) == 2 and teacher.calls == 2
    assert sorted(written) == sorted(str(p) for p in files)  # written through vadbench.atomic
    assert _no_temporary_files(tmp_path)

    _same(model.teacher_maps("stub", teacher, videos, ctx), fresh)  # read back from the cache
    assert teacher.calls == 2

    _damage(files[0], how)
    again = model.teacher_maps("stub", teacher, videos, ctx)
    assert teacher.calls == 3  # only the damaged file was computed again ...
    _same(again, fresh)
    _same(model.teacher_maps("stub", teacher, videos, ctx), fresh)  # ... and rewritten whole
    assert teacher.calls == 3 and _no_temporary_files(tmp_path)


def test_a_fastaed_target_file_of_the_wrong_shape_is_computed_again(tmp_path):
    [video] = [_video("00", tmp_path)]
    model, teacher, ctx = fastaed.FastAED(**TINY_STUDENT), StubTeacher(), _ctx(tmp_path)
    fresh = model.teacher_maps("stub", teacher, [video], ctx)
    [path] = (tmp_path / "cache" / "fastaed" / "targets").glob("*.npz")
    # readable, but not these maps
    vadbench.atomic.atomic_save_npz(path, {"1x1": np.zeros((3, 1, 1), np.float32)})
    _same(model.teacher_maps("stub", teacher, [video], ctx), fresh)
    assert teacher.calls == 2


def test_a_damaged_crossfit_target_file_refits_the_fold_and_gives_the_fresh_targets(tmp_path):
    videos = [_video(f"{i:02d}", tmp_path, seed=i) for i in range(3)]
    items = [(i, 1, v) for i, v in enumerate(videos)]
    model = fastaed.FastAED(**TINY_STUDENT, folds=2)
    fresh = model.training_targets("stub", StubTeacher(), Split("toy", "train", videos), items,
                                   _ctx(tmp_path))
    files = sorted((tmp_path / "cache" / "fastaed" / "targets").glob("*.npz"))
    assert len(files) == 3
    for path in files:
        _damage(path, "truncated")
    teacher = StubTeacher()
    again = model.training_targets("stub", teacher, Split("toy", "train", videos), items, _ctx(tmp_path))
    _same(again, fresh)
    assert _no_temporary_files(tmp_path)


def test_two_concurrent_fastaed_writers_of_one_target_file_both_succeed(tmp_path):
    """With a fixed temporary name one writer's rename would find the other's file gone (or half of it)."""
    video = _video("00", tmp_path)
    model = fastaed.FastAED(**TINY_STUDENT)
    teachers = [StubTeacher(), StubTeacher()]
    gate = threading.Barrier(2)
    for t in teachers:
        t.gate = gate  # both compute, then both write at once
    results, errors = [None, None], []

    def work(k):
        try:
            results[k] = model.teacher_maps("stub", teachers[k], [video], _ctx(tmp_path), key="k")
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors and all(t.calls == 1 for t in teachers)
    _same(results[0], results[1])
    [path] = (tmp_path / "cache" / "fastaed" / "targets").glob("*.npz")
    _same([vadbench.atomic.load_npz(path)], results[0])
    assert _no_temporary_files(tmp_path)


# --------------------------------------------------------------------------- the core's fitted-model cache

FITS: list[str] = []


class _MeanModel(vadbench.Model):
    """A trainable toy: its state is the mean grey level of each training video."""

    gate: threading.Barrier | None = None

    def fit(self, train, ctx):
        FITS.append("fit")
        self.means = torch.tensor([float(v.read(gray=True).mean()) for v in train], dtype=torch.float64)
        if self.gate is not None:
            self.gate.wait(timeout=30)

    def score(self, video):
        return np.full(len(video), float(self.means.sum()))

    def state_dict(self):
        return {"means": self.means}

    def load_state_dict(self, state):
        self.means = state["means"]


def _toy_dataset(tmp_path):
    train = Split("toy", "train", [_video(f"{i:02d}", tmp_path, seed=i) for i in range(2)])
    return types.SimpleNamespace(name="toy", fingerprint="f" * 16, train=train)


@pytest.mark.parametrize("how", ["truncated", "garbage"])
def test_a_damaged_fitted_model_file_is_fitted_again(tmp_path, monkeypatch, how):
    store, dataset = ResultsStore(tmp_path / "res"), _toy_dataset(tmp_path)
    FITS.clear()
    messages: list[str] = []
    with extra_models(**{"toy-mean": _MeanModel}):
        written = _spy_atomic_writes(monkeypatch)
        fresh, seconds = ModelCache(store, dataset, 0, "cpu").get("toy-mean")
        [weights] = (tmp_path / "res" / "models").glob("*.pt")
        assert str(weights) in written and str(weights.with_suffix(".deps.json")) in written
        assert _no_temporary_files(tmp_path / "res")

        reloaded, seconds = ModelCache(store, dataset, 0, "cpu").get("toy-mean")
        assert FITS == ["fit"] and seconds == 0.0
        torch.testing.assert_close(reloaded.means, fresh.means, rtol=0, atol=0)
        _damage(weights, how)
        again, _ = ModelCache(store, dataset, 0, "cpu", progress=messages.append).get("toy-mean")
        assert FITS == ["fit", "fit"]  # fitted again, not raised
        torch.testing.assert_close(again.means, fresh.means, rtol=0, atol=0)
        assert any("unreadable" in m and weights.name in m for m in messages)
        state = torch.load(weights, weights_only=True)  # rewritten whole
        torch.testing.assert_close(state["means"], fresh.means, rtol=0, atol=0)
        ModelCache(store, dataset, 0, "cpu").get("toy-mean")
    assert FITS == ["fit", "fit"] and _no_temporary_files(tmp_path / "res")


def test_two_concurrent_fits_of_one_model_both_write_and_the_file_loads(tmp_path, monkeypatch):
    store, dataset = ResultsStore(tmp_path / "res"), _toy_dataset(tmp_path)
    monkeypatch.setattr(_MeanModel, "gate", threading.Barrier(2))  # both fit, then both write at once
    results, errors = [None, None], []

    def work(k):
        try:
            results[k] = ModelCache(store, dataset, 0, "cpu").get("toy-mean")[0]
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    with extra_models(**{"toy-mean": _MeanModel}):
        threads = [threading.Thread(target=work, args=(k,)) for k in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
    assert not errors
    [weights] = (tmp_path / "res" / "models").glob("*.pt")
    torch.testing.assert_close(torch.load(weights, weights_only=True)["means"], results[0].means,
                               rtol=0, atol=0)
    assert _no_temporary_files(tmp_path / "res")
