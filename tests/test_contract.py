"""The plugin contract, checked on every registered model the moment its plugin is installed.

Each model (in its registered ``quick`` configuration) is fitted on a tiny
synthetic dataset through the runner's model cache, scores every test video
with one finite score per frame, is profiled, reloads from its saved state to
identical scores, and gives identical scores when fitted again with the same seed.
"""

from __future__ import annotations

import numpy as np
import pytest

import vadbench
from vadbench.plugins import model_registry
from vadbench.profile import profile_models
from vadbench.results import ResultsStore
from vadbench.runner import ModelCache, open_dataset

TINY = {"n_train": 2, "n_test": 2, "n_frames": 32, "width": 160, "height": 112}


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    root = tmp_path_factory.mktemp("contract")
    return root, open_dataset("synthetic", TINY, cache_dir=root / "cache")


def _fit(name: str, dataset, root, tag: str):
    store = ResultsStore(root / tag)
    cache = ModelCache(store, dataset, seed=0, device="cpu")
    model, _ = cache.get(name, model_registry().entry(name).quick)
    return model, cache


def _scores(model, dataset):
    return [np.asarray(vadbench.model.as_scores(model.score(v), len(v), model.name).frame) for v in dataset.test]


@pytest.mark.parametrize("name", vadbench.list_models())
def test_model_honours_the_contract(name, tiny):
    root, dataset = tiny
    model, cache = _fit(name, dataset, root, f"{name}-a")
    assert getattr(model, "family", "") in vadbench.model.FAMILIES
    first = _scores(model, dataset)
    assert [len(s) for s in first] == [len(v) for v in dataset.test]

    speed = profile_models([model], batch_sizes=(1,), rounds=1, warmup=1, videos=list(dataset.test)[:1],
                           e2e_rounds=1)[0]
    assert speed["fps_model_b1"] > 0 and speed["fps_e2e"] > 0

    reloaded, _ = ModelCache(cache.store, dataset, seed=0, device="cpu").get(name, model_registry().entry(name).quick)
    for a, b in zip(first, _scores(reloaded, dataset), strict=True):
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6)

    again, _ = _fit(name, dataset, root, f"{name}-b")  # same seed, fresh fit
    for a, b in zip(first, _scores(again, dataset), strict=True):
        np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("name", vadbench.list_models())
def test_hot_path_runs_before_fit(name):
    """Speed needs no training: a freshly built model runs its hot path (the profiler relies on it)."""
    model = vadbench.create_model(name, **model_registry().entry(name).quick)
    out = model.forward(model.example_input(2))
    assert len(out) >= 1
