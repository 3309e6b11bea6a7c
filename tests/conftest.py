"""Shared fixtures: where the real data lives, writers of the real datasets' on-disk formats
(Avenue, ShanghaiTech) for small stand-in roots, and machine info for pytest-benchmark."""

from __future__ import annotations

import contextlib
import os
import types
from pathlib import Path

import cv2
import numpy as np
import pytest
import scipy.io

os.environ.setdefault("MPLBACKEND", "Agg")

REPO = Path(__file__).resolve().parents[1]

# The benchmarks fit every model first; they run only when asked (`tox -e bench` sets VADBENCH_BENCH=1).
if os.environ.get("VADBENCH_BENCH") != "1":
    collect_ignore_glob = ["bench/*"]
DATA = Path(os.environ.get("VADBENCH_DATA", REPO.parent / "shared" / "data"))


def real_data(*parts: str) -> Path:
    """A path under the real data folder; skips the test, saying why, when it is absent."""
    path = DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"real data not found at {path} (set VADBENCH_DATA to the folder holding "
                    "ucsd_ped2/ and labels/)")
    return path


@pytest.fixture
def ped2_root() -> Path:
    return real_data("ucsd_ped2")


@pytest.fixture
def labels_root() -> Path:
    return real_data("labels")


@contextlib.contextmanager
def extra_models(**factories):
    """Register throw-away models (name -> class) for the duration of a test, as a plugin would."""
    import vadbench
    from vadbench.plugins import get_plugin_manager, model_registry

    @vadbench.hookimpl
    def vadbench_register_models(registry):
        for name, factory in factories.items():
            registry.register(name, factory, family="baseline")

    pm = get_plugin_manager()
    pm.register(types.SimpleNamespace(vadbench_register_models=vadbench_register_models), name="test-models")
    model_registry.cache_clear()
    try:
        yield
    finally:
        pm.unregister(name="test-models")
        model_registry.cache_clear()


@pytest.fixture
def one_torch_thread():
    """Torch on one thread for the test: tiny models run faster so, and results do not depend on the core
    count."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# -- the real datasets' on-disk formats, written from arrays ------------------------------------


def _image(frame, size) -> np.ndarray:
    """A BGR uint8 image: ``frame`` as (H, W) grey or (H, W, 3), or a grey level filling ``size`` (W, H)."""
    frame = np.asarray(frame)
    if frame.ndim == 0:
        return np.full((size[1], size[0], 3), frame, np.uint8)
    frame = frame.astype(np.uint8)
    return cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR) if frame.ndim == 2 else frame


def write_avi(path: Path, frames, size=(32, 24)) -> None:
    """An MJPG .avi (CUHK's Avenue videos are MJPG AVIs) of ``frames``: images, or grey levels of ``size``
    (W, H)."""
    images = [_image(f, size) for f in frames]
    h, w = images[0].shape[:2]
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 25, (w, h))
    assert writer.isOpened()
    for image in images:
        writer.write(image)
    writer.release()


def cell(arrays) -> np.ndarray:
    """A MATLAB 1xN cell array for scipy.io.savemat."""
    out = np.empty((1, len(arrays)), dtype=object)
    for i, a in enumerate(arrays):
        out[0, i] = a
    return out


def mask_intervals(masks) -> list[list[tuple[int, int]]]:
    """Per video, the 1-based inclusive ``(start, end)`` runs of frames whose mask has a pixel set."""
    out = []
    for m in masks:
        y = np.concatenate([[0], np.asarray(m).reshape(len(m), -1).any(1).astype(int), [0]])
        starts, ends = np.flatnonzero(np.diff(y) == 1), np.flatnonzero(np.diff(y) == -1)
        out.append([(int(a) + 1, int(b)) for a, b in zip(starts, ends, strict=True)])
    return out


def write_avenue(root: Path, train, test, masks, intervals=None, gt_dir: str = "", size=(32, 24)) -> Path:
    """CUHK Avenue's layout: ``training_videos/NN.avi``, ``testing_videos/NN.avi`` (MJPG),
    ``[gt_dir/]testing_label_mask/N_label.mat`` (``volLabel``: 1xT cell of uint8 HxW masks, as CUHK's
    files) and ``avenue.mat`` (``gt``: per video a 2xK [start; end] of 1-based inclusive frame ranges,
    as ano_pred's file). ``intervals`` defaults to the runs of masked frames."""
    for split, videos in (("training_videos", train), ("testing_videos", test)):
        (root / split).mkdir(parents=True)
        for i, frames in enumerate(videos, 1):
            write_avi(root / split / f"{i:02d}.avi", frames, size)
    folder = root / gt_dir / "testing_label_mask"
    folder.mkdir(parents=True)
    for i, m in enumerate(masks, 1):
        scipy.io.savemat(folder / f"{i}_label.mat", {"volLabel": cell([np.asarray(f, np.uint8) for f in m])})
    ranges = mask_intervals(masks) if intervals is None else intervals
    scipy.io.savemat(root / "avenue.mat",
                     {"gt": cell([np.array(r, np.int64).reshape(-1, 2).T for r in ranges])})
    return root


def write_shanghaitech(root: Path, train: dict, test: dict, labels: dict, masks: dict, size=(32, 24)) -> Path:
    """ShanghaiTech Campus' layout: ``training/videos/<id>.avi``, ``testing/frames/<id>/NNN.jpg``,
    ``testing/test_frame_mask/<id>.npy`` (uint8 (T,), as the release) and, for the videos in ``masks``,
    ``testing/test_pixel_mask/<id>.npy`` (uint8 (T, H, W))."""
    (root / "training" / "videos").mkdir(parents=True)
    for vid, frames in train.items():
        write_avi(root / "training" / "videos" / f"{vid}.avi", frames, size)
    for sub in ("test_frame_mask", "test_pixel_mask"):
        (root / "testing" / sub).mkdir(parents=True)
    for vid, frames in test.items():
        folder = root / "testing" / "frames" / vid
        folder.mkdir(parents=True)
        for k, frame in enumerate(frames):
            assert cv2.imwrite(str(folder / f"{k:03d}.jpg"), _image(frame, size))
        np.save(root / "testing" / "test_frame_mask" / f"{vid}.npy", np.asarray(labels[vid], np.uint8))
    for vid, m in masks.items():
        np.save(root / "testing" / "test_pixel_mask" / f"{vid}.npy", np.asarray(m, np.uint8))
    return root


def pytest_benchmark_update_machine_info(config, machine_info):
    """Add torch, threads and accelerator to pytest-benchmark's machine description."""
    from vadbench.profile import machine_info as vadbench_machine_info

    machine_info["vadbench"] = vadbench_machine_info()
