"""The Fast-AED student as a vadbench model: fit (phase 1 + adversarial distillation), score, save/load.

Training (``fit``)
    1. The teachers are fetched through the run context (``ctx.get_model(name)``,
       fitted on the same dataset and seed); their multi-scale maps of every
       training clip are computed once and cached under ``ctx.cache_dir/fastaed``
       (the key includes a fingerprint of the fitted teacher's state). The maps
       of a training video come from a copy of the teacher fitted on the other
       fold of videos (``targets="crossfit"``, see :meth:`FastAED.training_targets`);
       the clips are the videos, their sped-up versions (every f-th frame,
       ``speedups``), which show the teacher's reaction to faster motion, and
       ``enlarged`` copies of each with one object pasted larger, which show its
       reaction to an unusual size.
       Each teacher's maps are divided by one number computed on the training
       videos (``normalize``: the mean of its training frame scores by default),
       so that teachers with different units weigh alike, then ``log1p``-compressed
       (monotone: every scale keeps the max-pooling relation 1x1 = max of 4x4 = max of 16x16).
    2. Optional phase 1 (``pretrain_epochs > 0``): the encoder and attention
       blocks, with a temporary decoder, learn to reconstruct the current frame
       from the frame triplet (MSE).
    3. Phase 2: for every teacher ``t``, ``MSE`` at every scale against ``t``'s
       maps plus ``lam`` times the non-saturating adversarial loss of ``t``'s
       discriminator ``D_t`` (``BCE(D_t(student maps), real)``). ``D_t`` is
       updated on ``BCE(D_t(teacher maps), real) + BCE(D_t(student maps.detach()), fake)``:
       the *student maps* are detached, so the fake term does train ``D_t``
       (the authors' code detached ``D_t``'s output instead, which removes the
       fake term's gradient: their discriminators only ever learned "real").
       ``lam = 0`` is standard knowledge distillation (no discriminator).
    The number of epochs is fixed by the configuration; nothing is selected on
    the test set. Shuffling and initialisation use ``ctx.seed``, so a fit on the
    CPU is repeatable.

Scoring (``score``)
    Frames are decoded once (reduced JPEG decode in a thread pool, overlapped
    with inference), stacked as ``[t-k, t, t+k]`` (:func:`triplet_index`, the
    same function as in training), and run in batches through a copy of the
    network with BatchNorm folded into the convolutions, in channels-last
    layout, under ``torch.inference_mode``. The frame score is fixed by the
    configuration (``score``, chosen before any test label was seen):
    ``"mean"`` (default) averages the 1x1 head and the maximum of the finest
    map (both estimate the teacher's frame score, in normalised units);
    ``"max"`` is the maximum of the finest map, ``"s"`` the 1x1 head alone.

This module holds the model itself (construction, scoring, ``fit``, state);
the teachers' side of training (targets, their cache, cross-fitting, units) is
:class:`~vadbench_fastaed.teacher_targets.TeacherTargets` and the training
loops are :class:`~vadbench_fastaed.training.DistillationTraining`, both mixed
into :class:`FastAED`.
"""

from __future__ import annotations

import json
import time
from typing import Any

import numpy as np
import torch
from torch import nn

from vadbench import Model, Scores, drop_late_defaults
from vadbench.maps import scale_key

from .frames import FrameReader, stack_input, triplet_index
from .nets import InferenceNet, StudentNet, fold_batchnorm
from .settings import LATE_DEFAULTS, Settings
from .teacher_targets import TeacherTargets, _log, state_fingerprint
from .training import INPUT_SCALE, DistillationTraining, to_input


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


class FastAED(TeacherTargets, DistillationTraining, Model):
    """Fast-AED student: frame triplets -> conv stem + conv-attention -> 1x1, 4x4, 16x16 maps, distilled
    from teachers.

    Settings (all JSON-able; the registered names in ``plugin.py`` set them) are passed flat, as
    keywords, and sorted into three frozen parts (:mod:`vadbench_fastaed.settings`), each listing its
    settings with their defaults:

    ``network`` (:class:`~vadbench_fastaed.settings.Network`)
        Input size, colour and triplet offset; the network (:class:`~vadbench_fastaed.nets.StudentNet`)
        and its output ``scales``.
    ``distill`` (:class:`~vadbench_fastaed.settings.Distillation`)
        The teachers and their targets (cross-fitted or direct, sped-up clips, units), the
        adversarial part, phase 1 and phase 2 optimisation, the held-out fidelity check.
    ``inference`` (:class:`~vadbench_fastaed.settings.Inference`)
        The frame score and how ``score`` runs (batch, threads, BatchNorm folding, layout, device).

    ``config`` is the flat configuration with every setting, except ``device`` while it is
    ``"cpu"`` and ``enlarged`` while it is 0 (they came after results were recorded; see
    :func:`vadbench.drop_late_defaults`).
    """

    family = "student"
    trainable = True

    def __init__(self, **settings: Any):
        config = _jsonable(Settings.complete(settings))
        super().__init__(**drop_late_defaults(config, LATE_DEFAULTS))
        self.settings = Settings.from_flat(config)
        net, distill = self.settings.network, self.settings.distill
        self.size = (int(net.size[0]), int(net.size[1]))
        self.color, self.offset = bool(net.color), int(net.offset)
        self.in_ch = 9 if self.color else 3
        self.scales = tuple(sorted(int(s) for s in net.scales))
        self.teachers = list(distill.teachers)
        self.teacher_weights = (list(distill.teacher_weights) if distill.teacher_weights
                                else [1.0] * len(self.teachers))
        self.net = self._build_net(seed=0)
        self.norm: dict[str, float] = {}
        self.history: dict[str, list] = {}
        self.train_seconds: float | None = None
        self.reader = FrameReader(self.size, gray=not self.color,
                                  threads=self.settings.inference.decode_threads)
        self.device = torch.device(self.settings.inference.device)
        self._infer: nn.Module | None = None

    # -- construction ------------------------------------------------------------------------
    def _build_net(self, seed: int) -> StudentNet:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            return StudentNet(in_ch=self.in_ch, scales=self.scales, **self.settings.network.net_kwargs())

    @property
    def finest(self) -> str:
        return scale_key(self.scales[-1])

    def infer_net(self) -> nn.Module:
        """The inference copy: eval mode, BatchNorm folded, channels-last (built once per weights)."""
        if self._infer is None:
            net = InferenceNet(self.net, INPUT_SCALE)
            if self.settings.inference.fold_bn:
                net = fold_batchnorm(net)
            net.eval()
            if self.settings.inference.channels_last:
                net = net.to(memory_format=torch.channels_last)
            for p in net.parameters():
                p.requires_grad_(False)
            self._infer = net.to(self.device)
        return self._infer

    # -- the hot path --------------------------------------------------------------------------
    def example_input(self, batch_size: int = 1) -> torch.Tensor:
        """A batch of stacked uint8 frame triplets (B, 3 or 9, H, W) at the student's input size."""
        g = torch.Generator().manual_seed(0)
        w, h = self.size
        x = torch.randint(0, 256, (batch_size, self.in_ch, h, w), dtype=torch.uint8, generator=g)
        return x.to(self.device)

    def maps(self, batch: torch.Tensor) -> dict[str, torch.Tensor]:
        """All heads' outputs for a uint8 batch (B, C, H, W), with the inference network."""
        if self.settings.inference.channels_last:
            x = torch.empty(batch.shape, dtype=torch.float32, memory_format=torch.channels_last,
                            device=self.device).copy_(batch)
        else:
            x = batch.to(self.device).float()
        return self.infer_net()(x)

    def frame_scores(self, out: dict[str, torch.Tensor]) -> torch.Tensor:
        mode = self.settings.inference.score
        has_s = "1x1" in out
        has_map = any(k != "1x1" for k in out)
        s = out["1x1"].reshape(-1) if has_s else None
        m = out[self.finest].flatten(1).amax(1) if has_map else None
        if s is None or (mode == "max" and m is not None):
            return m
        if m is None or mode == "s":
            return s
        return 0.5 * (s + m)

    def forward(self, batch: torch.Tensor) -> torch.Tensor:
        """Frame scores (B,) of a uint8 batch of stacked frame triplets (B, C, H, W)."""
        with torch.inference_mode():
            return self.frame_scores(self.maps(batch))

    def score(self, video) -> Scores:
        """Decode, stack, run in batches (decoding overlapped), return frame scores and the finest maps."""
        threads = torch.get_num_threads()
        if self.settings.inference.infer_threads:
            torch.set_num_threads(int(self.settings.inference.infer_threads))
        try:
            return self._score(video)
        finally:
            torch.set_num_threads(threads)

    def _score(self, video) -> Scores:
        n = len(video)
        buf, chunks = self.reader.stream(video)
        bsz, k = int(self.settings.inference.infer_batch), self.offset
        frame = np.empty(n, np.float32)
        finest = self.scales[-1]
        maps = np.empty((n, finest, finest), np.float32) if finest > 1 else None
        ready, ci = 0, 0
        with torch.inference_mode():
            for start in range(0, n, bsz):
                stop = min(n, start + bsz)
                need = min(n, stop + k)
                while ready < need:
                    ready, fut = chunks[ci]
                    fut.result()
                    ci += 1
                x = torch.from_numpy(stack_input(buf, triplet_index(n, k, np.arange(start, stop))))
                out = self.maps(x)
                frame[start:stop] = self.frame_scores(out).cpu().numpy()
                if maps is not None:
                    maps[start:stop] = out[self.finest].cpu().numpy()
        for _, fut in chunks[ci:]:
            fut.result()
        return Scores(frame=frame.astype(np.float64), maps=maps)

    # -- training ------------------------------------------------------------------------------
    def fit(self, train, ctx) -> None:
        t_start = time.perf_counter()
        c = self.settings.distill
        seed = int(getattr(ctx, "seed", 0) or 0)

        def say(message: str) -> None:
            _log(ctx, message)

        videos = list(train)
        # frames of every training video (the same reader as scoring), decoded once
        frames = [self.reader.read(v) for v in videos]
        # the training clips: every video as it is, and sped up by each factor (every f-th frame) ...
        items = [(i, 1, v) for i, v in enumerate(videos)]
        items += [(i, int(f), self.sped_up(v, int(f))) for f in c.speedups if int(f) > 1
                  for i, v in enumerate(videos) if len(v) > int(f)]
        source = [i for i, _, _ in items]  # which decoded frames each clip indexes
        # ... and copies with one object pasted larger, decoded as clips of their own
        rng = np.random.default_rng(seed)
        for copy in range(int(c.enlarged)):
            for i, v in enumerate(videos):
                clip = self.enlarged(v, rng, gray=not self.color, copy=copy)
                if clip is not None:
                    frames.append(self.reader.read(clip))
                    items.append((i, 1, clip))
                    source.append(len(frames) - 1)
        # teachers' targets, one normaliser per teacher (from the unmodified videos, the first items)
        targets: list[dict[str, np.ndarray]] = []  # per teacher: scale -> (N, n, n)
        self.norm = {}
        for name in self.teachers:
            teacher = self._teacher(name, ctx)
            per_item = self.training_targets(name, teacher, train, items, ctx)
            plain = {k: np.concatenate([m[k] for m in per_item[:len(videos)]]) for k in per_item[0]}
            self.norm[name] = self._norm_value(plain)
            targets.append({k: self.transform(np.concatenate([m[k] for m in per_item]), name)
                            for k in per_item[0]})
            say(f"{self.name}: teacher {name}: normaliser {self.norm[name]:.4g}")
        t_targets = time.perf_counter() - t_start
        # samples: triplet indices into the concatenated frames of the videos (a sped-up clip's
        # frame j is frame j*f of its video; its triplet is [j-k, j, j+k] in clip frames)
        allf = np.concatenate(frames)
        offsets = np.cumsum([0] + [len(f) for f in frames])
        stride = max(1, int(c.train_stride))
        idx3, keep, val, base = [], [], [], 0
        every = int(c.val_every)
        for (i, f, v), src in zip(items, source, strict=True):
            n = len(v)
            idx3.append(triplet_index(n, self.offset) * f + offsets[src])
            if every > 1 and i % every == every - 1:  # a held-out training video (label-free check)
                val.append(base + np.arange(n))
            else:
                keep.append(base + np.arange(0, n, stride))
            base += n
        idx3, keep = np.concatenate(idx3), np.concatenate(keep)
        val = np.concatenate(val) if val else np.zeros(0, np.int64)
        self.net = self._build_net(seed)
        self._infer = None
        self.history = {"pretrain_loss": [], "kd_loss": [], "adv_loss": [], "d_loss": [], "epoch_seconds": []}
        g = torch.Generator().manual_seed(seed)
        n_plain = sum(len(v) for v in videos)  # the videos as they are come first
        if c.pretrain_epochs > 0:
            self._pretrain(allf, idx3[keep[keep < n_plain]], g, say)
        kept = [{k: torch.from_numpy(v[keep]) for k, v in t.items()} for t in targets]
        self._distill(allf, idx3[keep], kept, g, seed, say)
        if len(val):
            # fidelity on clips at their own speed (what a test video holds): of the held-out videos, and of
            # as many clips the student was trained on; the gap is what does not generalise
            held, seen = val[val < n_plain], keep[keep < n_plain]
            seen = seen[np.linspace(0, len(seen) - 1, min(len(held), len(seen))).astype(np.int64)]
            for prefix, rows in (("val", held), ("fit", seen)):
                self.history.update(self.validate(allf, idx3[rows], [{k: v[rows] for k, v in t.items()}
                                                                     for t in targets], prefix))
            found = ", ".join(f"{k} {v[0]:.4f}" for k, v in self.history.items()
                              if k.startswith(("val_", "fit_")))
            say(f"{self.name}: held-out training videos (val) and clips it was trained on (fit): {found}")
        self.net.eval()
        self._infer = None
        self.train_seconds = time.perf_counter() - t_start
        self.history["targets_seconds"] = [t_targets]
        say(f"{self.name}: trained in {self.train_seconds:.1f} s on {len(keep)} samples "
            f"({len(videos)} videos and {len(items) - len(videos)} sped-up or enlarged clips)")

    # -- persistence ---------------------------------------------------------------------------
    def state_dict(self) -> dict:
        return {"config": _jsonable(self.config),
                "net": {k: v.detach().clone() for k, v in self.net.state_dict().items()},
                "norm": {k: float(v) for k, v in self.norm.items()},
                "history": {k: [float(x) for x in v] for k, v in self.history.items()},
                "train_seconds": float(self.train_seconds) if self.train_seconds is not None else None}

    def load_state_dict(self, state: dict) -> None:
        self.net = self._build_net(0)
        self.net.load_state_dict(state["net"])
        self.net.eval()
        self.norm = dict(state.get("norm", {}))
        self.history = {k: list(v) for k, v in (state.get("history") or {}).items()}
        self.train_seconds = state.get("train_seconds")
        self._infer = None


__all__ = ["FastAED", "state_fingerprint", "to_input"]
