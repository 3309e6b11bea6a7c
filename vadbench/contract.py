"""The plugin contract as a function: what every registered model must do, checked in seconds.

``check_model(name, workdir)`` fits the model (in its registered ``quick``
configuration) on a tiny synthetic dataset through the runner's model cache,
checks its scores, profiles it, reloads it from its saved state, refits it with
the same seed, and runs its hot path ``forward(example_input(b))``. vadbench's
own tests run it on every installed model; ``vadbench new-plugin`` puts a test
calling it into every scaffolded package.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .data.load import open_dataset
from .errors import PluginError
from .fit_cache import ModelCache
from .model import FAMILIES, as_scores
from .plugins import model_registry
from .profile import profile_models
from .results import ResultsStore

TINY = {"n_train": 2, "n_test": 2, "n_frames": 32, "width": 160, "height": 112}


def tiny_dataset(workdir: str | Path):
    """The tiny synthetic dataset the contract is checked on (generated once under ``workdir``)."""
    return open_dataset("synthetic", TINY, cache_dir=Path(workdir) / "cache")


def _fit(name: str, dataset, store_dir: Path):
    cache = ModelCache(ResultsStore(store_dir), dataset, seed=0, device="cpu")
    return cache.get(name, model_registry().entry(name).quick)[0]


def _scores(model, dataset) -> list[np.ndarray]:
    """Frame scores of the test videos, which the model sees without ground truth (as in the runner)."""
    return [as_scores(model.score(v), len(v), f"model {model.name} on video {v.id}").frame
            for v in (video.unlabelled() for video in dataset.test)]


def check_model(name: str, workdir: str | Path, dataset=None) -> dict:
    """Check the contract of the registered model ``name``; raise :class:`PluginError` on a breach.

    Returns the profile record of the fitted model.
    """
    workdir = Path(workdir)
    dataset = dataset or tiny_dataset(workdir)

    model = _fit(name, dataset, workdir / f"{name}-a")
    if len(model.forward(model.example_input(2))) < 1:
        raise PluginError(f"model {name}: forward(example_input(2)) returned nothing")
    if getattr(model, "family", "") not in FAMILIES:
        raise PluginError(f"model {name}: family {getattr(model, 'family', '')!r} is not one of {FAMILIES}")
    first = _scores(model, dataset)
    speed = profile_models([model], batch_sizes=(1,), rounds=1, warmup=1,
                           videos=[v.unlabelled() for v in list(dataset.test)[:1]], e2e_rounds=1)[0]
    if not (speed["fps_model_b1"] > 0 and speed["fps_e2e"] > 0):
        raise PluginError(f"model {name}: profiling measured no throughput")

    reloaded = _fit(name, dataset, workdir / f"{name}-a")
    for video, a, b in zip(dataset.test, first, _scores(reloaded, dataset), strict=True):
        if not np.allclose(a, b, rtol=1e-5, atol=1e-6):
            raise PluginError(
                f"model {name}: reloaded from its state_dict, it scores video {video.id} differently")
    again = _fit(name, dataset, workdir / f"{name}-b")
    for video, a, b in zip(dataset.test, first, _scores(again, dataset), strict=True):
        if not np.array_equal(a, b):
            raise PluginError(f"model {name}: two fits with seed 0 score video {video.id} differently")
    return speed
