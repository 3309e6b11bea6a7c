"""The live torchvision detector (plugins/teachers/vadbench_teachers/live_detector.py), offline: every
architecture with untrained weights on small frames, gray and BGR input, the box filters, local
weights files and the one-line errors."""

from __future__ import annotations

import urllib.error

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torchvision = pytest.importorskip("torchvision")
pytest.importorskip("vadbench_teachers")

from vadbench_teachers.live_detector import ARCHS, DETECTIONS_PER_IMG, TorchvisionDetector

H, W = 120, 180
SMALL = {"min_size": H, "max_size": W}  # no upscaling of the small frames to 800 px


def frames(color: bool = False, t: int = 2, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    shape = (t, H, W, 3) if color else (t, H, W)
    return rng.integers(0, 256, shape, dtype=np.uint8)


def check_boxes(boxes: list[np.ndarray], t: int, min_side: float) -> None:
    assert len(boxes) == t
    for b in boxes:
        assert b.dtype == np.float32 and b.ndim == 2 and b.shape[1] == 4
        assert (b[:, 0] >= 0).all() and (b[:, 1] >= 0).all() and (b[:, 2] <= W).all() and (b[:, 3] <= H).all()
        assert (b[:, 2] - b[:, 0] >= min_side).all() and (b[:, 3] - b[:, 1] >= min_side).all()


@pytest.mark.parametrize("arch", list(ARCHS))
def test_every_arch_untrained(arch, one_torch_thread):
    torch.manual_seed(0)
    det = TorchvisionDetector(arch, weights=None, score_thr=0.0, min_side=4, **SMALL)
    check_boxes(det.detect(frames()), 2, 4)
    assert not det.model.training


@pytest.mark.parametrize("color", [False, True])
def test_gray_and_bgr(color, one_torch_thread):
    torch.manual_seed(0)
    det = TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights=None, score_thr=0.0, min_side=0)
    boxes = det.detect(frames(color, t=3), batch_size=2)
    check_boxes(boxes, 3, 0)
    assert sum(len(b) for b in boxes) > 0  # untrained SSDlite scores every class near 1/91 > its 0.001 cut
    assert det.detect(frames(color, t=0)) == []


class Recorder(torch.nn.Module):
    """A stand-in model: records its inputs and returns fixed predictions."""

    def __init__(self):
        super().__init__()
        self.inputs: list[list] = []

    def forward(self, images):
        self.inputs.append([im.clone() for im in images])
        boxes = torch.tensor([[10.0, 10.0, 50.0, 40.0],  # kept
                              [-5.0, 100.0, 30.0, 130.0],  # clipped to (0, 100, 30, 120): kept
                              [0.0, 0.0, 5.0, 60.0],  # too thin
                              [20.0, 20.0, 90.0, 90.0],  # score too low
                              [60.0, 60.0, 100.0, 100.0]])  # another class
        pred = {"boxes": boxes, "scores": torch.tensor([0.9, 0.8, 0.9, 0.3, 0.9]),
                "labels": torch.tensor([1, 1, 1, 1, 3])}
        return [pred for _ in images]


def test_conversion_and_filters():
    det = TorchvisionDetector(weights=None, score_thr=0.5, min_side=10, classes=(1,))
    det._model = rec = Recorder()
    bgr = frames(color=True, t=5)
    boxes = det.detect(bgr)
    assert [len(b) for b in boxes] == [2] * 5
    np.testing.assert_array_equal(boxes[0], np.array([[10, 10, 50, 40], [0, 100, 30, 120]], np.float32))
    assert [len(batch) for batch in rec.inputs] == [4, 1]  # batch_size 4 by default
    first = rec.inputs[0][0]
    assert first.dtype == torch.float32 and first.shape == (3, H, W)
    np.testing.assert_allclose(first.numpy(), bgr[0][..., ::-1].transpose(2, 0, 1) / 255.0, atol=1e-6)  # RGB
    gray = frames(t=1)
    det.detect(gray)
    np.testing.assert_allclose(rec.inputs[-1][0].numpy(), np.repeat(gray[:1] / 255.0, 3, 0), atol=1e-6)
    det.classes = None
    assert [len(b) for b in det.detect(gray)] == [3]


def test_local_weights_round_trip(tmp_path, one_torch_thread):
    torch.manual_seed(0)
    det = TorchvisionDetector("fasterrcnn_resnet50_fpn", weights=None, score_thr=0.0, min_side=0, **SMALL)
    x = frames()
    torch.save(det.model.state_dict(), tmp_path / "frcnn.pth")
    torch.manual_seed(0)
    expected = det.detect(x)
    torch.manual_seed(1)  # a different random initialisation, overwritten by the file
    loaded = TorchvisionDetector("fasterrcnn_resnet50_fpn", weights=tmp_path / "frcnn.pth", score_thr=0.0,
                                 min_side=0, **SMALL)
    torch.manual_seed(0)
    got = loaded.detect(x)
    for a, b in zip(expected, got, strict=True):
        np.testing.assert_array_equal(a, b)
    sd, sd2 = det.model.state_dict(), loaded.model.state_dict()
    assert all(torch.equal(sd[k], sd2[k]) for k in sd)
    assert loaded.config["weights"] == str(tmp_path / "frcnn.pth")


def test_weights_file_of_another_arch(tmp_path):
    torch.save({"not": torch.zeros(1)}, tmp_path / "other.pth")
    det = TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights=str(tmp_path / "other.pth"))
    with pytest.raises(RuntimeError, match=r"other\.pth could not be loaded") as err:
        det.detect(frames(t=1))
    assert "\n" not in str(err.value)


def test_missing_weights_file(tmp_path):
    missing = tmp_path / "nowhere" / "model.pth"
    with pytest.raises(FileNotFoundError, match="weights file not found") as err:
        TorchvisionDetector("maskrcnn_resnet50_fpn", weights=str(missing))
    assert str(missing) in str(err.value) and "\n" not in str(err.value)
    assert "COCO_V1" in str(err.value)


def test_unknown_arch():
    with pytest.raises(ValueError, match="unknown detector arch 'yolo'") as err:
        TorchvisionDetector("yolo", weights=None)
    message = str(err.value)
    assert "\n" not in message and all(name in message for name in ARCHS)


def test_no_network(monkeypatch):
    """The weights API failing for want of network is one line naming the ways out."""
    def offline(self, *args, **kwargs):
        raise urllib.error.URLError("[Errno -3] Temporary failure in name resolution")

    monkeypatch.setattr(torchvision.models.WeightsEnum, "get_state_dict", offline)
    det = TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights="DEFAULT")  # lazy: nothing fetched yet
    assert det._model is None
    with pytest.raises(RuntimeError, match="could not be fetched") as err:
        det.detect(frames(t=1))
    message = str(err.value)
    assert "\n" not in message and "weights=None" in message and "local weights file" in message
    det = TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights="COCO_V1")
    assert det.config["weights"] == "COCO_V1"


def test_config_and_repr():
    det = TorchvisionDetector("retinanet_resnet50_fpn_v2", weights=None, classes=[1, 3], threads=2)
    config = det.config
    assert config == {"arch": "retinanet_resnet50_fpn_v2", "weights": None, "score_thr": 0.5, "min_side": 10,
                      "classes": [1, 3], "device": "cpu", "threads": 2, "min_size": 800, "max_size": 1333,
                      "batch_size": 4, "detections_per_img": DETECTIONS_PER_IMG}
    import json

    assert TorchvisionDetector(**json.loads(json.dumps(config))).config == config
    assert repr(det).startswith("TorchvisionDetector(arch='retinanet_resnet50_fpn_v2', weights=None")
    assert det._model is None  # constructing builds nothing


def test_model_settings_and_threads(one_torch_thread):
    det = TorchvisionDetector("maskrcnn_resnet50_fpn", weights=None, threads=2, **SMALL)
    model = det.model
    assert model.roi_heads.detections_per_img == DETECTIONS_PER_IMG
    assert (model.transform.min_size, model.transform.max_size) == ((H,), W)
    det._model = Recorder()
    seen = []
    det._model.register_forward_pre_hook(lambda *_: seen.append(torch.get_num_threads()))
    det.detect(frames(t=1))
    assert seen == [2] and torch.get_num_threads() == 1  # set while detecting, restored after
    ssd = TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights=None).model
    assert ssd.detections_per_img == DETECTIONS_PER_IMG


def test_bad_input():
    det = TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights=None)
    for bad in (np.zeros((2, 8, 8), np.float32), np.zeros((8, 8), np.uint8),
                np.zeros((2, 8, 8, 4), np.uint8)):
        with pytest.raises(ValueError, match="frames must be uint8"):
            det.detect(bad)
    with pytest.raises(ValueError, match="batch_size"):
        TorchvisionDetector(weights=None, batch_size=0)
