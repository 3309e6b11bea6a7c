"""The benchmark runner: a grid of cells (model, dataset, seed) through an executor.

One cell fits the model on the training split (or reloads it from the fitted
model cache, :mod:`vadbench.fit_cache`), scores every test video, evaluates every
metric (:mod:`vadbench.metrics.cell`), profiles speed and writes one record plus
its per-frame scores to the results store. A cell whose record exists is not
recomputed; a cell that fails is recorded as failed with a one-line reason and
the grid goes on.
"""

from __future__ import annotations

import json
import time
import traceback
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import Any

from . import __version__, create_model
from .checkout import git_commit
from .data.folders import DATASET_FOLDERS, resolve_root
from .data.load import open_dataset
from .errors import VadbenchError, one_line
from .executors import LocalExecutor
from .fit_cache import ModelCache, dependencies_changed, load_weights
from .metrics.cell import evaluate_scores, region_source, video_regions
from .model import as_scores
from .profile import profile_models
from .progress import progress as track
from .provenance import code_of, package_hash, packages_of
from .results import CellBusy, ResultsStore, config_hash

# Names that lived here before they moved next to what they serve; old imports keep working.
__all__ = ["DATASET_FOLDERS", "Cell", "ModelCache", "dependencies_changed", "evaluate_scores", "git_commit",
           "load_weights", "one_line", "open_dataset", "region_source", "resolve_root", "run_cell",
           "run_grid", "settings_changed"]


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


def run_cell(cell: Cell, store: ResultsStore, *, data_root=None, device: str = "cpu",
             command: str = "", progress: Callable[[str], None] | None = None) -> dict:
    """Fit, score, evaluate and profile one cell; write and return its record."""
    started = datetime.now(timezone.utc).isoformat(timespec="seconds")
    involved: list = [cell.model]  # the models whose packages' source the cell runs (see vadbench.provenance)
    code_of(*involved)  # hashed now, near import time, and cached for the process
    record: dict[str, Any] = {
        "schema": 1, "status": "ok", "error": None, "seed": cell.seed,
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
        involved += [m for m, _ in cache.fitted.values()]
        involved += list(cache.dependencies(cell.model, cell.model_config))
        record["model"].update(family=getattr(model, "family", ""), config=getattr(model, "config", {}))
        if deps := cache.dependencies(cell.model, cell.model_config):
            record["model"]["depends_on"] = deps
        record["train_seconds"] = train_seconds

        say(f"{cell_id}: score {len(dataset.test)} test videos")
        # models see the test videos without their ground truth (labels, masks, tracks)
        inputs = [video.unlabelled() for video in dataset.test]
        scores: dict[str, Any] = {}
        regions: dict[str, Any] = {}
        sources: set[str] = set()
        start = time.perf_counter()
        for video in track(inputs, desc=f"{cell_id}: score", unit="video", show=progress is not None):
            result = as_scores(model.score(video), len(video), f"model {cell.model} on video {video.id}")
            scores[video.id] = result.frame
            boxes, source = video_regions(result, video)
            if boxes is not None and source is not None:
                regions[video.id] = boxes
                sources.add(source)
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

    cells_done = track(executor.map(work, todo), total=len(todo), desc="cells", unit="cell",
                       show=progress is not None and bool(todo))
    for i, record in enumerate(cells_done, 1):
        if progress:
            status = record.get("status")
            detail = (f"micro AUC {record['metrics']['micro_auc']:.4f}" if status == "ok"
                      else record.get("error") or status)
            progress(f"[{i}/{len(todo)}] {record['cell']}: {detail}")
        done.append(record)
    return done
