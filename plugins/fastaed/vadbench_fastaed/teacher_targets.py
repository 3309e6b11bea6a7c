"""Where the student's targets come from: the teachers' maps of the training clips, cached, cross-fitted.

:class:`TeacherTargets` is the part of :class:`~vadbench_fastaed.model.FastAED`
(a mixin: it reads the model's ``settings``, ``name``, ``scales`` and ``norm``)
that fetches each teacher through the run context, builds the training clips'
targets (the videos and their sped-up versions, :meth:`~TeacherTargets.sped_up`),
by default from copies of the teacher fitted on the other folds of videos
(:meth:`~TeacherTargets.training_targets`), keeps every teacher's maps on disk
under a fingerprint of the fitted teacher (:func:`state_fingerprint`,
:meth:`~TeacherTargets.teacher_maps`), and puts them in the units the student
learns (:meth:`~TeacherTargets.transform`).
"""

from __future__ import annotations

import hashlib
import time
import zipfile
import zlib
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vadbench.atomic import atomic_save_npz, load_npz
from vadbench.maps import pool_maps, scale_key
from vadbench.progress import progress


def _log(ctx, message: str) -> None:
    if ctx is not None and hasattr(ctx, "log"):
        ctx.log(message)


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


class TeacherTargets:
    """The teachers' side of :class:`~vadbench_fastaed.model.FastAED`: teachers, maps, targets, units."""

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
    def enlarged(video, rng: np.random.Generator, gray: bool = True, copy: int = 0):
        """A copy of ``video`` with one object pasted 1.5 to 2.5 times larger through a 40-frame segment, or
        None when the video has no detections or no object can be followed that long.

        The spatial counterpart of :meth:`sped_up`: a training clip holding something larger than any
        training object, which the teachers score (their maps are the targets, as for every clip). The
        object, the segment and the scale come from ``rng``; the pasting is
        :func:`vadbench.pseudo_anomalies.enlarged_object`, and the copy's detections hold the enlarged box.
        """
        from vadbench.data import FrameSource, Video
        from vadbench.pseudo_anomalies import enlarged_object

        if not getattr(video, "has_detections", False):
            return None
        try:
            frames, rows, _ = enlarged_object(video.read(gray=gray), video.detections(), rng,
                                              scale=float(rng.uniform(1.5, 2.5)))
        except ValueError:  # no object followed through a whole segment
            return None
        source = FrameSource.from_array(frames, path=f"<{video.id} enlarged {copy}>")
        return Video(f"{video.id}@big{copy}", source, meta={"enlarged": copy, "of": video.id},
                     detection_loader=lambda: rows)

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

    # -- units ---------------------------------------------------------------------------------
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


__all__ = ["TeacherTargets", "state_fingerprint"]
