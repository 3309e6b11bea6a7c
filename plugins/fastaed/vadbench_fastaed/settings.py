"""Fast-AED's settings in three named parts: the network, the distillation, the inference.

A registered configuration stays one flat dict of settings (what
:class:`~vadbench_fastaed.model.FastAED` takes, records in its ``config`` and
the leaderboards hash); :meth:`Settings.from_flat` sorts it into the three
frozen parts the model's code reads, each with its defaults and checks.

>>> s = Settings.from_flat({"epochs": 5, "size": [120, 80], "score": "max"})
>>> s.distill.epochs, s.network.size, s.inference.score, s.network.depth
(5, [120, 80], 'max', 1)
>>> Settings.from_flat({"epoch": 5})
Traceback (most recent call last):
...
TypeError: FastAED got an unexpected setting 'epoch'
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from vadbench.maps import DEFAULT_SCALES


@dataclass(frozen=True)
class Network:
    """The student network (:class:`~vadbench_fastaed.nets.StudentNet`) and its input.

    ``size`` (width, height), ``color`` (9 channels) or grayscale (3), ``offset`` k of the
    triplet ``[t-k, t, t+k]``; ``widths`` ... ``fine_heads`` build the network (``backbone``
    names a timm model that replaces the native encoder); ``scales`` are its output maps.
    """

    size: Sequence[int] = (90, 60)
    color: bool = False
    offset: int = 3
    widths: Sequence[int] = (16, 32, 64)
    stem_kernel: int = 3
    stem_stride: int = 1
    reflect: bool = False
    backbone: str | None = None
    out_indices: Sequence[int] = (1, 2, 3)
    backbone_kwargs: dict | None = None
    depth: int = 1
    heads: int = 2
    dim_head: int = 32
    mlp_mult: int = 2
    kv_stride: int = 2
    proj_kernel: int = 3
    head_hidden: int = 32
    act: str = "linear"
    fine_heads: int = 0
    scales: Sequence[int] = DEFAULT_SCALES

    def net_kwargs(self) -> dict[str, Any]:
        """The :class:`~vadbench_fastaed.nets.StudentNet` arguments besides ``in_ch`` and ``scales``."""
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in ("size", "color", "offset", "scales")}


@dataclass(frozen=True)
class Distillation:
    """What the student learns from, and how it is trained.

    ``teachers`` (registered names, fetched with ``ctx.get_model``; their registered
    ``quick`` configurations when ``quick``), ``teacher_weights``, ``teacher_config``
    (config overrides per teacher); ``targets`` ``"crossfit"`` or ``"direct"`` teacher maps
    of the training videos (or a dict teacher -> mode, ``"*"`` the default) over ``folds``;
    ``speedups``: factors of the sped-up training clips; ``enlarged``: copies of each training
    video with one object pasted larger (:meth:`~vadbench_fastaed.teacher_targets.TeacherTargets.enlarged`);
    ``normalize`` and ``transform``: the
    target units; ``lam``, ``d_lr``, ``d_steps``: the adversarial part (``lam=0``: standard
    KD); ``pretrain_epochs``, ``pretrain_lr``: phase 1; ``epochs`` ... ``decay_rate``: phase 2
    (timm's optimiser and scheduler); ``train_stride``: every n-th training frame;
    ``val_every``: hold out every n-th training video to measure fidelity (0: off).
    """

    teachers: Sequence[str] = ("teacher-attr",)
    teacher_weights: Sequence[float] | None = None
    teacher_config: dict | None = None
    targets: str | dict = "crossfit"
    folds: int = 2
    speedups: Sequence[int] = (2, 3, 4)
    enlarged: int = 0
    normalize: str = "mean"
    transform: str = "log1p"
    lam: float = 0.1
    d_lr: float = 1e-4
    d_steps: int = 1
    pretrain_epochs: int = 0
    pretrain_lr: float = 1e-3
    epochs: int = 30
    batch_size: int = 64
    lr: float = 1e-3
    weight_decay: float = 1e-4
    opt: str = "adamw"
    sched: str = "cosine"
    warmup_epochs: int = 1
    decay_epochs: int = 10
    decay_rate: float = 0.5
    train_stride: int = 1
    val_every: int = 0
    quick: bool = False

    def __post_init__(self):
        modes = self.targets.values() if isinstance(self.targets, dict) else [self.targets]
        if any(m not in ("crossfit", "direct") for m in modes):
            raise ValueError(f"targets must be 'crossfit' or 'direct' (or a dict teacher -> mode), "
                             f"got {self.targets!r}")
        if self.transform not in ("log1p", "linear"):
            raise ValueError(f"transform must be 'log1p' or 'linear', got {self.transform!r}")
        if self.normalize not in ("mean", "max", "none"):
            raise ValueError(f"normalize must be 'mean', 'max' or 'none', got {self.normalize!r}")
        if self.teacher_weights and len(self.teacher_weights) != len(self.teachers):
            raise ValueError("teacher_weights must have one weight per teacher")


@dataclass(frozen=True)
class Inference:
    """How ``score`` runs: the frame ``score`` (``"mean"`` of the 1x1 head and the finest map's
    maximum, ``"max"``, ``"s"``), frames per forward, decoding threads, torch threads, BatchNorm
    folding, channels-last layout and the ``device`` of the inference network."""

    score: str = "mean"
    infer_batch: int = 128
    decode_threads: int = 2
    infer_threads: int | None = 1
    fold_bn: bool = True
    channels_last: bool = True
    device: str = "cpu"

    def __post_init__(self):
        if self.score not in ("mean", "max", "s"):
            raise ValueError(f"score must be 'mean', 'max' or 's', got {self.score!r}")


PARTS = (Network, Distillation, Inference)

# a setting added after results were recorded is left out of the recorded configuration while it
# holds its default, so that configurations from before it keep their hashes
LATE_DEFAULTS = {"device": "cpu", "enlarged": 0}


@dataclass(frozen=True)
class Settings:
    """The three parts of one configuration."""

    network: Network
    distill: Distillation
    inference: Inference

    @staticmethod
    def defaults() -> dict[str, Any]:
        """Every setting's default, flat, in the parts' order."""
        return {f.name: f.default for part in PARTS for f in dataclasses.fields(part)}

    @classmethod
    def complete(cls, config: dict[str, Any]) -> dict[str, Any]:
        """``config`` with every setting it leaves out at its default; an unknown setting is a TypeError."""
        defaults = cls.defaults()
        for name in config:
            if name not in defaults:
                raise TypeError(f"FastAED got an unexpected setting {name!r}")
        return {name: config.get(name, default) for name, default in defaults.items()}

    @classmethod
    def from_flat(cls, config: dict[str, Any]) -> Settings:
        """The parts of a flat configuration (settings left out take their defaults)."""
        flat = cls.complete(config)
        return cls(*(part(**{f.name: flat[f.name] for f in dataclasses.fields(part)}) for part in PARTS))
