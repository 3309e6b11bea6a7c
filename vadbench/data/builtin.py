"""The built-in dataset plugin: ped2, ped1, avenue, shanghaitech and synthetic.

Each factory takes ``root`` (the dataset folder) and the options of its loader,
and returns a :class:`~vadbench.data.Dataset` with ``conventions`` set: the
evaluation defaults the literature uses on that dataset, passed to
:func:`vadbench.metrics.evaluate` and recorded with every result.

=============  =====  ==============================================================
dataset        sigma  source
=============  =====  ==============================================================
ped2, avenue   3      AI-VAD (Reiss & Hoshen), README of its evaluation code
shanghaitech   7      the same
ped1           3      none found; Ped2's value (same cameras, same frame rate)
synthetic      3      Ped2's value (it imitates Ped2's layout and scale)
=============  =====  ==============================================================

``sigma`` is the width of a per-video Gaussian smoothing of the frame scores;
``single_class="drop"`` leaves videos holding one class out of the macro AUC.

Without ``root``, the real datasets are looked up under ``$VADBENCH_DATA``
(``ucsd_ped2/``, ``ucsd_ped1/``, ``avenue/``, ``shanghaitech/``: :mod:`vadbench.data.folders`); ``synthetic``
is generated (once per seed and parameters) under the cache root.

Every factory takes ``detections``: precomputed object boxes attached to the
videos (``video.detections()``, :mod:`vadbench.data.detections`). ``"auto"``
(the default) looks for ``<root>/detections/`` then
``<root>/../detections/<root name>/`` (``data/ucsd_ped2`` pairs with
``data/detections/ucsd_ped2``) and goes without when neither exists; a path
names the folder; None or ``"none"`` attaches none.

>>> from vadbench.registry import Registry
>>> reg = Registry("dataset")
>>> vadbench_register_datasets(reg)
>>> reg.list()
['avenue', 'ped1', 'ped2', 'shanghaitech', 'synthetic']
"""

from __future__ import annotations

import os
from pathlib import Path

from ..errors import DataError
from ..hookspecs import hookimpl
from .avenue import load_avenue
from .cache import cache_root
from .detections import attach_detections, find_detections
from .folders import default_folder
from .shanghaitech import load_shanghaitech
from .ucsd import load_ucsd
from .video import Dataset

DATA_ENV_VAR = "VADBENCH_DATA"

CONVENTIONS = {
    "ped2": {"sigma": 3, "single_class": "drop"},
    "ped1": {"sigma": 3, "single_class": "drop"},
    "avenue": {"sigma": 3, "single_class": "drop"},
    "shanghaitech": {"sigma": 7, "single_class": "drop"},
    "synthetic": {"sigma": 3, "single_class": "drop"},
}

def _root(name: str, root) -> Path:
    if root is not None:
        return Path(root)
    env = os.environ.get(DATA_ENV_VAR)
    if not env:
        raise DataError(f"<{name} root>", f"no dataset folder given: pass root=PATH (or --root), or set "
                                          f"{DATA_ENV_VAR} to a folder holding {default_folder(name)}/")
    return Path(env).expanduser() / default_folder(name)


def _with_conventions(dataset: Dataset, name: str, root, detections="auto") -> Dataset:
    dataset.conventions = dict(CONVENTIONS[name])
    if detections is None or (isinstance(detections, str) and detections.lower() == "none"):
        return dataset
    explicit = None if detections == "auto" else detections
    folder = find_detections(root, explicit)
    return attach_detections(dataset, folder) if folder is not None else dataset


def ped2(root=None, detections: str | None = "auto", **options) -> Dataset:
    """UCSD Ped2: 16 training and 12 test videos (original or frame-folder layout)."""
    root = _root("ped2", root)
    return _with_conventions(load_ucsd(root, name="ped2", **options), "ped2", root, detections)


def ped1(root=None, detections: str | None = "auto", **options) -> Dataset:
    """UCSD Ped1: 34 training and 36 test videos (original or frame-folder layout)."""
    root = _root("ped1", root)
    return _with_conventions(load_ucsd(root, name="ped1", **options), "ped1", root, detections)


def avenue(root=None, detections: str | None = "auto", **options) -> Dataset:
    """CUHK Avenue: 16 training and 21 test videos; labels='masks' (default) or 'intervals'."""
    root = _root("avenue", root)
    return _with_conventions(load_avenue(root, **options), "avenue", root, detections)


def shanghaitech(root=None, detections: str | None = "auto", **options) -> Dataset:
    """ShanghaiTech Campus, pooled protocol (107 test videos); optional tracks=FOLDER."""
    root = _root("shanghaitech", root)
    return _with_conventions(load_shanghaitech(root, **options), "shanghaitech", root, detections)


def synthetic(root=None, seed: int = 0, cache_dir=None, labels: str = "auto", detections: str | None = "auto",
              **params) -> Dataset:
    """Seeded synthetic surveillance scene in the Ped2 frame-folder layout (the embedded default)."""
    if root is None:
        from .synthetic import ensure

        root = ensure(cache_root(cache_dir) / "synthetic", seed=seed, **params)
    elif params:
        raise TypeError(f"generator parameters {sorted(params)} apply only without root")
    dataset = load_ucsd(root, name="synthetic", labels=labels, cache_dir=cache_dir)
    return _with_conventions(dataset, "synthetic", Path(root), detections)


@hookimpl
def vadbench_register_datasets(registry):
    """Register the built-in datasets."""
    for factory in (ped2, ped1, avenue, shanghaitech, synthetic):
        registry.register(factory.__name__, factory, description=factory.__doc__.strip())
