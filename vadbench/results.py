"""The results store: one JSON record per cell plus the cell's per-frame scores.

A *cell* is one (model configuration, dataset, seed). Layout under ``root``::

    records/<cell>.json   the record (schema below), written LAST
    scores/<cell>.npz     one float64 array per test video, keyed by the video id
    regions/<cell>.npz    optional: one (N, 6) array per video, rows (frame, x0, y0, x1, y1, score)
    models/               fitted-model cache (owned by the runner)
    locks/<cell>.lock     ownership of a cell being computed (pid + host)

Every file is written atomically (:mod:`vadbench.atomic`) and the record comes
after its scores, so a record exists only when its cell is complete; an
interrupted run leaves at most ``.tmp`` files and orphan score files, which are
ignored and overwritten by the next run.

Record schema (``"schema": 1``)::

    {
     "schema": 1,
     "cell": "<model>__<dataset>__s<seed>__<hash8>",
     "status": "ok" | "failed",
     "error": None | "<one line>",                    # set when failed
     "model": {"name", "family", "config"},
     "dataset": {"name", "root", "label_source", "fingerprint", "options"},
     "seed": int,
     "metrics": {"micro_auc", "macro_auc", "micro_auc_ci", "macro_auc_ci", "ap", "eer",
                 "pauc_0.1", "rbdc", "tbdc", "n_videos", "n_frames", "macro_dropped",
                 "conventions": {...}},               # AUCs as fractions in [0, 1]
     "speed": {...},                                  # one vadbench.profile.profile_models result
     "train_seconds", "score_seconds",
     "vadbench_version", "git_commit", "command", "started", "finished",
     "scores_file": "scores/<cell>.npz",              # relative to root; None when failed
     "regions_file": "regions/<cell>.npz" | None
    }

A failed cell is a record with ``status: "failed"``, a one-line ``error`` and no
scores. Fields the runner does not know are stored as None.

>>> import tempfile, numpy as np
>>> store = ResultsStore(tempfile.mkdtemp())
>>> cell = cell_id("motion-diff", "synthetic", 0, {"k": 3})
>>> cell
'motion-diff__synthetic__s0__aef7d877'
>>> with store.lock(cell):
...     _ = store.write({"cell": cell, "status": "ok", "dataset": {"name": "synthetic"}},
...                     {"01": np.array([0.1, 0.9])})
>>> store.has(cell), store.read(cell)["scores_file"]
(True, 'scores/motion-diff__synthetic__s0__aef7d877.npz')
>>> store.load_scores(store.read(cell))["01"].tolist()
[0.1, 0.9]
>>> [r["cell"] for r in store.records(dataset="synthetic")] == [cell]
True
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import secrets
import socket
import time
from collections.abc import Iterator, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import TMP_SUFFIX, atomic_save_npz, atomic_write_json, load_json, load_npz
from .errors import DataError, VadbenchError
from .names import UnsafeNameError, safe_name

SCHEMA = 1


class CellBusy(VadbenchError):
    """Another live process owns this cell's lock; the runner skips the cell."""

    def __init__(self, cell: str, owner: Mapping | None, lock_path: Path):
        self.cell, self.owner, self.lock_path = cell, dict(owner or {}), lock_path
        who = f"pid {self.owner.get('pid')} on {self.owner.get('host')}" if owner else "another process"
        super().__init__(f"cell {cell} is being computed by {who} (lock {lock_path})")


def config_hash(*parts: Any) -> str:
    """First 8 hex digits of the SHA-1 of the parts as canonical JSON (sorted keys).

    >>> config_hash({"b": 1, "a": 2}) == config_hash({"a": 2, "b": 1})
    True
    """
    text = json.dumps(parts if len(parts) != 1 else parts[0], sort_keys=True, default=str,
                      separators=(",", ":"))
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:8]


def check_cell(cell: str) -> str:
    """Return ``cell`` if it is a safe file stem (:func:`vadbench.names.safe_name`), else raise
    UnsafeNameError.

    >>> check_cell("../etc/passwd")  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vadbench.names.UnsafeNameError: cell id '../etc/passwd' is not safe in a file name (...)
    """
    return safe_name(cell, what="cell id")


def cell_id(model: str, dataset: str, seed: int, config: Mapping | None,
            dataset_options: Mapping | None = None) -> str:
    """The id of a cell: ``<model>__<dataset>__s<seed>__<sha1(config, dataset options)[:8]>``.

    ``model`` and ``dataset`` must be safe names (:func:`vadbench.names.safe_name`:
    letters, digits, ``._-``); the hash covers the model configuration and the
    dataset options.

    >>> cell_id("fastaed", "ped2", 1, {}, {"size": [64, 64]})
    'fastaed__ped2__s1__a4d1c800'
    >>> cell_id("a/b", "ped2", 0, {})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vadbench.names.UnsafeNameError: model name 'a/b' is not safe in a file name (...)
    """
    safe_name(model, what="model")
    safe_name(dataset, what="dataset")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    digest = config_hash({"config": dict(config or {}), "dataset_options": dict(dataset_options or {})})
    return check_cell(f"{model}__{dataset}__s{int(seed)}__{digest}")


def compute_seconds(records) -> float:
    """Wall time the cells of ``records`` took, summed (``finished - started``; cells without both count 0).

    A leaderboard built by several resumed runs took this long in total, whatever
    each run's own duration was.

    >>> compute_seconds([{"started": "2026-01-01T00:00:00+00:00", "finished": "2026-01-01T00:01:30+00:00"},
    ...                  {"started": "2026-01-01T01:00:00+00:00"}])
    90.0
    """
    total = 0.0
    for r in records:
        if r.get("started") and r.get("finished"):
            total += (datetime.fromisoformat(r["finished"])
                      - datetime.fromisoformat(r["started"])).total_seconds()
    return total


def _check_record_names(record: Mapping, path: Path) -> None:
    """Raise a one-line DataError naming ``path`` if the record's dataset or model name is unsafe.

    >>> _check_record_names({"dataset": {"name": "../../x"}}, Path("records/c.json"))  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    vadbench.errors.DataError: records/c.json: dataset name '../../x' is not safe in a file name (...)
    """
    for what in ("dataset", "model"):
        part = record.get(what)
        if part is None:  # a field the runner did not know
            continue
        try:
            safe_name(part.get("name") if isinstance(part, Mapping) else part, what=what)
        except UnsafeNameError as exc:
            raise DataError(path, str(exc)) from None


def _pid_alive(pid: int) -> bool:
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True


class ResultsStore:
    """Records, scores and locks of benchmark cells under one folder (see the module docstring)."""

    def __init__(self, root: str | os.PathLike):
        self.root = Path(root)
        self.records_dir = self.root / "records"
        self.scores_dir = self.root / "scores"
        self.regions_dir = self.root / "regions"
        self.models_dir = self.root / "models"
        self.locks_dir = self.root / "locks"
        #: Problems met by the last :meth:`records` call (unreadable or stray files), one line each.
        self.warnings: list[str] = []

    # ------------------------------------------------------------------ paths

    #: :func:`cell_id`, also reachable from a store instance.
    cell_id = staticmethod(cell_id)

    def record_path(self, cell: str) -> Path:
        return self.records_dir / f"{check_cell(cell)}.json"

    def _inside(self, relative: str) -> Path:
        path = (self.root / relative).resolve()
        root = self.root.resolve()
        if Path(relative).is_absolute() or not path.is_relative_to(root):
            raise ValueError(f"{relative!r} points outside the results store {self.root}")
        return path

    # ------------------------------------------------------------------ records

    def has(self, cell: str) -> bool:
        """True when the cell has a complete, readable record (ok or failed).

        A damaged record file counts as missing, so the cell is computed again.
        """
        path = self.record_path(cell)
        if not path.is_file():
            return False
        try:
            rec = load_json(path)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            return False
        return isinstance(rec, dict) and rec.get("cell") == cell and "status" in rec

    def read(self, cell: str) -> dict:
        """The record of ``cell`` (FileNotFoundError if there is none)."""
        return load_json(self.record_path(cell))

    def write(self, record: Mapping, scores: Mapping[str, np.ndarray] | None,
              regions: Mapping[str, np.ndarray] | None = None) -> Path:
        """Store a cell: scores and regions first, the record last, each atomically.

        ``record["cell"]`` names the cell. An ``ok`` record needs ``scores``
        (one array per test video); a ``failed`` one takes none, and any files
        a previous run stored for the cell are removed. Returns the record path.
        """
        record = dict(record)
        cell = check_cell(record.get("cell", ""))
        _check_record_names(record, self.record_path(cell))
        status = record.setdefault("status", "ok")
        if status not in ("ok", "failed"):
            raise ValueError(f"record status must be 'ok' or 'failed', got {status!r}")
        record.setdefault("schema", SCHEMA)
        record.setdefault("error", None)
        scores_path = self.scores_dir / f"{cell}.npz"
        regions_path = self.regions_dir / f"{cell}.npz"
        if status == "failed":
            if scores:
                raise ValueError(f"failed cell {cell} cannot carry scores")
            if not record["error"]:
                raise ValueError(f"failed cell {cell} needs an error message")
            record["error"] = " ".join(str(record["error"]).split())
            for stale in (scores_path, regions_path):
                stale.unlink(missing_ok=True)
            record["scores_file"] = record["regions_file"] = None
        else:
            if not scores:
                raise ValueError(f"ok cell {cell} needs its per-frame scores")
            atomic_save_npz(scores_path, {str(k): np.asarray(v, dtype=np.float64).reshape(-1)
                                          for k, v in scores.items()})
            record["scores_file"] = scores_path.relative_to(self.root).as_posix()
            if regions is not None:
                arrays = {}
                for k, v in regions.items():
                    v = np.asarray(v, dtype=np.float64)
                    if v.size == 0:
                        v = v.reshape(0, 6)
                    if v.ndim != 2 or v.shape[1] != 6:
                        raise ValueError(f"regions of video {k!r} must have shape (N, 6), got {v.shape}")
                    arrays[str(k)] = v
                atomic_save_npz(regions_path, arrays)
                record["regions_file"] = regions_path.relative_to(self.root).as_posix()
            else:
                regions_path.unlink(missing_ok=True)
                record["regions_file"] = None
        path = self.record_path(cell)
        atomic_write_json(path, record)
        return path

    def records(self, dataset: str | None = None, status: str | None = None) -> list[dict]:
        """All complete records, optionally of one dataset and/or status, sorted by cell.

        Temporary files are skipped silently; files that are not valid records
        are skipped and described in :attr:`warnings`. A record whose dataset or
        model name is not safe in a file name (``../../x``) is refused: a
        :class:`~vadbench.errors.DataError` naming the record file, since that
        name would place leaderboard files outside their folder.
        """
        self.warnings = []
        out: list[dict] = []
        if not self.records_dir.is_dir():
            return out
        for path in sorted(self.records_dir.iterdir()):
            name = path.name
            if name.startswith(".") or name.endswith(TMP_SUFFIX):
                continue
            if not name.endswith(".json") or not path.is_file():
                self.warnings.append(f"{path}: not a record file, ignored")
                continue
            try:
                rec = load_json(path)
            except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
                self.warnings.append(f"{path}: unreadable record ({type(exc).__name__}: {exc}), ignored")
                continue
            if not isinstance(rec, dict) or rec.get("cell") != path.stem or "status" not in rec:
                self.warnings.append(f"{path}: not a vadbench record (no matching 'cell'/'status'), ignored")
                continue
            _check_record_names(rec, path)
            if dataset is not None and (rec.get("dataset") or {}).get("name") != dataset:
                continue
            if status is not None and rec.get("status") != status:
                continue
            if (rec.get("status") == "ok" and rec.get("scores_file")
                    and not (self.root / rec["scores_file"]).is_file()):
                self.warnings.append(f"{path}: its scores file {rec['scores_file']} is missing")
            out.append(rec)
        return out

    def load_scores(self, record: Mapping) -> dict[str, np.ndarray]:
        """The per-frame scores of a record's cell, keyed by video id (no pickle)."""
        rel = record.get("scores_file")
        if not rel:
            raise ValueError(f"record {record.get('cell')} has no scores (status {record.get('status')})")
        return load_npz(self._inside(rel))

    def load_regions(self, record: Mapping) -> dict[str, np.ndarray] | None:
        """The scored regions of a record's cell, or None when it stored none."""
        rel = record.get("regions_file")
        return load_npz(self._inside(rel)) if rel else None

    # ------------------------------------------------------------------ locks

    def lock_path(self, cell: str) -> Path:
        return self.locks_dir / f"{check_cell(cell)}.lock"

    @contextlib.contextmanager
    def lock(self, cell: str) -> Iterator[Path]:
        """Own ``cell`` while the block runs; raise :class:`CellBusy` if a live process owns it.

        The lock is ``locks/<cell>.lock``, created with ``O_CREAT | O_EXCL`` and
        holding the owner's pid, host and a random token. A lock left by a dead
        process of this host is taken over; a lock of another host is never
        taken over automatically (delete the file if that host is gone).
        """
        path = self.lock_path(cell)
        path.parent.mkdir(parents=True, exist_ok=True)
        mine = {"pid": os.getpid(), "host": socket.gethostname(), "token": secrets.token_hex(8),
                "since": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        text = json.dumps(mine, sort_keys=True)
        for _ in range(5):
            try:
                fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            except FileExistsError:
                self._take_over_if_stale(cell, path)
                continue
            with os.fdopen(fd, "w", encoding="utf-8") as f:
                f.write(text)
                f.flush()
                os.fsync(f.fileno())
            break
        else:
            raise CellBusy(cell, self._lock_owner(path), path)
        try:
            yield path
        finally:
            try:
                if path.read_text(encoding="utf-8") == text:
                    path.unlink()
            except OSError:
                pass

    @staticmethod
    def _lock_owner(path: Path) -> dict | None:
        try:
            owner = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        return owner if isinstance(owner, dict) else None

    def _take_over_if_stale(self, cell: str, path: Path) -> None:
        """Remove ``path`` if its owner is dead on this host, else raise CellBusy."""
        try:
            seen = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return  # released meanwhile: try again
        try:
            owner = json.loads(seen)
            pid, host = int(owner["pid"]), str(owner["host"])
        except (ValueError, KeyError, TypeError):
            # A lock being written right now reads empty; an old garbled one is stale.
            try:
                young = time.time() - path.stat().st_mtime < 10
            except FileNotFoundError:
                return
            if young:
                raise CellBusy(cell, None, path) from None
            owner, pid, host = None, -1, socket.gethostname()
        if host != socket.gethostname() or _pid_alive(pid):
            raise CellBusy(cell, owner, path)
        # Move the stale lock aside, then check it is still the one we judged stale.
        aside = path.with_name(f".{path.name}.{secrets.token_hex(4)}.stale")
        try:
            os.rename(path, aside)
        except FileNotFoundError:
            return
        moved = aside.read_text(encoding="utf-8")
        if moved != seen:  # another process took the lock over meanwhile: give it back
            with contextlib.suppress(FileExistsError):
                os.link(aside, path)
            aside.unlink()
            raise CellBusy(cell, self._lock_owner(path), path)
        aside.unlink()
