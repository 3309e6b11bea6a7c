"""A disk cache of decoded arrays, so that repeated runs do not decode again.

The cache lives under one folder, :func:`cache_root`: ``$VADBENCH_CACHE`` when
set, else ``~/.cache/vadbench``. Decoded frames go to ``<root>/frames/`` (one
``.npy`` of uint8 per video and preprocessing setting) and frame labels derived
from pixel masks to ``<root>/labels/``. A file's name is a hash of what it was
computed from: the source's path, the names, sizes and modification times of
its files, and the settings. A changed source therefore misses the cache instead
of returning stale data; nothing is ever invalidated by hand (delete the folder
to reclaim space).

Files are written atomically (a temporary file in the same folder, then
``os.replace``), so concurrent runs never read half a file, and read with
``allow_pickle=False``. A complete file is never replaced: a caller that
computed the same array while another stored it keeps the stored file (the
content is the same, since the name is a hash of everything it depends on);
only a damaged file is written over.

>>> import tempfile, pathlib, cv2, numpy as np
>>> from vadbench.data import Video, FrameSource
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> for i in range(2):
...     _ = cv2.imwrite(str(d / f"{i}.png"), np.full((4, 6), 50 * i, np.uint8))
>>> v = Video("01", FrameSource.from_folder(d))
>>> a = cached_frames(v, gray=True, size=(3, 2), cache_dir=d / "cache")  # decodes, stores
>>> b = cached_frames(v, gray=True, size=(3, 2), cache_dir=d / "cache")  # reads the .npy
>>> b.shape, b.dtype.name, type(b).__name__, int(b[1, 0, 0])
((2, 2, 3), 'uint8', 'memmap', 50)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..atomic import atomic_open
from .frames import FrameSource
from .video import Size, Video

ENV_VAR = "VADBENCH_CACHE"


def cache_root(cache_dir: str | os.PathLike | None = None) -> Path:
    """The cache folder: ``cache_dir`` if given, else ``$VADBENCH_CACHE``, else ``~/.cache/vadbench``."""
    if cache_dir is not None:
        return Path(cache_dir).expanduser()
    env = os.environ.get(ENV_VAR)
    return Path(env).expanduser() if env else Path.home() / ".cache" / "vadbench"


def file_stats(paths: Iterable[Path]) -> list[tuple[str, int, int]]:
    """``(name, size, mtime_ns)`` of each file: what a cache key depends on."""
    out = []
    for p in paths:
        st = os.stat(p)
        out.append((p.name, st.st_size, st.st_mtime_ns))
    return out


def source_key(source: FrameSource) -> list:
    """What identifies a frame source's content on disk (without reading it)."""
    path = source.path.resolve()
    if source.files is not None:
        return [str(path), file_stats(source.files)]
    return [str(path), file_stats([path])]


def cached_array(kind: str, key: object, compute: Callable[[], np.ndarray], *, label: str = "",
                 cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """Return ``compute()``, stored as ``<cache root>/<kind>/<label>-<hash(key)>.npy``.

    ``key`` is any JSON-serialisable description of the inputs. A stored file is
    returned memory-mapped read-only; an unreadable one is recomputed and
    replaced. When a concurrent caller stores the file while this one computes,
    that file is kept and this call returns its own (identical) array.
    """
    digest = hashlib.sha1(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:20]
    label = re.sub(r"[^A-Za-z0-9_.-]+", "_", label)[:60]
    path = cache_root(cache_dir) / kind / (f"{label}-{digest}.npy" if label else f"{digest}.npy")
    damaged = False
    if path.is_file():
        try:
            return np.load(path, mmap_mode="r", allow_pickle=False)
        except (OSError, ValueError):
            damaged = True  # compute again and replace it
    array = np.ascontiguousarray(compute())
    if not damaged and path.is_file():  # stored meanwhile by a concurrent caller: keep it, readers may map it
        return array
    with atomic_open(path) as f:
        np.lib.format.write_array(f, array, allow_pickle=False)
    return array


def cached_frames(video: Video, *, gray: bool = False, size: Size | None = None,
                  cache_dir: str | os.PathLike | None = None) -> np.ndarray:
    """All frames of ``video`` as uint8 (T, H, W) or (T, H, W, 3), decoded once per setting.

    Same result as ``video.read(gray, size)``, but stored under
    ``<cache root>/frames/`` and returned memory-mapped and read-only from the
    second call on. Videos held in memory (``FrameSource.from_array``) are not cached.
    """
    if video.source.kind == "array":
        return video.read(gray=gray, size=size)
    key = {"source": source_key(video.source), "gray": bool(gray),
           "size": list(size) if size is not None else None}
    return cached_array("frames", key, lambda: video.read(gray=gray, size=size),
                        label=f"{video.source.path.parent.name}_{video.id}", cache_dir=cache_dir)
