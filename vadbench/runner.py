"""The benchmark runner: a grid of cells (model, dataset, seed) through an executor.

One cell fits the model on the training split (or reloads it from the fitted
model cache), scores every test video, evaluates every metric, profiles speed
and writes one record plus its per-frame scores to the results store. A cell
whose record exists is not recomputed; a cell that fails is recorded as failed
with a one-line reason and the grid goes on.
"""

from __future__ import annotations

import json
import re
import subprocess
import time
import traceback
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__, create_dataset, create_model
from .atomic import load_json
from .errors import VadbenchError
from .executors import LocalExecutor
from .model import RunContext, as_scores
from .results import CellBusy, ResultsStore, config_hash
from .seeding import seed_everything

DATASET_FOLDERS = {"ped2": ("ucsd_ped2", "ped2", "UCSDped2"), "ped1": ("ucsd_ped1", "ped1", "UCSDped1"),
                   "avenue": ("avenue", "Avenue"), "shanghaitech": ("shanghaitech", "ShanghaiTech")}


@dataclass(frozen=True)
class Cell:
    """One unit of work: a model configuration on a dataset with a seed."""

    model: str
    dataset: str
    seed: int = 0
    model_config: dict = field(default_factory=dict)
    dataset_options: dict = field(default_factory=dict)
    profile: dict = field(default_factory=dict)

    def __hash__(self) -> int:
        return hash(self.key())

    def key(self) -> str:
        return json.dumps(asdict(self), sort_keys=True, default=str)


def resolve_root(dataset: str, data_root: str | Path | None) -> str | None:
    """The folder of ``dataset``: ``data_root`` itself, or its conventional sub-folder."""
    if data_root is None:
        return None
    root = Path(data_root).expanduser()
    for name in DATASET_FOLDERS.get(dataset, (dataset,)):
        if (root / name).is_dir():
            return str(root / name)
    return str(root)


def open_dataset(name: str, options: dict, *, root=None, cache_dir=None):
    """Load a cell's dataset: ``options`` win; a generated dataset (no root) lives under ``cache_dir``."""
    options = dict(options)
    if "root" not in options and root is not None:
        options["root"] = str(root)
    if name == "synthetic" and options.get("root") is None:
        options.pop("root", None)
        options.setdefault("cache_dir", str(cache_dir) if cache_dir else None)
    return create_dataset(name, **options)


def git_commit(cwd: Path | None = None, packages: Iterable[str | Path] | None = None) -> str | None:
    """The checkout's HEAD commit, with ``+dirty`` when the source of the code a cell ran differs from it.

    Only source counts: the ``*.py`` files (outside ``tests/`` folders, as
    :func:`vadbench.provenance.source_hash`) under the ``packages`` folders that
    lie in the checkout (default: ``vadbench/`` and ``plugins/`` at its top),
    modified, staged, deleted or untracked. A README, a doc, the leaderboards or
    the results store the publishing run rewrites never make a commit dirty.
    None outside a git checkout.
    """
    from .provenance import is_source

    where = cwd or Path(__file__).parent
    try:
        def git(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run(["git", *args], check=False, cwd=where, capture_output=True, text=True, timeout=10)

        out = git("rev-parse", "HEAD")
        commit = out.stdout.strip()
        if out.returncode != 0 or not re.fullmatch(r"[0-9a-f]{40}", commit):
            return None
        top = Path(git("rev-parse", "--show-toplevel").stdout.strip()).resolve()
        folders = [Path(p).resolve() for p in packages] if packages is not None else [top / "vadbench",
                                                                                         top / "plugins"]
        inside = {f: f.relative_to(top) for f in folders if f == top or top in f.parents}
        if not inside:
            return commit
        status = git("status", "--porcelain=v1", "-z", "--untracked-files=all", "--",
                     *(f":(top,literal){rel.as_posix()}" for rel in inside.values()))
        if status.returncode != 0:
            return commit + "+dirty"  # cannot tell: do not claim a clean tree
        paths, entries = [], iter(status.stdout.split("\0"))
        for entry in entries:  # "XY path"; a rename's or copy's old path follows as an entry of its own
            if len(entry) > 3:
                paths.append(entry[3:])
                if "R" in entry[:2] or "C" in entry[:2]:
                    paths.append(next(entries, ""))
        for path in paths:
            absolute = top / path
            for folder in inside:
                if absolute == folder or folder in absolute.parents:
                    rel = absolute.name if folder.suffix == ".py" else absolute.relative_to(folder)
                    if is_source(rel):
                        return commit + "+dirty"
        return commit
    except (OSError, subprocess.SubprocessError):
        return None


def dependencies_changed(depends_on: dict) -> list[str]:
    """The models among ``depends_on`` whose settings now differ from those recorded.

    ``depends_on`` maps a model a fit fetched through ``ctx.get_model`` (a
    student's teachers) to ``{"requested": overrides, "config": its config}``.
    A model that cannot be built here counts as unchanged.

    >>> dependencies_changed({"motion-diff": {"requested": {}, "config": {"an_old_setting": 1}}})
    ['motion-diff']
    >>> dependencies_changed({})
    []
    """
    changed = []
    for name, entry in depends_on.items():
        try:
            now = getattr(create_model(name, **(entry.get("requested") or {})), "config", None)
        except Exception:  # noqa: BLE001 - not installed here: keep what was recorded
            now = None
        if now is not None and config_hash(now) != config_hash(entry.get("config") or {}):
            changed.append(name)
    return changed


def load_weights(path: Path) -> tuple[dict | None, str | None]:
    """The state dict saved at ``path`` (``torch.load``, ``weights_only=True``) and None, or None and why not.

    A missing, truncated or garbled file (an interrupted copy, a full disk)
    counts as a miss: the caller fits the model again and rewrites the file, as
    a damaged record counts as missing.

    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "m.pt"
    >>> _ = p.write_bytes(b"PK\\x03\\x04 not a checkpoint")
    >>> load_weights(p)[0] is None
    True
    """
    import pickle
    import zipfile

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True), None
    except (OSError, RuntimeError, EOFError, ValueError, pickle.UnpicklingError, zipfile.BadZipFile) as exc:
        return None, one_line(exc)


class ModelCache:
    """Fitted models of one (dataset, seed), reused across cells and by students asking for teachers.

    Weights are stored with ``torch.save`` and read back with ``weights_only=True``,
    so a cache file cannot execute code. Beside each weights file, ``.deps.json``
    names the models its fit fetched through ``ctx.get_model``, with their
    settings: a cached student whose teacher has changed since is fitted again,
    not reloaded. (Weights cached before these files existed are reloaded as before.)
    Both files are written atomically (:mod:`vadbench.atomic`: a unique temporary
    name, fsync, rename), so concurrent workers never see half a file; a damaged
    weights file (see :func:`load_weights`) counts as a miss and is fitted again.
    """

    def __init__(self, store: ResultsStore, dataset, seed: int, device: str, progress=None):
        self.store, self.dataset, self.seed, self.device = store, dataset, seed, device
        self.progress = progress
        self.fitted: dict[str, tuple[object, float]] = {}
        self.deps: dict[str, dict] = {}

    def path(self, name: str, config: dict) -> Path:
        key = config_hash({"config": config, "data": self.dataset.fingerprint})
        return self.store.root / "models" / f"{name}__{self.dataset.name}__s{self.seed}__{key}.pt"

    def get(self, name: str, config: dict | None = None):
        """The fitted model ``name`` and its training time in seconds (0 when reloaded)."""
        import torch

        config = dict(config or {})
        memo = f"{name}:{config_hash(config)}"
        if memo in self.fitted:
            return self.fitted[memo]
        model = create_model(name, **config)
        path = self.path(name, getattr(model, "config", config))
        deps_path = path.with_suffix(".deps.json")
        used: dict[str, dict] = {}

        def fetch(other: str, **cfg):
            dep = self.get(other, cfg)[0]
            used[other] = {"requested": cfg, "config": getattr(dep, "config", cfg)}
            return dep

        seed_everything(self.seed)
        ctx = RunContext(cache_dir=self.store.root / "cache", seed=self.seed, device=self.device,
                         dataset=self.dataset.name, progress=self.progress, get_model=fetch)
        ctx.cache_dir.mkdir(parents=True, exist_ok=True)
        seconds = 0.0
        try:  # a damaged file counts as a changed teacher (as a damaged record counts as missing)
            recorded = load_json(deps_path) if deps_path.exists() else {}
            stale = dependencies_changed(recorded)
        except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError) as exc:
            recorded, stale = {}, [f"{deps_path} (unreadable: {type(exc).__name__})"]
        if stale and self.progress:
            self.progress(f"{name}: {', '.join(stale)} changed since its cached fit; fitting it again")
        state = None
        if path.exists() and getattr(model, "trainable", True) and not stale:
            state, why = load_weights(path)
            if state is None and self.progress:
                self.progress(f"{name}: its cached fit {path.name} is unreadable ({why}); fitting it again")
        if state is not None:
            model.load_state_dict(state)
            used.update(recorded)
            if hasattr(model, "on_loaded"):
                model.on_loaded(self.dataset.train, ctx)
        else:
            start = time.perf_counter()
            model.fit(self.dataset.train, ctx)
            seconds = time.perf_counter() - start
            if getattr(model, "trainable", True):
                import io

                from .atomic import atomic_write_bytes, atomic_write_json

                buf = io.BytesIO()
                torch.save(model.state_dict(), buf)
                atomic_write_json(deps_path, used)
                atomic_write_bytes(path, buf.getvalue())
        self.fitted[memo] = (model, seconds)
        self.deps[memo] = used
        return model, seconds

    def dependencies(self, name: str, config: dict | None = None) -> dict:
        """The models that ``get(name, config)`` fetched through the run context, with their settings."""
        return self.deps.get(f"{name}:{config_hash(dict(config or {}))}", {})


def run_cell(cell: Cell, store: ResultsStore, *, data_root=None, device: str = "cpu",
             command: str = "", progress: Callable[[str], None] | None = None) -> dict:
    """Fit, score, evaluate and profile one cell; write and return its record."""
    from .metrics.region import regions_from_maps
    from .profile import profile_models
    from .provenance import code_of, package_hash, packages_of

    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    involved: list = [cell.model]  # the models whose packages' source the cell runs (see vadbench.provenance)
    code_of(*involved)  # hashed now, near import time, and cached for the process
    record = {"schema": 1, "status": "ok", "error": None, "seed": cell.seed,
              "model": {"name": cell.model, "config": cell.model_config},
              "dataset": {"name": cell.dataset, "options": cell.dataset_options},
              "vadbench_version": __version__, "git_commit": None, "code": None, "command": command,
              "started": started}
    cell_id = store.cell_id(cell.model, cell.dataset, cell.seed,
                            {"model": cell.model_config, "dataset": cell.dataset_options})
    record["cell"] = cell_id
    say = progress or (lambda m: None)
    try:
        dataset = open_dataset(cell.dataset, cell.dataset_options, root=resolve_root(cell.dataset, data_root),
                               cache_dir=store.root / "cache")
        record["dataset"].update(root=str(dataset.root) if dataset.root else None,
                                 label_source=dataset.label_source, fingerprint=dataset.fingerprint)
        cache = ModelCache(store, dataset, cell.seed, device, progress=say)
        say(f"{cell_id}: fit")
        model, train_seconds = cache.get(cell.model, cell.model_config)
        involved += [m for m, _ in cache.fitted.values()] + list(cache.dependencies(cell.model, cell.model_config))
        record["model"].update(family=getattr(model, "family", ""), config=getattr(model, "config", {}))
        if deps := cache.dependencies(cell.model, cell.model_config):
            record["model"]["depends_on"] = deps
        record["train_seconds"] = train_seconds

        say(f"{cell_id}: score {len(dataset.test)} test videos")
        # models see the test videos without their ground truth (labels, masks, tracks)
        inputs = [video.unlabelled() for video in dataset.test]
        scores, regions, sources = {}, {}, set()
        start = time.perf_counter()
        for video in inputs:
            result = as_scores(model.score(video), len(video), f"model {cell.model} on video {video.id}")
            scores[video.id] = result.frame
            if result.regions is not None:
                regions[video.id] = np.asarray(result.regions, dtype=np.float64).reshape(-1, 6)
                sources.add("model")
            elif result.maps is not None:
                h, w = video.source.frame(0, gray=True).shape
                regions[video.id] = regions_from_maps(np.asarray(result.maps), (h, w))
                sources.add("maps")
        record["score_seconds"] = time.perf_counter() - start

        metrics = evaluate_scores(dataset, scores, regions, seed=cell.seed)
        metrics["region_source"] = region_source(sources)
        record["metrics"] = metrics
        say(f"{cell_id}: micro AUC {metrics['micro_auc']:.4f}; profile")
        record["speed"] = profile_models([model], videos=inputs[: cell.profile.get("videos", 2)],
                                         device=device, **{k: v for k, v in cell.profile.items()
                                                           if k != "videos"})[0]
    except CellBusy:
        raise
    except Exception as exc:  # noqa: BLE001 - one failing cell must not sink the grid
        record.update(status="failed", error=one_line(exc))
        if not isinstance(exc, VadbenchError):
            record["traceback"] = traceback.format_exc(limit=8)
        scores, regions = {}, {}
    # the commit and the source hashes of vadbench, the model's package and its teachers' packages
    packages = packages_of(*involved)
    record["code"] = {name: package_hash(folder) for name, folder in packages.items()}
    record["git_commit"] = git_commit(packages=packages.values())
    record["finished"] = datetime.now(timezone.utc).isoformat(timespec="seconds")
    store.write(record, scores, regions or None)
    return record


def region_source(sources: set[str]) -> str | None:
    """Where a cell's scored regions came from: ``"model"`` (returned by its ``score``), ``"maps"``
    (derived from its anomaly maps by :func:`~vadbench.metrics.region.regions_from_maps`), None (no regions).

    >>> region_source({"model"}), region_source({"maps"}), region_source(set()), region_source({"maps", "model"})
    ('model', 'maps', None, 'model+maps')
    """
    return "+".join(sorted(sources, key=("model", "maps").index)) or None


def evaluate_scores(dataset, scores: dict, regions: dict, *, seed: int = 0) -> dict:
    """Every metric of one cell with the dataset's conventions (sigma, macro policy, ...)."""
    from .metrics import evaluate

    videos = list(dataset.test)
    labels = [v.labels for v in videos]
    ids = [v.id for v in videos]
    pred_rows, gt_rows = None, None
    if regions and len(regions) == len(videos):
        pred_rows = np.concatenate([np.column_stack([np.full(len(regions[i]), k), regions[i]])
                                    for k, i in enumerate(ids)]) if ids else None
        gt = []
        for k, v in enumerate(videos):
            if v.tracks is None:
                gt = None
                break
            t = np.asarray(v.tracks).reshape(-1, 6)
            gt.append(np.column_stack([np.full(len(t), k), t]))
        gt_rows = np.concatenate(gt) if gt else None
    tracks_derived = any(v.tracks_derived for v in videos)
    return evaluate([scores[i] for i in ids], labels, video_ids=ids, pred_regions=pred_rows,
                    gt_tracks=gt_rows, num_frames=sum(len(v) for v in videos),
                    tracks_derived=tracks_derived, seed=seed, **dataset.conventions)


def one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"[:300]


def settings_changed(record: dict, cell: Cell) -> bool:
    """Whether a finished cell's record was made with other model settings than ``cell`` would use now.

    A cell's id hashes only the suite's overrides, so a changed registered default
    (or class default) would otherwise be hidden behind an old record. The same
    holds for the models the record says its fit fetched (``depends_on``: a
    student's teachers). Failed records, and models that cannot be built here,
    are left alone.
    """
    if record.get("status") != "ok":
        return False
    try:
        now = getattr(create_model(cell.model, **cell.model_config), "config", None)
    except Exception:  # noqa: BLE001 - not installed here: keep the record
        return False
    # canonical JSON on both sides (a tuple of the live config and the record's list agree)
    if now is not None and config_hash(now) != config_hash(record.get("model", {}).get("config", {})):
        return True
    return bool(dependencies_changed(record.get("model", {}).get("depends_on") or {}))


def run_grid(cells: list[Cell], store: ResultsStore, *, executor=None, data_root=None,
             device: str = "cpu", command: str = "", force: bool = False,
             progress: Callable[[str], None] | None = None) -> list[dict]:
    """Run the cells whose records are missing (all with ``force``); return every cell's record."""
    executor = executor or LocalExecutor()
    todo, done = [], []
    for cell in cells:
        cid = store.cell_id(cell.model, cell.dataset, cell.seed,
                            {"model": cell.model_config, "dataset": cell.dataset_options})
        record = store.read(cid) if store.has(cid) and not force else None
        if record is not None and settings_changed(record, cell):
            if progress:
                progress(f"{cid}: the model's settings changed since its record was written (its own or a "
                         "teacher's); running it again")
            record = None
        if record is None:
            todo.append(cell)
        else:
            done.append(record)
    if progress and done:
        progress(f"{len(done)} of {len(cells)} cells already in {store.root}; running {len(todo)}")

    def work(cell: Cell) -> dict:
        cid = store.cell_id(cell.model, cell.dataset, cell.seed,
                            {"model": cell.model_config, "dataset": cell.dataset_options})
        try:
            with store.lock(cid):
                return run_cell(cell, store, data_root=data_root, device=device, command=command,
                                progress=progress)
        except CellBusy:
            if progress:
                progress(f"{cid}: another run owns this cell; skipped")
            return {"cell": cid, "status": "busy"}

    for i, record in enumerate(executor.map(work, todo), 1):
        if progress:
            status = record.get("status")
            detail = (f"micro AUC {record['metrics']['micro_auc']:.4f}" if status == "ok"
                      else record.get("error") or status)
            progress(f"[{i}/{len(todo)}] {record['cell']}: {detail}")
        done.append(record)
    return done
