"""The fitted-model cache: a model is fitted once per (dataset, seed, configuration) and reloaded after.

Cells of a grid, students asking for their teachers (``ctx.get_model``), ``vadbench
watch``/``export``/``profile`` and the plugin contract all get their fitted models
through :class:`ModelCache`.
"""

from __future__ import annotations

import io
import json
import pickle
import time
import zipfile
from pathlib import Path
from typing import Any

from . import create_model
from .atomic import atomic_write_bytes, atomic_write_json, load_json
from .errors import one_line
from .model import RunContext
from .results import ResultsStore, config_hash
from .seeding import seed_everything

__all__ = ["ModelCache", "dependencies_changed", "load_weights"]


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
    import torch  # imported when a model is reloaded, not with vadbench

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

    def __init__(self, store: ResultsStore, dataset: Any, seed: int, device: str, progress: Any = None):
        self.store, self.dataset, self.seed, self.device = store, dataset, seed, device
        self.progress = progress
        self.fitted: dict[str, tuple[Any, float]] = {}
        self.deps: dict[str, dict] = {}

    def path(self, name: str, config: dict) -> Path:
        key = config_hash({"config": config, "data": self.dataset.fingerprint})
        return self.store.root / "models" / f"{name}__{self.dataset.name}__s{self.seed}__{key}.pt"

    def get(self, name: str, config: dict | None = None) -> tuple[Any, float]:
        """The fitted model ``name`` and its training time in seconds (0 when reloaded)."""
        import torch  # imported when a model is fitted, not with vadbench

        config = dict(config or {})
        memo = f"{name}:{config_hash(config)}"
        if memo in self.fitted:
            return self.fitted[memo]
        model = create_model(name, **config)
        path = self.path(name, getattr(model, "config", config))
        deps_path = path.with_suffix(".deps.json")
        used: dict[str, dict] = {}

        def fetch(other: str, **cfg: Any) -> Any:
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
        else:
            start = time.perf_counter()
            model.fit(self.dataset.train, ctx)
            seconds = time.perf_counter() - start
            if getattr(model, "trainable", True):
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
