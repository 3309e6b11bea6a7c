"""Open a registered dataset the way a run does: its options, its folder, and a cache for generated data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from .. import create_dataset


def open_dataset(name: str, options: dict, *, root: str | Path | None = None,
                 cache_dir: str | Path | None = None) -> Any:
    """Load a cell's dataset: ``options`` win; a generated dataset (no root) lives under ``cache_dir``."""
    options = dict(options)
    if "root" not in options and root is not None:
        options["root"] = str(root)
    if name == "synthetic" and options.get("root") is None:
        options.pop("root", None)
        options.setdefault("cache_dir", str(cache_dir) if cache_dir else None)
    return create_dataset(name, **options)


def open_recorded(record: dict, cache_dir: str | Path | None) -> Any:
    """The dataset a stored record was made on (its name, options and folder; a synthetic one regenerated
    under ``cache_dir``)."""
    ds = record["dataset"]
    root = None if ds["name"] == "synthetic" else ds.get("root")
    return open_dataset(ds["name"], ds.get("options") or {}, root=root, cache_dir=cache_dir)
