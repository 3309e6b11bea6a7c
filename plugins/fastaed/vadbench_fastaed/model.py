"""The Fast-AED student as a vadbench model: fit (phase 1 + adversarial distillation), score, save/load.

Training (``fit``)
    1. The teachers are fetched through the run context (``ctx.get_model(name)``,
       fitted on the same dataset and seed); their multi-scale maps of every
       training clip are computed once and cached under ``ctx.cache_dir/fastaed``
       (the key includes a fingerprint of the fitted teacher's state). The maps
       of a training video come from a copy of the teacher fitted on the other
       fold of videos (``targets="crossfit"``, see :meth:`FastAED.training_targets`);
       the clips are the videos and their sped-up versions (every f-th frame,
       ``speedups``), which show the teacher's reaction to faster motion.
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
"""

from __future__ import annotations

import hashlib
import json
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from vadbench import Model, Scores, drop_late_defaults
from vadbench.atomic import atomic_save_npz, load_npz
from vadbench.maps import pool_maps, scale_key
from vadbench.progress import progress

from .frames import FrameReader, stack_input, triplet_index
from .nets import FrameDecoder, InferenceNet, MapDiscriminator, StudentNet, fold_batchnorm
from .settings import LATE_DEFAULTS, Settings

INPUT_SCALE = 1.0 / 128.0


def to_input(x: torch.Tensor) -> torch.Tensor:
    """uint8 frames -> float training input ``x / 128``.

    The authors used ``(x - 127) / 128``; without the shift, the scaling folds
    exactly into the stem convolution of the inference network (zero padding
    stays zero), and the BatchNorm after the stem absorbs the mean.
    """
    return x.float() * INPUT_SCALE


def _log(ctx, message: str) -> None:
    if ctx is not None and hasattr(ctx, "log"):
        ctx.log(message)


def _jsonable(value: Any) -> Any:
    return json.loads(json.dumps(value, default=list))


def state_fingerprint(state: Any) -> str:
    """A short hash of a (nested) state dict: tensors, arrays and plain values."""
    h = hashlib.sha1()

    def visit(x):
        if isinstance(x, dict):
            for k in sorted(x, key=str):
                h.update(str(k).encode())
                visit(x[k])
        elif isinstance(x, (list, tuple)):
            for v in x:
                visit(v)
        elif isinstance(x, torch.Tensor):
            h.update(x.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(x, np.ndarray):
            h.update(np.ascontiguousarray(x).tobytes())
        else:
            h.update(repr(x).encode())

    visit(state)
    return h.hexdigest()[:16]


class FastAED(Model):
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
    ``"cpu"`` (it came after results were recorded; see :func:`vadbench.drop_late_defaults`).
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

    # -- teachers ------------------------------------------------------------------------------
    def _teacher(self, name: str, ctx):
        if ctx is None or getattr(ctx, "get_model", None) is None:
            raise RuntimeError(f"{self.name}: the run context gives no access to the teacher {name!r}")
        cfg = dict((self.settings.distill.teacher_config or {}).get(name, {}))
        if self.settings.distill.quick and not cfg:
            try:
                from vadbench.plugins import model_registry

                cfg = dict(model_registry().entry(name).quick)
            except Exception:  # noqa: BLE001 - a stub context: no registry entry
                cfg = {}
        return ctx.get_model(name, **cfg) if cfg else ctx.get_model(name)

    def _target_cache(self, ctx) -> Path | None:
        root = getattr(ctx, "cache_dir", None)
        return Path(root) / "fastaed" / "targets" if root else None

    def _teacher_key(self, name: str, teacher, ctx) -> str | None:
        """Fingerprint of a fitted teacher (its name, config, state, dataset and seed), or None."""
        if self._target_cache(ctx) is None or not hasattr(teacher, "state_dict"):
            return None
        try:
            return state_fingerprint({"name": name, "config": getattr(teacher, "config", {}),
                                      "state": teacher.state_dict(), "dataset": getattr(ctx, "dataset", ""),
                                      "seed": getattr(ctx, "seed", 0)})
        except Exception:  # noqa: BLE001 - an unhashable teacher: no disk cache
            return None

    def _map_path(self, ctx, name: str, key: str | None, video) -> Path | None:
        if key is None or str(video.path).startswith("<"):
            return None
        text = f"{key}|{video.path}|{video.id}|{len(video)}|{self.scales}"
        vkey = hashlib.sha1(text.encode()).hexdigest()[:20]
        return self._target_cache(ctx) / f"{name}-{vkey}.npz"

    def teacher_maps(self, name: str, teacher, videos, ctx, key: str | None = None,
                     ) -> list[dict[str, np.ndarray]]:
        """The teacher's maps (float32, at the student's scales) of each video, cached on disk under ``key``.

        Cache files are written atomically (:func:`vadbench.atomic.atomic_save_npz`); one that
        cannot be read back is computed again and rewritten.
        """
        key = key if key is not None else self._teacher_key(name, teacher, ctx)
        out = []
        for v in progress(videos, desc=f"{self.name}: {name} maps", unit="clip"):
            path = self._map_path(ctx, name, key, v)
            cached = self._cached_maps(path, len(v))
            if cached is not None:
                out.append(cached)
                continue
            raw = teacher.multiscale_maps(v)
            maps = {scale_key(n): self._at_scale(raw, n, len(v)) for n in self.scales}
            if path is not None:  # a unique temporary name, fsync, rename: concurrent workers never clash
                atomic_save_npz(path, maps)
            out.append(maps)
        return out

    def _cached_maps(self, path: Path | None, frames: int) -> dict[str, np.ndarray] | None:
        """The maps cached at ``path``, or None when there is no file or it is damaged (then computed again).

        A file that cannot be read (truncated, garbled) or does not hold one
        ``(frames, n, n)`` float32 array per scale counts as a miss.
        """
        if path is None or not path.exists():
            return None
        try:
            maps = load_npz(path)
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error):
            return None
        if set(maps) != {scale_key(n) for n in self.scales} or any(
                maps[scale_key(n)].dtype != np.float32 or maps[scale_key(n)].shape != (frames, n, n)
                for n in self.scales):
            return None
        return maps

    def training_targets(self, name: str, teacher, train, items: list[tuple[int, int, Any]], ctx,
                         ) -> list[dict[str, np.ndarray]]:
        """The teacher's maps of the training clips ``items`` (source video index, speed-up, video).

        ``targets="direct"``: the fitted teacher's maps of its own training videos.
        ``targets="crossfit"`` (default): each clip is scored by a copy of the
        teacher fitted on the *other* folds of training videos (video ``i`` is in
        fold ``i % folds``), so that the targets are what the teacher says of
        videos it has not seen, which is the situation of every test video. A
        memory-based teacher (nearest neighbours) scores its own training
        objects 0, which would leave the student nothing to learn. The copies
        are built with the teacher's own configuration and the run's seed;
        their maps are cached on disk.
        """
        videos = list(train)
        folds = min(int(self.settings.distill.folds), len(videos))
        if self.target_mode(name) == "direct" or folds < 2:
            return self.teacher_maps(name, teacher, [v for _, _, v in items], ctx)
        from vadbench.data.video import Split
        from vadbench.seeding import seed_everything

        base = self._teacher_key(name, teacher, ctx)
        out: list[dict[str, np.ndarray] | None] = [None] * len(items)
        for f in range(folds):
            held = [j for j, (i, _, _) in enumerate(items) if i % folds == f]
            rest = [i for i in range(len(videos)) if i % folds != f]
            key = None if base is None else f"{base}|crossfit{folds}/{f}"
            paths = [self._map_path(ctx, name, key, items[j][2]) for j in held]
            cached = [self._cached_maps(p, len(items[j][2])) for p, j in zip(paths, held, strict=True)]
            if all(c is not None for c in cached):  # every clip of the fold is cached and readable
                for j, maps in zip(held, cached, strict=True):
                    out[j] = maps
                continue
            del cached  # the readable ones are read again below; the others are computed by a fitted copy
            copy = self._teacher_copy(name, teacher)
            seed_everything(int(getattr(ctx, "seed", 0) or 0))
            part = Split(getattr(train, "dataset", ""), "train", [videos[i] for i in rest],
                         getattr(train, "root", None))
            t0 = time.perf_counter()
            copy.fit(part, ctx)
            _log(ctx, f"{self.name}: teacher {name} fold {f + 1}/{folds} fitted on {len(rest)} videos "
                      f"({time.perf_counter() - t0:.1f} s)")
            maps_of_held = self.teacher_maps(name, copy, [items[j][2] for j in held], ctx, key=key)
            for j, maps in zip(held, maps_of_held, strict=True):
                out[j] = maps
        return out  # type: ignore[return-value]

    def target_mode(self, teacher: str) -> str:
        """``crossfit`` or ``direct`` for this teacher (``targets`` may map names, ``"*"`` the default)."""
        t = self.settings.distill.targets
        if isinstance(t, dict):
            return t.get(teacher, t.get("*", "crossfit"))
        return t

    @staticmethod
    def sped_up(video, factor: int):
        """The clip of every ``factor``-th frame of ``video`` (its objects move ``factor`` times faster)."""
        from vadbench.data import FrameSource, Video

        files = getattr(video.source, "files", None)
        if files:
            source = FrameSource(video.source.path, files=list(files[::factor]))
        else:
            source = FrameSource.from_array(video.read()[::factor])
        loader = None
        if getattr(video, "has_detections", False):  # the kept frames' boxes, renumbered
            def loader():
                rows = video.detections()
                kept = rows[rows[:, 0] % factor == 0].copy()
                kept[:, 0] //= factor
                return kept
        return Video(f"{video.id}@x{factor}", source, meta={"speedup": factor, "of": video.id},
                     detection_loader=loader)

    @staticmethod
    def _teacher_copy(name: str, teacher):
        config = dict(getattr(teacher, "config", {}) or {})
        import vadbench

        try:
            copy = vadbench.create_model(name, **config)
        except Exception:  # noqa: BLE001 - not registered (a stub): build from its class
            copy = None
        if type(copy) is type(teacher):
            return copy
        copy = type(teacher)(**config)
        copy.name = name
        return copy

    @staticmethod
    def _at_scale(raw: dict, n: int, frames: int) -> np.ndarray:
        key = scale_key(n)
        if key in raw:
            a = np.asarray(raw[key], np.float32)
        else:  # derive from the finest map the teacher has, by adaptive max-pooling
            finest = max(raw, key=lambda s: int(s.split("x")[0]))
            a = pool_maps(raw[finest], (n,))[key]
        a = a.reshape(frames, n, n)
        if not np.isfinite(a).all():
            raise ValueError(f"teacher maps at {key} hold non-finite values")
        return a

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
        # the training clips: every video as it is, and sped up by each factor (every f-th frame)
        items = [(i, 1, v) for i, v in enumerate(videos)]
        items += [(i, int(f), self.sped_up(v, int(f))) for f in c.speedups if int(f) > 1
                  for i, v in enumerate(videos) if len(v) > int(f)]
        # teachers' targets, one normaliser per teacher (from the unmodified videos)
        targets: list[dict[str, np.ndarray]] = []  # per teacher: scale -> (N, n, n)
        self.norm = {}
        for name in self.teachers:
            teacher = self._teacher(name, ctx)
            per_item = self.training_targets(name, teacher, train, items, ctx)
            plain = {k: np.concatenate([m[k] for m, it in zip(per_item, items, strict=True) if it[1] == 1])
                     for k in per_item[0]}
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
        for i, f, v in items:
            n = len(v)
            idx3.append(triplet_index(n, self.offset) * f + offsets[i])
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
        n_plain = sum(len(v) for _, f, v in items if f == 1)  # the videos as they are come first
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
            f"({len(videos)} videos, speed-ups {list(c.speedups)})")

    def validate(self, allf, idx3, targets: list[dict[str, np.ndarray]],
                 prefix: str = "val") -> dict[str, list[float]]:
        """Fidelity to the teachers on the clips ``idx3`` (training videos only, no label).

        ``<prefix>_mse``: the distillation MSE; ``<prefix>_spearman``: rank
        correlation of the student's frame score with the mean of the teachers'
        frame scores (the maximum of their finest maps, in training units).
        """
        from scipy.stats import spearmanr

        self._infer = None
        preds: dict[str, list[np.ndarray]] = {}
        frame = []
        with torch.inference_mode():
            for s in range(0, len(idx3), 256):
                x = torch.from_numpy(stack_input(allf, idx3[s:s + 256]))
                out = self.maps(x)
                frame.append(self.frame_scores(out).cpu().numpy())
                for k, v in out.items():
                    preds.setdefault(k, []).append(v.cpu().numpy())
        pred = {k: np.concatenate(v) for k, v in preds.items()}
        mse = float(np.mean([np.mean([np.mean((pred[k] - t[k]) ** 2) for k in pred]) for t in targets]))
        rho = float(spearmanr(np.concatenate(frame), self.teacher_frame(targets))[0])
        self._infer = None
        return {f"{prefix}_mse": [mse], f"{prefix}_spearman": [rho], f"{prefix}_samples": [float(len(idx3))]}

    def teacher_frame(self, targets: list[dict[str, np.ndarray]]) -> np.ndarray:
        """The teachers' frame score of every clip in training units: the mean over teachers of the
        maximum of their finest target map."""
        return np.mean([t[self.finest].reshape(len(t[self.finest]), -1).max(1) for t in targets], 0)

    def transform(self, maps: np.ndarray, teacher: str) -> np.ndarray:
        """A teacher's maps in the units the student learns: ``log1p(maps / normaliser)`` by default.

        Dividing by one number per teacher (from its training maps) puts every
        teacher on the same footing; ``log1p`` (monotone, so rankings and the
        max-pooling relation between scales are kept) compresses the long tail
        of scores on sped-up clips, which would otherwise dominate the MSE.
        """
        y = np.asarray(maps, np.float32) / np.float32(self.norm[teacher])
        return np.log1p(np.maximum(y, 0.0)) if self.settings.distill.transform == "log1p" else y

    def _norm_value(self, cat: dict[str, np.ndarray]) -> float:
        mode = self.settings.distill.normalize
        if "1x1" in cat:
            frame = cat["1x1"].reshape(-1)
        else:
            frame = cat[self.finest].reshape(len(cat[self.finest]), -1).max(1)
        if mode == "none":
            return 1.0
        value = float(frame.max() if mode == "max" else frame.mean())
        return value if value > 1e-12 else 1.0

    def _batches(self, n: int, g: torch.Generator):
        bs = int(self.settings.distill.batch_size)
        perm = torch.randperm(n, generator=g).numpy()
        for s in range(0, n, bs):
            b = perm[s:s + bs]
            if len(b) >= 2 or n < 2:  # BatchNorm needs two samples
                yield b

    def _input(self, allf: np.ndarray, idx3: np.ndarray) -> torch.Tensor:
        return to_input(torch.from_numpy(stack_input(allf, idx3)))

    def _pretrain(self, allf, idx3, g, say) -> None:
        c = self.settings.distill
        net = self.net
        dec = FrameDecoder([*net.encoder.channels[:-1], net.dim], 3 if self.color else 1)
        params = list(net.encoder.parameters()) + list(net.blocks.parameters()) + list(dec.parameters())
        opt = torch.optim.Adam(params, lr=c.pretrain_lr, weight_decay=5e-6)
        net.train()
        dec.train()
        centre = slice(3, 6) if self.color else slice(1, 2)
        for epoch in progress(range(int(c.pretrain_epochs)), desc=f"{self.name}: phase 1", unit="epoch"):
            total, count, t0 = 0.0, 0, time.perf_counter()
            for b in self._batches(len(idx3), g):
                x = self._input(allf, idx3[b])
                feats, z = net.features(x)
                sizes = [tuple(f.shape[-2:]) for f in feats]
                rec = dec(z, sizes)
                target = F.adaptive_avg_pool2d(x[:, centre], rec.shape[-2:])
                loss = F.mse_loss(rec, target)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                total += float(loss.detach()) * len(b)
                count += len(b)
            self.history["pretrain_loss"].append(total / max(count, 1))
            say(f"{self.name}: phase 1 epoch {epoch + 1}: reconstruction MSE {total / max(count, 1):.4f} "
                f"({time.perf_counter() - t0:.1f} s)")

    def _distill(self, allf, idx3, targets: list[dict[str, torch.Tensor]], g, seed, say) -> None:
        from timm.optim import create_optimizer_v2
        from timm.scheduler import create_scheduler_v2

        c = self.settings.distill
        net = self.net
        lam = float(c.lam)
        epochs = int(c.epochs)
        opt = create_optimizer_v2(net, opt=c.opt, lr=c.lr, weight_decay=c.weight_decay)
        sched, _ = create_scheduler_v2(opt, sched=c.sched, num_epochs=epochs,
                                       warmup_epochs=min(int(c.warmup_epochs), max(epochs - 1, 0)),
                                       warmup_lr=c.lr * 0.1, min_lr=c.lr * 0.01,
                                       decay_epochs=c.decay_epochs, decay_rate=c.decay_rate)
        discs, dopts = [], []
        if lam > 0:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed + 1)
                for _ in self.teachers:
                    d = MapDiscriminator(self.scales)
                    discs.append(d)
                    dopts.append(torch.optim.Adam(d.parameters(), lr=c.d_lr, weight_decay=5e-6))
        bce = F.binary_cross_entropy_with_logits
        weights = self.teacher_weights
        for epoch in progress(range(epochs), desc=f"{self.name}: distillation", unit="epoch"):
            net.train()
            sums = {"kd": 0.0, "adv": 0.0, "d": 0.0}
            count, t0 = 0, time.perf_counter()
            for b in self._batches(len(idx3), g):
                x = self._input(allf, idx3[b])
                bt = torch.from_numpy(b)
                tgt = [{k: v[bt] for k, v in t.items()} for t in targets]
                out = net(x)
                kd = sum(w * sum(F.mse_loss(out[k], t[k]) for k in out)
                         for w, t in zip(weights, tgt, strict=True))
                loss = kd
                if lam > 0:
                    fake = {k: v.detach() for k, v in out.items()}  # student maps detached for D
                    dl_total = 0.0
                    for d, dopt, t in zip(discs, dopts, tgt, strict=True):
                        for _ in range(int(c.d_steps)):
                            real_logit, fake_logit = d(t), d(fake)
                            dl = bce(real_logit, torch.ones_like(real_logit)) + \
                                bce(fake_logit, torch.zeros_like(fake_logit))
                            dopt.zero_grad(set_to_none=True)
                            dl.backward()
                            dopt.step()
                        dl_total += float(dl.detach())
                    adv = 0.0
                    for d in discs:
                        for p in d.parameters():
                            p.requires_grad_(False)
                        logit = d(out)
                        adv = adv + bce(logit, torch.ones_like(logit))  # non-saturating generator loss
                        for p in d.parameters():
                            p.requires_grad_(True)
                    loss = kd + lam * adv
                    sums["adv"] += float(adv.detach()) * len(b)
                    sums["d"] += dl_total * len(b)
                opt.zero_grad(set_to_none=True)
                loss.backward()
                opt.step()
                sums["kd"] += float(kd.detach()) * len(b)
                count += len(b)
            sched.step(epoch + 1)
            secs = time.perf_counter() - t0
            for key, name in (("kd", "kd_loss"), ("adv", "adv_loss"), ("d", "d_loss")):
                self.history[name].append(sums[key] / max(count, 1))
            self.history["epoch_seconds"].append(secs)
            say(f"{self.name}: epoch {epoch + 1}/{epochs}: KD {self.history['kd_loss'][-1]:.4f} "
                f"adv {self.history['adv_loss'][-1]:.4f} D {self.history['d_loss'][-1]:.4f} ({secs:.1f} s)")

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
