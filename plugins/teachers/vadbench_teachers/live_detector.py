"""Objects from a pretrained torchvision detector: the live path of the object-centric teachers.

The object-centric teachers need boxes of the objects in each frame. The default source,
:class:`~vadbench_teachers.detector.BackgroundDetector`, needs no weights at all. This module is
the *live* alternative for users whose machines can fetch torchvision's COCO weights (or who
bring a weights file): :class:`TorchvisionDetector` wraps one of torchvision's detection models
(:data:`ARCHS`) and turns video frames into per-frame boxes.

Weights (``weights=``):

* ``"DEFAULT"`` or a member name of the architecture's weights enum (e.g. ``"COCO_V1"``):
  torchvision's weights API, which downloads them (into torch hub's cache) on first use. Without
  network access this fails with a one-line error that says so and suggests the alternatives below.
* a path to a local ``.pth`` file holding the model's ``state_dict`` (e.g. torchvision's file,
  copied from a machine that could fetch it): the model is built with ``weights=None,
  weights_backbone=None`` and the file is loaded with ``torch.load(path, weights_only=True)``.
* ``None``: untrained weights (random initialisation, no download of any kind). The boxes are
  meaningless but the speed is representative; the tests and the doctest below use it.

The model is built **lazily**, on the first :meth:`TorchvisionDetector.detect` (or first access to
:attr:`TorchvisionDetector.model`), so constructing a detector is cheap. The constructor checks
what it can without building: the architecture's name, the weights' name and that a weights file
exists. A failed download is reported when the model is built.

Here (no network) the class is exercised with untrained weights on small inputs:

>>> import numpy as np
>>> det = TorchvisionDetector("ssdlite320_mobilenet_v3_large", weights=None, score_thr=0.0)
>>> boxes = det.detect(np.zeros((2, 64, 96), np.uint8))
>>> len(boxes), [b.dtype.name for b in boxes], [b.shape[1] for b in boxes]
(2, ['float32', 'float32'], [4, 4])
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

#: Torchvision's cap on detections per image for its R-CNNs (``box_detections_per_img``). Every
#: architecture here is given this cap (RetinaNet and SSDlite default to 300 in torchvision).
DETECTIONS_PER_IMG = 100


class Arch(NamedTuple):
    """A torchvision detection architecture: its builder, its weights enum and how it is configured."""

    builder: Callable[..., Any]
    weights: Any  # a torchvision.models.WeightsEnum subclass
    detections_kw: str  # the builder's keyword for the number of detections kept per image
    resizable: bool  # whether the builder takes min_size / max_size (SSDlite's input is fixed at 320x320)


def _archs() -> dict[str, Arch]:
    from torchvision.models import detection as d

    rcnn, single = "box_detections_per_img", "detections_per_img"
    return {
        "fasterrcnn_resnet50_fpn": Arch(d.fasterrcnn_resnet50_fpn, d.FasterRCNN_ResNet50_FPN_Weights,
                                        rcnn, True),
        "fasterrcnn_resnet50_fpn_v2": Arch(d.fasterrcnn_resnet50_fpn_v2, d.FasterRCNN_ResNet50_FPN_V2_Weights,
                                           rcnn, True),
        "fasterrcnn_mobilenet_v3_large_fpn": Arch(d.fasterrcnn_mobilenet_v3_large_fpn,
                                                  d.FasterRCNN_MobileNet_V3_Large_FPN_Weights, rcnn, True),
        "maskrcnn_resnet50_fpn": Arch(d.maskrcnn_resnet50_fpn, d.MaskRCNN_ResNet50_FPN_Weights, rcnn, True),
        "maskrcnn_resnet50_fpn_v2": Arch(d.maskrcnn_resnet50_fpn_v2, d.MaskRCNN_ResNet50_FPN_V2_Weights,
                                         rcnn, True),
        "retinanet_resnet50_fpn": Arch(d.retinanet_resnet50_fpn, d.RetinaNet_ResNet50_FPN_Weights,
                                       single, True),
        "retinanet_resnet50_fpn_v2": Arch(d.retinanet_resnet50_fpn_v2, d.RetinaNet_ResNet50_FPN_V2_Weights,
                                          single, True),
        "ssdlite320_mobilenet_v3_large": Arch(d.ssdlite320_mobilenet_v3_large,
                                              d.SSDLite320_MobileNet_V3_Large_Weights, single, False),
    }


#: Architecture name -> :class:`Arch` (torchvision builder, weights enum, configuration).
ARCHS: dict[str, Arch] = _archs()


def _one_line(err: BaseException) -> str:
    """``err``'s message on one line."""
    return " ".join(str(err).split()) or type(err).__name__


class TorchvisionDetector:
    """Per-frame boxes ``(x1, y1, x2, y2)`` from a torchvision detection model (see the module docstring).

    Arguments:
        arch: a key of :data:`ARCHS`.
        weights: ``"DEFAULT"`` or a weights-enum member name (downloaded by torchvision), a path to a
            local ``state_dict`` file, or ``None`` (untrained). A string that names an enum member is
            taken as that member; write ``./DEFAULT`` for a file of that name.
        score_thr: detections scoring below this are dropped.
        min_side: boxes whose width or height (after clipping to the frame) is below this many
            pixels are dropped.
        classes: the COCO category ids to keep, as torchvision numbers them (1 = person, 2 = bicycle,
            3 = car, ...); ``None`` keeps all.
        device: the torch device the model runs on (outputs always come back as numpy arrays).
        threads: torch's intra-op thread count while :meth:`detect` runs (restored afterwards);
            ``None`` leaves torch's setting alone.
        min_size, max_size: torchvision's resizing of the input (shorter side to ``min_size`` unless
            the longer side would exceed ``max_size``); torchvision's defaults 800 / 1333 upscale small
            frames. Ignored by ``ssdlite320_mobilenet_v3_large``, whose input is always 320x320.
        batch_size: frames per forward pass in :meth:`detect` (default 4).
        detections_per_img: the model's cap on detections per image before the filters above;
            :data:`DETECTIONS_PER_IMG` (100, torchvision's R-CNN default) unless given.

    The model's other settings (internal score and NMS thresholds, anchors, ...) are torchvision's.
    """

    def __init__(self, arch: str = "maskrcnn_resnet50_fpn", weights: str | os.PathLike | None = "DEFAULT",
                 score_thr: float = 0.5, min_side: int = 10, classes: tuple[int, ...] | None = None,
                 device: str = "cpu", threads: int | None = None, min_size: int = 800, max_size: int = 1333,
                 batch_size: int = 4, detections_per_img: int = DETECTIONS_PER_IMG):
        import torch

        if arch not in ARCHS:
            raise ValueError(f"unknown detector arch {arch!r}; known: {', '.join(ARCHS)}")
        for name, value, low in (("min_side", min_side, 0), ("min_size", min_size, 1),
                                 ("max_size", max_size, 1), ("batch_size", batch_size, 1),
                                 ("detections_per_img", detections_per_img, 1)):
            if int(value) != value or value < low:
                raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
        if threads is not None and (int(threads) != threads or threads < 1):
            raise ValueError(f"threads must be None or an integer >= 1, got {threads!r}")
        self.arch = arch
        self.weights = None if weights is None else os.fspath(weights)
        self.score_thr = float(score_thr)
        self.min_side = int(min_side)
        self.classes = None if classes is None else tuple(int(c) for c in classes)
        self.device = str(torch.device(device))  # a malformed device string fails here
        self.threads = None if threads is None else int(threads)
        self.min_size, self.max_size = int(min_size), int(max_size)
        self.batch_size = int(batch_size)
        self.detections_per_img = int(detections_per_img)
        self._source = self._resolve_weights()
        self._model = None

    # -- configuration --------------------------------------------------------------------------
    @property
    def config(self) -> dict:
        """The settings, JSON-able (``TorchvisionDetector(**config)`` builds the same detector)."""
        return {"arch": self.arch, "weights": self.weights, "score_thr": self.score_thr,
                "min_side": self.min_side, "classes": None if self.classes is None else list(self.classes),
                "device": self.device,
                "threads": self.threads, "min_size": self.min_size, "max_size": self.max_size,
                "batch_size": self.batch_size, "detections_per_img": self.detections_per_img}

    def __repr__(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.config.items())
        return f"{type(self).__name__}({args})"

    def _resolve_weights(self):
        """``None``, a weights-enum member or a local file's :class:`Path`; the errors are one line."""
        if self.weights is None:
            return None
        enum = ARCHS[self.arch].weights
        name = self.weights.removeprefix(enum.__name__ + ".")
        if name in enum.__members__:
            return enum[name]
        path = Path(self.weights).expanduser()
        if not path.is_file():
            raise FileNotFoundError(f"weights file not found: {self.weights} (weights must be None, "
                                    f"one of {', '.join(enum.__members__)} or a local .pth file)")
        return path

    # -- the model ------------------------------------------------------------------------------
    @property
    def model(self):
        """The torchvision model in eval mode on :attr:`device`, built on first access."""
        if self._model is None:
            self._model = self._build()
        return self._model

    def _build(self):
        import torch

        spec = ARCHS[self.arch]
        kwargs: dict[str, Any] = {spec.detections_kw: self.detections_per_img}
        if spec.resizable:
            kwargs.update(min_size=self.min_size, max_size=self.max_size)
        source = self._source
        if source is None or isinstance(source, Path):
            model = spec.builder(weights=None, weights_backbone=None, **kwargs)
            if isinstance(source, Path):
                try:
                    state = torch.load(source, map_location="cpu", weights_only=True)
                    model.load_state_dict(state)
                except Exception as err:
                    raise RuntimeError(f"weights file {source} could not be loaded into {self.arch}: "
                                       f"{_one_line(err)}") from err
        else:
            try:
                model = spec.builder(weights=source, **kwargs)
            except OSError as err:  # URLError, socket and SSL errors: no network, or the server refused
                hint = Path(getattr(source, "url", "") or "model.pth").name
                raise RuntimeError(f"torchvision weights {source} for {self.arch} could not be fetched "
                                   f"({type(err).__name__}: {_one_line(err)}); pass a local weights file "
                                   f"(weights='/path/to/{hint}') or weights=None (untrained)") from err
        return model.eval().to(self.device)

    @contextlib.contextmanager
    def _torch_threads(self):
        import torch

        if self.threads is None:
            yield
            return
        before = torch.get_num_threads()
        torch.set_num_threads(self.threads)
        try:
            yield
        finally:
            torch.set_num_threads(before)

    # -- detection ------------------------------------------------------------------------------
    def detect(self, frames: np.ndarray, batch_size: int | None = None) -> list[np.ndarray]:
        """Boxes per frame of ``frames``: (T, H, W) gray or (T, H, W, 3) BGR uint8 (OpenCV's order).

        Returns a list of T float32 ``(n, 4)`` arrays ``x1, y1, x2, y2`` in the frames' pixel
        coordinates (clipped to ``[0, W] x [0, H]``), keeping the detections with score
        ``>= score_thr``, of :attr:`classes` and with both sides ``>= min_side``, best score first.
        ``batch_size`` overrides the detector's for this call.
        """
        import torch

        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or not (frames.ndim == 3 or (frames.ndim == 4 and frames.shape[-1] == 3)):
            raise ValueError("frames must be uint8 (T, H, W) gray or (T, H, W, 3) BGR, "
                             f"got {frames.dtype} {frames.shape}")
        bs = self.batch_size if batch_size is None else int(batch_size)
        if bs < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size!r}")
        h, w = frames.shape[1:3]
        out: list[np.ndarray] = []
        with self._torch_threads(), torch.inference_mode():
            model = self.model
            classes = None if self.classes is None else torch.tensor(self.classes, device=self.device)
            for start in range(0, len(frames), bs):
                chunk = frames[start:start + bs]
                x = torch.from_numpy(np.ascontiguousarray(chunk if chunk.ndim == 3 else chunk[..., ::-1]))
                x = x.to(self.device).float().div_(255.0)
                x = x[:, None].repeat(1, 3, 1, 1) if x.ndim == 3 else x.permute(0, 3, 1, 2)
                for pred in model(list(x)):
                    out.append(self._select(pred, h, w, classes))
        return out

    def _select(self, pred: dict, h: int, w: int, classes) -> np.ndarray:
        """The kept boxes of one image's prediction (torchvision's dict of boxes, scores, labels)."""
        import torch

        boxes = pred["boxes"].float()
        boxes = torch.stack([boxes[:, 0].clamp(0, w), boxes[:, 1].clamp(0, h),
                             boxes[:, 2].clamp(0, w), boxes[:, 3].clamp(0, h)], 1)
        keep = pred["scores"] >= self.score_thr
        if classes is not None:
            keep &= torch.isin(pred["labels"], classes)
        keep &= (((boxes[:, 2] - boxes[:, 0]) >= self.min_side)
                 & ((boxes[:, 3] - boxes[:, 1]) >= self.min_side))
        return boxes[keep].cpu().numpy().astype(np.float32, copy=False).reshape(-1, 4)
