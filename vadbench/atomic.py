"""Atomic file writes: a reader sees the old file or the new one, never half of one.

Every writer puts the bytes in a temporary file in the destination's folder
(named ``.<name>.<random>.tmp``, so globs for ``*.json`` or ``*.npz`` never
match it), flushes and fsyncs it, then ``os.replace``-s it over the
destination and fsyncs the folder. An interrupted write leaves at most a
``.tmp`` file behind.

>>> import tempfile, pathlib, numpy as np
>>> d = pathlib.Path(tempfile.mkdtemp())
>>> atomic_write_json(d / "r.json", {"b": 1, "a": [1, 2]})
>>> (d / "r.json").read_text()
'{\\n "a": [\\n  1,\\n  2\\n ],\\n "b": 1\\n}\\n'
>>> load_json(d / "r.json")
{'a': [1, 2], 'b': 1}
>>> atomic_save_npz(d / "s.npz", {"01": np.arange(3.0)})
>>> load_npz(d / "s.npz")["01"].tolist()
[0.0, 1.0, 2.0]
>>> sorted(p.name for p in d.iterdir())
['r.json', 's.npz']
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import tempfile
import zipfile
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np

TMP_SUFFIX = ".tmp"


def _fsync_dir(folder: Path) -> None:
    """Make a rename durable (POSIX); silently skipped where folders cannot be opened."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_open(path: str | os.PathLike) -> Iterator[BinaryIO]:
    """A binary file to write; on leaving the block it replaces ``path`` atomically (or vanishes on error).

    >>> import tempfile, pathlib, numpy as np
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "a" / "x.npy"
    >>> with atomic_open(p) as f:
    ...     np.lib.format.write_array(f, np.arange(3))
    >>> np.load(p).tolist()
    [0, 1, 2]
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=TMP_SUFFIX, dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write ``data`` to ``path`` atomically, creating the parent folder if needed."""
    with atomic_open(path) as f:
        f.write(data)


def atomic_write_text(path: str | os.PathLike, text: str) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically."""
    atomic_write_bytes(path, text.encode("utf-8"))


def atomic_write_json(path: str | os.PathLike, obj: Any) -> None:
    """Write ``obj`` as JSON (sorted keys, indent 1, trailing newline) atomically.

    NaN and infinities are refused (they are not JSON); store ``None`` instead.
    Objects JSON does not know (a ``Path`` in a model config) are written as ``str``.
    """
    text = json.dumps(obj, sort_keys=True, indent=1, allow_nan=False, default=str)
    atomic_write_text(path, text + "\n")


def atomic_save_npz(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Save named arrays to a compressed ``.npz`` atomically (no object arrays)."""
    buf = io.BytesIO()
    # The same layout as np.savez_compressed (one ``<key>.npy`` member per array),
    # written by hand so that any key (even "file") is allowed.
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, allowZip64=True) as zf:
        for key, value in arrays.items():
            value = np.asarray(value)
            if value.dtype.hasobject:
                raise TypeError(f"array {key!r} has dtype object; only plain numeric arrays are stored")
            with zf.open(f"{key}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, value, allow_pickle=False)
    atomic_write_bytes(path, buf.getvalue())


def load_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Load every array of an ``.npz`` file into a dict (``allow_pickle=False``)."""
    with np.load(path, allow_pickle=False) as z:
        return {key: z[key] for key in z.files}


def load_json(path: str | os.PathLike) -> Any:
    """Read a JSON file."""
    with open(path, encoding="utf-8") as f:
        return json.load(f)
